// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the firmware core (firmware/core/sparrow_fw.c) on a fake chip (test_fw_hal.c):
// every command's success, every refusal with its result code and a reason naming the offending
// value, that nothing is written outside DRAM or program memory, and a seeded fuzz of 100k
// random and mutated frames that must each get a well-formed response.

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/core/sparrow_fw.h"
#include "../../firmware/proto/sparrow_proto.h"
#include "sparrow_hw.h"
#include "test_fw_hal.h"

static sparrow_fw_t g_fw;
static uint8_t g_req[SPARROW_PROTO_MAX_FRAME + 64];
static uint8_t g_rsp[SPARROW_PROTO_MAX_FRAME];
static uint32_t g_seq;

typedef struct reply {
  uint16_t rc;
  uint8_t kind;
  uint32_t seq;
  uint32_t length;
  const uint8_t *payload;
  char reason[SPARROW_PROTO_MAX_REASON + 1];
  bool close;
} reply_t;

static void setup(void) {
  fake_reset();
  sparrow_fw_init(&g_fw);
  g_seq = 100;
}

// Checks that the response is a well-formed frame and unpacks it.
static reply_t unpack(size_t n, bool close) {
  reply_t r = {.close = close};
  ck_assert_uint_gt(n, 0);
  sparrow_frame_header_t h;
  const uint8_t *p = NULL;
  ck_assert_int_eq(sparrow_proto_decode(g_rsp, n, &h, &p), kSparrowRcOk);
  ck_assert_uint_ne(h.kind & SPARROW_PROTO_RESPONSE_BIT, 0);
  ck_assert_uint_le(h.status, kSparrowRcBadArgument);
  r.rc = h.status;
  r.kind = h.kind;
  r.seq = h.seq;
  r.length = h.length;
  r.payload = p;
  if (h.status != kSparrowRcOk) {
    ck_assert_uint_gt(h.length, 0);
    ck_assert_uint_le(h.length, SPARROW_PROTO_MAX_REASON);
    memcpy(r.reason, p, h.length);
    // One assertion for the whole text: Check reports every passing assertion to its parent
    // process, which would dominate the fuzz loop's time.
    bool printable = true;
    for (uint32_t i = 0; i < h.length; i++) {
      printable = printable && p[i] >= 0x20 && p[i] < 0x7F;
    }
    ck_assert_msg(printable, "reason \"%s\" has a control or non-ASCII byte", r.reason);
  }
  return r;
}

static reply_t send_raw(size_t len) {
  bool close = false;
  size_t n = sparrow_fw_handle_frame(&g_fw, g_req, len, g_rsp, sizeof g_rsp, &close);
  return unpack(n, close);
}

static reply_t call(uint8_t cmd, const uint8_t *payload, uint32_t length) {
  uint32_t seq = ++g_seq;
  size_t len = sparrow_proto_encode(cmd, 0, seq, payload, length, g_req, sizeof g_req);
  ck_assert_uint_gt(len, 0);
  reply_t r = send_raw(len);
  ck_assert_uint_eq(r.kind, cmd | SPARROW_PROTO_RESPONSE_BIT);
  ck_assert_uint_eq(r.seq, seq);
  ck_assert(!r.close);
  return r;
}

#define expect_rc(r, want)                                                               \
  ck_assert_msg((r).rc == (want), "got %s (%s), want %s", sparrow_proto_rc_name((r).rc), \
                (r).reason, sparrow_proto_rc_name(want))
#define expect_reason(r, text)                                                                \
  ck_assert_msg(strstr((r).reason, (text)) != NULL, "reason \"%s\" lacks \"%s\"", (r).reason, \
                (text))

static reply_t mem_write(uint64_t addr, const uint8_t *data, uint32_t n) {
  static uint8_t buf[SPARROW_PROTO_MAX_PAYLOAD];
  sparrow_put_u64(buf, addr);
  memcpy(buf + 8, data, n);
  return call(kSparrowCmdMemWrite, buf, 8 + n);
}

static reply_t mem_read(uint64_t addr, uint32_t n) {
  uint8_t buf[12];
  sparrow_put_u64(buf, addr);
  sparrow_put_u32(buf + 8, n);
  return call(kSparrowCmdMemRead, buf, 12);
}

static reply_t prog_load(uint32_t first, const uint64_t *entries, uint32_t n) {
  static uint8_t buf[SPARROW_PROTO_MAX_PAYLOAD];
  sparrow_put_u32(buf, first);
  sparrow_put_u32(buf + 4, 0);
  for (uint32_t i = 0; i < n; i++) {
    sparrow_put_u64(buf + 8 + 8 * i, entries[i]);
  }
  return call(kSparrowCmdProgLoad, buf, 8 + 8 * n);
}

static reply_t launch(uint32_t watchdog) {
  uint8_t buf[4];
  sparrow_put_u32(buf, watchdog);
  return call(kSparrowCmdLaunch, buf, 4);
}

static reply_t wait_for(uint64_t timeout) {
  uint8_t buf[8];
  sparrow_put_u64(buf, timeout);
  return call(kSparrowCmdWait, buf, 8);
}

static uint64_t cfg(uint32_t unit, uint32_t reg, uint32_t value) {
  return (uint64_t)SPARROW_OP_CFG << 60 | (uint64_t)unit << 48 | (uint64_t)reg << 32 | value;
}
static const uint64_t kRun = (uint64_t)SPARROW_OP_RUN << 60;
static const uint64_t kEnd = (uint64_t)SPARROW_OP_END << 60;

static void expect_nothing_escaped(void) {
  ck_assert(fake_guards_intact());
  ck_assert_uint_eq(g_fake.violations, 0);
}

// ---------------------------------------------------------------------------------------------------

START_TEST(test_init_reads_parameters_and_resets) {
  ck_assert_str_eq(kSparrowHwConfigs[0].name, "S");
  ck_assert_uint_eq(g_fw.tiles, kSparrowHwConfigs[0].tiles);
  ck_assert_uint_eq(g_fw.lanes, kSparrowHwConfigs[0].lanes);
  ck_assert_uint_eq(g_fw.pmu_words, kSparrowHwConfigs[0].pmu_words);
  ck_assert_uint_eq(g_fw.agcu_outstanding, kSparrowHwConfigs[0].agcu_outstanding);
  ck_assert_uint_eq(g_fw.prog_entries, kSparrowHwConfigs[0].prog_entries);
  ck_assert(!g_fw.launched);
  ck_assert_uint_eq(g_fake.resets, 1);
  ck_assert_uint_eq(g_fake.clears, 1);
  ck_assert_uint_eq(fake_csr(SPARROW_CSR_DRAM_LIMIT), FAKE_DRAM_BYTES);
  expect_nothing_escaped();
}
END_TEST

START_TEST(test_dram_limit) {
  // RESET writes DRAM_LIMIT again; a DRAM the 32-bit CSR cannot describe leaves the check off.
  g_fake.csr[SPARROW_CSR_DRAM_LIMIT / 4] = 12345;
  expect_rc(call(kSparrowCmdReset, NULL, 0), kSparrowRcOk);
  ck_assert_uint_eq(fake_csr(SPARROW_CSR_DRAM_LIMIT), FAKE_DRAM_BYTES);
  g_fake.platform.dram_bytes = 0xFFFFFFFFull;
  sparrow_fw_init(&g_fw);
  ck_assert_uint_eq(fake_csr(SPARROW_CSR_DRAM_LIMIT), 0xFFFFFFFFu);
  g_fake.platform.dram_bytes = 1ull << 32;
  sparrow_fw_init(&g_fw);
  ck_assert_uint_eq(fake_csr(SPARROW_CSR_DRAM_LIMIT), 0);
}
END_TEST

START_TEST(test_init_clamps_tiles) {
  // A fabric claiming more tiles than unit ids leave room for is taken at SPARROW_MAX_TILES: unit
  // ids stay distinct and the COUNTERS answer stays bounded.
  g_fake.csr[SPARROW_CSR_PARAM_TILES / 4] = 1000;
  sparrow_fw_init(&g_fw);
  ck_assert_uint_eq(g_fw.tiles, SPARROW_MAX_TILES);
  reply_t r = call(kSparrowCmdCounters, NULL, 0);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(sparrow_get_u32(r.payload + 32), 3 * SPARROW_MAX_TILES);
  ck_assert_uint_eq(r.length, 40 + 16 * 3 * SPARROW_MAX_TILES);
  uint64_t entry = cfg(SPARROW_UNIT_PCU + SPARROW_MAX_TILES, 0, 0);
  r = prog_load(0, &entry, 1);
  expect_rc(r, kSparrowRcBadProgram);
  expect_reason(r, "is not in this configuration (8 tiles)");
  expect_nothing_escaped();
}
END_TEST

START_TEST(test_hello) {
  reply_t r = call(kSparrowCmdHello, NULL, 0);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(r.length, SPARROW_PROTO_HELLO_BYTES);
  sparrow_hello_t h;
  sparrow_proto_hello_decode(r.payload, &h);
  ck_assert_uint_eq(h.proto_version, SPARROW_PROTO_VERSION);
  ck_assert_uint_eq(h.hw_version, SPARROW_HW_VERSION);
  ck_assert_uint_eq(h.fw_version, SPARROW_FW_VERSION);
  ck_assert_uint_eq(h.fabric, 1);
  ck_assert_str_eq(h.config, "S");
  ck_assert_mem_eq(r.payload + 16, "S\0\0\0\0\0\0\0", 8);
  const sparrow_hw_config_t *s = &kSparrowHwConfigs[0];  // the fake chip is configuration S
  ck_assert_str_eq(s->name, "S");
  ck_assert_uint_eq(h.tiles, s->tiles);
  ck_assert_uint_eq(h.lanes, s->lanes);
  ck_assert_uint_eq(h.pmu_words, s->pmu_words);
  ck_assert_uint_eq(h.agcu_outstanding, s->agcu_outstanding);
  ck_assert_uint_eq(h.prog_entries, s->prog_entries);
  ck_assert_uint_eq(h.dram_bw, 64);
  ck_assert_uint_eq(h.dram_latency, 100);
  ck_assert_uint_eq(h.max_payload, SPARROW_PROTO_MAX_PAYLOAD);
  ck_assert_uint_eq(h.dram_bytes, FAKE_DRAM_BYTES);

  r = call(kSparrowCmdHello, (const uint8_t *)"x", 1);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "HELLO: payload must be 0 bytes, got 1");
}
END_TEST

START_TEST(test_hello_names_configs) {
  // The M parameters give "M"; parameters matching no configuration give "?".
  const sparrow_hw_config_t *m = &kSparrowHwConfigs[1];
  g_fake.csr[SPARROW_CSR_PARAM_TILES / 4] = m->tiles;
  g_fake.csr[SPARROW_CSR_PARAM_LANES / 4] = m->lanes;
  g_fake.csr[SPARROW_CSR_PARAM_PMU_WORDS / 4] = m->pmu_words;
  g_fake.csr[SPARROW_CSR_PARAM_AGCU_OUTSTANDING / 4] = m->agcu_outstanding;
  g_fake.csr[SPARROW_CSR_PARAM_PROG_ENTRIES / 4] = m->prog_entries;
  sparrow_fw_init(&g_fw);
  sparrow_hello_t h;
  reply_t r = call(kSparrowCmdHello, NULL, 0);
  sparrow_proto_hello_decode(r.payload, &h);
  ck_assert_str_eq(h.config, "M");
  ck_assert_uint_eq(h.tiles, 4);

  g_fake.csr[SPARROW_CSR_PARAM_AGCU_OUTSTANDING / 4] = 65;
  sparrow_fw_init(&g_fw);
  r = call(kSparrowCmdHello, NULL, 0);
  sparrow_proto_hello_decode(r.payload, &h);
  ck_assert_str_eq(h.config, "?");
  ck_assert_uint_eq(h.agcu_outstanding, 65);
}
END_TEST

START_TEST(test_reset) {
  ck_assert_int_eq(launch(0).rc, kSparrowRcOk);
  ck_assert(g_fake.busy);
  reply_t r = call(kSparrowCmdReset, NULL, 0);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(r.length, 0);
  ck_assert(!g_fake.busy);  // aborts the launch
  ck_assert_uint_eq(g_fake.resets, 2);
  expect_rc(wait_for(100), kSparrowRcNotLaunched);

  r = call(kSparrowCmdReset, (const uint8_t *)"ab", 2);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "got 2");
  ck_assert_uint_eq(g_fake.resets, 2);
}
END_TEST

START_TEST(test_mem_write_read_round_trip) {
  uint8_t data[3000];
  for (size_t i = 0; i < sizeof data; i++) {
    data[i] = (uint8_t)(i * 13 + 1);
  }
  expect_rc(mem_write(0x100, data, sizeof data), kSparrowRcOk);
  ck_assert_mem_eq(fake_dram() + 0x100, data, sizeof data);
  reply_t r = mem_read(0x100, sizeof data);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(r.length, sizeof data);
  ck_assert_mem_eq(r.payload, data, sizeof data);

  // The last bytes of DRAM, and the largest transfers in each direction.
  expect_rc(mem_write(FAKE_DRAM_BYTES - 5, data, 5), kSparrowRcOk);
  ck_assert_mem_eq(fake_dram() + FAKE_DRAM_BYTES - 5, data, 5);
  r = mem_read(FAKE_DRAM_BYTES - 5, 5);
  expect_rc(r, kSparrowRcOk);
  ck_assert_mem_eq(r.payload, data, 5);
  static uint8_t big[SPARROW_PROTO_MAX_PAYLOAD];
  for (size_t i = 0; i < sizeof big; i++) {
    big[i] = (uint8_t)(i >> 3);
  }
  expect_rc(mem_write(FAKE_DRAM_BYTES - (sizeof big - 8), big, sizeof big - 8), kSparrowRcOk);
  memcpy(fake_dram(), big, sizeof big);
  r = mem_read(0, SPARROW_PROTO_MAX_PAYLOAD);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(r.length, SPARROW_PROTO_MAX_PAYLOAD);
  ck_assert_mem_eq(r.payload, big, sizeof big);
  expect_nothing_escaped();
}
END_TEST

START_TEST(test_mem_write_refusals) {
  uint8_t data[4096];
  memset(data, 0x5A, sizeof data);
  reply_t r = mem_write(FAKE_DRAM_BYTES - 2048, data, sizeof data);
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "MEM_WRITE: 4096 bytes at 0x0003f800 run past the end of DRAM (0x00040000)");
  r = mem_write(FAKE_DRAM_BYTES, data, 1);
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "1 bytes at 0x00040000");
  r = mem_write(0x8000000000000000ull, data, 16);
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "0x8000000000000000");
  r = mem_write(0xFFFFFFFFFFFFFFF8ull, data, 16);
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "16 bytes at 0xfffffffffffffff8 wrap around");
  r = mem_write(0xFFFFFFFFFFFFFFF0ull, data, 16);  // ends exactly at 2^64: wraps to 0
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "wrap around");

  r = call(kSparrowCmdMemWrite, data, 7);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "payload of 7 bytes is shorter than its 8-byte address");
  r = call(kSparrowCmdMemWrite, NULL, 0);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "payload of 0 bytes");
  r = mem_write(0, data, 0);
  expect_rc(r, kSparrowRcBadArgument);
  expect_reason(r, "no data bytes");

  for (uint32_t i = 0; i < FAKE_DRAM_BYTES; i++) {
    ck_assert_uint_eq(fake_dram()[i], 0);
  }
  expect_nothing_escaped();
}
END_TEST

START_TEST(test_mem_read_refusals) {
  reply_t r = mem_read(0, 0);
  expect_rc(r, kSparrowRcBadArgument);
  expect_reason(r, "MEM_READ: length 0 is out of range (1 .. 65536)");
  r = mem_read(0, SPARROW_PROTO_MAX_PAYLOAD + 1);
  expect_rc(r, kSparrowRcBadArgument);
  expect_reason(r, "length 65537");
  r = mem_read(0, 0xFFFFFFFFu);
  expect_rc(r, kSparrowRcBadArgument);
  expect_reason(r, "length 4294967295");
  r = mem_read(FAKE_DRAM_BYTES - 100, 101);
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "101 bytes at 0x0003ff9c run past the end of DRAM (0x00040000)");
  r = mem_read(0xFFFFFFFFFFFFFF00ull, 0x100);
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "wrap around");
  r = mem_read(0x123456789ull, 4);
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "0x123456789");

  uint8_t buf[13] = {0};
  r = call(kSparrowCmdMemRead, buf, 11);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "MEM_READ: payload must be 12 bytes, got 11");
  r = call(kSparrowCmdMemRead, buf, 13);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "got 13");
  expect_nothing_escaped();
}
END_TEST

START_TEST(test_platform_refusal) {
  g_fake.refuse_dram = true;
  uint8_t data[8] = {1};
  reply_t r = mem_write(64, data, 8);
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "the platform refused 8 bytes at 0x00000040");
  r = mem_read(64, 8);
  expect_rc(r, kSparrowRcBadAddress);
  expect_reason(r, "MEM_READ: the platform refused");
}
END_TEST

START_TEST(test_prog_load) {
  const uint64_t program[] = {
      cfg(SPARROW_UNIT_SWITCH, 15, 0x100),  // last switch register on 2 tiles
      cfg(SPARROW_UNIT_AGCU + 0, 0, 1),
      cfg(SPARROW_UNIT_AGCU + 1, SPARROW_AGCU_REG_COUNT - 1, 0xFFFFFFFFu),
      cfg(SPARROW_UNIT_PMU + 1, SPARROW_PMU_REG_COUNT - 1, 7),
      cfg(SPARROW_UNIT_PCU + 0, SPARROW_PCU_REG_COUNT - 1, 1),  // the last k_table entry
      cfg(SPARROW_UNIT_PCU + 1, SPARROW_PCU_K_TABLE_LEN, 4),
      cfg(SPARROW_UNIT_PMU + 0,
          SPARROW_PMU_PORT_RD1 * SPARROW_PMU_PORT_BLOCK + SPARROW_PMU_PORT_GATHER, 1),
      cfg(SPARROW_UNIT_PMU + 0,
          SPARROW_PMU_PORT_WR1 * SPARROW_PMU_PORT_BLOCK + SPARROW_PMU_PORT_TARGET,
          SPARROW_PMU_TARGET_INDEX),
      kRun,
      kEnd,
  };
  const uint32_t n = sizeof program / sizeof program[0];
  reply_t r = prog_load(10, program, n);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(r.length, 0);
  ck_assert_uint_eq(g_fake.prog_writes, n);
  for (uint32_t i = 0; i < n; i++) {
    ck_assert_uint_eq(g_fake.prog[10 + i], program[i]);
  }
  ck_assert_uint_eq(g_fake.prog[9], 0);
  ck_assert_uint_eq(g_fake.prog[10 + n], 0);
  // The very end of program memory.
  expect_rc(prog_load(1022, program + n - 2, 2), kSparrowRcOk);
  ck_assert_uint_eq(g_fake.prog[1023], kEnd);
  expect_nothing_escaped();
}
END_TEST

// Loads a one-entry-bad program and checks the refusal and that nothing reached program memory.
static reply_t bad_program(uint32_t first, const uint64_t *entries, uint32_t n) {
  uint32_t writes = g_fake.prog_writes;
  reply_t r = prog_load(first, entries, n);
  expect_rc(r, kSparrowRcBadProgram);
  ck_assert_uint_eq(g_fake.prog_writes, writes);
  return r;
}

START_TEST(test_prog_load_refusals) {
  uint64_t p[4] = {kRun, kRun, kRun, kEnd};
  reply_t r = bad_program(1023, p, 2);
  expect_reason(r, "PROG_LOAD: entries 1023 .. 1024 run past the end of program memory (1024");
  r = bad_program(0xFFFFFFFFu, p, 1);
  expect_reason(r, "entries 4294967295 .. 4294967295 run past the end");
  r = bad_program(1024, p, 1);
  expect_reason(r, "entries 1024 .. 1024");

  p[2] = (uint64_t)0xF << 60;
  r = bad_program(5, p, 4);
  expect_reason(r, "PROG_LOAD: entry 7 (request entry 2, 0xf000000000000000): unknown opcode 15");
  p[2] = 0;
  r = bad_program(0, p, 4);
  expect_reason(r, "entry 2 (request entry 2, 0x0000000000000000): unknown opcode 0");

  // The PCU's register count grows with its modes: the expected refusal takes it from the table.
  char pcu_refusal[96];
  snprintf(pcu_refusal, sizeof pcu_refusal, "register %u is out of range for pcu 1 (%u registers)",
           (unsigned)SPARROW_PCU_REG_COUNT, (unsigned)SPARROW_PCU_REG_COUNT);
  const struct {
    uint64_t entry;
    const char *why;
  } kCases[] = {
      {cfg(SPARROW_UNIT_AGCU + 2, 0, 0), "unit 0x12 is not in this configuration (2 tiles)"},
      {cfg(SPARROW_UNIT_PMU + 2, 0, 0), "unit 0x22 is not"},
      {cfg(SPARROW_UNIT_PCU + 7, 0, 0), "unit 0x37 is not"},
      {cfg(0x00, 0, 0), "unit 0x00 is not"},
      {cfg(0x02, 0, 0), "unit 0x02 is not"},
      {cfg(0x40, 0, 0), "unit 0x40 is not"},
      {cfg(0xFF, 0, 0), "unit 0xff is not"},
      {cfg(SPARROW_UNIT_SWITCH, 16, 0), "register 16 is out of range for switch (16 registers)"},
      {cfg(SPARROW_UNIT_AGCU + 1, 48, 0), "register 48 is out of range for agcu 1 (48 registers)"},
      {cfg(SPARROW_UNIT_PMU + 0, 72, 0), "register 72 is out of range for pmu 0 (72 registers)"},
      {cfg(SPARROW_UNIT_PCU + 1, SPARROW_PCU_REG_COUNT, 0), pcu_refusal},
      {cfg(SPARROW_UNIT_PCU + 1, 0xFFFF, 0), "register 65535 is out of range"},
  };
  for (size_t i = 0; i < sizeof kCases / sizeof kCases[0]; i++) {
    uint64_t q[3] = {cfg(SPARROW_UNIT_PCU, 0, 1), kCases[i].entry, kEnd};
    r = bad_program(100, q, 3);
    expect_reason(r, "entry 101 (request entry 1, ");
    expect_reason(r, kCases[i].why);
  }
  expect_nothing_escaped();
}
END_TEST

START_TEST(test_prog_load_shape_refusals) {
  uint8_t buf[64] = {0};
  const uint32_t sizes[] = {0, 8, 9, 15, 17, 23};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    reply_t r = call(kSparrowCmdProgLoad, buf, sizes[i]);
    expect_rc(r, kSparrowRcBadLength);
    char want[64];
    snprintf(want, sizeof want, "payload of %u bytes is not 8 + a nonzero multiple of 8", sizes[i]);
    expect_reason(r, want);
  }
  sparrow_put_u32(buf + 4, 0xBEEF);
  sparrow_put_u64(buf + 8, kEnd);
  reply_t r = call(kSparrowCmdProgLoad, buf, 16);
  expect_rc(r, kSparrowRcBadArgument);
  expect_reason(r, "must be 0, got 0x0000beef");
  ck_assert_uint_eq(g_fake.prog_writes, 0);
}
END_TEST

START_TEST(test_launch_and_wait) {
  const uint64_t program[] = {kRun, kEnd};
  expect_rc(prog_load(0, program, 2), kSparrowRcOk);
  g_fake.done_after = 1000;
  reply_t r = launch(5000);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(r.length, 0);
  ck_assert_uint_eq(fake_csr(SPARROW_CSR_WATCHDOG), 5000);
  ck_assert_uint_eq(g_fake.launches, 1);
  ck_assert(g_fw.launched);
  ck_assert(g_fake.busy);

  g_fake.csr[SPARROW_CSR_FP_STATUS / 4] = 0x11;
  r = wait_for(1000000);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(r.length, 16);
  ck_assert_uint_eq(sparrow_get_u32(r.payload), 1u << SPARROW_STATUS_DONE_BIT);
  ck_assert_uint_eq(sparrow_get_u32(r.payload + 4), 0x11);
  ck_assert_uint_eq(sparrow_get_u64(r.payload + 8), 1000);
  // Polling in growing slices: done noticed within one slice, in few polls.
  ck_assert_uint_ge(g_fake.cycles_waited, 1000);
  ck_assert_uint_lt(g_fake.cycles_waited, 2000);
  ck_assert_uint_le(g_fake.wait_calls, 8);

  // WAIT again: still done, no more fabric time needed.
  uint64_t before = g_fake.cycles_waited;
  expect_rc(wait_for(1), kSparrowRcOk);
  ck_assert_uint_eq(g_fake.cycles_waited, before);

  // A second launch clears the first one's done bit and counters before starting.
  g_fake.done_after = 300;
  expect_rc(launch(0), kSparrowRcOk);
  ck_assert_uint_eq(g_fake.clears, 3);  // init, first launch, this launch
  ck_assert(!g_fake.done);
  r = wait_for(10000);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(sparrow_get_u64(r.payload + 8), 300);
  ck_assert_uint_eq(sparrow_get_u32(r.payload + 4), 0);  // fp_status cleared by the launch

  r = call(kSparrowCmdLaunch, (const uint8_t *)"abc", 3);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "LAUNCH: payload must be 4 bytes, got 3");
  expect_nothing_escaped();
}
END_TEST

START_TEST(test_wait_refusals) {
  reply_t r = wait_for(100);
  expect_rc(r, kSparrowRcNotLaunched);
  expect_reason(r, "WAIT: nothing launched since the last reset");
  expect_rc(launch(0), kSparrowRcOk);
  r = wait_for(0);
  expect_rc(r, kSparrowRcBadArgument);
  expect_reason(r, "WAIT: timeout 0 is out of range");
  r = call(kSparrowCmdWait, (const uint8_t *)"1234", 4);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "WAIT: payload must be 8 bytes, got 4");
  ck_assert_uint_eq(g_fake.cycles_waited, 0);
}
END_TEST

START_TEST(test_wait_timeout) {
  g_fake.done_after = FAKE_NEVER;
  expect_rc(launch(0), kSparrowRcOk);
  reply_t r = wait_for(12345);
  expect_rc(r, kSparrowRcTimeout);
  expect_reason(r, "WAIT: not done after 12345 cycles (STATUS 0x1); the launch keeps running");
  ck_assert_uint_eq(g_fake.cycles_waited, 12345);  // exactly the time asked for
  ck_assert(g_fake.busy);
  r = wait_for(1);
  expect_rc(r, kSparrowRcTimeout);
  expect_reason(r, "after 1 cycles");
  ck_assert_uint_eq(g_fake.cycles_waited, 12346);
  // A long wait costs few polls (slices grow from 16 to 4096 cycles).
  uint64_t calls = g_fake.wait_calls;
  r = wait_for(10000000);
  expect_rc(r, kSparrowRcTimeout);
  ck_assert_uint_le(g_fake.wait_calls - calls, 9 + 10000000 / 4096 + 1);
  // The launch then finishes; WAIT returns it.
  g_fake.done_after = g_fake.since_launch + 10;
  r = wait_for(100);
  expect_rc(r, kSparrowRcOk);
}
END_TEST

START_TEST(test_busy) {
  g_fake.done_after = FAKE_NEVER;
  expect_rc(launch(0), kSparrowRcOk);
  uint8_t data[4] = {1, 2, 3, 4};
  reply_t r = mem_write(0, data, 4);
  expect_rc(r, kSparrowRcBusy);
  expect_reason(r, "MEM_WRITE: a launch is running (STATUS 0x1)");
  ck_assert_uint_eq(fake_dram()[0], 0);
  r = mem_read(0, 4);
  expect_rc(r, kSparrowRcBusy);
  expect_reason(r, "MEM_READ: a launch is running");
  const uint64_t program[] = {kEnd};
  r = prog_load(0, program, 1);
  expect_rc(r, kSparrowRcBusy);
  expect_reason(r, "PROG_LOAD: a launch is running");
  ck_assert_uint_eq(g_fake.prog_writes, 0);
  r = launch(0);
  expect_rc(r, kSparrowRcBusy);
  expect_reason(r, "LAUNCH: a launch is running");
  ck_assert_uint_eq(g_fake.launches, 1);
  // Queries still work while busy.
  expect_rc(call(kSparrowCmdHello, NULL, 0), kSparrowRcOk);
  expect_rc(call(kSparrowCmdStatus, NULL, 0), kSparrowRcOk);
  expect_rc(call(kSparrowCmdCounters, NULL, 0), kSparrowRcOk);
  // A bad request is reported as such even while busy (retrying would not help it).
  expect_rc(mem_read(0, 0), kSparrowRcBadArgument);
  // RESET ends the launch; everything is accepted again.
  expect_rc(call(kSparrowCmdReset, NULL, 0), kSparrowRcOk);
  expect_rc(mem_write(0, data, 4), kSparrowRcOk);
  expect_nothing_escaped();
}
END_TEST

START_TEST(test_fabric_error) {
  g_fake.fail_after = 77;
  g_fake.fail_code = SPARROW_FABRIC_ERR_BAD_UNIT;
  g_fake.fail_entry = 7;
  expect_rc(launch(0), kSparrowRcOk);
  reply_t r = wait_for(100000);
  expect_rc(r, kSparrowRcFabricError);
  expect_reason(
      r, "WAIT: the launch failed: bad_unit at program entry 7 (ERROR_CODE 2, ERROR_ENTRY 7)");
  ck_assert_uint_lt(g_fake.cycles_waited, 77 + 128);

  g_fake.fail_after = 5;
  g_fake.fail_code = SPARROW_FABRIC_ERR_WATCHDOG;
  g_fake.fail_entry = 3;
  expect_rc(launch(100), kSparrowRcOk);
  r = wait_for(100);
  expect_rc(r, kSparrowRcFabricError);
  expect_reason(r, "watchdog at program entry 3 (ERROR_CODE 5");

  g_fake.fail_code = SPARROW_FABRIC_ERR_BAD_ADDRESS;
  expect_rc(launch(100), kSparrowRcOk);
  r = wait_for(100);
  expect_reason(r, "bad_address at program entry 3 (ERROR_CODE 6");

  g_fake.fail_code = 99;
  expect_rc(launch(100), kSparrowRcOk);
  r = wait_for(100);
  expect_rc(r, kSparrowRcFabricError);
  expect_reason(r, "unknown at program entry 3 (ERROR_CODE 99");

  // STATUS shows the same.
  r = call(kSparrowCmdStatus, NULL, 0);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(sparrow_get_u32(r.payload), 1u << SPARROW_STATUS_ERROR_BIT);
  ck_assert_uint_eq(sparrow_get_u32(r.payload + 8), 99);
  ck_assert_uint_eq(sparrow_get_u32(r.payload + 12), 3);
}
END_TEST

START_TEST(test_counters) {
  fake_set_counter(SPARROW_CSR_CYCLES_LO, 0x100000001ull);
  fake_set_counter(SPARROW_CSR_DRAM_RD_LO, 4096);
  fake_set_counter(SPARROW_CSR_DRAM_WR_LO, 0xFFFFFFFFFFull);
  fake_set_counter(SPARROW_CSR_MACS_LO, 123456789012ull);
  for (uint32_t u = 0; u < 6; u++) {
    fake_set_counter(SPARROW_CSR_UNIT_COUNTERS + 16 * u, 1000 + u);
    fake_set_counter(SPARROW_CSR_UNIT_COUNTERS + 16 * u + 8, ((uint64_t)u << 32) | 7);
  }
  reply_t r = call(kSparrowCmdCounters, NULL, 0);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(r.length, 40 + 16 * 6);
  ck_assert_uint_eq(sparrow_get_u64(r.payload), 0x100000001ull);
  ck_assert_uint_eq(sparrow_get_u64(r.payload + 8), 4096);
  ck_assert_uint_eq(sparrow_get_u64(r.payload + 16), 0xFFFFFFFFFFull);
  ck_assert_uint_eq(sparrow_get_u64(r.payload + 24), 123456789012ull);
  ck_assert_uint_eq(sparrow_get_u32(r.payload + 32), 6);
  ck_assert_uint_eq(sparrow_get_u32(r.payload + 36), 0);
  for (uint32_t u = 0; u < 6; u++) {
    ck_assert_uint_eq(sparrow_get_u64(r.payload + 40 + 16 * u), 1000 + u);
    ck_assert_uint_eq(sparrow_get_u64(r.payload + 48 + 16 * u), ((uint64_t)u << 32) | 7);
  }
  r = call(kSparrowCmdCounters, (const uint8_t *)"x", 1);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "COUNTERS: payload must be 0 bytes, got 1");
}
END_TEST

START_TEST(test_status) {
  g_fake.csr[SPARROW_CSR_FP_STATUS / 4] = 0x1F;
  reply_t r = call(kSparrowCmdStatus, NULL, 0);
  expect_rc(r, kSparrowRcOk);
  ck_assert_uint_eq(r.length, 16);
  ck_assert_uint_eq(sparrow_get_u32(r.payload), 0);
  ck_assert_uint_eq(sparrow_get_u32(r.payload + 4), 0x1F);
  expect_rc(launch(0), kSparrowRcOk);
  r = call(kSparrowCmdStatus, NULL, 0);
  ck_assert_uint_eq(sparrow_get_u32(r.payload), 1u << SPARROW_STATUS_BUSY_BIT);
  r = call(kSparrowCmdStatus, (const uint8_t *)"zz", 2);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "STATUS: payload must be 0 bytes, got 2");
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// Frame-level defects.

static size_t good_frame(uint8_t kind, uint32_t seq, uint32_t length) {
  static uint8_t payload[SPARROW_PROTO_MAX_PAYLOAD];
  return sparrow_proto_encode(kind, 0, seq, payload, length, g_req, sizeof g_req);
}

START_TEST(test_bad_magic) {
  size_t n = good_frame(kSparrowCmdHello, 55, 0);
  g_req[0] ^= 1;
  reply_t r = send_raw(n);
  expect_rc(r, kSparrowRcBadMagic);
  ck_assert(r.close);
  ck_assert_uint_eq(r.seq, 0);
  ck_assert_uint_eq(r.kind, SPARROW_PROTO_RESPONSE_BIT);
  expect_reason(r, "bad magic 0x57525052 (want 0x57525053)");
}
END_TEST

START_TEST(test_oversized_length) {
  size_t n = good_frame(kSparrowCmdMemWrite, 56, 8);
  sparrow_put_u32(g_req + 12, SPARROW_PROTO_MAX_PAYLOAD + 1);
  reply_t r = send_raw(n);
  expect_rc(r, kSparrowRcBadLength);
  ck_assert(r.close);
  ck_assert_uint_eq(r.seq, 56);
  expect_reason(r, "payload length 65537 exceeds the maximum 65536");
}
END_TEST

START_TEST(test_bad_version) {
  size_t n = good_frame(kSparrowCmdHello, 57, 0);
  g_req[4] = 2;
  reply_t r = send_raw(n);
  expect_rc(r, kSparrowRcBadVersion);
  ck_assert(!r.close);
  ck_assert_uint_eq(r.seq, 57);
  ck_assert_uint_eq(r.kind, kSparrowCmdHello | SPARROW_PROTO_RESPONSE_BIT);
  expect_reason(r, "protocol version 2 is not supported (this firmware speaks 1)");
}
END_TEST

START_TEST(test_bad_crc) {
  size_t n = good_frame(kSparrowCmdMemWrite, 58, 12);
  uint32_t good = sparrow_get_u32(g_req + n - 4);
  g_req[20] ^= 0x40;  // a payload byte
  reply_t r = send_raw(n);
  expect_rc(r, kSparrowRcBadCrc);
  ck_assert(!r.close);
  ck_assert_uint_eq(r.seq, 58);
  char want[80];
  snprintf(want, sizeof want, "frame CRC 0x%08x does not match", good);
  expect_reason(r, want);
  ck_assert_uint_eq(fake_dram()[0], 0);  // nothing written
}
END_TEST

START_TEST(test_length_disagrees_with_bytes) {
  size_t n = good_frame(kSparrowCmdMemWrite, 59, 12);
  reply_t r = send_raw(n - 1);
  expect_rc(r, kSparrowRcBadLength);
  ck_assert(!r.close);
  expect_reason(r,
                "frame is 31 bytes but its header announces a 12-byte payload (32 bytes in all)");
  r = send_raw(n + 1);
  expect_rc(r, kSparrowRcBadLength);
  expect_reason(r, "frame is 33 bytes");
}
END_TEST

START_TEST(test_truncated_header) {
  good_frame(kSparrowCmdHello, 60, 0);
  for (size_t len = 0; len < SPARROW_PROTO_HEADER_BYTES; len++) {
    reply_t r = send_raw(len);
    expect_rc(r, kSparrowRcBadLength);
    ck_assert(r.close);
    char want[64];
    snprintf(want, sizeof want, "frame of %zu bytes is shorter than the 16-byte header", len);
    expect_reason(r, want);
  }
}
END_TEST

START_TEST(test_unknown_and_response_kinds) {
  reply_t r = send_raw(good_frame(0x2A, 61, 0));
  expect_rc(r, kSparrowRcUnknownCommand);
  expect_reason(r, "unknown command 0x2a");
  r = send_raw(good_frame(0x00, 62, 0));
  expect_rc(r, kSparrowRcUnknownCommand);
  expect_reason(r, "unknown command 0x00");
  r = send_raw(good_frame(0x0A, 62, 0));
  expect_rc(r, kSparrowRcUnknownCommand);
  r = send_raw(good_frame(kSparrowCmdHello | SPARROW_PROTO_RESPONSE_BIT, 63, 0));
  expect_rc(r, kSparrowRcUnknownCommand);
  expect_reason(r, "kind 0x81 is a response kind (HELLO), not a request");
  ck_assert_uint_eq(r.kind, 0x81);
  r = send_raw(good_frame(0xFF, 64, 0));
  expect_rc(r, kSparrowRcUnknownCommand);
  expect_reason(r, "kind 0xff is a response kind (?)");
}
END_TEST

START_TEST(test_request_with_status) {
  size_t n = sparrow_proto_encode(kSparrowCmdHello, 3, 65, NULL, 0, g_req, sizeof g_req);
  reply_t r = send_raw(n);
  expect_rc(r, kSparrowRcBadArgument);
  expect_reason(r, "status field of a request must be 0, got 3");
}
END_TEST

START_TEST(test_reject_header) {
  uint8_t header[16];
  uint8_t rsp[256];
  good_frame(kSparrowCmdMemWrite, 66, 100);
  memcpy(header, g_req, 16);
  ck_assert_uint_eq(sparrow_fw_reject_header(header, rsp, sizeof rsp), 0);  // nothing to reject
  header[4] = 3;  // a bad version is answered after the frame is read, not here
  ck_assert_uint_eq(sparrow_fw_reject_header(header, rsp, sizeof rsp), 0);

  sparrow_put_u32(header + 12, 0x7FFFFFFFu);
  size_t n = sparrow_fw_reject_header(header, rsp, sizeof rsp);
  ck_assert_uint_gt(n, 0);
  sparrow_frame_header_t h;
  const uint8_t *p;
  ck_assert_int_eq(sparrow_proto_decode(rsp, n, &h, &p), kSparrowRcOk);
  ck_assert_uint_eq(h.status, kSparrowRcBadLength);
  ck_assert_uint_eq(h.seq, 66);
  ck_assert_uint_eq(h.kind, kSparrowCmdMemWrite | SPARROW_PROTO_RESPONSE_BIT);

  header[1] = 'Q';
  n = sparrow_fw_reject_header(header, rsp, sizeof rsp);
  ck_assert_int_eq(sparrow_proto_decode(rsp, n, &h, &p), kSparrowRcOk);
  ck_assert_uint_eq(h.status, kSparrowRcBadMagic);
  ck_assert_uint_eq(h.seq, 0);
  ck_assert_uint_eq(sparrow_fw_reject_header(header, rsp, 19), 0);  // no room for any frame
}
END_TEST

START_TEST(test_small_response_buffer) {
  // The port's buffer is meant to hold SPARROW_PROTO_MAX_FRAME; a smaller one still gets a valid
  // frame (a shortened reason) or, below a bare frame, nothing.
  uint8_t small[40];
  bool close = true;
  size_t n = good_frame(kSparrowCmdHello, 67, 0);
  size_t m = sparrow_fw_handle_frame(&g_fw, g_req, n, small, sizeof small, &close);
  ck_assert_uint_eq(m, sizeof small);
  ck_assert(!close);
  sparrow_frame_header_t h;
  const uint8_t *p;
  ck_assert_int_eq(sparrow_proto_decode(small, m, &h, &p), kSparrowRcOk);
  ck_assert_uint_eq(h.status, kSparrowRcBadArgument);
  ck_assert_uint_eq(sparrow_fw_handle_frame(&g_fw, g_req, n, small, 19, &close), 0);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// Fuzz: random and mutated frames, seeded. Every one must get a well-formed response of the right
// kind and sequence number, and nothing may escape DRAM or program memory.

static uint64_t g_rng;
static uint64_t rng(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}
static uint64_t below(uint64_t n) {
  return rng() % n;
}

static uint64_t fuzz_address(void) {
  switch (below(6)) {
    case 0:
      return below(FAKE_DRAM_BYTES);
    case 1:
      return FAKE_DRAM_BYTES - below(300);
    case 2:
      return FAKE_DRAM_BYTES + below(300);
    case 3:
      return UINT64_MAX - below(300);
    case 4:
      return rng();
    default:
      return below(4096);
  }
}

static uint64_t fuzz_entry(void) {
  uint32_t units[] = {SPARROW_UNIT_SWITCH, SPARROW_UNIT_AGCU, SPARROW_UNIT_AGCU + 1,
                      SPARROW_UNIT_PMU,    SPARROW_UNIT_PCU,  SPARROW_UNIT_PCU + 2};
  switch (below(5)) {
    case 0:
      return kRun;
    case 1:
      return kEnd;
    case 2:
      return rng();
    default:
      return cfg(units[below(6)], (uint32_t)below(80), (uint32_t)rng());
  }
}

// A plausible request of a random command (random sizes around the right ones).
static uint32_t fuzz_payload(uint8_t cmd, uint8_t *p) {
  uint32_t n = 0;
  switch (cmd) {
    case kSparrowCmdMemWrite:
      n = 8 + (uint32_t)(below(8) == 0 ? below(SPARROW_PROTO_MAX_PAYLOAD - 7) : below(300));
      sparrow_put_u64(p, fuzz_address());
      break;
    case kSparrowCmdMemRead: {
      n = 12;
      sparrow_put_u64(p, fuzz_address());
      static const uint32_t kLengths[] = {0, 1, 4, 100, 4096, 65535, 65536, 65537, 0xFFFFFFFFu};
      sparrow_put_u32(p + 8, below(2) ? kLengths[below(9)] : (uint32_t)below(70000));
      break;
    }
    case kSparrowCmdProgLoad: {
      uint32_t count = (uint32_t)below(40);
      n = 8 + 8 * count;
      sparrow_put_u32(p, below(4) == 0 ? (uint32_t)rng() : (uint32_t)below(1100));
      sparrow_put_u32(p + 4, below(16) == 0 ? (uint32_t)rng() : 0);
      for (uint32_t i = 0; i < count; i++) {
        sparrow_put_u64(p + 8 + 8 * i, below(4) == 0 ? fuzz_entry() : cfg(SPARROW_UNIT_PCU, 1, 0));
      }
      break;
    }
    case kSparrowCmdLaunch:
      n = 4;
      sparrow_put_u32(p, (uint32_t)rng());
      break;
    case kSparrowCmdWait:
      n = 8;
      sparrow_put_u64(p, below(8) == 0 ? rng() : below(3000));
      break;
    default:  // the commands without a payload, and unknown ones
      n = below(4) == 0 ? (uint32_t)below(20) : 0;
      for (uint32_t i = 0; i < n; i++) {
        p[i] = (uint8_t)rng();
      }
      break;
  }
  if (below(10) == 0) {  // a size off by a little
    n = n > 3 && below(2) == 0 ? n - (uint32_t)below(4) : n + (uint32_t)below(4);
  }
  return n;
}

static void fix_crc(size_t len) {
  if (len >= 20) {
    sparrow_put_u32(g_req + len - 4, sparrow_proto_crc32(0, g_req, len - 4));
  }
}

START_TEST(test_fuzz) {
  const char *env = getenv("SPARROW_FUZZ_FRAMES");
  const long frames = env != NULL ? atol(env) : 100000;
  static uint8_t payload[SPARROW_PROTO_MAX_PAYLOAD];
  long ok = 0;
  long by_rc[kSparrowRcBadArgument + 1] = {0};
  g_rng = 0x5350525753454544ull;  // fixed seed: a failure reproduces
  for (long i = 0; i < frames; i++) {
    // A launch ends within a few thousand cycles (so WAIT always terminates), sometimes failing.
    g_fake.done_after = 1 + below(3000);
    g_fake.fail_after = below(16) == 0 ? below(3000) : FAKE_NEVER;
    g_fake.fail_code = (uint32_t)below(7);
    g_fake.fail_entry = (uint32_t)below(1024);

    uint8_t cmd = below(16) == 0 ? (uint8_t)rng() : (uint8_t)(1 + below(9));
    uint32_t n = fuzz_payload(cmd, payload);
    if (n > SPARROW_PROTO_MAX_PAYLOAD) {
      n = SPARROW_PROTO_MAX_PAYLOAD;
    }
    uint32_t seq = (uint32_t)rng();
    size_t len = sparrow_proto_encode(cmd, 0, seq, payload, n, g_req, sizeof g_req);
    ck_assert_uint_gt(len, 0);

    int mutation = (int)below(4);
    if (mutation == 1) {  // flip a few bits anywhere, CRC left wrong
      for (int k = 1 + (int)below(4); k > 0; k--) {
        g_req[below(len)] ^= (uint8_t)(1u << below(8));
      }
    } else if (mutation == 2) {  // damage the header or payload but make the CRC right
      for (int k = 1 + (int)below(3); k > 0; k--) {
        g_req[below(len < 64 ? len : 64)] = (uint8_t)rng();
      }
      fix_crc(len);
    } else if (mutation == 3) {  // wrong byte count
      len = below(3) == 0 ? below(len) : len + below(8);
      if (below(2) == 0) {
        fix_crc(len);
      }
    }

    bool close = false;
    size_t m = sparrow_fw_handle_frame(&g_fw, g_req, len, g_rsp, sizeof g_rsp, &close);
    reply_t r = unpack(m, close);
    by_rc[r.rc]++;
    bool magic_ok = len >= 16 && sparrow_get_u32(g_req) == SPARROW_PROTO_MAGIC;
    if (magic_ok && !(r.rc == kSparrowRcBadLength && close)) {
      ck_assert_uint_eq(r.seq, sparrow_get_u32(g_req + 8));
      ck_assert_uint_eq(r.kind, g_req[5] | SPARROW_PROTO_RESPONSE_BIT);
    }
    if (!magic_ok) {
      ck_assert(close);
      ck_assert_uint_eq(r.seq, 0);
    }
    if (r.rc == kSparrowRcOk) {
      ok++;
      static const uint32_t kOkLength[10] = {0, 64, 0, 0, 0, 0, 0, 16, 40 + 16 * 6, 16};
      uint8_t c = g_req[5];
      ck_assert_uint_le(c, 9);
      if (c == kSparrowCmdMemRead) {
        ck_assert_uint_eq(r.length, sparrow_get_u32(g_req + 16 + 8));
      } else {
        ck_assert_uint_eq(r.length, kOkLength[c]);
      }
    }
    ck_assert_uint_eq(g_fake.violations, 0);
    if (i % 4096 == 0) {
      ck_assert(fake_guards_intact());
    }
    if (below(64) == 0) {
      sparrow_fw_handle_frame(&g_fw, g_req, good_frame(kSparrowCmdReset, 1, 0), g_rsp, sizeof g_rsp,
                              &close);
    }
  }
  ck_assert(fake_guards_intact());
  printf("fuzz: %ld frames, %ld OK;", frames, ok);
  for (int rc = 1; rc <= kSparrowRcBadArgument; rc++) {
    printf(" %s %ld", sparrow_proto_rc_name((uint16_t)rc), by_rc[rc]);
  }
  printf("\n");
  // The generator must reach the command layer, not only the frame checks.
  if (frames >= 10000) {
    for (int rc = 0; rc <= kSparrowRcBadArgument; rc++) {
      ck_assert_msg(by_rc[rc] > 0, "fuzz never produced %s", sparrow_proto_rc_name((uint16_t)rc));
    }
  }
}
END_TEST

int main(void) {
  Suite *suite = suite_create("fw");
  TCase *commands = tcase_create("commands");
  tcase_add_checked_fixture(commands, setup, NULL);
  tcase_add_test(commands, test_init_reads_parameters_and_resets);
  tcase_add_test(commands, test_dram_limit);
  tcase_add_test(commands, test_init_clamps_tiles);
  tcase_add_test(commands, test_hello);
  tcase_add_test(commands, test_hello_names_configs);
  tcase_add_test(commands, test_reset);
  tcase_add_test(commands, test_mem_write_read_round_trip);
  tcase_add_test(commands, test_mem_write_refusals);
  tcase_add_test(commands, test_mem_read_refusals);
  tcase_add_test(commands, test_platform_refusal);
  tcase_add_test(commands, test_prog_load);
  tcase_add_test(commands, test_prog_load_refusals);
  tcase_add_test(commands, test_prog_load_shape_refusals);
  tcase_add_test(commands, test_launch_and_wait);
  tcase_add_test(commands, test_wait_refusals);
  tcase_add_test(commands, test_wait_timeout);
  tcase_add_test(commands, test_busy);
  tcase_add_test(commands, test_fabric_error);
  tcase_add_test(commands, test_counters);
  tcase_add_test(commands, test_status);
  suite_add_tcase(suite, commands);

  TCase *frames = tcase_create("frames");
  tcase_add_checked_fixture(frames, setup, NULL);
  tcase_add_test(frames, test_bad_magic);
  tcase_add_test(frames, test_oversized_length);
  tcase_add_test(frames, test_bad_version);
  tcase_add_test(frames, test_bad_crc);
  tcase_add_test(frames, test_length_disagrees_with_bytes);
  tcase_add_test(frames, test_truncated_header);
  tcase_add_test(frames, test_unknown_and_response_kinds);
  tcase_add_test(frames, test_request_with_status);
  tcase_add_test(frames, test_reject_header);
  tcase_add_test(frames, test_small_response_buffer);
  suite_add_tcase(suite, frames);

  TCase *fuzz = tcase_create("fuzz");
  tcase_add_checked_fixture(fuzz, setup, NULL);
  tcase_set_timeout(fuzz, 600);
  tcase_add_test(fuzz, test_fuzz);
  suite_add_tcase(suite, fuzz);

  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
