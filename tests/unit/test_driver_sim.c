// SPDX-License-Identifier: Apache-2.0
//
// Check suite for libsparrow's sim transport: spawning sparrow-sim on a socketpair. The simulator
// is played by this very binary: started as `test_driver_sim --fd N ...` it becomes a fake device
// (test_driver_fake.c) on that descriptor, records its arguments and open descriptors, and
// misbehaves as FAKE_SIM_FAULT says. Shell scripts stand in for simulators that die at once.

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../driver/src/sparrow_internal.h"
#include "../../driver/src/transport.h"
#include "../../firmware/proto/sparrow_proto.h"
#include "test_driver_fake.h"

static char msg[SPARROW_MSG_BYTES];
static char self_path[PATH_MAX];
static char tmpdir[64];

// ---------------------------------------------------------------------------------------------------
// Fake simulator mode.

static int fake_sim_main(int argc, char **argv) {
  int fd = atoi(argv[2]);
  const char *record = getenv("FAKE_SIM_RECORD");
  if (record != NULL) {
    FILE *f = fopen(record, "w");
    if (f != NULL) {
      for (int i = 1; i < argc; i++) {
        fprintf(f, "%s%s", i > 1 ? " " : "", argv[i]);
      }
      // Every descriptor besides stdio and the socket should have been closed on exec.
      DIR *dir = opendir("/proc/self/fd");
      struct dirent *e;
      int leaked = 0;
      while (dir != NULL && (e = readdir(dir)) != NULL) {
        int n = atoi(e->d_name);
        if (e->d_name[0] != '.' && n > 2 && n != fd && n != dirfd(dir) && n != fileno(f)) {
          leaked++;
        }
      }
      if (dir != NULL) {
        closedir(dir);
      }
      fprintf(f, "\nleaked %d\n", leaked);
      fclose(f);
    }
  }
  fake_config_t cfg = {0};
  const char *fault = getenv("FAKE_SIM_FAULT");
  if (fault != NULL) {
    cfg.fault = strcmp(fault, "exit") == 0   ? kFaultExit
                : strcmp(fault, "kill") == 0 ? kFaultKill
                : strcmp(fault, "hang") == 0 ? kFaultHang
                                             : kFaultNone;
    cfg.fault_at = 1;
  }
  fake_device_t f = {.cfg = cfg, .fd = fd, .listen_fd = -1};
  f.cfg.max_payload = SPARROW_PROTO_MAX_PAYLOAD;
  f.cfg.dram_bytes = 1 << 20;
  f.cfg.proto_version = SPARROW_PROTO_VERSION;
  f.cfg.units = 3;
  f.dram = calloc(1, f.cfg.dram_bytes);
  fake_serve(&f);
  free(f.dram);
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// Helpers.

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/sparrow-sim-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
  unsetenv("SPARROW_SIM");
  unsetenv("FAKE_SIM_FAULT");
  unsetenv("FAKE_SIM_RECORD");
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

// Writes an executable file (mode) with text into the temp dir; returns its path (static buffer).
static const char *write_file(const char *name, const char *text, mode_t mode) {
  static char path[128];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  ck_assert_int_eq(chmod(path, mode), 0);
  return path;
}

// No child is left behind, zombie or alive.
static void assert_no_children(void) {
  errno = 0;
  ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
  ck_assert_int_eq(errno, ECHILD);
}

static sparrow_status_t open_sim(const char *uri, sparrow_dev_t **dev) {
  msg[0] = '\0';
  *dev = NULL;
  return sparrow_open(uri, dev, msg, sizeof msg);
}

// ---------------------------------------------------------------------------------------------------
// Tests.

START_TEST(test_missing_simulator) {
  setenv("SPARROW_SIM", "/nonexistent/sparrow-sim", 1);
  sparrow_dev_t *dev;
  int64_t t0 = sparrow_now_ms();
  ck_assert_int_eq(open_sim("sim", &dev), SPARROW_E_CONNECT);
  ck_assert_int_lt(sparrow_now_ms() - t0, 1000);
  ck_assert_ptr_null(dev);
  ck_assert_str_eq(msg,
                   "sim: SPARROW_SIM=/nonexistent/sparrow-sim: not an executable file (No such "
                   "file or directory)");

  const char *plain = write_file("plain", "#!/bin/sh\nexit 0\n", 0644);
  setenv("SPARROW_SIM", plain, 1);
  ck_assert_int_eq(open_sim("sim", &dev), SPARROW_E_CONNECT);
  ck_assert_ptr_nonnull(strstr(msg, "not an executable file (not executable)"));

  // Executable bits on something the kernel cannot run.
  const char *junk = write_file("junk",
                                "\x7f"
                                "ELF garbage",
                                0755);
  setenv("SPARROW_SIM", junk, 1);
  ck_assert_int_eq(open_sim("sim", &dev), SPARROW_E_CONNECT);
  ck_assert_ptr_nonnull(strstr(msg, "sim: cannot run "));
  ck_assert_ptr_nonnull(strstr(msg, "Exec format error"));
  assert_no_children();
}
END_TEST

START_TEST(test_simulator_exits_at_once) {
  sparrow_dev_t *dev;
  setenv("SPARROW_SIM", write_file("exit3", "#!/bin/sh\nexit 3\n", 0755), 1);
  ck_assert_int_eq(open_sim("sim:model", &dev), SPARROW_E_CLOSED);
  ck_assert_ptr_null(dev);
  // Whether the child is gone before HELLO is sent or after is a race; either way:
  ck_assert_msg(strstr(msg, "HELLO: reading the response header (0 of 16 bytes): ") != NULL ||
                    strstr(msg, "HELLO: sending the request (0 of 20 bytes): ") != NULL,
                "%s", msg);
  ck_assert_msg(strstr(msg, "connection closed by the device (sparrow-sim exited with status 3)"),
                "%s", msg);
  ck_assert_ptr_null(strchr(msg, '\n'));
  assert_no_children();

  setenv("SPARROW_SIM", write_file("killself", "#!/bin/sh\nkill -9 $$\n", 0755), 1);
  ck_assert_int_eq(open_sim("sim:model", &dev), SPARROW_E_CLOSED);
  ck_assert_ptr_nonnull(strstr(msg, "(sparrow-sim killed by signal 9, Killed)"));
  assert_no_children();
}
END_TEST

START_TEST(test_arguments_and_round_trip) {
  char record[128];
  snprintf(record, sizeof record, "%s/args", tmpdir);
  setenv("FAKE_SIM_RECORD", record, 1);
  setenv("SPARROW_SIM", self_path, 1);
  sparrow_dev_t *dev;
  ck_assert_msg(
      open_sim("sim:model,config=S,dram_bw=32,dram_latency=7,dram_mb=2", &dev) == SPARROW_OK, "%s",
      msg);
  ck_assert_ptr_nonnull(strstr(sparrow_describe(dev),
                               " --fabric model --config S --dram-bw 32 "
                               "--dram-latency 7 --dram-mb 2)"));
  uint8_t out[70000], in[70000];
  for (size_t i = 0; i < sizeof out; i++) {
    out[i] = (uint8_t)(i * 7 + 3);
  }
  ck_assert_int_eq(sparrow_write(dev, 4096, out, sizeof out), SPARROW_OK);
  ck_assert_int_eq(sparrow_read(dev, 4096, in, sizeof in), SPARROW_OK);
  ck_assert_int_eq(memcmp(in, out, sizeof in), 0);
  sparrow_close(dev);
  assert_no_children();  // the fake left on EOF and was reaped

  FILE *f = fopen(record, "r");
  ck_assert_ptr_nonnull(f);
  char line[256], fds[64];
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  ck_assert_ptr_nonnull(fgets(fds, sizeof fds, f));
  fclose(f);
  int child_fd = -1;
  char rest[200];
  ck_assert_int_eq(sscanf(line, "--fd %d %199[^\n]", &child_fd, rest), 2);
  ck_assert_int_gt(child_fd, 2);
  ck_assert_str_eq(rest, "--fabric model --config S --dram-bw 32 --dram-latency 7 --dram-mb 2");
  ck_assert_str_eq(fds, "leaked 0\n");

  // Defaults: RTL fabric, configuration M, no DRAM options.
  ck_assert_msg(open_sim("sim", &dev) == SPARROW_OK, "%s", msg);
  sparrow_close(dev);
  f = fopen(record, "r");
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  fclose(f);
  ck_assert_int_eq(sscanf(line, "--fd %d %199[^\n]", &child_fd, rest), 2);
  ck_assert_str_eq(rest, "--fabric rtl --config M");
  assert_no_children();
}
END_TEST

START_TEST(test_simulator_dies_mid_command) {
  setenv("SPARROW_SIM", self_path, 1);
  sparrow_dev_t *dev;
  uint8_t buf[16] = {0};

  setenv("FAKE_SIM_FAULT", "exit", 1);
  ck_assert_msg(open_sim("sim:model", &dev) == SPARROW_OK, "%s", msg);
  ck_assert_int_eq(sparrow_read(dev, 0, buf, sizeof buf), SPARROW_E_CLOSED);
  ck_assert_str_eq(
      sparrow_last_error(dev),
      "MEM_READ: reading the response header (0 of 16 bytes): connection closed by the device "
      "(sparrow-sim exited with status 7)");
  ck_assert_int_eq(sparrow_reset(dev), SPARROW_E_CLOSED);  // fails fast from now on
  sparrow_close(dev);
  assert_no_children();

  setenv("FAKE_SIM_FAULT", "kill", 1);
  ck_assert_msg(open_sim("sim:model", &dev) == SPARROW_OK, "%s", msg);
  ck_assert_int_eq(sparrow_write(dev, 0, buf, sizeof buf), SPARROW_E_CLOSED);
  ck_assert_ptr_nonnull(
      strstr(sparrow_last_error(dev), "(sparrow-sim killed by signal 9, Killed)"));
  sparrow_close(dev);
  assert_no_children();
}
END_TEST

START_TEST(test_hung_simulator_is_killed) {
  // A simulator that stops answering and ignores EOF: the call times out, close kills it.
  setenv("SPARROW_SIM", self_path, 1);
  setenv("FAKE_SIM_FAULT", "hang", 1);
  sparrow_dev_t *dev;
  ck_assert_msg(open_sim("sim:model", &dev) == SPARROW_OK, "%s", msg);
  sparrow_set_timeout(dev, 300);
  uint8_t buf[16] = {0};
  int64_t t0 = sparrow_now_ms();
  ck_assert_int_eq(sparrow_read(dev, 0, buf, sizeof buf), SPARROW_E_TIMEOUT);
  ck_assert_int_lt(sparrow_now_ms() - t0, 2000);
  ck_assert_str_eq(sparrow_last_error(dev),
                   "MEM_READ: no response within 300 ms (0 of 16 header bytes)");
  t0 = sparrow_now_ms();
  sparrow_close(dev);
  int64_t took = sparrow_now_ms() - t0;
  ck_assert_int_lt(took, 5000);
  assert_no_children();
}
END_TEST

START_TEST(test_default_lookup) {
  // Without SPARROW_SIM, and no sparrow-sim next to this executable: build/bin/ under the cwd.
  char cwd[PATH_MAX];
  ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
  ck_assert_int_eq(chdir(tmpdir), 0);
  sparrow_dev_t *dev;
  sparrow_status_t status = open_sim("sim", &dev);
  char saved[SPARROW_MSG_BYTES];
  snprintf(saved, sizeof saved, "%s", msg);
  ck_assert_int_eq(mkdir("build", 0755), 0);
  ck_assert_int_eq(mkdir("build/bin", 0755), 0);
  FILE *f = fopen("build/bin/sparrow-sim", "w");
  fputs("#!/bin/sh\nexit 5\n", f);
  fclose(f);
  chmod("build/bin/sparrow-sim", 0755);
  sparrow_status_t status2 = open_sim("sim", &dev);
  ck_assert_int_eq(chdir(cwd), 0);
  ck_assert_int_eq(status, SPARROW_E_CONNECT);
  ck_assert_ptr_nonnull(strstr(saved, "sim: sparrow-sim not found (set SPARROW_SIM"));
  ck_assert_int_eq(status2, SPARROW_E_CLOSED);
  ck_assert_ptr_nonnull(strstr(msg, "exited with status 5"));
  assert_no_children();
}
END_TEST

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "--fd") == 0) {
    return fake_sim_main(argc, argv);
  }
  ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (n <= 0) {
    return EXIT_FAILURE;
  }
  self_path[n] = '\0';
  Suite *suite = suite_create("driver_sim");
  TCase *tc = tcase_create("sim");
  tcase_set_timeout(tc, 30);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_missing_simulator);
  tcase_add_test(tc, test_simulator_exits_at_once);
  tcase_add_test(tc, test_arguments_and_round_trip);
  tcase_add_test(tc, test_simulator_dies_mid_command);
  tcase_add_test(tc, test_hung_simulator_is_killed);
  tcase_add_test(tc, test_default_lookup);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
