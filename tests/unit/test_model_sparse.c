/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Check suite for the golden model's block-sparse features (docs/fabric.md): the PMU's index
 * memory and gather mode, the PCU's per-block k table, and a small block-sparse product that uses
 * both. Driven through CSRs with real programs on every configuration, like test_model.c.
 *
 * Every gather result is compared with an independent reference: the doc's pseudo-code, written
 * out literally over a shadow of the index memory that the test builds from what it loaded (lane i
 * of index line l is word l * lanes + i). Every arithmetic result is compared bit for bit with
 * sparrow_fp_mul then sparrow_fp_add in ascending k from +0.0 (or the loaded c).
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "model_env.h"

/* Documented cycle-estimate constants (sim/model/README.md). */
#define ENTRY_CYCLES 1u
#define PHASE_OVERHEAD 8u

#define ADDR_SRC 0x01000u  /* static data lines */
#define ADDR_RING 0x08000u /* the fills of a synchronized ring */
#define ADDR_IDX 0x20000u  /* index words */
#define ADDR_DST 0x40000u
#define ADDR_DST2 0x60000u
#define MAX_GATHERED 1024u
#define MAX_LANES 16u /* the model's limit; the configurations have 4 and 8 */

static uint32_t src_id(uint32_t tile, uint32_t kind) {
  return tile * SPARROW_SWITCH_SRC_PER_TILE + kind;
}

static uint32_t dst_id(uint32_t tile, uint32_t kind) {
  return tile * SPARROW_SWITCH_DST_PER_TILE + kind;
}

/* Distinct, non-zero words, so a lost, duplicated or misplaced line shows. */
static uint32_t pattern(uint32_t seed, uint32_t i) {
  return (seed << 24) ^ (i * 2654435761u) ^ 1u;
}

static void fill(env_t *env, uint32_t addr, uint32_t words, uint32_t seed) {
  for (uint32_t i = 0; i < words; ++i) {
    put_word(env, addr + 4u * i, pattern(seed, i));
  }
}

static sparrow_model_agen_cfg_t linear(uint32_t base, uint32_t count, int32_t stride) {
  sparrow_model_agen_cfg_t agen = {base, {count, 1, 1, 1}, {stride, 0, 0, 0}};
  return agen;
}

static void expect_error(env_t *env, uint32_t status, uint32_t code, uint32_t entry) {
  ck_assert_uint_eq(status, ERROR);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_ERROR_CODE), code);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_ERROR_ENTRY), entry);
}

static uint32_t pmu_lines(const env_t *env) {
  return env->hw->pmu_words / env->lanes;
}

static uint32_t idx_lines(const env_t *env) {
  return SPARROW_PMU_IDX_WORDS / env->lanes;
}

static uint64_t unit_busy(env_t *env, uint32_t unit) {
  return csr64(env, SPARROW_CSR_UNIT_COUNTERS + 16u * unit);
}

static uint64_t unit_stall(env_t *env, uint32_t unit) {
  return csr64(env, SPARROW_CSR_UNIT_COUNTERS + 16u * unit + 8u);
}

static uint32_t word(uint32_t offset, bool skip, bool release) {
  return sparrow_model_gather_word(offset, skip, release);
}

/* ---------------------------------------------------------------------------------------------- */
/* Staging: data lines and index lists, and the shadow of the index memory. */

/* Adds to the program an AGCU 0 read 0 -> PMU 0 write 0 stream loading `lines` data lines from
 * ADDR_SRC (pattern seed) into lines first_line.. (line l gets source beat l - first_line). */
static void stage_lines(env_t *env, uint32_t first_line, uint32_t lines, uint32_t seed) {
  fill(env, ADDR_SRC, lines * env->lanes, seed);
  sparrow_model_agen_cfg_t rd = linear(ADDR_SRC, lines, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t wr = linear(first_line, lines, 1);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR0),
                           src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_WR0, &wr);
}

/* Stages `count` index words at DRAM addr (zero-padded to whole index lines) and adds to the
 * program an AGCU 0 read 1 -> PMU 0 write 1 stream with target `index` that writes them from index
 * line first_line on; the write port's lines wrap modulo the index memory's lines. shadow (of
 * SPARROW_PMU_IDX_WORDS words) follows what the index memory will hold. */
static void stage_index(env_t *env, uint32_t addr, uint32_t first_line, const uint32_t *words,
                        uint32_t count, uint32_t *shadow) {
  uint32_t lanes = env->lanes;
  uint32_t lines = (count + lanes - 1u) / lanes;
  for (uint32_t i = 0; i < lines * lanes; ++i) {
    uint32_t w = i < count ? words[i] : 0;
    put_word(env, addr + 4u * i, w);
    shadow[((first_line + i / lanes) % idx_lines(env)) * lanes + i % lanes] = w;
  }
  sparrow_model_agen_cfg_t rd = linear(addr, lines, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t wr = linear(first_line, lines, 1);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR1),
                           src_id(0, SPARROW_SRC_AGCU_RD1));
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD1, &rd);
  sparrow_model_prog_pmu_index(&env->prog, 0, SPARROW_PMU_PORT_WR1, &wr);
}

/* A gather walk's registers. count1 and stride3 are set to junk by gather_agen: they are unused. */
typedef struct {
  uint32_t base;
  uint32_t count0;
  int32_t stride0;
  int32_t stride1;
  uint32_t count2;
  int32_t stride2;
  uint32_t count3;
  uint32_t idx_base;
  uint32_t idx_count;
} gather_t;

static sparrow_model_agen_cfg_t gather_agen(const gather_t *g) {
  sparrow_model_agen_cfg_t agen = {
      g->base, {g->count0, 7, g->count2, g->count3}, {g->stride0, g->stride1, g->stride2, 12345}};
  return agen;
}

static void prog_gather(env_t *env, uint32_t tile, uint32_t port, const gather_t *g) {
  sparrow_model_agen_cfg_t agen = gather_agen(g);
  sparrow_model_prog_pmu_gather(&env->prog, tile, port, &agen, g->idx_base, g->idx_count);
}

/* One gathered line: which line, and how many releases came before it (the slot fill it reads
 * when the buffer is synchronized). */
typedef struct {
  uint32_t line;
  uint32_t fill;
} gathered_t;

static uint32_t at_least_one(uint32_t count) {
  return count == 0 ? 1u : count;
}

/* docs/fabric.md, literally:
 *   slot = 0
 *   for i3 < count3: for e < idx_count:
 *     w = idx[(idx_base + e) mod pmu_idx_words]
 *     if not skip: for i0 < count0: read line (base + slot*stride2 + offset*stride1 + i0*stride0)
 *     if release: slot = (slot + 1) mod count2
 * in 64-bit signed arithmetic with a mathematical modulo. Returns the number of lines. */
static uint32_t reference_gather(const uint32_t *shadow, const gather_t *g, uint32_t lines,
                                 gathered_t *out) {
  uint32_t n = 0, slot = 0, fill_count = 0;
  for (uint32_t i3 = 0; i3 < at_least_one(g->count3); ++i3) {
    for (uint32_t e = 0; e < g->idx_count; ++e) {
      uint32_t w = shadow[((uint64_t)g->idx_base + e) % SPARROW_PMU_IDX_WORDS];
      int64_t offset = w & ((1u << SPARROW_GATHER_OFFSET_BITS) - 1u);
      bool skip = (w >> SPARROW_GATHER_SKIP_BIT) & 1u;
      bool release = (w >> SPARROW_GATHER_RELEASE_BIT) & 1u;
      for (uint32_t i0 = 0; !skip && i0 < at_least_one(g->count0); ++i0) {
        int64_t address = (int64_t)g->base + (int64_t)slot * g->stride2 + offset * g->stride1 +
                          (int64_t)i0 * g->stride0;
        ck_assert_uint_lt(n, MAX_GATHERED);
        out[n].line = (uint32_t)(((address % lines) + lines) % lines);
        out[n].fill = fill_count;
        n++;
      }
      if (release) {
        slot = (slot + 1u) % at_least_one(g->count2);
        fill_count++;
      }
    }
  }
  return n;
}

/* Output beat `beat` at dst must equal source beat `src_beat` at src. */
static void expect_beat(env_t *env, uint32_t dst, uint32_t beat, uint32_t src, uint32_t src_beat) {
  for (uint32_t lane = 0; lane < env->lanes; ++lane) {
    uint32_t got = get_word(env, dst + (beat * env->lanes + lane) * 4u);
    uint32_t want = get_word(env, src + (src_beat * env->lanes + lane) * 4u);
    ck_assert_msg(got == want, "beat %u lane %u: %08X, want %08X (source beat %u)", beat, lane, got,
                  want, src_beat);
  }
}

/* The gathered lines of a walk over static lines (loaded by stage_lines from line first_line). */
static void expect_static_gather(env_t *env, uint32_t dst, const gathered_t *lines, uint32_t n,
                                 uint32_t first_line) {
  for (uint32_t i = 0; i < n; ++i) {
    expect_beat(env, dst, i, ADDR_SRC, lines[i].line - first_line);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Index memory and gather walks. */

/* One phase loads 64 data lines and an index list through a write port with target `index`; the
 * next gathers with every kind of word (offset, skip, release, skip|release) over 3 slots, two
 * passes, from one word into the list, with count1 and stride3 set but unused. */
START_TEST(test_gather_index_load_and_walk) {
  env_t *env = env_open(_i);
  static uint32_t shadow[SPARROW_PMU_IDX_WORDS];
  static gathered_t want[MAX_GATHERED];
  memset(shadow, 0, sizeof shadow);
  const uint32_t data_lines = 64, list_line = 10;
  const uint32_t list[] = {
      word(6, false, false), word(3, false, false), word(0, false, true), word(7, true, false),
      word(5, false, false), word(1, true, true),   word(2, false, true), word(4, false, false),
      word(6, false, true),  word(1, false, false), word(3, true, false), word(0, false, false),
  };
  const uint32_t list_words = sizeof list / sizeof list[0];
  stage_lines(env, 0, data_lines, 1);
  stage_index(env, ADDR_IDX, list_line, list, list_words, shadow);
  sparrow_model_prog_run(&env->prog);

  gather_t g = {1, 2, 3, 2, 3, 9, 2, list_line * env->lanes + 1u, list_words - 2u};
  uint32_t n = reference_gather(shadow, &g, pmu_lines(env), want);
  for (uint32_t i = 0; i < n; ++i) {
    ck_assert_uint_lt(want[i].line, data_lines); /* the test reads only lines it loaded */
  }
  sparrow_model_agen_cfg_t out = linear(ADDR_DST, n, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_WR, &out);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);

  ck_assert_uint_eq(n, 2u * 2u * 7u); /* 7 non-skip words of 2 lines, twice */
  expect_static_gather(env, ADDR_DST, want, n, 0);
  ck_assert_uint_eq(get_word(env, ADDR_DST + n * env->beat_bytes), 0);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), (uint64_t)n * env->beat_bytes);
  /* PMU 0 moved 64 lines (its busiest port) in the load, n in the gather. */
  ck_assert_uint_eq(unit_busy(env, env->hw->tiles), data_lines + n);
  env_close(env);
}
END_TEST

/* idx_base far beyond the index memory and a list that runs over its last word into word 0, stored
 * by an index write whose lines wrap past the last index line. */
START_TEST(test_gather_idx_base_wraps) {
  env_t *env = env_open(_i);
  static uint32_t shadow[SPARROW_PMU_IDX_WORDS];
  static gathered_t want[MAX_GATHERED];
  static uint32_t list[3u * MAX_LANES];
  memset(shadow, 0, sizeof shadow);
  uint32_t lanes = env->lanes;
  ck_assert_uint_le(lanes, MAX_LANES);
  const uint32_t data_lines = 40;
  uint32_t list_words = 3u * lanes;
  for (uint32_t i = 0; i < list_words; ++i) {
    list[i] = word((i * 7u) % data_lines, false, false);
  }
  /* Index lines last, 0, 1: the first line number is 3 index memories plus the last line. */
  uint32_t first_line = 4u * idx_lines(env) - 1u;
  stage_lines(env, 0, data_lines, 2);
  stage_index(env, ADDR_IDX, first_line, list, list_words, shadow);
  sparrow_model_prog_run(&env->prog);

  /* From 2 words into the last index line, across word pmu_idx_words - 1 -> 0, 7 memories up. */
  gather_t g = {.count0 = 1, .stride1 = 1, .count2 = 1, .count3 = 2};
  g.idx_base = 7u * SPARROW_PMU_IDX_WORDS + SPARROW_PMU_IDX_WORDS - lanes + 2u;
  g.idx_count = 2u * lanes + 1u;
  uint32_t n = reference_gather(shadow, &g, pmu_lines(env), want);
  ck_assert_uint_eq(n, 2u * g.idx_count);
  /* The list really crosses the wrap: its words are the staged ones, in order. */
  for (uint32_t e = 0; e < g.idx_count; ++e) {
    ck_assert_uint_eq(want[e].line, list[2u + e]);
  }
  sparrow_model_agen_cfg_t out = linear(ADDR_DST, n, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_WR, &out);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  expect_static_gather(env, ADDR_DST, want, n, 0);
  env_close(env);
}
END_TEST

/* The expected output of a synchronized gather: fill r of the ring (slot r mod 2, at ring_base +
 * (r mod 2) * slot_lines) holds ADDR_RING beats r * slot_lines .. */
static void expect_ring_gather(env_t *env, uint32_t dst, const gathered_t *lines, uint32_t n,
                               uint32_t ring_base, uint32_t slot_lines) {
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t slot_first = ring_base + (lines[i].fill % 2u) * slot_lines;
    ck_assert_uint_ge(lines[i].line, slot_first);
    ck_assert_uint_lt(lines[i].line, slot_first + slot_lines);
    expect_beat(env, dst, i, ADDR_RING, lines[i].fill * slot_lines + lines[i].line - slot_first);
  }
}

/* Adds the writer of a synchronized 2-slot ring: `fills` (1 or even) slots of slot_lines lines
 * from ADDR_RING (pattern seed) through AGCU 0 read 0 into PMU 0 write 0, buffer 0 synchronized.
 * rd_lines is junk: a gather read port does not use it. */
static void stage_ring_writer(env_t *env, uint32_t ring_base, uint32_t slot_lines, uint32_t fills,
                              uint32_t seed) {
  ck_assert(fills == 1 || fills % 2u == 0);
  uint32_t beats = slot_lines * fills;
  fill(env, ADDR_RING, beats * env->lanes, seed);
  sparrow_model_agen_cfg_t rd = linear(ADDR_RING, beats, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t ring = {
      ring_base,
      {slot_lines, fills == 1 ? 1u : 2u, fills == 1 ? 1u : fills / 2u, 1},
      {1, (int32_t)slot_lines, 0, 0}};
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR0),
                           src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_sync(&env->prog, 0, 0, 1, 2, slot_lines, 3);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_WR0, &ring);
}

/* A synchronized ring of 2 slots, 6 fills: per pass over the list the first slot is read 6 lines
 * (three words, out of order), the second not at all (skip, then skip|release), the third 2
 * lines; the writer can only refill a slot once the gather released it. */
START_TEST(test_gather_sync_skip_release) {
  env_t *env = env_open(_i);
  static uint32_t shadow[SPARROW_PMU_IDX_WORDS];
  static gathered_t want[MAX_GATHERED];
  memset(shadow, 0, sizeof shadow);
  const uint32_t slot_lines = 6, ring_base = 200, fills = 6;
  const uint32_t list[] = {
      word(2, false, false), word(0, false, false), word(1, false, true),
      word(0, true, false),  word(3, true, true),   word(0, false, true),
  };
  const uint32_t list_words = sizeof list / sizeof list[0];
  stage_index(env, ADDR_IDX, 0, list, list_words, shadow);
  sparrow_model_prog_run(&env->prog);

  gather_t g = {ring_base, 2, 1, 2, 2, (int32_t)slot_lines, 2, 0, list_words};
  uint32_t n = reference_gather(shadow, &g, pmu_lines(env), want);
  ck_assert_uint_eq(n, 2u * (6u + 2u));
  stage_ring_writer(env, ring_base, slot_lines, fills, 3);
  sparrow_model_agen_cfg_t out = linear(ADDR_DST, n, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_WR, &out);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  expect_ring_gather(env, ADDR_DST, want, n, ring_base, slot_lines);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), (uint64_t)n * env->beat_bytes);
  env_close(env);
}
END_TEST

/* Both read ports gather in one phase, each from its own list: read 0 synchronized with a ring
 * being written, read 1 unsynchronized over static lines, each to its own AGCU. */
START_TEST(test_gather_two_ports_at_once) {
  env_t *env = env_open(_i);
  static uint32_t shadow[SPARROW_PMU_IDX_WORDS];
  static gathered_t want0[MAX_GATHERED];
  static gathered_t want1[MAX_GATHERED];
  memset(shadow, 0, sizeof shadow);
  const uint32_t slot_lines = 4, ring_base = 100, fills = 6, static_first = 300;
  const uint32_t static_lines = 32;
  /* One staging of both lists: list 0 at word 0, list 1 from word 2 * lanes. */
  uint32_t lanes = env->lanes;
  ck_assert_uint_le(lanes, MAX_LANES);
  uint32_t list1_at = 2u * lanes;
  static uint32_t lists[2u * MAX_LANES + 9u];
  memset(lists, 0, sizeof lists);
  const uint32_t list0[] = {word(3, false, false), word(1, false, true), word(0, true, true),
                            word(2, false, true)};
  const uint32_t list1[] = {word(31, false, false), word(0, false, false),  word(17, true, false),
                            word(9, false, true),   word(12, false, false), word(30, false, false),
                            word(5, false, false),  word(2, false, true),   word(20, false, false)};
  memcpy(lists, list0, sizeof list0);
  memcpy(lists + list1_at, list1, sizeof list1);
  stage_lines(env, static_first, static_lines, 4);
  stage_index(env, ADDR_IDX, 0, lists, list1_at + 9u, shadow);
  sparrow_model_prog_run(&env->prog);

  gather_t g0 = {ring_base, 1, 1, 1, 2, (int32_t)slot_lines, 2, 0, 4};
  gather_t g1 = {static_first, 1, 0, 1, 3, 0, 3, list1_at, 9};
  uint32_t n0 = reference_gather(shadow, &g0, pmu_lines(env), want0);
  uint32_t n1 = reference_gather(shadow, &g1, pmu_lines(env), want1);
  ck_assert_uint_eq(n0, 2u * 3u);
  ck_assert_uint_eq(n1, 3u * 8u);
  stage_ring_writer(env, ring_base, slot_lines, fills, 5);
  uint32_t last = env->hw->tiles - 1u;
  sparrow_model_agen_cfg_t out0 = linear(ADDR_DST, n0, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t out1 = linear(ADDR_DST2, n1, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  sparrow_model_prog_route(&env->prog, dst_id(last, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD1));
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g0);
  prog_gather(env, 0, SPARROW_PMU_PORT_RD1, &g1);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_WR, &out0);
  sparrow_model_prog_agcu(&env->prog, last, SPARROW_AGCU_CHANNEL_WR, &out1);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  expect_ring_gather(env, ADDR_DST, want0, n0, ring_base, slot_lines);
  for (uint32_t i = 0; i < n1; ++i) {
    ck_assert_uint_lt(want1[i].line - static_first, static_lines);
    expect_beat(env, ADDR_DST2, i, ADDR_SRC, want1[i].line - static_first);
  }
  env_close(env);
}
END_TEST

/* idx_count 0 is an empty list, not 1: the port is done at once, even synchronized with nothing
 * written and routed to an AGCU that is not enabled. The same with idx_count 1 deadlocks. */
START_TEST(test_gather_empty_list) {
  env_t *env = env_open(_i);
  gather_t g = {0, 1, 1, 1, 2, 4, 1, 0, 0};
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  sparrow_model_prog_sync(&env->prog, 0, 0, 1, 2, 4, 4);
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g);
  uint32_t run_entry = env->prog.count;
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), 0);
  ck_assert_uint_eq(unit_busy(env, env->hw->tiles), 0);

  new_program(env);
  g.idx_count = 1;
  sparrow_model_prog_sync(&env->prog, 0, 0, 1, 2, 4, 4);
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g);
  run_entry = env->prog.count;
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_WATCHDOG, run_entry);
  env_close(env);
}
END_TEST

/* A synchronized gather whose list releases a slot nobody ever writes never starts: watchdog at
 * its op_run (the port is the only unit enabled, and a bare release reads nothing, so nothing else
 * can be what waits). With one slot written and a list that needs two, the first slot's lines come
 * out and then the phase deadlocks. */
START_TEST(test_gather_deadlock_on_unwritten_slot) {
  env_t *env = env_open(_i);
  uint32_t shadow[SPARROW_PMU_IDX_WORDS] = {0};
  const uint32_t bare_release[] = {word(0, true, true)};
  stage_index(env, ADDR_IDX, 0, bare_release, 1, shadow);
  sparrow_model_prog_run(&env->prog);
  gather_t g = {0, 4, 1, 4, 2, 4, 1, 0, 1};
  sparrow_model_prog_sync(&env->prog, 0, 0, 1, 2, 4, 4);
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g);
  uint32_t run_entry = env->prog.count;
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_WATCHDOG, run_entry);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), 0);

  /* One slot of 4 lines written; the list reads it, releases, then waits for a second slot. */
  ctrl(env, SPARROW_CTRL_RESET_BIT);
  new_program(env);
  const uint32_t two_slots[] = {word(0, false, true), word(0, false, true)};
  stage_index(env, ADDR_IDX, 0, two_slots, 2, shadow);
  sparrow_model_prog_run(&env->prog);
  static gathered_t want[MAX_GATHERED];
  g.idx_count = 2;
  uint32_t n = reference_gather(shadow, &g, pmu_lines(env), want);
  ck_assert_uint_eq(n, 8);
  stage_ring_writer(env, 0, 4, 1, 6);
  sparrow_model_agen_cfg_t out8 = linear(ADDR_DST, n, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_WR, &out8);
  run_entry = env->prog.count;
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_WATCHDOG, run_entry);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), 4u * env->beat_bytes);
  expect_ring_gather(env, ADDR_DST, want, 4, 0, 4);
  env_close(env);
}
END_TEST

/* The documented estimate of a gather phase with no DRAM traffic: PMU 0 gathers into its own
 * write port 1, so the phase lasts the gather port's lines plus one cycle per skip word. */
START_TEST(test_gather_cycle_estimate) {
  env_t *env = env_open(_i);
  uint32_t shadow[SPARROW_PMU_IDX_WORDS] = {0};
  static gathered_t want[MAX_GATHERED];
  const uint32_t list[] = {word(1, false, false), word(0, true, false),  word(2, false, true),
                           word(0, true, true),   word(3, false, false), word(0, true, false)};
  const uint32_t list_words = sizeof list / sizeof list[0], skips = 3;
  stage_lines(env, 0, 16, 7);
  stage_index(env, ADDR_IDX, 0, list, list_words, shadow);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);

  ctrl(env, SPARROW_CTRL_CLEAR_BIT);
  new_program(env);
  gather_t g = {0, 3, 1, 3, 1, 0, 5, 0, list_words};
  uint32_t n = reference_gather(shadow, &g, pmu_lines(env), want);
  ck_assert_uint_eq(n, 5u * 3u * 3u);
  sparrow_model_agen_cfg_t copy = linear(500, n, 1);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR1),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_WR1, &copy);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  uint64_t phase = PHASE_OVERHEAD + n + 5u * skips;
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), phase + env->prog.count * ENTRY_CYCLES);
  ck_assert_uint_eq(unit_busy(env, env->hw->tiles), n);
  ck_assert_uint_eq(unit_stall(env, env->hw->tiles), phase - n);
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Per-block k. */

/* binary32 values with mixed signs and exponents (2^-7 .. 2^7), so that sums round often. */
static uint32_t next_value(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  uint32_t sign = (*state >> 31) << 31;
  uint32_t exponent = 120u + (*state >> 24) % 15u;
  uint32_t fraction = (*state * 2654435761u) >> 9;
  return sign | exponent << 23 | fraction;
}

static void random_words(env_t *env, uint32_t addr, uint32_t words, uint32_t *state) {
  for (uint32_t i = 0; i < words; ++i) {
    put_word(env, addr + 4u * i, next_value(state));
  }
}

#define ADDR_A 0x10000u
#define ADDR_B 0x20000u
#define ADDR_C 0x30000u
#define ADDR_OUT 0x40000u

/* The PCU's sequence for `blocks` blocks of ks[b] beat pairs each, a and b beats consumed in order
 * from ADDR_A / ADDR_B, c beats (acc_init) from ADDR_C, compared bit for bit with ADDR_OUT. */
static void expect_blocks(env_t *env, const uint32_t *ks, uint32_t blocks, bool acc_init) {
  uint32_t lanes = env->lanes;
  uint32_t pair = 0;
  uint32_t acc[16][16];
  for (uint32_t block = 0; block < blocks; ++block) {
    for (uint32_t r = 0; r < lanes; ++r) {
      for (uint32_t c = 0; c < lanes; ++c) {
        acc[r][c] = acc_init ? get_word(env, ADDR_C + 4u * ((block * lanes + r) * lanes + c)) : 0u;
      }
    }
    for (uint32_t k = 0; k < ks[block]; ++k, ++pair) {
      for (uint32_t r = 0; r < lanes; ++r) {
        for (uint32_t c = 0; c < lanes; ++c) {
          uint8_t flags = 0;
          uint32_t a = get_word(env, ADDR_A + 4u * (pair * lanes + r));
          uint32_t b = get_word(env, ADDR_B + 4u * (pair * lanes + c));
          acc[r][c] = sparrow_fp_add(acc[r][c], sparrow_fp_mul(a, b, &flags), &flags);
        }
      }
    }
    for (uint32_t r = 0; r < lanes; ++r) {
      for (uint32_t c = 0; c < lanes; ++c) {
        uint32_t got = get_word(env, ADDR_OUT + 4u * ((block * lanes + r) * lanes + c));
        ck_assert_msg(got == acc[r][c], "block %u (k %u) [%u][%u]: %08X, want %08X", block,
                      ks[block], r, c, got, acc[r][c]);
      }
    }
  }
}

/* A PCU phase: a from AGCU 0 read 0, b from AGCU 0 read 1, c from the last AGCU's read 0 (when
 * acc_init), out to AGCU 0 write; `pairs` a/b beats and blocks * lanes output beats. */
static void stage_pcu_streams(env_t *env, uint32_t pairs, uint32_t blocks, bool acc_init,
                              uint32_t seed) {
  uint32_t state = seed;
  uint32_t lanes = env->lanes, last = env->hw->tiles - 1u;
  int32_t beat = (int32_t)env->beat_bytes;
  random_words(env, ADDR_A, pairs * lanes, &state);
  random_words(env, ADDR_B, pairs * lanes, &state);
  random_words(env, ADDR_C, blocks * lanes * lanes, &state);
  sparrow_model_prog_t *prog = &env->prog;
  sparrow_model_agen_cfg_t a = linear(ADDR_A, pairs, beat);
  sparrow_model_agen_cfg_t b = linear(ADDR_B, pairs, beat);
  sparrow_model_agen_cfg_t c = linear(ADDR_C, blocks * lanes, beat);
  sparrow_model_agen_cfg_t out = linear(ADDR_OUT, blocks * lanes, beat);
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_PCU_A), src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_PCU_B), src_id(0, SPARROW_SRC_AGCU_RD1));
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_AGCU_WR), src_id(0, SPARROW_SRC_PCU_OUT));
  if (pairs != 0) {
    sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD0, &a);
    sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD1, &b);
  }
  if (acc_init) {
    sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_PCU_C),
                             src_id(last, SPARROW_SRC_AGCU_RD0));
    sparrow_model_prog_agcu(prog, last, SPARROW_AGCU_CHANNEL_RD0, &c);
  }
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_WR, &out);
}

/* A k_table with 0 entries, wrapped around by more blocks than entries: a 0 block emits +0.0, or
 * its c beats with acc_init, and does no MAC. */
static void k_table_with_zeros(env_t *env, bool acc_init) {
  const uint32_t table[] = {2, 0, 3, 1, 0};
  const uint32_t table_len = 5, blocks = 8;
  uint32_t ks[8], pairs = 0;
  for (uint32_t b = 0; b < blocks; ++b) {
    ks[b] = table[b % table_len];
    pairs += ks[b];
  }
  ck_assert_uint_eq(pairs, 2u * (2u + 3u + 1u) - 1u);
  stage_pcu_streams(env, pairs, blocks, acc_init, 21u + acc_init);
  sparrow_model_prog_gemm_k_table(&env->prog, 0, table, table_len, blocks, acc_init);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  expect_blocks(env, ks, blocks, acc_init);
  uint32_t lanes = env->lanes;
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_MACS_LO), (uint64_t)pairs * lanes * lanes);
  /* A 0 block without acc_init is +0.0 (bits 0) throughout. */
  if (!acc_init) {
    for (uint32_t i = 0; i < lanes * lanes; ++i) {
      ck_assert_uint_eq(get_word(env, ADDR_OUT + 4u * (1u * lanes * lanes + i)), 0);
    }
  }
  /* PCU 0 busy: its c beats and pairs, or its output rows if more. */
  uint64_t in = pairs + (acc_init ? blocks * lanes : 0u);
  uint64_t outs = (uint64_t)blocks * lanes;
  ck_assert_uint_eq(unit_busy(env, 2u * env->hw->tiles), in > outs ? in : outs);
}

START_TEST(test_k_table_zero_entries) {
  env_t *env = env_open(_i);
  k_table_with_zeros(env, false);
  env_close(env);
}
END_TEST

START_TEST(test_k_table_zero_entries_acc_init) {
  env_t *env = env_open(_i);
  k_table_with_zeros(env, true);
  env_close(env);
}
END_TEST

/* k_table_len above the table counts as the table's size: block 32 takes entry 0 again (entry 32
 * does not exist). Fed exactly the pairs that reading implies, the phase completes exactly. */
START_TEST(test_k_table_len_capped) {
  env_t *env = env_open(_i);
  uint32_t table[SPARROW_PCU_K_TABLE_ENTRIES];
  for (uint32_t i = 0; i < SPARROW_PCU_K_TABLE_ENTRIES; ++i) {
    table[i] = i % 3u;
  }
  table[0] = 2;
  const uint32_t blocks = SPARROW_PCU_K_TABLE_ENTRIES + 2u;
  uint32_t ks[SPARROW_PCU_K_TABLE_ENTRIES + 2u], pairs = 0;
  for (uint32_t b = 0; b < blocks; ++b) {
    ks[b] = table[b % SPARROW_PCU_K_TABLE_ENTRIES];
    pairs += ks[b];
  }
  stage_pcu_streams(env, pairs, blocks, false, 31);
  sparrow_model_prog_gemm_k_table(&env->prog, 0, table, SPARROW_PCU_K_TABLE_ENTRIES + 8u, blocks,
                                  0);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  expect_blocks(env, ks, blocks, false);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_MACS_LO), (uint64_t)pairs * env->lanes * env->lanes);
  env_close(env);
}
END_TEST

/* k_count 0 counts as 1 (docs/fabric.md, corner cases): one pair per block, k_table off. */
START_TEST(test_k_count_zero_counts_as_one) {
  env_t *env = env_open(_i);
  const uint32_t blocks = 3;
  const uint32_t ks[] = {1, 1, 1};
  stage_pcu_streams(env, blocks, blocks, false, 41);
  sparrow_model_prog_gemm(&env->prog, 0, 0, blocks, 0);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  expect_blocks(env, ks, blocks, false);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_MACS_LO), (uint64_t)blocks * env->lanes * env->lanes);
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* A block-sparse product Y = X * W, W in lanes x lanes blocks with a mask per output column block.
 *
 *   X^T strips (all K rows of X^T for one row block mb: K beats) stream through a 2-slot
 *   synchronized ring in PMU 0; the gather read port walks, for every output column block nb,
 *   the stored blocks kb of that column (word kb: lanes lines from line kb * lanes of the slot),
 *   then a skip|release word frees the strip; count3 = MB repeats the list for each strip.
 *   W is packed per output column block (its stored blocks in ascending kb, each lanes rows) and
 *   streams from DRAM once per strip. The PCU's k_table gives column block nb its
 *   nnz(nb) * lanes beat pairs, 0 for an empty column, whose block of Y is then +0.0.
 */
#define SP_KB 4u
#define SP_NB 4u
#define SP_MB 4u
#define ADDR_XT 0x10000u
#define ADDR_WP 0x20000u
#define ADDR_Y 0x30000u
#define ADDR_LIST 0x50000u

static const bool kMask[SP_KB][SP_NB] = {
    {true, false, false, false},
    {false, false, true, false},
    {true, false, true, false},
    {false, false, true, true},
};

START_TEST(test_block_sparse_product) {
  env_t *env = env_open(_i);
  uint32_t shadow[SPARROW_PMU_IDX_WORDS] = {0};
  uint32_t L = env->lanes;
  uint32_t K = SP_KB * L, N = SP_NB * L, M = SP_MB * L;
  static uint32_t x[64 * 64], w[64 * 64];
  ck_assert_uint_le(M * K, 64u * 64u);
  uint32_t state = 77;
  for (uint32_t i = 0; i < M * K; ++i) {
    x[i] = next_value(&state); /* X[i][k] at i * K + k */
  }
  for (uint32_t i = 0; i < K * N; ++i) {
    w[i] = next_value(&state); /* W[k][j] at k * N + j, every block, stored or not */
  }
  for (uint32_t k = 0; k < K; ++k) {
    for (uint32_t i = 0; i < M; ++i) {
      put_word(env, ADDR_XT + 4u * (k * M + i), x[i * K + k]);
    }
  }
  /* W packed per column block; the index list and the k_table from the same mask. */
  uint32_t list[SP_KB * SP_NB + 1u], list_words = 0, packed_beats = 0;
  uint32_t k_table[SP_NB];
  for (uint32_t nb = 0; nb < SP_NB; ++nb) {
    k_table[nb] = 0;
    for (uint32_t kb = 0; kb < SP_KB; ++kb) {
      if (!kMask[kb][nb]) {
        continue;
      }
      list[list_words++] = word(kb, false, false);
      k_table[nb] += L;
      for (uint32_t j = 0; j < L; ++j, ++packed_beats) {
        for (uint32_t c = 0; c < L; ++c) {
          put_word(env, ADDR_WP + 4u * (packed_beats * L + c), w[(kb * L + j) * N + nb * L + c]);
        }
      }
    }
  }
  list[list_words++] = word(0, true, true);
  ck_assert_uint_eq(k_table[1], 0);

  sparrow_model_prog_t *prog = &env->prog;
  stage_index(env, ADDR_LIST, 0, list, list_words, shadow);
  sparrow_model_prog_run(prog);

  int32_t beat = (int32_t)env->beat_bytes;
  /* Strip mb, row k: X^T[k][mb*L ..]; the ring: slots of K lines at 0 and K. */
  sparrow_model_agen_cfg_t strips = {ADDR_XT, {K, SP_MB, 1, 1}, {(int32_t)(M * 4u), beat, 0, 0}};
  sparrow_model_agen_cfg_t ring = {0, {K, 2, SP_MB / 2u, 1}, {1, (int32_t)K, 0, 0}};
  gather_t g = {0, L, 1, (int32_t)L, 2, (int32_t)K, SP_MB, 0, list_words};
  sparrow_model_agen_cfg_t wp = {ADDR_WP, {packed_beats, SP_MB, 1, 1}, {beat, 0, 0, 0}};
  sparrow_model_agen_cfg_t y = {ADDR_Y,
                                {L, SP_NB, SP_MB, 1},
                                {(int32_t)(N * 4u), (int32_t)(L * 4u), (int32_t)(L * N * 4u), 0}};
  sparrow_model_prog_unroute(prog, dst_id(0, SPARROW_DST_PMU_WR1));
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_PMU_WR0), src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_PCU_A), src_id(0, SPARROW_SRC_PMU_RD0));
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_PCU_B), src_id(0, SPARROW_SRC_AGCU_RD1));
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_AGCU_WR), src_id(0, SPARROW_SRC_PCU_OUT));
  sparrow_model_prog_sync(prog, 0, 0, 1, 2, K, 1);
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD0, &strips);
  sparrow_model_prog_pmu(prog, 0, SPARROW_PMU_PORT_WR0, &ring);
  prog_gather(env, 0, SPARROW_PMU_PORT_RD0, &g);
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD1, &wp);
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_WR, &y);
  sparrow_model_prog_gemm_k_table(prog, 0, k_table, SP_NB, SP_MB * SP_NB, 0);
  sparrow_model_prog_run(prog);
  sparrow_model_prog_end(prog);
  ck_assert_uint_eq(run(env), DONE);

  /* The reference: each Y element from +0.0 over the stored blocks' k in ascending order. */
  for (uint32_t i = 0; i < M; ++i) {
    for (uint32_t j = 0; j < N; ++j) {
      uint32_t acc = 0;
      uint8_t flags = 0;
      for (uint32_t k = 0; k < K; ++k) {
        if (kMask[k / L][j / L]) {
          acc = sparrow_fp_add(acc, sparrow_fp_mul(x[i * K + k], w[k * N + j], &flags), &flags);
        }
      }
      uint32_t got = get_word(env, ADDR_Y + 4u * (i * N + j));
      ck_assert_msg(got == acc, "Y[%u][%u] = %08X, want %08X", i, j, got, acc);
    }
  }
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_MACS_LO), (uint64_t)SP_MB * packed_beats * L * L);
  env_close(env);
}
END_TEST

static Suite *model_sparse_suite(void) {
  Suite *suite = suite_create("sparrow_model_sparse");
  int configs = (int)SPARROW_HW_CONFIG_COUNT;
  TCase *gather = tcase_create("gather");
  tcase_add_loop_test(gather, test_gather_index_load_and_walk, 0, configs);
  tcase_add_loop_test(gather, test_gather_idx_base_wraps, 0, configs);
  tcase_add_loop_test(gather, test_gather_sync_skip_release, 0, configs);
  tcase_add_loop_test(gather, test_gather_two_ports_at_once, 0, configs);
  tcase_add_loop_test(gather, test_gather_empty_list, 0, configs);
  tcase_add_loop_test(gather, test_gather_deadlock_on_unwritten_slot, 0, configs);
  tcase_add_loop_test(gather, test_gather_cycle_estimate, 0, configs);
  suite_add_tcase(suite, gather);

  TCase *k_table = tcase_create("k_table");
  tcase_add_loop_test(k_table, test_k_table_zero_entries, 0, configs);
  tcase_add_loop_test(k_table, test_k_table_zero_entries_acc_init, 0, configs);
  tcase_add_loop_test(k_table, test_k_table_len_capped, 0, configs);
  tcase_add_loop_test(k_table, test_k_count_zero_counts_as_one, 0, configs);
  suite_add_tcase(suite, k_table);

  TCase *product = tcase_create("block-sparse product");
  tcase_add_loop_test(product, test_block_sparse_product, 0, configs);
  suite_add_tcase(suite, product);
  return suite;
}

int main(void) {
  SRunner *runner = srunner_create(model_sparse_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
