/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Check suite for the golden model's control block, program interpreter, data movers and counters
 * (sim/model/). Everything goes through the CSR API with programs built from sparrow_hw.h
 * constants, exactly as the firmware drives the fabric, on every configuration (S and M). The
 * GEMM tests are in test_model_gemm.c.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model_env.h"

/* Documented cycle-estimate constants (sim/model/README.md). */
#define ENTRY_CYCLES 1u
#define PHASE_OVERHEAD 8u

/* Distinct, non-zero words, so a lost, duplicated or misplaced word shows. */
static uint32_t pattern(uint32_t seed, uint32_t i) {
  return (seed << 24) ^ (i * 2654435761u) ^ 1u;
}

static void fill(env_t *env, uint32_t addr, uint32_t words, uint32_t seed) {
  for (uint32_t i = 0; i < words; ++i) {
    put_word(env, addr + 4u * i, pattern(seed, i));
  }
}

/* Outer levels get count 0, which the fabric treats as 1: every linear walk tests that rule. */
static sparrow_model_agen_cfg_t linear(uint32_t base, uint32_t count, int32_t stride) {
  sparrow_model_agen_cfg_t agen = {base, {count, 0, 0, 0}, {stride, 0, 0, 0}};
  return agen;
}

static uint32_t src_id(uint32_t tile, uint32_t kind) {
  return tile * SPARROW_SWITCH_SRC_PER_TILE + kind;
}

static uint32_t dst_id(uint32_t tile, uint32_t kind) {
  return tile * SPARROW_SWITCH_DST_PER_TILE + kind;
}

static void expect_error(env_t *env, uint32_t status, uint32_t code, uint32_t entry) {
  ck_assert_uint_eq(status, ERROR);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_ERROR_CODE), code);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_ERROR_ENTRY), entry);
}

/* A program that copies `beats` beats from DRAM src to dst through AGCU `tile` (rd0 -> wr). */
static void build_copy(env_t *env, uint32_t tile, uint32_t src, uint32_t dst, uint32_t beats) {
  sparrow_model_agen_cfg_t rd = linear(src, beats, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t wr = linear(dst, beats, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(tile, SPARROW_DST_AGCU_WR),
                           src_id(tile, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_agcu(&env->prog, tile, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_agcu(&env->prog, tile, SPARROW_AGCU_CHANNEL_WR, &wr);
  sparrow_model_prog_run(&env->prog);
}

static void expect_copy(env_t *env, uint32_t src, uint32_t dst, uint32_t words) {
  for (uint32_t i = 0; i < words; ++i) {
    ck_assert_msg(get_word(env, dst + 4u * i) == get_word(env, src + 4u * i),
                  "word %u: %08X, want %08X", i, get_word(env, dst + 4u * i),
                  get_word(env, src + 4u * i));
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* CSRs and the program window. */

START_TEST(test_identity_and_params) {
  env_t *env = env_open(_i);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_ID), SPARROW_CSR_ID_VALUE);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_VERSION), SPARROW_HW_VERSION);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_PARAM_TILES), env->hw->tiles);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_PARAM_LANES), env->hw->lanes);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_PARAM_PMU_WORDS), env->hw->pmu_words);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_PARAM_PROG_ENTRIES), env->hw->prog_entries);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_PARAM_AGCU_OUTSTANDING), env->hw->agcu_outstanding);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_STATUS), 0);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_FP_STATUS), 0);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), 0);
  sparrow_model_csr_write(env->model, SPARROW_CSR_WATCHDOG, 12345);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_WATCHDOG), 12345);
  /* Read-only registers ignore writes. */
  sparrow_model_csr_write(env->model, SPARROW_CSR_ID, 0);
  sparrow_model_csr_write(env->model, SPARROW_CSR_STATUS, DONE);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_ID), SPARROW_CSR_ID_VALUE);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_STATUS), 0);
  env_close(env);
}
END_TEST

START_TEST(test_model_rejects_bad_config) {
  sparrow_hw_config_t config = kSparrowHwConfigs[0];
  uint8_t dram[64];
  config.tiles = SPARROW_MAX_TILES + 1u;
  ck_assert_ptr_null(sparrow_model_create(&config, dram, sizeof dram, DRAM_BW, DRAM_LATENCY));
  config = kSparrowHwConfigs[0];
  config.lanes = 0;
  ck_assert_ptr_null(sparrow_model_create(&config, dram, sizeof dram, DRAM_BW, DRAM_LATENCY));
  ck_assert_ptr_null(sparrow_model_create(NULL, dram, sizeof dram, DRAM_BW, DRAM_LATENCY));
  ck_assert_ptr_null(
      sparrow_model_create(&kSparrowHwConfigs[0], NULL, sizeof dram, DRAM_BW, DRAM_LATENCY));
  sparrow_model_destroy(NULL);
}
END_TEST

START_TEST(test_program_window) {
  env_t *env = env_open(_i);
  sparrow_model_t *model = env->model;
  sparrow_model_csr_write(model, SPARROW_CSR_PROG_ADDR, 7);
  for (uint32_t i = 0; i < 3; ++i) {
    sparrow_model_csr_write(model, SPARROW_CSR_PROG_DATA_LO, 0x1000u + i);
    sparrow_model_csr_write(model, SPARROW_CSR_PROG_DATA_HI, 0xA000u + i);
  }
  /* Each HI write stored an entry and advanced the address. */
  ck_assert_uint_eq(csr(env, SPARROW_CSR_PROG_ADDR), 10);
  for (uint32_t i = 0; i < 3; ++i) {
    sparrow_model_csr_write(model, SPARROW_CSR_PROG_ADDR, 7 + i);
    ck_assert_uint_eq(csr(env, SPARROW_CSR_PROG_DATA_LO), 0x1000u + i);
    ck_assert_uint_eq(csr(env, SPARROW_CSR_PROG_DATA_HI), 0xA000u + i);
  }
  /* A write beyond program memory is dropped and reads as 0. */
  sparrow_model_csr_write(model, SPARROW_CSR_PROG_ADDR, env->hw->prog_entries);
  sparrow_model_csr_write(model, SPARROW_CSR_PROG_DATA_LO, 1);
  sparrow_model_csr_write(model, SPARROW_CSR_PROG_DATA_HI, 2);
  sparrow_model_csr_write(model, SPARROW_CSR_PROG_ADDR, env->hw->prog_entries);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_PROG_DATA_HI), 0);
  env_close(env);
}
END_TEST

START_TEST(test_busy_until_estimate_elapsed) {
  env_t *env = env_open(_i);
  fill(env, 0x1000, 32u * env->lanes, 1);
  build_copy(env, 0, 0x1000, 0x8000, 32);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  uint64_t cycles = csr64(env, SPARROW_CSR_CYCLES_LO);
  ck_assert_uint_gt(cycles, 1);

  ctrl(env, SPARROW_CTRL_CLEAR_BIT);
  ctrl(env, SPARROW_CTRL_LAUNCH_BIT);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_STATUS), BUSY);
  sparrow_model_advance(env->model, cycles - 1);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_STATUS), BUSY);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), cycles - 1);
  /* A launch while busy is ignored. */
  ctrl(env, SPARROW_CTRL_LAUNCH_BIT);
  sparrow_model_advance(env->model, 1);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_STATUS), DONE);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), cycles);
  /* Counters accumulate over launches until cleared. */
  ck_assert_uint_eq(run(env), DONE);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), 2 * cycles);
  env_close(env);
}
END_TEST

/* The documented estimate for a copy of N beats: one AGCU moving N beats each way. */
START_TEST(test_cycle_estimate_of_copy) {
  env_t *env = env_open(_i);
  const uint32_t beats = 64;
  build_copy(env, 0, 0x1000, 0x8000, beats);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  uint64_t agcu = beats;
  uint64_t latency_bound =
      ((uint64_t)beats * DRAM_LATENCY + env->hw->agcu_outstanding - 1) / env->hw->agcu_outstanding;
  uint64_t bandwidth_bound = (2ull * beats * env->beat_bytes + DRAM_BW - 1) / DRAM_BW;
  uint64_t slowest = agcu;
  slowest = latency_bound > slowest ? latency_bound : slowest;
  slowest = bandwidth_bound > slowest ? bandwidth_bound : slowest;
  uint64_t phase = PHASE_OVERHEAD + slowest + DRAM_LATENCY;
  uint64_t want = phase + (uint64_t)env->prog.count * ENTRY_CYCLES;
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), want);
  /* Unit counters: AGCU 0 busy for its beats, stalled for the rest of the phase. */
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_UNIT_COUNTERS), beats);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_UNIT_COUNTERS + 8u), phase - beats);
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Data movement. */

START_TEST(test_dram_copy_strided) {
  env_t *env = env_open(_i);
  uint32_t tile = env->hw->tiles - 1u; /* the last tile: unit ids and counters per tile */
  const uint32_t rows = 4, cols = 6;
  const uint32_t src = 0x1000, row_stride = 2u * cols * env->beat_bytes, dst = 0x20000;
  fill(env, src, rows * row_stride / 4u, 2);
  /* Gather every other block of `cols` beats: a two-level read generator. */
  sparrow_model_agen_cfg_t rd = {
      src, {cols, rows, 1, 1}, {(int32_t)env->beat_bytes, (int32_t)row_stride, 0, 0}};
  sparrow_model_agen_cfg_t wr = linear(dst, rows * cols, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(tile, SPARROW_DST_AGCU_WR),
                           src_id(tile, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_agcu(&env->prog, tile, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_agcu(&env->prog, tile, SPARROW_AGCU_CHANNEL_WR, &wr);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);

  for (uint32_t r = 0; r < rows; ++r) {
    expect_copy(env, src + r * row_stride, dst + r * cols * env->beat_bytes, cols * env->lanes);
  }
  /* Nothing written around the destination. */
  ck_assert_uint_eq(get_word(env, dst - 4u), 0);
  ck_assert_uint_eq(get_word(env, dst + rows * cols * env->beat_bytes), 0);
  uint64_t bytes = (uint64_t)rows * cols * env->beat_bytes;
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_RD_LO), bytes);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), bytes);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_MACS_LO), 0);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_FP_STATUS), 0);
  /* Busy counters: this tile's AGCU only. */
  for (uint32_t unit = 0; unit < 3u * env->hw->tiles; ++unit) {
    uint64_t busy = csr64(env, SPARROW_CSR_UNIT_COUNTERS + 16u * unit);
    ck_assert_uint_eq(busy, unit == tile ? rows * cols : 0);
  }
  env_close(env);
}
END_TEST

/* agcu_rd0 -> pmu_wr0 in one phase, pmu_rd0 -> agcu_wr in the next: lines wrap around the end of
 * the PMU, and the read walks them backwards (negative stride, wrapping below line 0). */
START_TEST(test_copy_through_pmu) {
  env_t *env = env_open(_i);
  uint32_t lines = env->hw->pmu_words / env->lanes;
  const uint32_t beats = 16, src = 0x1000, dst = 0x20000;
  uint32_t first_line = lines - 5u; /* lines first_line .. lines-1, then 0 .. 10 */
  fill(env, src, beats * env->lanes, 3);

  sparrow_model_agen_cfg_t rd = linear(src, beats, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t pmu_wr = linear(first_line, beats, 1);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR0),
                           src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_WR0, &pmu_wr);
  sparrow_model_prog_run(&env->prog);

  /* Backwards from the last line written, which lies past the wrap. */
  sparrow_model_agen_cfg_t pmu_rd = linear((first_line + beats - 1u) % lines, beats, -1);
  sparrow_model_agen_cfg_t wr = linear(dst, beats, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_RD0, &pmu_rd);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_WR, &wr);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);

  for (uint32_t beat = 0; beat < beats; ++beat) {
    expect_copy(env, src + (beats - 1u - beat) * env->beat_bytes, dst + beat * env->beat_bytes,
                env->lanes);
  }
  uint64_t bytes = (uint64_t)beats * env->beat_bytes;
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_RD_LO), bytes);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), bytes);
  /* PMU 0 (unit tiles + 0) moved `beats` lines in each phase. */
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_UNIT_COUNTERS + 16u * env->hw->tiles), 2u * beats);
  env_close(env);
}
END_TEST

/* Streams `slots_total` slots of `slot_lines` lines through a 2-slot ring in PMU 0 with buffer 0
 * synchronized, each slot read `reads` times; the output is every slot repeated `reads` times. */
static void nbuffer_stream(env_t *env, uint32_t reads) {
  const uint32_t slot_lines = 4, slots_total = 8, ring_base = 100;
  const uint32_t src = 0x1000, dst = 0x20000;
  uint32_t beats = slot_lines * slots_total;
  fill(env, src, beats * env->lanes, 4);

  sparrow_model_agen_cfg_t rd = linear(src, beats, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t ring_wr = {
      ring_base, {slot_lines, 2, slots_total / 2u, 1}, {1, (int32_t)slot_lines, 0, 0}};
  sparrow_model_agen_cfg_t ring_rd = {
      ring_base, {slot_lines, reads, 2, slots_total / 2u}, {1, 0, (int32_t)slot_lines, 0}};
  sparrow_model_agen_cfg_t wr = linear(dst, beats * reads, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR0),
                           src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  sparrow_model_prog_sync(&env->prog, 0, 0, 1, 2, slot_lines, slot_lines * reads);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_WR0, &ring_wr);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_RD0, &ring_rd);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_WR, &wr);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);

  uint32_t slot_bytes = slot_lines * env->beat_bytes;
  for (uint32_t slot = 0; slot < slots_total; ++slot) {
    for (uint32_t r = 0; r < reads; ++r) {
      expect_copy(env, src + slot * slot_bytes, dst + (slot * reads + r) * slot_bytes,
                  slot_lines * env->lanes);
    }
  }
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), (uint64_t)beats * reads * env->beat_bytes);
}

START_TEST(test_nbuffer_stream_double_buffered) {
  env_t *env = env_open(_i);
  nbuffer_stream(env, 1);
  env_close(env);
}
END_TEST

START_TEST(test_nbuffer_stream_slot_reuse) {
  env_t *env = env_open(_i);
  nbuffer_stream(env, 3);
  env_close(env);
}
END_TEST

/* With sync on and nobody reading, the writer fills `slots` slots and must stop there. */
START_TEST(test_sync_holds_writer) {
  env_t *env = env_open(_i);
  const uint32_t slot_lines = 4;
  sparrow_model_agen_cfg_t rd = linear(0x1000, 3u * slot_lines, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t pmu_wr = linear(0, 3u * slot_lines, 1);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR0),
                           src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_sync(&env->prog, 0, 0, 1, 2, slot_lines, slot_lines);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_WR0, &pmu_wr);
  uint32_t run_entry = env->prog.count;
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_WATCHDOG, run_entry);
  /* PMU 0 wrote exactly two slots. */
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_UNIT_COUNTERS + 16u * env->hw->tiles), 2u * slot_lines);

  /* The same with three slots allowed completes. */
  ctrl(env, SPARROW_CTRL_CLEAR_BIT);
  new_program(env);
  sparrow_model_prog_sync(&env->prog, 0, 0, 1, 3, slot_lines, slot_lines);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_WR0, &pmu_wr);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  env_close(env);
}
END_TEST

/* A synchronized reader with no writer never starts. */
START_TEST(test_sync_holds_reader) {
  env_t *env = env_open(_i);
  sparrow_model_agen_cfg_t pmu_rd = linear(0, 4, 1);
  sparrow_model_agen_cfg_t wr = linear(0x1000, 4, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR),
                           src_id(0, SPARROW_SRC_PMU_RD1));
  sparrow_model_prog_sync(&env->prog, 0, 1, 1, 2, 4, 4);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_RD1, &pmu_rd);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_WR, &wr);
  uint32_t run_entry = env->prog.count;
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_WATCHDOG, run_entry);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), 0);
  env_close(env);
}
END_TEST

/* One source, several destinations (across tiles when there are several): every copy complete. */
START_TEST(test_multicast) {
  env_t *env = env_open(_i);
  uint32_t last = env->hw->tiles - 1u;
  const uint32_t beats = 20, src = 0x1000, dst0 = 0x20000, dst1 = 0x30000, dst2 = 0x40000;
  fill(env, src, beats * env->lanes, 5);
  sparrow_model_agen_cfg_t rd = linear(src, beats, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t wr0 = linear(dst0, beats, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t wr1 = linear(dst1, beats, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t lines = linear(0, beats, 1);
  uint32_t from = src_id(0, SPARROW_SRC_AGCU_RD0);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_AGCU_WR), from);
  sparrow_model_prog_route(&env->prog, dst_id(last, SPARROW_DST_AGCU_WR), from);
  sparrow_model_prog_route(&env->prog, dst_id(last, SPARROW_DST_PMU_WR1), from);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_WR, &wr0);
  sparrow_model_prog_agcu(&env->prog, last, SPARROW_AGCU_CHANNEL_WR, &wr1);
  sparrow_model_prog_pmu(&env->prog, last, SPARROW_PMU_PORT_WR1, &lines);
  sparrow_model_prog_run(&env->prog);
  /* Read the PMU copy back out. */
  sparrow_model_agen_cfg_t wr2 = linear(dst2, beats, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(last, SPARROW_DST_AGCU_WR),
                           src_id(last, SPARROW_SRC_PMU_RD1));
  sparrow_model_prog_pmu(&env->prog, last, SPARROW_PMU_PORT_RD1, &lines);
  sparrow_model_prog_agcu(&env->prog, last, SPARROW_AGCU_CHANNEL_WR, &wr2);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);

  uint32_t words = beats * env->lanes;
  expect_copy(env, src, dst0, words);
  expect_copy(env, src, dst1, words);
  expect_copy(env, src, dst2, words);
  uint64_t bytes = (uint64_t)beats * env->beat_bytes;
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_RD_LO), bytes);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), 3u * bytes);
  env_close(env);
}
END_TEST

/* A route to a destination whose unit is idle holds its source back: the phase deadlocks rather
 * than losing beats or leaving them in the switch (sim/model/README.md). */
START_TEST(test_stale_route_blocks_source) {
  env_t *env = env_open(_i);
  uint32_t from = src_id(0, SPARROW_SRC_AGCU_RD0);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR0), from);
  build_copy(env, 0, 0x1000, 0x8000, 8);
  uint32_t run_entry = env->prog.count - 1u;
  sparrow_model_prog_end(&env->prog);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_WATCHDOG, run_entry);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), 0);

  /* Removing the stale route fixes it. */
  new_program(env);
  sparrow_model_prog_unroute(&env->prog, dst_id(0, SPARROW_DST_PMU_WR0));
  build_copy(env, 0, 0x1000, 0x8000, 8);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Configuration lifetime. */

START_TEST(test_enables_clear_and_config_persists) {
  env_t *env = env_open(_i);
  const uint32_t beats = 8, src = 0x1000, dst = 0x8000;
  fill(env, src, beats * env->lanes, 6);
  uint64_t bytes = (uint64_t)beats * env->beat_bytes;
  build_copy(env, 0, src, dst, beats);
  sparrow_model_prog_run(&env->prog); /* nothing enabled any more: ends at once */
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_RD_LO), bytes);
  expect_copy(env, src, dst, beats * env->lanes);

  /* Routes and generators persist across launches: enabling is enough. */
  memset(env->dram + dst, 0, bytes);
  new_program(env);
  uint32_t unit = SPARROW_UNIT_AGCU;
  sparrow_model_prog_cfg(
      &env->prog, unit,
      SPARROW_AGCU_CHANNEL_RD0 * SPARROW_AGCU_CHAN_BLOCK + SPARROW_AGCU_CHAN_ENABLE, 1);
  sparrow_model_prog_cfg(
      &env->prog, unit,
      SPARROW_AGCU_CHANNEL_WR * SPARROW_AGCU_CHAN_BLOCK + SPARROW_AGCU_CHAN_ENABLE, 1);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_RD_LO), 2u * bytes);
  expect_copy(env, src, dst, beats * env->lanes);

  /* ctrl.reset clears the configuration and the counters: the same program now has no routes. */
  ctrl(env, SPARROW_CTRL_RESET_BIT);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_STATUS), 0);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_RD_LO), 0);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), 0);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_WATCHDOG, 2);
  env_close(env);
}
END_TEST

START_TEST(test_ctrl_clear) {
  env_t *env = env_open(_i);
  build_copy(env, 0, 0x1000, 0x8000, 4);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  ck_assert_uint_ne(csr64(env, SPARROW_CSR_DRAM_RD_LO), 0);
  ctrl(env, SPARROW_CTRL_CLEAR_BIT);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_STATUS), 0);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), 0);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_RD_LO), 0);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), 0);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_UNIT_COUNTERS), 0);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_UNIT_COUNTERS + 8u), 0);
  /* Clear does not touch configuration: the program still runs. */
  ck_assert_uint_eq(run(env), DONE);
  /* An error is cleared too. */
  new_program(env);
  sparrow_model_prog_cfg(&env->prog, SPARROW_UNIT_PCU + env->hw->tiles, 0, 0);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_BAD_UNIT, 0);
  ctrl(env, SPARROW_CTRL_CLEAR_BIT);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_STATUS), 0);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_ERROR_CODE), SPARROW_FABRIC_ERR_NONE);
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Errors. */

static void expect_cfg_error(env_t *env, uint32_t unit, uint32_t reg, uint32_t code) {
  new_program(env);
  sparrow_model_prog_cfg(&env->prog, SPARROW_UNIT_SWITCH, 0, 0); /* a good entry first */
  sparrow_model_prog_cfg(&env->prog, unit, reg, 0);
  sparrow_model_prog_end(&env->prog);
  ck_assert_msg(run(env) == ERROR, "unit %u reg %u: no error", unit, reg);
  ck_assert_msg(csr(env, SPARROW_CSR_ERROR_CODE) == code, "unit %u reg %u: code %u, want %u", unit,
                reg, csr(env, SPARROW_CSR_ERROR_CODE), code);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_ERROR_ENTRY), 1);
}

START_TEST(test_error_bad_unit) {
  env_t *env = env_open(_i);
  uint32_t tiles = env->hw->tiles;
  expect_cfg_error(env, 0x00, 0, SPARROW_FABRIC_ERR_BAD_UNIT);
  expect_cfg_error(env, SPARROW_UNIT_AGCU + tiles, 0, SPARROW_FABRIC_ERR_BAD_UNIT);
  expect_cfg_error(env, SPARROW_UNIT_PMU + tiles, 0, SPARROW_FABRIC_ERR_BAD_UNIT);
  expect_cfg_error(env, SPARROW_UNIT_PCU + tiles, 0, SPARROW_FABRIC_ERR_BAD_UNIT);
  expect_cfg_error(env, 0xFF, 0, SPARROW_FABRIC_ERR_BAD_UNIT);
  /* The last tile's units exist. */
  expect_cfg_error(env, SPARROW_UNIT_PCU + tiles - 1u, SPARROW_PCU_REG_COUNT,
                   SPARROW_FABRIC_ERR_BAD_REGISTER);
  env_close(env);
}
END_TEST

START_TEST(test_error_bad_register) {
  env_t *env = env_open(_i);
  expect_cfg_error(env, SPARROW_UNIT_SWITCH, env->hw->tiles * SPARROW_SWITCH_DST_PER_TILE,
                   SPARROW_FABRIC_ERR_BAD_REGISTER);
  expect_cfg_error(env, SPARROW_UNIT_AGCU, SPARROW_AGCU_REG_COUNT, SPARROW_FABRIC_ERR_BAD_REGISTER);
  expect_cfg_error(env, SPARROW_UNIT_PMU, SPARROW_PMU_REG_COUNT, SPARROW_FABRIC_ERR_BAD_REGISTER);
  expect_cfg_error(env, SPARROW_UNIT_PCU, SPARROW_PCU_REG_COUNT, SPARROW_FABRIC_ERR_BAD_REGISTER);
  expect_cfg_error(env, SPARROW_UNIT_PCU, 0xFFFF, SPARROW_FABRIC_ERR_BAD_REGISTER);
  env_close(env);
}
END_TEST

START_TEST(test_error_bad_opcode) {
  env_t *env = env_open(_i);
  const uint32_t opcodes[] = {0, SPARROW_OP_END + 1u, 0xF};
  for (uint32_t i = 0; i < sizeof opcodes / sizeof opcodes[0]; ++i) {
    new_program(env);
    sparrow_model_prog_cfg(&env->prog, SPARROW_UNIT_SWITCH, 0, 0);
    sparrow_model_prog_run(&env->prog);
    env->storage[env->prog.count++] = sparrow_model_prog_entry(opcodes[i], 0, 0, 0);
    sparrow_model_prog_end(&env->prog);
    expect_error(env, run(env), SPARROW_FABRIC_ERR_BAD_OPCODE, 2);
  }
  env_close(env);
}
END_TEST

/* A program of only good op_cfg entries runs off the end of program memory. */
START_TEST(test_error_no_end) {
  env_t *env = env_open(_i);
  for (uint32_t i = 0; i < env->hw->prog_entries; ++i) {
    sparrow_model_prog_cfg(&env->prog, SPARROW_UNIT_PCU, SPARROW_PCU_K_COUNT, i);
  }
  /* No END among the loaded entries: ERROR_ENTRY is the first entry not loaded (PROG_ADDR). */
  expect_error(env, run(env), SPARROW_FABRIC_ERR_NO_END, env->hw->prog_entries);
  /* One op_end in the last entry makes it good. */
  env->storage[env->hw->prog_entries - 1u] = sparrow_model_prog_entry(SPARROW_OP_END, 0, 0, 0);
  ck_assert_uint_eq(run(env), DONE);
  env_close(env);
}
END_TEST

/* A launch runs only the entries loaded for it: an END left in memory by an earlier, longer program
 * beyond PROG_ADDR is not reached. */
START_TEST(test_error_no_end_ignores_stale_entries) {
  env_t *env = env_open(_i);
  sparrow_model_prog_cfg(&env->prog, SPARROW_UNIT_PCU, SPARROW_PCU_K_COUNT, 1);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  env->prog.count = 1; /* reload just the first entry; the END at entry 1 is now stale */
  expect_error(env, run(env), SPARROW_FABRIC_ERR_NO_END, 1);
  env_close(env);
}
END_TEST

/* A PCU with no routed inputs cannot progress: watchdog error at its op_run, after WATCHDOG more
 * cycles than the phase's estimate; with WATCHDOG = 0 the model reports it all the same. */
START_TEST(test_error_deadlock) {
  env_t *env = env_open(_i);
  sparrow_model_prog_gemm(&env->prog, 0, 4, 1, 0);
  uint32_t run_entry = env->prog.count;
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_WATCHDOG, run_entry);
  uint64_t cycles_no_watchdog = csr64(env, SPARROW_CSR_CYCLES_LO);

  ctrl(env, SPARROW_CTRL_CLEAR_BIT);
  sparrow_model_csr_write(env->model, SPARROW_CSR_WATCHDOG, 1000);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_WATCHDOG, run_entry);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), cycles_no_watchdog + 1000);
  /* The failed phase's enables were cleared like any other's. */
  new_program(env);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  env_close(env);
}
END_TEST

START_TEST(test_error_bad_address) {
  env_t *env = env_open(_i);
  /* The second beat would end one word past DRAM. */
  uint32_t last_ok = DRAM_BYTES - env->beat_bytes - 4u;
  build_copy(env, 0, last_ok, 0x1000, 2);
  uint32_t run_entry = env->prog.count - 1u;
  sparrow_model_prog_end(&env->prog);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_BAD_ADDRESS, run_entry);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_RD_LO), env->beat_bytes);

  /* Writes past the end, misaligned reads and the 32-bit top of the address space likewise. */
  const uint32_t bad_writes[] = {DRAM_BYTES - 4u, 0xFFFFFFF0u};
  for (uint32_t i = 0; i < 2; ++i) {
    new_program(env);
    build_copy(env, 0, 0x1000, bad_writes[i], 1);
    sparrow_model_prog_end(&env->prog);
    expect_error(env, run(env), SPARROW_FABRIC_ERR_BAD_ADDRESS, env->prog.count - 2u);
  }
  new_program(env);
  build_copy(env, 0, 0x1002, 0x2000, 1);
  sparrow_model_prog_end(&env->prog);
  expect_error(env, run(env), SPARROW_FABRIC_ERR_BAD_ADDRESS, env->prog.count - 2u);
  ck_assert_uint_eq(get_word(env, 0x2000), 0);
  env_close(env);
}
END_TEST

static Suite *model_suite(void) {
  Suite *suite = suite_create("sparrow_model");
  int configs = (int)SPARROW_HW_CONFIG_COUNT;

  TCase *csrs = tcase_create("csr");
  tcase_add_loop_test(csrs, test_identity_and_params, 0, configs);
  tcase_add_test(csrs, test_model_rejects_bad_config);
  tcase_add_loop_test(csrs, test_program_window, 0, configs);
  tcase_add_loop_test(csrs, test_busy_until_estimate_elapsed, 0, configs);
  tcase_add_loop_test(csrs, test_cycle_estimate_of_copy, 0, configs);
  suite_add_tcase(suite, csrs);

  TCase *moves = tcase_create("data movement");
  tcase_add_loop_test(moves, test_dram_copy_strided, 0, configs);
  tcase_add_loop_test(moves, test_copy_through_pmu, 0, configs);
  tcase_add_loop_test(moves, test_nbuffer_stream_double_buffered, 0, configs);
  tcase_add_loop_test(moves, test_nbuffer_stream_slot_reuse, 0, configs);
  tcase_add_loop_test(moves, test_sync_holds_writer, 0, configs);
  tcase_add_loop_test(moves, test_sync_holds_reader, 0, configs);
  tcase_add_loop_test(moves, test_multicast, 0, configs);
  tcase_add_loop_test(moves, test_stale_route_blocks_source, 0, configs);
  suite_add_tcase(suite, moves);

  TCase *config = tcase_create("configuration");
  tcase_add_loop_test(config, test_enables_clear_and_config_persists, 0, configs);
  tcase_add_loop_test(config, test_ctrl_clear, 0, configs);
  suite_add_tcase(suite, config);

  TCase *errors = tcase_create("errors");
  tcase_add_loop_test(errors, test_error_bad_unit, 0, configs);
  tcase_add_loop_test(errors, test_error_bad_register, 0, configs);
  tcase_add_loop_test(errors, test_error_bad_opcode, 0, configs);
  tcase_add_loop_test(errors, test_error_no_end, 0, configs);
  tcase_add_loop_test(errors, test_error_no_end_ignores_stale_entries, 0, configs);
  tcase_add_loop_test(errors, test_error_deadlock, 0, configs);
  tcase_add_loop_test(errors, test_error_bad_address, 0, configs);
  suite_add_tcase(suite, errors);
  return suite;
}

int main(void) {
  SRunner *runner = srunner_create(model_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
