// SPDX-License-Identifier: Apache-2.0
//
// Check suite for libsparrow against fake devices (test_driver_fake.c) on socketpairs, Unix and TCP
// sockets: the happy path of every call, chunking, and each way a device can fail — error answers,
// malformed answers, a device that closes mid-response, one that never answers, connection refused.

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../driver/src/sparrow_internal.h"
#include "../../driver/src/transport.h"
#include "../../firmware/proto/sparrow_proto.h"
#include "test_driver_fake.h"

static char msg[SPARROW_MSG_BYTES];

// Opens a device on a fake that must answer HELLO.
static sparrow_dev_t *open_fake(const fake_config_t *cfg, fake_device_t **fake) {
  sparrow_dev_t *dev = NULL;
  msg[0] = '\0';
  sparrow_status_t status = fake_open(cfg, 2000, fake, &dev, msg, sizeof msg);
  ck_assert_msg(status == SPARROW_OK, "open: %s: %s", sparrow_status_name(status), msg);
  ck_assert_ptr_nonnull(dev);
  return dev;
}

static void expect(sparrow_dev_t *dev, sparrow_status_t got, sparrow_status_t want,
                   const char *want_msg) {
  ck_assert_msg(got == want, "got %s (%s), expected %s", sparrow_status_name(got),
                sparrow_last_error(dev), sparrow_status_name(want));
  if (want_msg != NULL) {
    ck_assert_str_eq(sparrow_last_error(dev), want_msg);
  }
  ck_assert_ptr_null(strchr(sparrow_last_error(dev), '\n'));
}

START_TEST(test_hello_info) {
  fake_device_t *fake;
  sparrow_dev_t *dev = open_fake(&(fake_config_t){.max_payload = 4096}, &fake);
  sparrow_info_t info;
  ck_assert_int_eq(sparrow_info(dev, &info), SPARROW_OK);
  ck_assert_str_eq(info.config, "S");
  ck_assert_str_eq(info.fabric, "model");
  ck_assert_uint_eq(info.proto_version, 1);
  ck_assert_uint_eq(info.hw_version, 0x00010000);
  ck_assert_uint_eq(info.fw_version, 0x102);
  ck_assert_uint_eq(info.tiles, 2);
  ck_assert_uint_eq(info.lanes, 4);
  ck_assert_uint_eq(info.pmu_words, 4096);
  ck_assert_uint_eq(info.agcu_outstanding, 128);
  ck_assert_uint_eq(info.prog_entries, 1024);
  ck_assert_uint_eq(info.dram_bw, 64);
  ck_assert_uint_eq(info.dram_latency, 100);
  ck_assert_uint_eq(info.max_payload, 4096);
  ck_assert_uint_eq(info.dram_bytes, 1 << 20);
  ck_assert_uint_eq(info.peak_macs_per_cycle, 32);
  ck_assert_str_eq(sparrow_describe(dev), "fake");
  sparrow_close(dev);
  fake_stop(fake);
}
END_TEST

START_TEST(test_commands) {
  fake_device_t *fake;
  sparrow_dev_t *dev = open_fake(&(fake_config_t){0}, &fake);
  ck_assert_int_eq(sparrow_reset(dev), SPARROW_OK);
  sparrow_device_state_t state;
  ck_assert_int_eq(sparrow_query_status(dev, &state), SPARROW_OK);
  ck_assert_uint_eq(state.status, 2);
  ck_assert_uint_eq(state.fp_status, 0x10);
  sparrow_counters_t c;
  ck_assert_int_eq(sparrow_counters(dev, &c), SPARROW_OK);
  ck_assert_uint_eq(c.cycles, 1000);
  ck_assert_uint_eq(c.dram_rd_bytes, 4096);
  ck_assert_uint_eq(c.dram_wr_bytes, 2048);
  ck_assert_uint_eq(c.macs, 32000);
  ck_assert_uint_eq(c.units, 3);
  ck_assert_uint_eq(c.busy[2], 102);
  ck_assert_uint_eq(c.stall[2], 202);
  // WAIT before any launch: the device's error, and the connection stays usable.
  uint32_t fp = 0;
  expect(dev, sparrow_wait(dev, 1000, &fp), SPARROW_E_DEVICE,
         "WAIT: NOT_LAUNCHED: WAIT: nothing launched");
  const uint64_t prog[] = {0x1000000000000001ull, 0x2000000000000000ull, 0x3000000000000000ull};
  ck_assert_int_eq(sparrow_run(dev, prog, 3, 1000, &c, &fp), SPARROW_OK);
  ck_assert_uint_eq(fp, 5);
  ck_assert_uint_eq(c.macs, 32000);
  sparrow_close(dev);
  ck_assert_uint_eq(fake->prog_count, 3);
  ck_assert_uint_eq(fake->prog[0], prog[0]);
  ck_assert_uint_eq(fake->prog[2], prog[2]);
  ck_assert_uint_eq(fake->last_watchdog, SPARROW_RUN_WATCHDOG_CYCLES);
  fake_stop(fake);
}
END_TEST

// sparrow_totals: the field-by-field sum of the counters of every launch sparrow_run completed (the
// fake's n-th launch reports n times the first launch's figures), whether or not the caller asked
// for them; not a failed launch, not a standalone COUNTERS read, and RESET does not clear them.
static void expect_sum(const sparrow_counters_t *t, const sparrow_counters_t *a,
                       const sparrow_counters_t *b, const sparrow_counters_t *c) {
  ck_assert_uint_eq(t->cycles, a->cycles + b->cycles + c->cycles);
  ck_assert_uint_eq(t->dram_rd_bytes, a->dram_rd_bytes + b->dram_rd_bytes + c->dram_rd_bytes);
  ck_assert_uint_eq(t->dram_wr_bytes, a->dram_wr_bytes + b->dram_wr_bytes + c->dram_wr_bytes);
  ck_assert_uint_eq(t->macs, a->macs + b->macs + c->macs);
  ck_assert_uint_eq(t->units, a->units);
  for (uint32_t u = 0; u < t->units; u++) {
    ck_assert_uint_eq(t->busy[u], a->busy[u] + b->busy[u] + c->busy[u]);
    ck_assert_uint_eq(t->stall[u], a->stall[u] + b->stall[u] + c->stall[u]);
  }
}

START_TEST(test_totals) {
  fake_device_t *fake;
  sparrow_dev_t *dev = open_fake(&(fake_config_t){.units = 5}, &fake);
  sparrow_counters_t t, c1, c2, c3;
  memset(&t, 0xA5, sizeof t);
  ck_assert_int_eq(sparrow_totals(dev, &t), SPARROW_OK);
  ck_assert_uint_eq(t.cycles + t.dram_rd_bytes + t.dram_wr_bytes + t.macs + t.units, 0);
  ck_assert_int_eq(sparrow_totals(NULL, &t), SPARROW_E_ARG);
  expect(dev, sparrow_totals(dev, NULL), SPARROW_E_ARG, "totals: NULL argument");
  const uint64_t prog[] = {3ull << 60};
  uint32_t fp = 0;
  ck_assert_int_eq(sparrow_run(dev, prog, 1, 1000, &c1, &fp), SPARROW_OK);
  ck_assert_int_eq(sparrow_run(dev, prog, 1, 1000, &c2, &fp), SPARROW_OK);
  ck_assert_uint_eq(c2.cycles, 2 * c1.cycles);  // the fake's launches do differ
  // A run whose caller does not want the counters still adds them.
  ck_assert_int_eq(sparrow_run(dev, prog, 1, 1000, NULL, &fp), SPARROW_OK);
  // Reading the counters again (they describe the third launch) adds nothing.
  ck_assert_int_eq(sparrow_counters(dev, &c3), SPARROW_OK);
  ck_assert_uint_eq(c3.cycles, 3 * c1.cycles);
  ck_assert_int_eq(sparrow_reset(dev), SPARROW_OK);
  ck_assert_int_eq(sparrow_totals(dev, &t), SPARROW_OK);
  expect_sum(&t, &c1, &c2, &c3);
  ck_assert_uint_eq(t.units, 5);
  ck_assert_uint_eq(t.cycles, 6000);
  ck_assert_uint_eq(t.busy[4], 6 * 104);
  ck_assert_uint_eq(t.stall[0], 6 * 200);
  printf("totals over 3 runs: %llu cycles, %llu + %llu DRAM bytes, %llu macs, %u units\n",
         (unsigned long long)t.cycles, (unsigned long long)t.dram_rd_bytes,
         (unsigned long long)t.dram_wr_bytes, (unsigned long long)t.macs, t.units);
  sparrow_close(dev);
  fake_stop(fake);

  // A launch the fabric failed is not counted.
  dev = open_fake(&(fake_config_t){.wait_fabric_error = 1}, &fake);
  expect(dev, sparrow_run(dev, prog, 1, 1000, &c1, &fp), SPARROW_E_FABRIC, NULL);
  ck_assert_int_eq(sparrow_totals(dev, &t), SPARROW_OK);
  ck_assert_uint_eq(t.cycles + t.macs + t.units, 0);
  sparrow_close(dev);
  fake_stop(fake);
}
END_TEST

START_TEST(test_bad_arguments) {
  fake_device_t *fake;
  sparrow_dev_t *dev = open_fake(&(fake_config_t){.dram_bytes = 4096}, &fake);
  uint8_t buf[64] = {0};
  expect(dev, sparrow_write(dev, 0, NULL, 4), SPARROW_E_ARG, "write: buffer is NULL");
  expect(dev, sparrow_read(dev, 0, buf, 0), SPARROW_E_ARG, "read: zero bytes");
  expect(dev, sparrow_write(dev, 4090, buf, 8), SPARROW_E_DEVMEM,
         "write: 8 bytes at 0xffa run past the end of device memory (0x1000)");
  expect(dev, sparrow_read(dev, UINT64_MAX, buf, 8), SPARROW_E_DEVMEM,
         "read: 8 bytes at 0xffffffffffffffff run past the end of device memory (0x1000)");
  expect(dev, sparrow_load_program(dev, NULL, 3), SPARROW_E_ARG, "load_program: entries is NULL");
  static uint64_t big[1025];
  expect(dev, sparrow_load_program(dev, big, 1025), SPARROW_E_ARG,
         "load_program: 1025 entries, the device holds 1024");
  uint64_t addr;
  expect(dev, sparrow_alloc(dev, 8192, &addr), SPARROW_E_DEVMEM,
         "device memory full: asked 8192 bytes, largest free block 4096");
  ck_assert_int_eq(sparrow_alloc(dev, 100, &addr), SPARROW_OK);
  ck_assert_uint_eq(addr, 0);
  ck_assert_int_eq(sparrow_alloc(dev, 100, &addr), SPARROW_OK);
  ck_assert_uint_eq(addr, 128);
  ck_assert_int_eq(sparrow_free(dev, 128), SPARROW_OK);
  expect(dev, sparrow_free(dev, 128), SPARROW_E_ARG,
         "free: 0x80 is not the start of an allocated block (double free?)");
  // NULL device handles are errors, not crashes.
  ck_assert_int_eq(sparrow_reset(NULL), SPARROW_E_ARG);
  ck_assert_str_eq(sparrow_last_error(NULL), "no device");
  sparrow_close(NULL);
  sparrow_close(dev);
  ck_assert_int_eq(fake->requests, 1);  // none of the rejected calls reached the device
  fake_stop(fake);
}
END_TEST

// Write and read back size bytes through a device with the given max payload; returns the fake's
// records through *out (after the device is closed).
static void round_trip(uint32_t max_payload, size_t size, uint64_t addr) {
  fake_device_t *fake;
  sparrow_dev_t *dev =
      open_fake(&(fake_config_t){.max_payload = max_payload, .dram_bytes = 1 << 20}, &fake);
  uint8_t *src = malloc(size), *dst = malloc(size);
  for (size_t i = 0; i < size; i++) {
    src[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 1);
  }
  memset(dst, 0, size);
  ck_assert_int_eq(sparrow_write(dev, addr, src, size), SPARROW_OK);
  ck_assert_int_eq(sparrow_read(dev, addr, dst, size), SPARROW_OK);
  ck_assert_int_eq(memcmp(src, dst, size), 0);
  sparrow_close(dev);
  size_t chunk = max_payload - 8;
  size_t want_writes = (size + chunk - 1) / chunk;
  size_t want_reads = (size + max_payload - 1) / max_payload;
  ck_assert_int_eq(fake->mem_writes, (int)want_writes);
  size_t total = 0;
  for (int i = 0; i < fake->mem_writes; i++) {
    ck_assert_uint_le(fake->mem_write_bytes[i], chunk);
    total += fake->mem_write_bytes[i];
  }
  ck_assert_uint_eq(total, size);
  ck_assert_uint_le(fake->largest_request_payload, max_payload);
  ck_assert_int_eq(fake->requests, 1 + (int)want_writes + (int)want_reads);
  ck_assert_int_eq(memcmp(fake->dram + addr, src, size), 0);  // reassembled in device memory
  fake_stop(fake);
  free(src);
  free(dst);
}

START_TEST(test_chunking) {
  round_trip(65536, 200000, 64);    // full-size frames, 4 writes of 65528
  round_trip(1000, 10000, 4096);    // a small frame limit: 11 writes of <= 992, 10 reads
  round_trip(100, 1, 0);            // one byte
  round_trip(64, 92 * 3, 1 << 19);  // exact multiples of the write chunk
}
END_TEST

START_TEST(test_program_chunking) {
  fake_device_t *fake;
  sparrow_dev_t *dev = open_fake(&(fake_config_t){.max_payload = 256}, &fake);
  uint64_t prog[1000];
  for (int i = 0; i < 1000; i++) {
    prog[i] = 0x1000000000000000ull | (uint64_t)i * 0x10001u;
  }
  ck_assert_int_eq(sparrow_load_program(dev, prog, 1000), SPARROW_OK);
  sparrow_close(dev);
  ck_assert_int_eq(fake->prog_loads, (1000 + 30) / 31);  // (256 - 8) / 8 = 31 entries a frame
  ck_assert_uint_le(fake->largest_request_payload, 256);
  ck_assert_uint_eq(fake->prog_count, 1000);
  ck_assert_int_eq(memcmp(fake->prog, prog, sizeof prog), 0);
  fake_stop(fake);
}
END_TEST

START_TEST(test_device_errors) {
  // An error answer: the mapped status, "<CMD>: <RC>: <reason>", and the connection stays usable.
  fake_device_t *fake;
  sparrow_dev_t *dev = open_fake(&(fake_config_t){.fault = kFaultErrorReply,
                                                  .fault_cmd = kSparrowCmdMemWrite,
                                                  .fault_rc = kSparrowRcBusy,
                                                  .fault_reason = "MEM_WRITE: launch\nrunning"},
                                 &fake);
  uint8_t buf[16] = {1, 2, 3};
  expect(dev, sparrow_write(dev, 0, buf, 16), SPARROW_E_DEVICE,
         "MEM_WRITE: BUSY: MEM_WRITE: launch?running");
  ck_assert_int_eq(sparrow_write(dev, 0, buf, 16), SPARROW_OK);
  // The fake's own range check answers BAD_ADDRESS, which maps to SPARROW_E_DEVMEM.
  ck_assert_int_eq(sparrow_read(dev, 0, buf, 16), SPARROW_OK);
  ck_assert_uint_eq(buf[2], 3);
  sparrow_close(dev);
  fake_stop(fake);

  dev = open_fake(&(fake_config_t){.fault = kFaultErrorReply,
                                   .fault_cmd = kSparrowCmdMemRead,
                                   .fault_rc = kSparrowRcBadAddress,
                                   .fault_reason = "MEM_READ: 16 bytes at 0x0 outside DRAM"},
                  &fake);
  expect(dev, sparrow_read(dev, 0, buf, 16), SPARROW_E_DEVMEM,
         "MEM_READ: BAD_ADDRESS: MEM_READ: 16 bytes at 0x0 outside DRAM");
  sparrow_close(dev);
  fake_stop(fake);

  dev = open_fake(
      &(fake_config_t){
          .fault = kFaultErrorReply, .fault_cmd = kSparrowCmdReset, .fault_rc = kSparrowRcBadCrc},
      &fake);
  expect(dev, sparrow_reset(dev), SPARROW_E_DEVICE, "RESET: BAD_CRC: (no reason given)");
  sparrow_close(dev);
  fake_stop(fake);
}
END_TEST

START_TEST(test_wait) {
  // Done after 5 TIMEOUT slices.
  fake_device_t *fake;
  sparrow_dev_t *dev = open_fake(&(fake_config_t){.wait_timeouts = 5}, &fake);
  ck_assert_int_eq(sparrow_launch(dev, 500), SPARROW_OK);
  uint32_t fp = 0;
  ck_assert_int_eq(sparrow_wait(dev, 5000, &fp), SPARROW_OK);
  ck_assert_uint_eq(fp, 5);
  sparrow_close(dev);
  ck_assert_int_eq(fake->waits, 6);
  ck_assert_uint_eq(fake->last_watchdog, 500);
  ck_assert_uint_ge(fake->last_wait_cycles, SPARROW_WAIT_SLICE_MIN);
  ck_assert_uint_le(fake->last_wait_cycles, SPARROW_WAIT_SLICE_MAX);
  fake_stop(fake);

  // A fabric error.
  dev = open_fake(&(fake_config_t){.wait_timeouts = 1, .wait_fabric_error = 1}, &fake);
  ck_assert_int_eq(sparrow_launch(dev, 0), SPARROW_OK);
  expect(dev, sparrow_wait(dev, 5000, &fp), SPARROW_E_FABRIC,
         "WAIT: FABRIC_ERROR: WAIT: launch failed: bad_unit at entry 3");
  sparrow_close(dev);
  fake_stop(fake);

  // Never done: the wall-clock timeout, and the device is still usable afterwards.
  dev = open_fake(&(fake_config_t){.wait_timeouts = -1}, &fake);
  ck_assert_int_eq(sparrow_launch(dev, 0), SPARROW_OK);
  int64_t t0 = sparrow_now_ms();
  sparrow_status_t status = sparrow_wait(dev, 300, &fp);
  int64_t took = sparrow_now_ms() - t0;
  expect(dev, status, SPARROW_E_TIMEOUT, NULL);
  ck_assert_ptr_nonnull(strstr(sparrow_last_error(dev), "WAIT: launch not done after"));
  ck_assert_int_ge(took, 300);
  ck_assert_int_lt(took, 2000);
  // timeout_ms 0 asks once.
  int waits_before = fake->waits;
  expect(dev, sparrow_wait(dev, 0, &fp), SPARROW_E_TIMEOUT, NULL);
  ck_assert_int_eq(sparrow_reset(dev), SPARROW_OK);
  sparrow_close(dev);
  ck_assert_int_eq(fake->waits, waits_before + 1);
  fake_stop(fake);
}
END_TEST

// Opens a device whose request number fault_at misbehaves as fault; returns the status of a
// MEM_READ (request 1) or of the open itself (fault_at 0).
static void broken_response(fake_fault_t fault, int fault_at, sparrow_status_t want,
                            const char *want_msg) {
  fake_device_t *fake;
  sparrow_dev_t *dev = NULL;
  msg[0] = '\0';
  sparrow_status_t status = fake_open(&(fake_config_t){.fault = fault, .fault_at = fault_at}, 2000,
                                      &fake, &dev, msg, sizeof msg);
  if (fault_at == 0) {
    ck_assert_msg(status == want, "open: %s (%s)", sparrow_status_name(status), msg);
    ck_assert_ptr_null(dev);
    ck_assert_str_eq(msg, want_msg);
    fake_stop(fake);
    return;
  }
  ck_assert_int_eq(status, SPARROW_OK);
  uint8_t buf[32];
  expect(dev, sparrow_read(dev, 0, buf, sizeof buf), want, want_msg);
  // The connection is now considered broken: every later call fails at once, same status.
  int64_t t0 = sparrow_now_ms();
  status = sparrow_reset(dev);
  ck_assert_int_eq(status, want);
  ck_assert_int_lt(sparrow_now_ms() - t0, 500);
  char first[SPARROW_MSG_BYTES];
  snprintf(first, sizeof first, "connection unusable after an earlier error: %s", want_msg);
  ck_assert_str_eq(sparrow_last_error(dev), first);
  sparrow_close(dev);
  ck_assert_int_eq(fake->requests, 2);  // the reset never went out
  fake_stop(fake);
}

START_TEST(test_malformed_responses) {
  broken_response(kFaultBadCrc, 1, SPARROW_E_PROTOCOL, "MEM_READ: malformed response (BAD_CRC)");
  broken_response(kFaultWrongSeq, 1, SPARROW_E_PROTOCOL,
                  "MEM_READ: response sequence number 3, expected 2");
  broken_response(kFaultWrongKind, 1, SPARROW_E_PROTOCOL,
                  "MEM_READ: response kind 0x82, expected 0x84");
  broken_response(kFaultBadMagic, 1, SPARROW_E_PROTOCOL,
                  "MEM_READ: malformed response header (BAD_MAGIC)");
  broken_response(kFaultLongReason, 1, SPARROW_E_PROTOCOL,
                  "MEM_READ: error response (BAD_ARGUMENT) with a 300-byte reason (max 200)");
  broken_response(kFaultWrongSize, 1, SPARROW_E_PROTOCOL,
                  "MEM_READ: response payload of 33 bytes, expected 32");
  broken_response(kFaultCloseMidHeader, 1, SPARROW_E_CLOSED,
                  "MEM_READ: reading the response header (10 of 16 bytes): connection closed "
                  "by the device");
  broken_response(kFaultCloseMidPayload, 1, SPARROW_E_CLOSED,
                  "MEM_READ: reading the response payload (16 of 36 bytes): connection closed "
                  "by the device");
}
END_TEST

START_TEST(test_bad_hello) {
  broken_response(kFaultBadCrc, 0, SPARROW_E_PROTOCOL, "fake: HELLO: malformed response (BAD_CRC)");
  broken_response(kFaultCloseMidHeader, 0, SPARROW_E_CLOSED,
                  "fake: HELLO: reading the response header (10 of 16 bytes): connection closed "
                  "by the device");
  broken_response(kFaultWrongSize, 0, SPARROW_E_PROTOCOL,
                  "fake: HELLO: response payload of 65 bytes, expected 64");
  fake_device_t *fake;
  sparrow_dev_t *dev = NULL;
  ck_assert_int_eq(
      fake_open(&(fake_config_t){.proto_version = 2}, 2000, &fake, &dev, msg, sizeof msg),
      SPARROW_E_PROTOCOL);
  ck_assert_str_eq(msg, "fake: HELLO: device speaks protocol version 2, this driver 1");
  fake_stop(fake);
  ck_assert_int_eq(
      fake_open(&(fake_config_t){.max_payload = 16}, 2000, &fake, &dev, msg, sizeof msg),
      SPARROW_E_PROTOCOL);
  ck_assert_ptr_nonnull(strstr(msg, "implausible device description (max_payload 16"));
  fake_stop(fake);
}
END_TEST

START_TEST(test_silent_device) {
  // HELLO answered, then silence: the call gives up within the device timeout.
  fake_device_t *fake;
  sparrow_dev_t *dev = open_fake(&(fake_config_t){.fault = kFaultSilent, .fault_at = 1}, &fake);
  sparrow_set_timeout(dev, 300);
  uint8_t buf[8];
  int64_t t0 = sparrow_now_ms();
  sparrow_status_t status = sparrow_read(dev, 0, buf, sizeof buf);
  int64_t took = sparrow_now_ms() - t0;
  expect(dev, status, SPARROW_E_TIMEOUT,
         "MEM_READ: no response within 300 ms (0 of 16 header bytes)");
  ck_assert_int_ge(took, 300);
  ck_assert_int_lt(took, 2000);
  sparrow_close(dev);
  fake_stop(fake);

  // Silent from the start: open fails within its timeout.
  dev = NULL;
  t0 = sparrow_now_ms();
  status = fake_open(&(fake_config_t){.fault = kFaultSilent, .fault_at = 0}, 300, &fake, &dev, msg,
                     sizeof msg);
  took = sparrow_now_ms() - t0;
  ck_assert_int_eq(status, SPARROW_E_TIMEOUT);
  ck_assert_str_eq(msg, "fake: HELLO: no response within 300 ms (0 of 16 header bytes)");
  ck_assert_ptr_null(dev);
  ck_assert_int_lt(took, 2000);
  fake_stop(fake);
}
END_TEST

START_TEST(test_wait_slices_adapt) {
  // With an instant device, the slice grows to the maximum instead of sending 100k-cycle WAITs.
  fake_device_t *fake;
  sparrow_dev_t *dev = open_fake(&(fake_config_t){.wait_timeouts = 10}, &fake);
  ck_assert_int_eq(sparrow_launch(dev, 0), SPARROW_OK);
  ck_assert_int_eq(sparrow_wait(dev, 5000, NULL), SPARROW_OK);
  sparrow_close(dev);
  ck_assert_uint_eq(fake->last_wait_cycles, SPARROW_WAIT_SLICE_MAX);
  fake_stop(fake);
}
END_TEST

// A temporary directory for Unix sockets.
static char tmpdir[64];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/sparrow-driver-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

START_TEST(test_unix_socket) {
  make_tmpdir();
  char path[128], uri[160];
  snprintf(path, sizeof path, "%s/dev.sock", tmpdir);
  snprintf(uri, sizeof uri, "unix:%s", path);

  // Nothing there yet.
  sparrow_dev_t *dev = NULL;
  ck_assert_int_eq(sparrow_open(uri, &dev, msg, sizeof msg), SPARROW_E_CONNECT);
  char want[256];
  snprintf(want, sizeof want, "unix:%s: no such socket", path);
  ck_assert_str_eq(msg, want);

  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, path, strlen(path) + 1);  // short: under /tmp
  ck_assert_int_eq(bind(lfd, (struct sockaddr *)&addr, sizeof addr), 0);

  // Bound but not listening: refused.
  ck_assert_int_eq(sparrow_open(uri, &dev, msg, sizeof msg), SPARROW_E_CONNECT);
  snprintf(want, sizeof want, "unix:%s: connection refused", path);
  ck_assert_str_eq(msg, want);

  // Listening: a fake device accepts and the device works.
  ck_assert_int_eq(listen(lfd, 1), 0);
  fake_device_t *fake = fake_start_accept(&(fake_config_t){0}, lfd);
  ck_assert_int_eq(sparrow_open(uri, &dev, msg, sizeof msg), SPARROW_OK);
  ck_assert_str_eq(sparrow_describe(dev), uri);
  uint8_t out[100] = {9, 8, 7}, in[100] = {0};
  ck_assert_int_eq(sparrow_write(dev, 640, out, sizeof out), SPARROW_OK);
  ck_assert_int_eq(sparrow_read(dev, 640, in, sizeof in), SPARROW_OK);
  ck_assert_int_eq(memcmp(in, out, sizeof in), 0);
  sparrow_close(dev);
  fake_stop(fake);
  close(lfd);
  unlink(path);
  rmdir(tmpdir);
}
END_TEST

// A loopback TCP socket bound to a free port; listening when listen_too.
static int tcp_socket(int listen_too, char *port, size_t port_len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
  if (listen_too) {
    ck_assert_int_eq(listen(fd, 1), 0);
  }
  socklen_t len = sizeof addr;
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
  snprintf(port, port_len, "%u", (unsigned)ntohs(addr.sin_port));
  return fd;
}

START_TEST(test_tcp) {
  char port[16], uri[64], want[128];
  // A bound port nobody listens on: refused.
  int fd = tcp_socket(0, port, sizeof port);
  snprintf(uri, sizeof uri, "tcp:127.0.0.1:%s", port);
  sparrow_dev_t *dev = (sparrow_dev_t *)&dev;
  ck_assert_int_eq(sparrow_open(uri, &dev, msg, sizeof msg), SPARROW_E_CONNECT);
  ck_assert_ptr_null(dev);
  snprintf(want, sizeof want, "tcp:127.0.0.1:%s: connection refused", port);
  ck_assert_str_eq(msg, want);
  close(fd);

  // An unknown host name.
  ck_assert_int_eq(sparrow_open("tcp:no-such-host.invalid:1", &dev, msg, sizeof msg),
                   SPARROW_E_CONNECT);
  ck_assert_ptr_nonnull(strstr(msg, "tcp:no-such-host.invalid:1: "));

  // A listening fake device.
  fd = tcp_socket(1, port, sizeof port);
  snprintf(uri, sizeof uri, "tcp:localhost:%s", port);
  fake_device_t *fake = fake_start_accept(&(fake_config_t){.max_payload = 512}, fd);
  ck_assert_int_eq(sparrow_open(uri, &dev, msg, sizeof msg), SPARROW_OK);
  sparrow_info_t info;
  ck_assert_int_eq(sparrow_info(dev, &info), SPARROW_OK);
  ck_assert_uint_eq(info.max_payload, 512);
  uint8_t out[3000], in[3000];
  for (size_t i = 0; i < sizeof out; i++) {
    out[i] = (uint8_t)(i ^ (i >> 3));
  }
  ck_assert_int_eq(sparrow_write(dev, 64, out, sizeof out), SPARROW_OK);
  ck_assert_int_eq(sparrow_read(dev, 64, in, sizeof in), SPARROW_OK);
  ck_assert_int_eq(memcmp(in, out, sizeof in), 0);
  sparrow_close(dev);
  fake_stop(fake);
  close(fd);
}
END_TEST

int main(void) {
  Suite *suite = suite_create("driver_proto");
  TCase *tc = tcase_create("proto");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_hello_info);
  tcase_add_test(tc, test_commands);
  tcase_add_test(tc, test_totals);
  tcase_add_test(tc, test_bad_arguments);
  tcase_add_test(tc, test_chunking);
  tcase_add_test(tc, test_program_chunking);
  tcase_add_test(tc, test_device_errors);
  tcase_add_test(tc, test_wait);
  tcase_add_test(tc, test_malformed_responses);
  tcase_add_test(tc, test_bad_hello);
  tcase_add_test(tc, test_silent_device);
  tcase_add_test(tc, test_wait_slices_adapt);
  tcase_add_test(tc, test_unix_socket);
  tcase_add_test(tc, test_tcp);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
