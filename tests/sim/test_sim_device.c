// SPDX-License-Identifier: Apache-2.0
//
// End-to-end tests of sparrow-sim as a device: spawns it and speaks the wire protocol to it over a
// socketpair (--fd), a Unix socket and TCP (--listen), as the driver would.
//
//   test_sim_device SPARROW_SIM FABRIC CONFIG     e.g. build/bin/sparrow-sim model S

#define _DEFAULT_SOURCE  // mkdtemp
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../firmware/proto/sparrow_proto.h"
#include "sparrow_hw.h"

static const char *g_sim = "build/bin/sparrow-sim";
static const char *g_fabric = "model";
static const char *g_config = "S";
static const sparrow_hw_config_t *g_hw;

// Generous: the RTL fabric under valgrind or on a loaded machine is slow; a hang still fails.
#define IO_TIMEOUT_MS 60000

// ---------------------------------------------------------------------------------------------------
// Process and socket helpers.

typedef struct device {
  pid_t pid;
  int fd;      // the connection
  int err_fd;  // read end of the simulator's stderr, or -1
  uint32_t seq;
} device_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Runs sparrow-sim with the fabric and configuration under test plus extra arguments (NULL
// ended). conn_fd >= 0 is passed on as --fd; with stderr_pipe its stderr comes back on *err_fd.
static pid_t spawn_sim(int conn_fd, const char *const *extra, bool stderr_pipe, int *err_fd) {
  const char *argv[32];
  int n = 0;
  char fd_text[16];
  argv[n++] = g_sim;
  if (conn_fd >= 0) {
    snprintf(fd_text, sizeof(fd_text), "%d", conn_fd);
    argv[n++] = "--fd";
    argv[n++] = fd_text;
  }
  argv[n++] = "--fabric";
  argv[n++] = g_fabric;
  argv[n++] = "--config";
  argv[n++] = g_config;
  for (int i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
    argv[n++] = extra[i];
  }
  argv[n] = NULL;
  int pipe_fds[2] = {-1, -1};
  if (stderr_pipe) {
    ck_assert_int_eq(pipe(pipe_fds), 0);
  }
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    if (stderr_pipe) {
      dup2(pipe_fds[1], 2);
      close(pipe_fds[0]);
      close(pipe_fds[1]);
    }
    execv(g_sim, (char *const *)argv);
    _exit(127);
  }
  if (stderr_pipe) {
    close(pipe_fds[1]);
    fcntl(pipe_fds[0], F_SETFD, FD_CLOEXEC);
    *err_fd = pipe_fds[0];
  }
  return pid;
}

static void open_device(device_t *d, const char *const *extra, bool stderr_pipe) {
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  fcntl(sv[0], F_SETFD, FD_CLOEXEC);
  d->err_fd = -1;
  d->pid = spawn_sim(sv[1], extra, stderr_pipe, &d->err_fd);
  close(sv[1]);
  d->fd = sv[0];
  d->seq = 1;
}

// Exit status of the simulator, waiting at most timeout_ms; -1 if it is still running (then
// killed), 1000 + signal if a signal ended it.
static int wait_exit(pid_t pid, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
    }
    if (now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(10000);
  }
}

static void close_device(device_t *d) {
  close(d->fd);
  // The simulator exits, cleanly, once the driver's end is gone.
  ck_assert_int_eq(wait_exit(d->pid, IO_TIMEOUT_MS), 0);
  if (d->err_fd >= 0) {
    close(d->err_fd);
  }
}

static bool write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) {
        continue;
      }
      return false;
    }
    p += w;
    n -= (size_t)w;
  }
  return true;
}

// Reads exactly n bytes; false on EOF, error or timeout. *eof tells EOF apart.
static bool read_all(int fd, uint8_t *p, size_t n, bool *eof) {
  int64_t deadline = now_ms() + IO_TIMEOUT_MS;
  *eof = false;
  while (n > 0) {
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      return false;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, (int)left) <= 0) {
      continue;
    }
    ssize_t r = read(fd, p, n);
    if (r == 0) {
      *eof = true;
      return false;
    }
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    p += r;
    n -= (size_t)r;
  }
  return true;
}

static uint8_t g_frame[SPARROW_PROTO_MAX_FRAME];

typedef struct response {
  sparrow_frame_header_t h;
  uint8_t payload[SPARROW_PROTO_MAX_PAYLOAD];
} response_t;

static response_t g_rsp;

// Reads one response frame and checks its integrity.
static void read_response(int fd, response_t *r) {
  bool eof = false;
  ck_assert_msg(read_all(fd, g_frame, SPARROW_PROTO_HEADER_BYTES, &eof), "no response header%s",
                eof ? " (connection closed)" : "");
  uint32_t length = sparrow_get_u32(g_frame + 12);
  ck_assert_uint_le(length, SPARROW_PROTO_MAX_PAYLOAD);
  size_t total = SPARROW_PROTO_HEADER_BYTES + length + SPARROW_PROTO_CRC_BYTES;
  ck_assert(
      read_all(fd, g_frame + SPARROW_PROTO_HEADER_BYTES, total - SPARROW_PROTO_HEADER_BYTES, &eof));
  const uint8_t *payload = NULL;
  ck_assert_int_eq(sparrow_proto_decode(g_frame, total, &r->h, &payload), kSparrowRcOk);
  memcpy(r->payload, payload, length);
}

static void reason_of(const response_t *r, char *out, size_t cap) {
  size_t n = r->h.length < cap - 1 ? r->h.length : cap - 1;
  memcpy(out, r->payload, n);
  out[n] = '\0';
}

// One request, one response: returns the response status; the response is in g_rsp.
static uint16_t transact(device_t *d, uint8_t cmd, const uint8_t *payload, uint32_t len) {
  uint32_t seq = d->seq++;
  size_t n = sparrow_proto_encode(cmd, 0, seq, payload, len, g_frame, sizeof(g_frame));
  ck_assert_uint_gt(n, 0);
  ck_assert(write_all(d->fd, g_frame, n));
  read_response(d->fd, &g_rsp);
  ck_assert_uint_eq(g_rsp.h.kind, cmd | SPARROW_PROTO_RESPONSE_BIT);
  ck_assert_uint_eq(g_rsp.h.seq, seq);
  return g_rsp.h.status;
}

static void expect_ok(device_t *d, uint8_t cmd, const uint8_t *payload, uint32_t len) {
  uint16_t st = transact(d, cmd, payload, len);
  char why[256];
  reason_of(&g_rsp, why, sizeof(why));
  ck_assert_msg(st == kSparrowRcOk, "%s answered %s: %s", sparrow_proto_cmd_name(cmd),
                sparrow_proto_rc_name(st), st == kSparrowRcOk ? "" : why);
}

// ---------------------------------------------------------------------------------------------------
// Device operations.

static sparrow_hello_t hello(device_t *d) {
  expect_ok(d, kSparrowCmdHello, NULL, 0);
  ck_assert_uint_eq(g_rsp.h.length, SPARROW_PROTO_HELLO_BYTES);
  sparrow_hello_t h;
  sparrow_proto_hello_decode(g_rsp.payload, &h);
  return h;
}

static uint8_t g_buf[SPARROW_PROTO_MAX_PAYLOAD + 16];

static uint16_t mem_write(device_t *d, uint64_t addr, const uint8_t *src, uint32_t len) {
  sparrow_put_u64(g_buf, addr);
  memcpy(g_buf + 8, src, len);
  return transact(d, kSparrowCmdMemWrite, g_buf, 8 + len);
}

static void mem_read(device_t *d, uint64_t addr, uint8_t *dst, uint32_t len) {
  uint8_t p[12];
  sparrow_put_u64(p, addr);
  sparrow_put_u32(p + 8, len);
  expect_ok(d, kSparrowCmdMemRead, p, sizeof(p));
  ck_assert_uint_eq(g_rsp.h.length, len);
  memcpy(dst, g_rsp.payload, len);
}

static uint64_t entry_cfg(uint32_t unit, uint32_t reg, uint32_t value) {
  return ((uint64_t)SPARROW_OP_CFG << 60) | ((uint64_t)unit << 48) | ((uint64_t)reg << 32) | value;
}

static uint64_t entry_op(uint32_t opcode) {
  return (uint64_t)opcode << 60;
}

// A linear walk of count beats from base on one AGCU channel.
static int agcu_channel(uint64_t *e, int n, uint32_t tile, uint32_t channel, uint32_t base,
                        uint32_t count) {
  uint32_t unit = SPARROW_UNIT_AGCU + tile;
  uint32_t block = channel * SPARROW_AGCU_CHAN_BLOCK;
  uint32_t beat = g_hw->lanes * 4;
  e[n++] = entry_cfg(unit, block + SPARROW_AGCU_CHAN_BASE, base);
  for (uint32_t level = 0; level < SPARROW_LOOP_LEVELS; level++) {
    e[n++] = entry_cfg(unit, block + SPARROW_AGCU_CHAN_COUNT + level, level == 0 ? count : 1);
    e[n++] = entry_cfg(unit, block + SPARROW_AGCU_CHAN_STRIDE + level, level == 0 ? beat : 0);
  }
  e[n++] = entry_cfg(unit, block + SPARROW_AGCU_CHAN_ENABLE, 1);
  return n;
}

// DMA copy of beats beats: tile 0's AGCU reads, the switch routes read 0 to the last tile's AGCU
// write channel, which writes.
static void load_copy_program(device_t *d, uint32_t src, uint32_t dst, uint32_t beats) {
  uint64_t e[64];
  int n = 0;
  uint32_t wr_tile = g_hw->tiles - 1;
  uint32_t dst_port = wr_tile * SPARROW_SWITCH_DST_PER_TILE + SPARROW_DST_AGCU_WR;
  uint32_t src_port = 0 * SPARROW_SWITCH_SRC_PER_TILE + SPARROW_SRC_AGCU_RD0;
  e[n++] =
      entry_cfg(SPARROW_UNIT_SWITCH, dst_port, (1u << SPARROW_SWITCH_ROUTE_ENABLE_BIT) | src_port);
  n = agcu_channel(e, n, 0, SPARROW_AGCU_CHANNEL_RD0, src, beats);
  n = agcu_channel(e, n, wr_tile, SPARROW_AGCU_CHANNEL_WR, dst, beats);
  e[n++] = entry_op(SPARROW_OP_RUN);
  e[n++] = entry_op(SPARROW_OP_END);
  uint8_t p[8 + 64 * 8];
  sparrow_put_u32(p, 0);
  sparrow_put_u32(p + 4, 0);
  for (int i = 0; i < n; i++) {
    sparrow_put_u64(p + 8 + 8 * i, e[i]);
  }
  expect_ok(d, kSparrowCmdProgLoad, p, 8 + 8 * (uint32_t)n);
}

typedef struct wait_result {
  uint16_t rc;
  uint32_t status;
  uint64_t cycles;
} wait_result_t;

static wait_result_t launch_and_wait(device_t *d) {
  uint8_t p[8];
  sparrow_put_u32(p, 100000);  // watchdog: a stuck fabric fails instead of hanging
  expect_ok(d, kSparrowCmdLaunch, p, 4);
  sparrow_put_u64(p, 50000000);
  wait_result_t w = {.rc = transact(d, kSparrowCmdWait, p, 8)};
  if (w.rc == kSparrowRcOk) {
    ck_assert_uint_eq(g_rsp.h.length, 16);
    w.status = sparrow_get_u32(g_rsp.payload);
    w.cycles = sparrow_get_u64(g_rsp.payload + 8);
  }
  return w;
}

typedef struct counters {
  uint64_t cycles, dram_rd, dram_wr, macs;
  uint32_t units;
} counters_t;

static counters_t counters(device_t *d) {
  expect_ok(d, kSparrowCmdCounters, NULL, 0);
  ck_assert_uint_ge(g_rsp.h.length, 40);
  counters_t c = {
      .cycles = sparrow_get_u64(g_rsp.payload),
      .dram_rd = sparrow_get_u64(g_rsp.payload + 8),
      .dram_wr = sparrow_get_u64(g_rsp.payload + 16),
      .macs = sparrow_get_u64(g_rsp.payload + 24),
      .units = sparrow_get_u32(g_rsp.payload + 32),
  };
  ck_assert_uint_eq(g_rsp.h.length, 40 + 16 * c.units);
  return c;
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    p[i] = (uint8_t)(x >> 16);
  }
}

static bool is_rtl(void) {
  return strcmp(g_fabric, "rtl") == 0;
}

// ---------------------------------------------------------------------------------------------------
// Tests over --fd.

START_TEST(test_hello_describes_the_device) {
  device_t d;
  open_device(&d, NULL, false);
  sparrow_hello_t h = hello(&d);
  ck_assert_uint_eq(h.proto_version, SPARROW_PROTO_VERSION);
  ck_assert_uint_eq(h.hw_version, SPARROW_HW_VERSION);
  ck_assert_uint_eq(h.fabric, is_rtl() ? 0 : 1);
  ck_assert_str_eq(h.config, g_hw->name);
  ck_assert_uint_eq(h.tiles, g_hw->tiles);
  ck_assert_uint_eq(h.lanes, g_hw->lanes);
  ck_assert_uint_eq(h.pmu_words, g_hw->pmu_words);
  ck_assert_uint_eq(h.agcu_outstanding, g_hw->agcu_outstanding);
  ck_assert_uint_eq(h.prog_entries, g_hw->prog_entries);
  ck_assert_uint_eq(h.dram_bw, 64);
  ck_assert_uint_eq(h.dram_latency, 100);
  ck_assert_uint_eq(h.max_payload, SPARROW_PROTO_MAX_PAYLOAD);
  ck_assert_uint_eq(h.dram_bytes, 256ull << 20);
  close_device(&d);
}
END_TEST

START_TEST(test_hello_reports_dram_options) {
  static const char *const kArgs[] = {"--dram-bw", "32", "--dram-latency", "250", "--dram-mb",
                                      "16",        NULL};
  device_t d;
  open_device(&d, kArgs, false);
  sparrow_hello_t h = hello(&d);
  ck_assert_uint_eq(h.dram_bw, 32);
  ck_assert_uint_eq(h.dram_latency, 250);
  ck_assert_uint_eq(h.dram_bytes, 16ull << 20);
  close_device(&d);
}
END_TEST

START_TEST(test_mem_write_read_round_trip) {
  static uint8_t out[SPARROW_PROTO_MAX_PAYLOAD], in[SPARROW_PROTO_MAX_PAYLOAD];
  static const char *const kArgs[] = {"--dram-mb", "16", NULL};
  device_t d;
  open_device(&d, kArgs, false);
  uint64_t size = 16ull << 20;
  // The largest write (the payload holds the address too), a full-size read, an odd transfer, and
  // the last bytes of DRAM.
  uint32_t max_write = SPARROW_PROTO_MAX_PAYLOAD - 8;
  fill_pattern(out, sizeof(out), 1);
  ck_assert_uint_eq(mem_write(&d, 0x1000, out, max_write), kSparrowRcOk);
  ck_assert_uint_eq(mem_write(&d, 0x1000 + max_write, out + max_write, 8), kSparrowRcOk);
  mem_read(&d, 0x1000, in, sizeof(in));
  ck_assert_mem_eq(in, out, sizeof(out));
  fill_pattern(out, 1000, 2);
  ck_assert_uint_eq(mem_write(&d, 0x123457, out, 1000), kSparrowRcOk);
  mem_read(&d, 0x123457, in, 1000);
  ck_assert_mem_eq(in, out, 1000);
  fill_pattern(out, 64, 3);
  ck_assert_uint_eq(mem_write(&d, size - 64, out, 64), kSparrowRcOk);
  mem_read(&d, size - 64, in, 64);
  ck_assert_mem_eq(in, out, 64);
  // One byte too far is refused, and the connection carries on.
  ck_assert_uint_eq(mem_write(&d, size - 63, out, 64), kSparrowRcBadAddress);
  mem_read(&d, size - 64, in, 64);
  ck_assert_mem_eq(in, out, 64);
  close_device(&d);
}
END_TEST

enum { kSrc = 0x10000, kDst = 0x40000 };

START_TEST(test_dma_copy_program) {
  device_t d;
  open_device(&d, NULL, false);
  uint32_t beat = g_hw->lanes * 4;
  uint32_t beats = 256;
  uint32_t bytes = beats * beat;
  static uint8_t src[SPARROW_PROTO_MAX_PAYLOAD], dst[SPARROW_PROTO_MAX_PAYLOAD];
  ck_assert_uint_le(bytes, sizeof(src));
  fill_pattern(src, bytes, 7);
  ck_assert_uint_eq(mem_write(&d, kSrc, src, bytes), kSparrowRcOk);
  load_copy_program(&d, kSrc, kDst, beats);
  wait_result_t w = launch_and_wait(&d);
  ck_assert_uint_eq(w.rc, kSparrowRcOk);
  ck_assert_uint_ne(w.status & (1u << SPARROW_STATUS_DONE_BIT), 0);
  ck_assert_uint_eq(w.status & (1u << SPARROW_STATUS_ERROR_BIT), 0);
  mem_read(&d, kDst, dst, bytes);
  ck_assert_mem_eq(dst, src, bytes);
  // Nothing beyond the destination was written.
  uint8_t after[64];
  mem_read(&d, kDst + bytes, after, sizeof(after));
  for (size_t i = 0; i < sizeof(after); i++) {
    ck_assert_uint_eq(after[i], 0);
  }
  counters_t c = counters(&d);
  ck_assert_uint_eq(c.dram_rd, bytes);
  ck_assert_uint_eq(c.dram_wr, bytes);
  ck_assert_uint_eq(c.macs, 0);
  ck_assert_uint_eq(c.units, 3 * g_hw->tiles);
  ck_assert_uint_eq(c.cycles, w.cycles);
  ck_assert_uint_gt(c.cycles, 0);
  printf("%s %s: DMA copy of %u bytes: %llu cycles\n", g_fabric, g_config, bytes,
         (unsigned long long)c.cycles);

  expect_ok(&d, kSparrowCmdStatus, NULL, 0);
  ck_assert_uint_eq(g_rsp.h.length, 16);
  uint32_t status = sparrow_get_u32(g_rsp.payload);
  ck_assert_uint_ne(status & (1u << SPARROW_STATUS_DONE_BIT), 0);
  ck_assert_uint_eq(status & (1u << SPARROW_STATUS_BUSY_BIT), 0);
  ck_assert_uint_eq(sparrow_get_u32(g_rsp.payload + 8), SPARROW_FABRIC_ERR_NONE);
  close_device(&d);
}
END_TEST

// Runs the copy under the given DRAM options and returns the fabric's cycle count.
static uint64_t copy_cycles(const char *bw, const char *latency, uint32_t beats) {
  const char *args[] = {"--dram-bw", bw, "--dram-latency", latency, NULL};
  device_t d;
  open_device(&d, args, false);
  uint32_t bytes = beats * g_hw->lanes * 4;
  static uint8_t src[SPARROW_PROTO_MAX_PAYLOAD], dst[SPARROW_PROTO_MAX_PAYLOAD];
  fill_pattern(src, bytes, 11);
  ck_assert_uint_eq(mem_write(&d, kSrc, src, bytes), kSparrowRcOk);
  load_copy_program(&d, kSrc, kDst, beats);
  wait_result_t w = launch_and_wait(&d);
  ck_assert_uint_eq(w.rc, kSparrowRcOk);
  mem_read(&d, kDst, dst, bytes);
  ck_assert_mem_eq(dst, src, bytes);
  close_device(&d);
  return w.cycles;
}

// The RTL fabric's cycles come from the DRAM model's timing: a copy cannot beat the latency of
// its first read plus its last write, nor move its read and write bytes faster than the bandwidth.
START_TEST(test_rtl_cycles_follow_dram_timing) {
  uint32_t beats = 512;
  uint64_t bytes = 2ull * beats * g_hw->lanes * 4;  // read and write share the bandwidth
  uint64_t fast = copy_cycles("64", "10", beats);
  uint64_t slow_bw = copy_cycles("8", "10", beats);
  uint64_t slow_lat = copy_cycles("64", "1000", beats);
  printf("rtl %s copy of %u beats: bw 64 lat 10: %llu cycles; bw 8: %llu; lat 1000: %llu\n",
         g_config, beats, (unsigned long long)fast, (unsigned long long)slow_bw,
         (unsigned long long)slow_lat);
  ck_assert_uint_ge(fast, bytes / 64);
  ck_assert_uint_ge(slow_bw, bytes / 8);
  ck_assert_uint_ge(slow_lat, 2000);
  ck_assert_uint_gt(slow_bw, fast);
  ck_assert_uint_gt(slow_lat, fast);
}
END_TEST

// A program may point an AGCU past the end of DRAM (the firmware checks host transfers, not the
// addresses a program walks): the firmware sets DRAM_LIMIT to the platform's DRAM size, so the
// fabric stops the phase with bad_address before the beat reaches the DRAM model, and WAIT says so.
START_TEST(test_rtl_dram_beyond_capacity_is_refused) {
  static const char *const kArgs[] = {"--dram-mb", "1", NULL};
  device_t d;
  open_device(&d, kArgs, true);
  uint8_t ones[256];
  memset(ones, 0xff, sizeof(ones));
  ck_assert_uint_eq(mem_write(&d, kDst, ones, sizeof(ones)), kSparrowRcOk);
  load_copy_program(&d, 1u << 20, kDst, 4);  // reads the 4 beats right after the end
  wait_result_t w = launch_and_wait(&d);
  ck_assert_uint_eq(w.rc, kSparrowRcFabricError);
  char reason[SPARROW_PROTO_MAX_REASON + 1] = {0};
  memcpy(reason, g_rsp.payload, g_rsp.h.length < SPARROW_PROTO_MAX_REASON ? g_rsp.h.length
                                                                          : SPARROW_PROTO_MAX_REASON);
  ck_assert_msg(strstr(reason, "bad_address") != NULL, "WAIT reason was: %s", reason);
  uint8_t got[256];
  mem_read(&d, kDst, got, sizeof(got));
  ck_assert_mem_eq(got, ones, sizeof(got));  // nothing was written
  close(d.fd);
  ck_assert_int_eq(wait_exit(d.pid, IO_TIMEOUT_MS), 0);
  char log[4096];
  ssize_t n = 0;
  while (n < (ssize_t)sizeof(log) - 1) {
    ssize_t r = read(d.err_fd, log + n, sizeof(log) - 1 - (size_t)n);
    if (r <= 0) {
      break;
    }
    n += r;
  }
  log[n] = '\0';
  close(d.err_fd);
  ck_assert_msg(strstr(log, "beyond the end of DRAM") == NULL,
                "the DRAM model saw an out-of-range access: %s", log);
}
END_TEST

// --trace writes an FST waveform of exactly the cycle window asked for: the file's header holds
// the first and last dumped times (picoseconds; a cycle is 1 ns, its falling edge at +500 ps).
START_TEST(test_rtl_trace_window) {
  char dir[] = "/tmp/sparrow-sim-test-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/wave.fst", dir);
  const char *args[] = {"--trace", path, "--trace-start", "10", "--trace-cycles", "20", NULL};
  device_t d;
  open_device(&d, args, false);
  hello(&d);
  for (int i = 0; i < 20; i++) {
    expect_ok(&d, kSparrowCmdStatus, NULL, 0);  // CSR reads: time passes
  }
  close_device(&d);
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  uint8_t h[25];
  ck_assert_uint_eq(fread(h, 1, sizeof(h), f), sizeof(h));
  fclose(f);
  ck_assert_uint_eq(h[0], 0);  // FST header block
  uint64_t start = 0, end = 0;
  for (int i = 0; i < 8; i++) {
    start = start << 8 | h[9 + i];  // big-endian
    end = end << 8 | h[17 + i];
  }
  ck_assert_uint_eq(start, 10 * 1000);
  ck_assert_uint_eq(end, 29 * 1000 + 500);
  unlink(path);
  rmdir(dir);
}
END_TEST

START_TEST(test_bad_crc_answered_connection_stays) {
  device_t d;
  open_device(&d, NULL, false);
  size_t n = sparrow_proto_encode(kSparrowCmdHello, 0, 77, NULL, 0, g_frame, sizeof(g_frame));
  g_frame[n - 1] ^= 0x5a;
  ck_assert(write_all(d.fd, g_frame, n));
  read_response(d.fd, &g_rsp);
  ck_assert_uint_eq(g_rsp.h.kind, kSparrowCmdHello | SPARROW_PROTO_RESPONSE_BIT);
  ck_assert_uint_eq(g_rsp.h.seq, 77);
  ck_assert_uint_eq(g_rsp.h.status, kSparrowRcBadCrc);
  ck_assert_uint_gt(g_rsp.h.length, 0);  // with a reason
  sparrow_hello_t h = hello(&d);
  ck_assert_uint_eq(h.tiles, g_hw->tiles);
  close_device(&d);
}
END_TEST

START_TEST(test_bad_version_answered_connection_stays) {
  device_t d;
  open_device(&d, NULL, false);
  size_t n = sparrow_proto_encode(kSparrowCmdStatus, 0, 31, NULL, 0, g_frame, sizeof(g_frame));
  g_frame[4] = 2;  // version, with the CRC made to match: only the version is wrong
  sparrow_put_u32(g_frame + n - 4, sparrow_proto_crc32(0, g_frame, n - 4));
  ck_assert(write_all(d.fd, g_frame, n));
  read_response(d.fd, &g_rsp);
  ck_assert_uint_eq(g_rsp.h.status, kSparrowRcBadVersion);
  ck_assert_uint_eq(g_rsp.h.seq, 31);
  hello(&d);
  close_device(&d);
}
END_TEST

// After an untrustworthy header the device answers, then closes: reading gives EOF.
static void expect_answer_then_close(device_t *d, uint16_t rc, uint32_t seq) {
  read_response(d->fd, &g_rsp);
  ck_assert_uint_eq(g_rsp.h.status, rc);
  ck_assert_uint_eq(g_rsp.h.seq, seq);
  uint8_t byte;
  bool eof = false;
  ck_assert(!read_all(d->fd, &byte, 1, &eof));
  ck_assert_msg(eof, "the device kept the connection open");
  close_device(d);
}

START_TEST(test_oversized_length_answered_then_closed) {
  device_t d;
  open_device(&d, NULL, false);
  uint8_t h[SPARROW_PROTO_HEADER_BYTES] = {0};
  sparrow_put_u32(h, SPARROW_PROTO_MAGIC);
  h[4] = SPARROW_PROTO_VERSION;
  h[5] = kSparrowCmdMemWrite;
  sparrow_put_u32(h + 8, 9);
  sparrow_put_u32(h + 12, SPARROW_PROTO_MAX_PAYLOAD + 1);
  ck_assert(write_all(d.fd, h, sizeof(h)));
  expect_answer_then_close(&d, kSparrowRcBadLength, 9);
}
END_TEST

START_TEST(test_bad_magic_answered_then_closed) {
  device_t d;
  open_device(&d, NULL, false);
  uint8_t h[SPARROW_PROTO_HEADER_BYTES];
  memcpy(h, "GET / HTTP/1.1\r\n", sizeof(h));
  ck_assert(write_all(d.fd, h, sizeof(h)));
  expect_answer_then_close(&d, kSparrowRcBadMagic, 0);
}
END_TEST

START_TEST(test_stalled_frame_is_dropped) {
  static const char *const kArgs[] = {"--frame-timeout-ms", "300", NULL};
  device_t d;
  open_device(&d, kArgs, false);
  size_t n = sparrow_proto_encode(kSparrowCmdHello, 0, 5, NULL, 0, g_frame, sizeof(g_frame));
  ck_assert(write_all(d.fd, g_frame, n - 3));  // the CRC never completes
  int64_t start = now_ms();
  uint8_t byte;
  bool eof = false;
  ck_assert(!read_all(d.fd, &byte, 1, &eof));
  ck_assert_msg(eof, "no answer is due, only the close");
  ck_assert_int_ge(now_ms() - start, 250);
  close_device(&d);
}
END_TEST

// The driver vanishing with an answer on its way must not kill the device with SIGPIPE.
START_TEST(test_vanished_peer_is_no_crash) {
  device_t d;
  open_device(&d, NULL, false);
  hello(&d);
  uint8_t p[12];
  sparrow_put_u64(p, 0);
  sparrow_put_u32(p + 8, SPARROW_PROTO_MAX_PAYLOAD);
  size_t n = sparrow_proto_encode(kSparrowCmdMemRead, 0, 2, p, sizeof(p), g_frame, sizeof(g_frame));
  ck_assert(write_all(d.fd, g_frame, n));
  close_device(&d);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// --listen.

// Reads the simulator's stderr until "listening on ADDRESS"; returns ADDRESS.
static void wait_listening(int err_fd, char *address, size_t cap) {
  char log[2048];
  size_t n = 0;
  int64_t deadline = now_ms() + IO_TIMEOUT_MS;
  for (;;) {
    log[n] = '\0';
    const char *at = strstr(log, "listening on ");
    if (at != NULL && strchr(at, '\n') != NULL) {
      at += strlen("listening on ");
      size_t len = strcspn(at, " \n");
      ck_assert_uint_lt(len, cap);
      memcpy(address, at, len);
      address[len] = '\0';
      return;
    }
    int64_t left = deadline - now_ms();
    ck_assert_msg(left > 0 && n < sizeof(log) - 1, "no 'listening on' line: %s", log);
    struct pollfd pfd = {.fd = err_fd, .events = POLLIN};
    if (poll(&pfd, 1, (int)left) <= 0) {
      continue;
    }
    ssize_t r = read(err_fd, log + n, sizeof(log) - 1 - n);
    ck_assert_msg(r > 0, "sparrow-sim ended before listening: %s", log);
    n += (size_t)r;
  }
}

static int connect_unix(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

static int connect_tcp(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

// Two clients one after another on a listening simulator; the first leaves data in DRAM that
// the second reads back (the device outlives connections), and the first vanishes with a
// response on its way.
static void serve_two_clients(device_t *d, int (*connect_fn)(const void *), const void *where) {
  uint8_t pattern[32];
  fill_pattern(pattern, sizeof(pattern), 5);
  d->fd = connect_fn(where);
  ck_assert_uint_eq(hello(d).tiles, g_hw->tiles);
  ck_assert_uint_eq(mem_write(d, 0x100, pattern, sizeof(pattern)), kSparrowRcOk);
  uint8_t p[12];
  sparrow_put_u64(p, 0);
  sparrow_put_u32(p + 8, SPARROW_PROTO_MAX_PAYLOAD);
  size_t n = sparrow_proto_encode(kSparrowCmdMemRead, 0, 2, p, sizeof(p), g_frame, sizeof(g_frame));
  ck_assert(write_all(d->fd, g_frame, n));
  close(d->fd);

  d->fd = connect_fn(where);
  uint8_t back[32];
  mem_read(d, 0x100, back, sizeof(back));
  ck_assert_mem_eq(back, pattern, sizeof(back));
  close(d->fd);
}

static int connect_unix_fn(const void *where) {
  return connect_unix((const char *)where);
}
static int connect_tcp_fn(const void *where) {
  return connect_tcp(*(const uint16_t *)where);
}

static void stop_listener(device_t *d) {
  ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
  ck_assert_int_eq(wait_exit(d->pid, IO_TIMEOUT_MS), 0);
  close(d->err_fd);
}

START_TEST(test_listen_unix) {
  char dir[] = "/tmp/sparrow-sim-test-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/dev.sock", dir);
  char spec[160];
  snprintf(spec, sizeof(spec), "unix:%s", path);
  const char *args[] = {"--listen", spec, NULL};
  device_t d = {.seq = 1};
  d.pid = spawn_sim(-1, args, true, &d.err_fd);
  char address[160];
  wait_listening(d.err_fd, address, sizeof(address));
  ck_assert_str_eq(address, spec);
  serve_two_clients(&d, connect_unix_fn, path);
  stop_listener(&d);
  struct stat st;
  ck_assert_msg(stat(path, &st) != 0, "the socket file was left behind");
  rmdir(dir);
}
END_TEST

START_TEST(test_listen_tcp) {
  static const char *const kArgs[] = {"--listen", "tcp:127.0.0.1:0", NULL};
  device_t d = {.seq = 1};
  d.pid = spawn_sim(-1, kArgs, true, &d.err_fd);
  char address[160];
  wait_listening(d.err_fd, address, sizeof(address));
  unsigned port = 0;
  ck_assert_msg(sscanf(address, "tcp:127.0.0.1:%u", &port) == 1, "address %s", address);
  ck_assert_uint_gt(port, 0);
  uint16_t p16 = (uint16_t)port;
  serve_two_clients(&d, connect_tcp_fn, &p16);
  stop_listener(&d);
}
END_TEST

START_TEST(test_bad_options_exit_2) {
  static const char *const kBad[][5] = {
      // NULL-ended rows
      {"--fd", "3", "--dram-bw", "0"},
      {"--fd", "3", "--config", "XL"},
      {"--listen", "carrier-pigeon:1", NULL, NULL},
      {"--fd", "999", NULL, NULL},  // not an open descriptor
  };
  for (size_t i = 0; i < sizeof(kBad) / sizeof(kBad[0]); i++) {
    int err_fd = -1;
    pid_t pid = spawn_sim(-1, kBad[i], true, &err_fd);
    ck_assert_int_eq(wait_exit(pid, IO_TIMEOUT_MS), 2);
    char log[512];
    ssize_t n = read(err_fd, log, sizeof(log) - 1);
    ck_assert_int_gt(n, 0);
    log[n] = '\0';
    ck_assert_msg(strncmp(log, "sparrow-sim: ", 13) == 0, "message: %s", log);
    close(err_fd);
  }
}
END_TEST

static Suite *device_suite(void) {
  Suite *s = suite_create("sparrow-sim device");
  TCase *fd = tcase_create("fd");
  tcase_set_timeout(fd, 600);
  tcase_add_test(fd, test_hello_describes_the_device);
  tcase_add_test(fd, test_hello_reports_dram_options);
  tcase_add_test(fd, test_mem_write_read_round_trip);
  tcase_add_test(fd, test_dma_copy_program);
  tcase_add_test(fd, test_bad_crc_answered_connection_stays);
  tcase_add_test(fd, test_bad_version_answered_connection_stays);
  tcase_add_test(fd, test_oversized_length_answered_then_closed);
  tcase_add_test(fd, test_bad_magic_answered_then_closed);
  tcase_add_test(fd, test_stalled_frame_is_dropped);
  tcase_add_test(fd, test_vanished_peer_is_no_crash);
  tcase_add_test(fd, test_bad_options_exit_2);
  if (is_rtl()) {
    tcase_add_test(fd, test_rtl_cycles_follow_dram_timing);
    tcase_add_test(fd, test_rtl_dram_beyond_capacity_is_refused);
    tcase_add_test(fd, test_rtl_trace_window);
  }
  suite_add_tcase(s, fd);
  TCase *listen = tcase_create("listen");
  tcase_set_timeout(listen, 600);
  tcase_add_test(listen, test_listen_unix);
  tcase_add_test(listen, test_listen_tcp);
  suite_add_tcase(s, listen);
  return s;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s SPARROW_SIM rtl|model CONFIG\n", argv[0]);
    return 2;
  }
  g_sim = argv[1];
  g_fabric = argv[2];
  g_config = argv[3];
  for (unsigned i = 0; i < SPARROW_HW_CONFIG_COUNT; i++) {
    if (strcmp(kSparrowHwConfigs[i].name, g_config) == 0) {
      g_hw = &kSparrowHwConfigs[i];
    }
  }
  if (g_hw == NULL) {
    fprintf(stderr, "unknown configuration %s\n", g_config);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  SRunner *sr = srunner_create(device_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
