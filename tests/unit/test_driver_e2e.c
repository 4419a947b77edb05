// SPDX-License-Identifier: Apache-2.0
//
// libsparrow against the real sparrow-sim (spawned through the `sim` URI, found as $SPARROW_SIM or
// build/bin/sparrow-sim): HELLO, transfers across frame boundaries, device-side errors, a minimal
// program, and a clean exit. Run from the repository root (tests/list.d/driver.sh does).
//   test_driver_e2e [URI]   default sim:model,config=S,dram_mb=2

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../../driver/include/sparrow.h"

static const char *g_uri = "sim:model,config=S,dram_mb=2";

static sparrow_dev_t *open_dev(void) {
  sparrow_dev_t *dev = NULL;
  char msg[512] = "";
  sparrow_status_t status = sparrow_open(g_uri, &dev, msg, sizeof msg);
  ck_assert_msg(status == SPARROW_OK, "sparrow_open(%s): %s: %s", g_uri,
                sparrow_status_name(status), msg);
  return dev;
}

static void assert_no_children(void) {
  errno = 0;
  ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
  ck_assert_int_eq(errno, ECHILD);
}

START_TEST(test_hello) {
  sparrow_dev_t *dev = open_dev();
  sparrow_info_t info;
  ck_assert_int_eq(sparrow_info(dev, &info), SPARROW_OK);
  printf(
      "device: %s\n  fabric %s config %s tiles %u lanes %u pmu_words %u prog_entries %u "
      "max_payload %u dram %llu bytes, bw %u B/cycle, latency %u cycles, hw 0x%08x fw 0x%08x\n",
      sparrow_describe(dev), info.fabric, info.config, info.tiles, info.lanes, info.pmu_words,
      info.prog_entries, info.max_payload, (unsigned long long)info.dram_bytes, info.dram_bw,
      info.dram_latency, info.hw_version, info.fw_version);
  ck_assert_uint_eq(info.proto_version, 1);
  ck_assert(strstr(g_uri, "model") == NULL || strcmp(info.fabric, "model") == 0);
  ck_assert(strstr(g_uri, "config=S") == NULL || strcmp(info.config, "S") == 0);
  ck_assert(strstr(g_uri, "dram_mb=2") == NULL || info.dram_bytes == 2u << 20);
  ck_assert_uint_eq(info.peak_macs_per_cycle, (uint64_t)info.tiles * info.lanes * info.lanes);
  sparrow_close(dev);
  assert_no_children();
}
END_TEST

START_TEST(test_round_trip) {
  sparrow_dev_t *dev = open_dev();
  enum { kBytes = 300000 };  // five MEM_WRITE frames, five MEM_READ frames
  uint8_t *out = malloc(kBytes), *in = malloc(kBytes);
  for (size_t i = 0; i < kBytes; i++) {
    out[i] = (uint8_t)(i * 2654435761u >> 13);
  }
  uint64_t addr = 0;
  ck_assert_int_eq(sparrow_alloc(dev, kBytes, &addr), SPARROW_OK);
  uint64_t addr2 = 0;
  ck_assert_int_eq(sparrow_alloc(dev, 100, &addr2), SPARROW_OK);
  ck_assert_uint_ge(addr2, addr + kBytes);
  ck_assert_int_eq(sparrow_write(dev, addr + 3, out, kBytes - 3), SPARROW_OK);
  memset(in, 0, kBytes);
  ck_assert_int_eq(sparrow_read(dev, addr + 3, in, kBytes - 3), SPARROW_OK);
  ck_assert_int_eq(memcmp(in, out, kBytes - 3), 0);
  // RESET keeps DRAM.
  ck_assert_int_eq(sparrow_reset(dev), SPARROW_OK);
  memset(in, 0, kBytes);
  ck_assert_int_eq(sparrow_read(dev, addr + 3, in, 1000), SPARROW_OK);
  ck_assert_int_eq(memcmp(in, out, 1000), 0);
  ck_assert_int_eq(sparrow_free(dev, addr), SPARROW_OK);
  ck_assert_int_eq(sparrow_free(dev, addr2), SPARROW_OK);
  free(out);
  free(in);
  sparrow_close(dev);
  assert_no_children();
}
END_TEST

START_TEST(test_device_errors) {
  sparrow_dev_t *dev = open_dev();
  uint32_t fp = 0;
  sparrow_status_t status = sparrow_wait(dev, 2000, &fp);
  printf("wait before launch: %s: %s\n", sparrow_status_name(status), sparrow_last_error(dev));
  ck_assert_int_eq(status, SPARROW_E_DEVICE);
  ck_assert_ptr_nonnull(strstr(sparrow_last_error(dev), "WAIT: NOT_LAUNCHED: "));
  const uint64_t bad[] = {0xF000000000000000ull};
  status = sparrow_load_program(dev, bad, 1);
  printf("bad program: %s: %s\n", sparrow_status_name(status), sparrow_last_error(dev));
  ck_assert_int_eq(status, SPARROW_E_DEVICE);
  ck_assert_ptr_nonnull(strstr(sparrow_last_error(dev), "PROG_LOAD: BAD_PROGRAM: "));
  // The connection survives device errors.
  sparrow_device_state_t state;
  ck_assert_int_eq(sparrow_query_status(dev, &state), SPARROW_OK);
  sparrow_close(dev);
  assert_no_children();
}
END_TEST

START_TEST(test_empty_program) {
  // One op_end entry: launched, done, counters readable.
  sparrow_dev_t *dev = open_dev();
  const uint64_t prog[] = {3ull << 60};
  sparrow_counters_t counters;
  uint32_t fp = 0xFFFFFFFFu;
  sparrow_status_t status = sparrow_run(dev, prog, 1, 10000, &counters, &fp);
  ck_assert_msg(status == SPARROW_OK, "run: %s: %s", sparrow_status_name(status),
                sparrow_last_error(dev));
  printf("empty program: cycles %llu, fp_status 0x%x, units %u\n",
         (unsigned long long)counters.cycles, fp, counters.units);
  ck_assert_uint_eq(fp, 0);
  ck_assert_uint_eq(counters.macs, 0);
  ck_assert_uint_eq(counters.dram_rd_bytes, 0);
  // A second run: the handle's totals are the sum of the two launches' counters, over every unit
  // (AGCUs, PMUs, PCUs: three per tile).
  sparrow_counters_t second, totals;
  ck_assert_int_eq(sparrow_run(dev, prog, 1, 10000, &second, &fp), SPARROW_OK);
  ck_assert_int_eq(sparrow_totals(dev, &totals), SPARROW_OK);
  sparrow_info_t info;
  ck_assert_int_eq(sparrow_info(dev, &info), SPARROW_OK);
  printf("totals of two runs: cycles %llu = %llu + %llu, units %u\n",
         (unsigned long long)totals.cycles, (unsigned long long)counters.cycles,
         (unsigned long long)second.cycles, totals.units);
  ck_assert_uint_eq(totals.units, 3 * info.tiles);
  ck_assert_uint_eq(totals.cycles, counters.cycles + second.cycles);
  ck_assert_uint_eq(totals.dram_rd_bytes, counters.dram_rd_bytes + second.dram_rd_bytes);
  ck_assert_uint_eq(totals.dram_wr_bytes, counters.dram_wr_bytes + second.dram_wr_bytes);
  ck_assert_uint_eq(totals.macs, counters.macs + second.macs);
  for (uint32_t u = 0; u < totals.units; u++) {
    ck_assert_uint_eq(totals.busy[u], counters.busy[u] + second.busy[u]);
    ck_assert_uint_eq(totals.stall[u], counters.stall[u] + second.stall[u]);
  }
  sparrow_close(dev);
  assert_no_children();
}
END_TEST

int main(int argc, char **argv) {
  if (argc > 1) {
    g_uri = argv[1];
  }
  Suite *suite = suite_create("driver_e2e");
  TCase *tc = tcase_create("e2e");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_hello);
  tcase_add_test(tc, test_round_trip);
  tcase_add_test(tc, test_device_errors);
  tcase_add_test(tc, test_empty_program);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
