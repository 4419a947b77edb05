// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the block-sparse operators (host/ops/spmm.c, sddmm.c, sparse_plan.c,
// sparse_run.c): the program helpers for the gather registers, W's checks (a malformed BSR never
// reaches a device: a fake device counts the frames), the invariants of every generated program
// read back independently (entries, beats per route with the index lists walked from the packed
// DRAM image, PMU regions and slots, DRAM ranges, each output beat written once per chunk, the MACs
// equal to the stored work), and then the programs run on the golden model in-process through its
// CSR window, compared bit for bit with the golden-order references: random balanced masks,
// unbalanced masks with empty block rows and columns, a single block, an empty W, density 1
// (identical to the dense GEMM), padded shapes, chunked reductions and many launches.

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "ops_fixture.h"
#include "program.h"
#include "sparrow_bsr.h"
#include "sparrow_hw.h"
#include "sparrow_mask.h"
#include "sparrow_model.h"
#include "sparrow_ops.h"
#include "sparrow_ref.h"
#include "sparrow_sparse.h"
#include "test_driver_fake.h"

// ---------------------------------------------------------------------------------------------------
// Weights and masks.

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

typedef enum mask_kind {
  MASK_BALANCED,  // sparrow_mask_balanced_random at 1/param
  MASK_RANDOM,    // each block with probability 1/param, then block row 1 and column 0 emptied
  MASK_SINGLE,    // one block, at (param % block_rows, param % block_cols)
  MASK_FULL,      // every block
  MASK_EMPTY,     // no block
} mask_kind_t;

static const char *mask_name(mask_kind_t kind) {
  static const char *const names[] = {"balanced", "random", "single", "full", "empty"};
  return names[kind];
}

// A K x N BSR with block b: mask of the kind, values uniform in [-1, 1).
static void make_w(uint32_t k, uint32_t n, uint32_t b, mask_kind_t kind, uint32_t param,
                   uint64_t seed, sparrow_bsr_t *w) {
  uint32_t br = k / b, bc = n / b;
  uint8_t *mask = calloc((size_t)br * bc, 1);
  float *dense = malloc((size_t)k * n * sizeof(float));
  ck_assert(mask != NULL && dense != NULL);
  sparrow_ref_fill_uniform(seed, (size_t)k * n, (uint32_t *)(void *)dense);
  uint64_t s = seed ^ 0x1234;
  switch (kind) {
    case MASK_BALANCED:
      ck_assert_int_eq(sparrow_mask_balanced_random(br, bc, param, seed, mask, NULL, 0),
                       SPARROW_MASK_OK);
      break;
    case MASK_RANDOM:
      for (size_t i = 0; i < (size_t)br * bc; ++i) {
        mask[i] = splitmix(&s) % param == 0;
      }
      if (br > 2) {
        memset(&mask[(size_t)1 * bc], 0, bc);  // an empty block row
      }
      if (bc > 2) {
        for (uint32_t r = 0; r < br; ++r) {
          mask[(size_t)r * bc] = 0;  // an empty block column
        }
      }
      break;
    case MASK_SINGLE:
      mask[(size_t)(param % br) * bc + param % bc] = 1;
      break;
    case MASK_FULL:
      memset(mask, 1, (size_t)br * bc);
      break;
    case MASK_EMPTY:
      break;
  }
  ck_assert_int_eq(sparrow_bsr_from_dense(dense, k, n, b, mask, w, NULL, 0), SPARROW_BSR_OK);
  free(mask);
  free(dense);
}

// ---------------------------------------------------------------------------------------------------
// Program helpers.

START_TEST(test_program_gather_helpers) {
  sparrow_ops_prog_t prog;
  ck_assert_int_eq(sparrow_ops_prog_init(&prog, 2, 64), SPARROW_OPS_PROG_OK);
  // A gather port keeps stride1 although count1 is 1 (it scales the index offsets).
  sparrow_ops_agen_t g = {5, {8, 1, 2, 3}, {1, 8, 100, 0}};
  ck_assert_int_eq(sparrow_ops_prog_pmu_gather(&prog, 1, SPARROW_PMU_PORT_RD0, &g, 7, 300),
                   SPARROW_OPS_PROG_OK);
  uint32_t unit = SPARROW_UNIT_PMU + 1;
  ck_assert_uint_eq(prog.value[unit][SPARROW_PMU_PORT_GATHER], 1);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PMU_PORT_IDX_BASE], 7);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PMU_PORT_IDX_COUNT], 300);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PMU_PORT_STRIDE + 1], 8);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PMU_PORT_STRIDE + 2], 100);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PMU_PORT_ENABLE], 1);
  // An affine read on the same port turns gather off again, and normalizes stride1 as before.
  ck_assert_int_eq(sparrow_ops_prog_pmu(&prog, 1, SPARROW_PMU_PORT_RD0, &g), SPARROW_OPS_PROG_OK);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PMU_PORT_GATHER], 0);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PMU_PORT_STRIDE + 1], 0);
  // The index target on a write port, lines again with the affine helper.
  sparrow_ops_agen_t w = {0, {4, 1, 1, 1}, {1, 0, 0, 0}};
  ck_assert_int_eq(sparrow_ops_prog_pmu_index(&prog, 0, SPARROW_PMU_PORT_WR0, &w),
                   SPARROW_OPS_PROG_OK);
  ck_assert_uint_eq(
      prog.value[SPARROW_UNIT_PMU][2 * SPARROW_PMU_PORT_BLOCK + SPARROW_PMU_PORT_TARGET],
      SPARROW_PMU_TARGET_INDEX);
  ck_assert_int_eq(sparrow_ops_prog_pmu(&prog, 0, SPARROW_PMU_PORT_WR0, &w), SPARROW_OPS_PROG_OK);
  ck_assert_uint_eq(
      prog.value[SPARROW_UNIT_PMU][2 * SPARROW_PMU_PORT_BLOCK + SPARROW_PMU_PORT_TARGET],
      SPARROW_PMU_TARGET_LINES);
  // Misuse: gather on a write port, index target on a read port, lists beyond the index memory.
  ck_assert_int_eq(sparrow_ops_prog_pmu_gather(&prog, 0, SPARROW_PMU_PORT_WR0, &g, 0, 1),
                   SPARROW_OPS_PROG_E_ARG);
  ck_assert_int_eq(sparrow_ops_prog_pmu_index(&prog, 0, SPARROW_PMU_PORT_RD1, &w),
                   SPARROW_OPS_PROG_E_ARG);
  ck_assert_int_eq(
      sparrow_ops_prog_pmu_gather(&prog, 0, SPARROW_PMU_PORT_RD0, &g, SPARROW_PMU_IDX_WORDS, 1),
      SPARROW_OPS_PROG_E_ARG);
  ck_assert_int_eq(
      sparrow_ops_prog_pmu_gather(&prog, 0, SPARROW_PMU_PORT_RD0, &g, 0, SPARROW_PMU_IDX_WORDS + 1),
      SPARROW_OPS_PROG_E_ARG);
  // The k table: entries, its length; the plain helper sets the length back to 0.
  uint32_t table[3] = {16, 0, 8};
  ck_assert_int_eq(sparrow_ops_prog_pcu_gemm_table(&prog, 1, 6, 1, table, 3), SPARROW_OPS_PROG_OK);
  unit = SPARROW_UNIT_PCU + 1;
  ck_assert_uint_eq(prog.value[unit][SPARROW_PCU_K_TABLE_LEN], 3);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PCU_K_TABLE + 0], 16);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PCU_K_TABLE + 1], 0);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PCU_K_TABLE + 2], 8);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PCU_ACC_INIT], 1);
  ck_assert_int_eq(sparrow_ops_prog_pcu_gemm(&prog, 1, 4, 2, 0), SPARROW_OPS_PROG_OK);
  ck_assert_uint_eq(prog.value[unit][SPARROW_PCU_K_TABLE_LEN], 0);
  ck_assert_int_eq(sparrow_ops_prog_pcu_gemm_table(&prog, 1, 6, 0, table, 0),
                   SPARROW_OPS_PROG_E_ARG);
  uint32_t big[SPARROW_PCU_K_TABLE_ENTRIES + 1] = {0};
  ck_assert_int_eq(
      sparrow_ops_prog_pcu_gemm_table(&prog, 1, 6, 0, big, SPARROW_PCU_K_TABLE_ENTRIES + 1),
      SPARROW_OPS_PROG_E_ARG);
  sparrow_ops_prog_free(&prog);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// W's checks.

typedef struct defect {
  const char *what;
  const char *message;  // a part of the expected message
} defect_t;

// Breaks a copy of a valid W in defect number i; returns the description.
static defect_t break_w(sparrow_bsr_t *w, int i) {
  switch (i) {
    case 0:
      w->col_idx[1] = w->block_cols;
      return (defect_t){"column out of range", "out of range (block_cols"};
    case 1: {
      uint32_t t = w->col_idx[0];
      w->col_idx[0] = w->col_idx[1];
      w->col_idx[1] = t;
      return (defect_t){"unsorted columns", "columns not ascending"};
    }
    case 2:
      w->col_idx[1] = w->col_idx[0];
      return (defect_t){"duplicate column", "duplicate column"};
    case 3:
      w->row_ptr[1] = w->row_ptr[2] + 1;
      return (defect_t){"row_ptr decreasing", "row_ptr[1]="};
    case 4:
      w->nnz_blocks += 1;
      return (defect_t){"nnz_blocks wrong", "nnz_blocks"};
    case 5:
      w->block_rows += 1;
      return (defect_t){"block_rows wrong", "block_rows"};
    case 6:
      w->rows += 1;
      return (defect_t){"K not a multiple of the block", "is not a multiple of the block size"};
    case 7:
      w->row_ptr[0] = 1;
      return (defect_t){"row_ptr[0] not 0", "row_ptr[0]=1"};
    case 8:
      w->col_idx = NULL;
      return (defect_t){"col_idx missing", "col_idx is NULL"};
    case 9:
      w->block = 6;
      return (defect_t){"block size not a multiple of lanes", "not a multiple of lanes 4"};
  }
  return (defect_t){NULL, NULL};
}
#define N_DEFECTS 10

START_TEST(test_plan_rejects_bad_w) {
  sparrow_ops_fabric_t fab = fabric_of(config_named("S"));
  sparrow_bsr_t good;
  make_w(32, 32, 8, MASK_FULL, 0, 3, &good);
  for (int op = 0; op < 3; ++op) {
    for (int i = 0; i < N_DEFECTS; ++i) {
      sparrow_bsr_t w = good;
      uint32_t row_ptr[8], col_idx[32];
      memcpy(row_ptr, good.row_ptr, sizeof(uint32_t) * (good.block_rows + 1));
      memcpy(col_idx, good.col_idx, sizeof(uint32_t) * good.nnz_blocks);
      w.row_ptr = row_ptr;
      w.col_idx = col_idx;
      defect_t d = break_w(&w, i);
      sparrow_ops_sparse_plan_t plan;
      char msg[256] = "";
      ck_assert_int_eq(sparrow_ops_sparse_plan(&fab, (sparrow_ops_sparse_op_t)op, 16, &w, &plan,
                                               msg, sizeof(msg)),
                       SPARROW_OPS_E_ARG);
      ck_assert_msg(strstr(msg, d.message) != NULL, "%s: message '%s' lacks '%s'", d.what, msg,
                    d.message);
      ck_assert_ptr_null(plan.tasks);
    }
  }
  // A block size that the device's lanes do not divide (8 on a 16-lane fabric).
  sparrow_ops_fabric_t wide = fab;
  wide.lanes = 16;
  wide.pmu_words = 16 * 1024;
  sparrow_ops_sparse_plan_t plan;
  char msg[256] = "";
  ck_assert_int_eq(
      sparrow_ops_sparse_plan(&wide, SPARROW_OPS_SPMM, 16, &good, &plan, msg, sizeof(msg)),
      SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "block size 8 is not a multiple of lanes 16") != NULL, "%s", msg);
  // M = 0, a NULL W, missing values (spmm needs them; sddmm does not read them).
  ck_assert_int_eq(
      sparrow_ops_sparse_plan(&fab, SPARROW_OPS_SPMM, 0, &good, &plan, msg, sizeof(msg)),
      SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "M is 0") != NULL, "%s", msg);
  ck_assert_int_eq(
      sparrow_ops_sparse_plan(&fab, SPARROW_OPS_SPMM, 4, NULL, &plan, msg, sizeof(msg)),
      SPARROW_OPS_E_ARG);
  sparrow_bsr_t novalues = good;
  novalues.values = NULL;
  ck_assert_int_eq(
      sparrow_ops_sparse_plan(&fab, SPARROW_OPS_SPMM_T, 4, &novalues, &plan, msg, sizeof(msg)),
      SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "values is NULL") != NULL, "%s", msg);
  ck_assert_int_eq(
      sparrow_ops_sparse_plan(&fab, SPARROW_OPS_SDDMM, 4, &novalues, &plan, msg, sizeof(msg)),
      SPARROW_OPS_OK);
  sparrow_ops_sparse_plan_free(&plan);
  sparrow_bsr_free(&good);
}
END_TEST

// The operators through the driver with a malformed W: refused with the defect named, and the
// device saw nothing but the open handshake (the fake device counts every request).
START_TEST(test_bad_w_never_reaches_the_device) {
  sparrow_bsr_t good;
  make_w(32, 32, 8, MASK_FULL, 0, 4, &good);
  uint32_t *x = calloc(16 * 32, 4), *y = calloc(16 * 32, 4);
  uint32_t *dw = calloc((size_t)good.nnz_blocks * 64, 4);
  ck_assert(x && y && dw);
  for (int op = 0; op < 3; ++op) {
    for (int i = 0; i < N_DEFECTS; ++i) {
      fake_config_t cfg;
      memset(&cfg, 0, sizeof(cfg));
      fake_device_t *fake = NULL;
      sparrow_dev_t *dev = NULL;
      char msg[256] = "";
      ck_assert_int_eq(fake_open(&cfg, 5000, &fake, &dev, msg, sizeof(msg)), SPARROW_OK);
      int after_open = fake->requests;
      sparrow_bsr_t w = good;
      uint32_t row_ptr[8], col_idx[32];
      memcpy(row_ptr, good.row_ptr, sizeof(uint32_t) * (good.block_rows + 1));
      memcpy(col_idx, good.col_idx, sizeof(uint32_t) * good.nnz_blocks);
      w.row_ptr = row_ptr;
      w.col_idx = col_idx;
      defect_t d = break_w(&w, i);
      sparrow_ops_sparse_stats_t stats;
      sparrow_ops_status_t st;
      if (op == SPARROW_OPS_SPMM) {
        st = sparrow_ops_spmm(dev, 16, x, &w, y, &stats, msg, sizeof(msg));
      } else if (op == SPARROW_OPS_SPMM_T) {
        st = sparrow_ops_spmm_t(dev, 16, y, &w, x, &stats, msg, sizeof(msg));
      } else {
        st = sparrow_ops_sddmm(dev, 16, x, y, &w, dw, &stats, msg, sizeof(msg));
      }
      ck_assert_int_eq(st, SPARROW_OPS_E_ARG);
      ck_assert_msg(strstr(msg, d.message) != NULL, "%s: '%s'", d.what, msg);
      ck_assert_msg(strstr(msg, sparrow_ops_sparse_op_name((sparrow_ops_sparse_op_t)op)) != NULL,
                    "the message names the operator: '%s'", msg);
      // Every exchange is synchronous: what the fake counted so far is all it was sent.
      ck_assert_msg(fake->requests == after_open && fake->mem_writes == 0 &&
                        fake->prog_loads == 0 && fake->launched == 0,
                    "%s: the device saw %d request(s) after the handshake", d.what,
                    fake->requests - after_open);
      sparrow_close(dev);
      fake_stop(fake);
    }
  }
  // The same calls with the valid W do reach it (so the count above could have failed).
  fake_config_t cfg;
  memset(&cfg, 0, sizeof(cfg));
  fake_device_t *fake = NULL;
  sparrow_dev_t *dev = NULL;
  char msg[256] = "";
  ck_assert_int_eq(fake_open(&cfg, 5000, &fake, &dev, msg, sizeof(msg)), SPARROW_OK);
  int after_open = fake->requests;
  sparrow_ops_sparse_stats_t stats;
  // (The fake computes nothing; only that it was reached matters here.)
  sparrow_ops_status_t st = sparrow_ops_spmm(dev, 16, x, &good, y, &stats, msg, sizeof(msg));
  ck_assert_msg(st != SPARROW_OPS_E_ARG, "%s", msg);
  ck_assert_int_gt(fake->requests, after_open);
  ck_assert_int_gt(fake->mem_writes, 0);
  sparrow_close(dev);
  fake_stop(fake);
  free(x), free(y), free(dw);
  sparrow_bsr_free(&good);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// Program invariants: an independent reading of the entries, walking the index lists the programs
// load from the packed DRAM image.

typedef struct checker {
  const sparrow_ops_sparse_plan_t *plan;
  const uint8_t *dram;
  uint64_t addr[4];  // A, B, index, C
  uint64_t bytes[4];
  unit_regs_t units[SPARROW_OPS_PROG_UNITS];
  uint32_t idx[SPARROW_MAX_TILES][SPARROW_PMU_IDX_WORDS];
  uint8_t idx_loaded[SPARROW_MAX_TILES][SPARROW_PMU_IDX_WORDS];  // in this launch
  uint16_t *c_writes;
  uint64_t phases;
  uint64_t pcu_beat_pairs;
} checker_t;

static uint32_t cnt(const uint32_t *regs, uint32_t reg) {
  return regs[reg] == 0 ? 1 : regs[reg];
}

// The i-th address of an affine generator.
static int64_t agen_addr(const uint32_t *regs, uint32_t base_reg, uint32_t count_reg,
                         uint32_t stride_reg, uint64_t i) {
  int64_t a = (int64_t)regs[base_reg];
  for (uint32_t l = 0; l < SPARROW_LOOP_LEVELS; ++l) {
    uint32_t c = cnt(regs, count_reg + l);
    a += (int64_t)(i % c) * (int32_t)regs[stride_reg + l];
    i /= c;
  }
  return a;
}

static int is_gather(checker_t *ck, uint32_t t, uint32_t port) {
  return (port == SPARROW_PMU_PORT_RD0 || port == SPARROW_PMU_PORT_RD1) &&
         (pmu_port(ck->units, t, port)[SPARROW_PMU_PORT_GATHER] & 1u);
}

// Lines a gather port reads, releases it makes, and (through fn) every line address.
typedef void (*line_fn)(void *ctx, int64_t line, uint32_t slot);
static uint64_t gather_walk(checker_t *ck, uint32_t t, uint32_t port, uint64_t *releases,
                            line_fn fn, void *ctx) {
  const uint32_t *pt = pmu_port(ck->units, t, port);
  uint32_t base = pt[SPARROW_PMU_PORT_IDX_BASE], count = pt[SPARROW_PMU_PORT_IDX_COUNT];
  uint32_t c0 = cnt(pt, SPARROW_PMU_PORT_COUNT), c2 = cnt(pt, SPARROW_PMU_PORT_COUNT + 2);
  uint32_t c3 = cnt(pt, SPARROW_PMU_PORT_COUNT + 3);
  int32_t s0 = (int32_t)pt[SPARROW_PMU_PORT_STRIDE], s1 = (int32_t)pt[SPARROW_PMU_PORT_STRIDE + 1];
  int32_t s2 = (int32_t)pt[SPARROW_PMU_PORT_STRIDE + 2];
  uint64_t lines = 0, rel = 0;
  uint32_t slot = 0;
  for (uint32_t i3 = 0; i3 < c3; ++i3) {
    for (uint32_t e = 0; e < count; ++e) {
      uint32_t at = (base + e) % SPARROW_PMU_IDX_WORDS;
      ck_assert_msg(ck->idx_loaded[t][at], "tile %u port %u walks index word %u before loading it",
                    t, port, at);
      uint32_t w = ck->idx[t][at];
      ck_assert_msg((w & 0x3F000000u) == 0, "index word 0x%08x has reserved bits", w);
      if (!(w >> SPARROW_GATHER_SKIP_BIT & 1u)) {
        uint32_t off = w & ((1u << SPARROW_GATHER_OFFSET_BITS) - 1u);
        for (uint32_t i0 = 0; i0 < c0; ++i0) {
          if (fn != NULL) {
            fn(ctx,
               (int64_t)pt[SPARROW_PMU_PORT_BASE] + (int64_t)slot * s2 + (int64_t)off * s1 +
                   (int64_t)i0 * s0,
               slot);
          }
        }
        lines += c0;
      }
      if (w >> SPARROW_GATHER_RELEASE_BIT & 1u) {
        rel++;
        slot = (slot + 1) % c2;
      }
    }
  }
  if (releases != NULL) {
    *releases = rel;
  }
  return lines;
}

static uint64_t port_lines(checker_t *ck, uint32_t t, uint32_t port) {
  const uint32_t *pt = pmu_port(ck->units, t, port);
  if (!(pt[SPARROW_PMU_PORT_ENABLE] & 1u)) {
    return 0;
  }
  if (is_gather(ck, t, port)) {
    return gather_walk(ck, t, port, NULL, NULL, NULL);
  }
  return agen_total(pt, SPARROW_PMU_PORT_COUNT);
}

// Beat pairs of a PCU's phase: k_table or k_count per block.
static uint64_t pcu_pairs(checker_t *ck, uint32_t t) {
  const uint32_t *pcu = ck->units[SPARROW_UNIT_PCU + t].r;
  if (!(pcu[SPARROW_PCU_ENABLE] & 1u)) {
    return 0;
  }
  uint32_t n = pcu[SPARROW_PCU_K_TABLE_LEN];
  if (n > SPARROW_PCU_K_TABLE_ENTRIES) {
    n = SPARROW_PCU_K_TABLE_ENTRIES;
  }
  uint64_t pairs = 0;
  for (uint32_t b = 0; b < pcu[SPARROW_PCU_BLOCKS]; ++b) {
    pairs += n > 0 ? pcu[SPARROW_PCU_K_TABLE + b % n] : cnt(pcu, SPARROW_PCU_K_COUNT);
  }
  return pairs;
}

static uint64_t source_beats(void *ctx, uint32_t src) {
  checker_t *ck = ctx;
  uint32_t t = src / SPARROW_SWITCH_SRC_PER_TILE, kind = src % SPARROW_SWITCH_SRC_PER_TILE;
  uint32_t *pcu = ck->units[SPARROW_UNIT_PCU + t].r;
  switch (kind) {
    case SPARROW_SRC_AGCU_RD0:
    case SPARROW_SRC_AGCU_RD1: {
      uint32_t *ch = agcu_chan(
          ck->units, t,
          kind == SPARROW_SRC_AGCU_RD0 ? SPARROW_AGCU_CHANNEL_RD0 : SPARROW_AGCU_CHANNEL_RD1);
      return ch[SPARROW_AGCU_CHAN_ENABLE] ? agen_total(ch, SPARROW_AGCU_CHAN_COUNT) : 0;
    }
    case SPARROW_SRC_PMU_RD0:
      return port_lines(ck, t, SPARROW_PMU_PORT_RD0);
    case SPARROW_SRC_PMU_RD1:
      return port_lines(ck, t, SPARROW_PMU_PORT_RD1);
    case SPARROW_SRC_PCU_OUT:
      return pcu[SPARROW_PCU_ENABLE] ? (uint64_t)pcu[SPARROW_PCU_BLOCKS] * ck->plan->lanes : 0;
  }
  return 0;
}

static uint64_t dest_beats(void *ctx, uint32_t dst) {
  checker_t *ck = ctx;
  uint32_t t = dst / SPARROW_SWITCH_DST_PER_TILE, kind = dst % SPARROW_SWITCH_DST_PER_TILE;
  uint32_t *pcu = ck->units[SPARROW_UNIT_PCU + t].r;
  switch (kind) {
    case SPARROW_DST_AGCU_WR: {
      uint32_t *ch = agcu_chan(ck->units, t, SPARROW_AGCU_CHANNEL_WR);
      return ch[SPARROW_AGCU_CHAN_ENABLE] ? agen_total(ch, SPARROW_AGCU_CHAN_COUNT) : 0;
    }
    case SPARROW_DST_PMU_WR0:
      return port_lines(ck, t, SPARROW_PMU_PORT_WR0);
    case SPARROW_DST_PMU_WR1:
      return port_lines(ck, t, SPARROW_PMU_PORT_WR1);
    case SPARROW_DST_PCU_A:
    case SPARROW_DST_PCU_B:
      return pcu_pairs(ck, t);
    case SPARROW_DST_PCU_C:
      return (pcu[SPARROW_PCU_ENABLE] & 1u) && (pcu[SPARROW_PCU_ACC_INIT] & 1u)
                 ? (uint64_t)pcu[SPARROW_PCU_BLOCKS] * ck->plan->lanes
                 : 0;
  }
  return 0;
}

typedef struct mark_ctx {
  uint8_t *mark;
  uint8_t bit;
  uint32_t lines;
  int64_t slot_base;  // synchronized gather: the slot's lines [slot_base + slot*stride, + slot_len)
  int64_t slot_stride;
  int64_t slot_len;
  int bad, bad_slot;
} mark_ctx_t;

static void mark_line(void *vctx, int64_t line, uint32_t slot) {
  mark_ctx_t *ctx = vctx;
  if (line < 0 || line >= ctx->lines) {
    ctx->bad = 1;
    return;
  }
  if (ctx->slot_len > 0) {
    int64_t lo = ctx->slot_base + (int64_t)slot * ctx->slot_stride;
    if (line < lo || line >= lo + ctx->slot_len) {
      ctx->bad_slot = 1;
    }
  }
  ctx->mark[line] |= ctx->bit;
}

static void check_phase(void *ctx) {
  checker_t *ck = ctx;
  const sparrow_ops_sparse_plan_t *p = ck->plan;
  uint32_t *sw = ck->units[SPARROW_UNIT_SWITCH].r;
  ck->phases++;
  check_routes(sw, p->tiles, ck->phases, source_beats, dest_beats, ck);
  for (uint32_t t = 0; t < p->tiles; ++t) {
    ck->pcu_beat_pairs += pcu_pairs(ck, t);
    uint32_t *pmu = ck->units[SPARROW_UNIT_PMU + t].r;
    uint8_t *mark = calloc(p->pmu_lines, 1);
    ck_assert_ptr_nonnull(mark);
    static const uint32_t ports[4] = {SPARROW_PMU_PORT_RD0, SPARROW_PMU_PORT_RD1,
                                      SPARROW_PMU_PORT_WR0, SPARROW_PMU_PORT_WR1};
    static const uint8_t bits[4] = {1, 4, 2, 8};  // rd0, rd1, wr0, wr1
    int index_write = 0, gathering = 0;
    for (int i = 0; i < 4; ++i) {
      uint32_t *pt = pmu_port(ck->units, t, ports[i]);
      if (!(pt[SPARROW_PMU_PORT_ENABLE] & 1u)) {
        continue;
      }
      uint32_t buffer =
          ports[i] == SPARROW_PMU_PORT_RD0 || ports[i] == SPARROW_PMU_PORT_WR0 ? 0 : 1;
      const uint32_t *sync = &pmu[SPARROW_PMU_SYNC_BLOCK + 4 * buffer];
      mark_ctx_t mc = {mark, bits[i], p->pmu_lines, 0, 0, 0, 0, 0};
      if (i >= 2 && (pt[SPARROW_PMU_PORT_TARGET] & 1u)) {
        // An index write: its words come from the routed AGCU read, in the index memory's lines.
        index_write = 1;
        ck_assert_msg(!(sync[SPARROW_PMU_SYNC_ENABLE] & 1u), "tile %u: index write under sync", t);
        uint32_t v =
            sw[t * SPARROW_SWITCH_DST_PER_TILE +
               (ports[i] == SPARROW_PMU_PORT_WR0 ? SPARROW_DST_PMU_WR0 : SPARROW_DST_PMU_WR1)];
        uint32_t src = v & 0xFFu, kind = src % SPARROW_SWITCH_SRC_PER_TILE;
        ck_assert(kind == SPARROW_SRC_AGCU_RD0 || kind == SPARROW_SRC_AGCU_RD1);
        uint32_t *ch = agcu_chan(
            ck->units, src / SPARROW_SWITCH_SRC_PER_TILE,
            kind == SPARROW_SRC_AGCU_RD0 ? SPARROW_AGCU_CHANNEL_RD0 : SPARROW_AGCU_CHANNEL_RD1);
        uint64_t n = agen_total(pt, SPARROW_PMU_PORT_COUNT);
        uint32_t idx_lines = SPARROW_PMU_IDX_WORDS / p->lanes;
        for (uint64_t b = 0; b < n; ++b) {
          int64_t from = agen_addr(ch, SPARROW_AGCU_CHAN_BASE, SPARROW_AGCU_CHAN_COUNT,
                                   SPARROW_AGCU_CHAN_STRIDE, b);
          int64_t line = agen_addr(pt, SPARROW_PMU_PORT_BASE, SPARROW_PMU_PORT_COUNT,
                                   SPARROW_PMU_PORT_STRIDE, b);
          ck_assert(line >= 0 && line < idx_lines);
          ck_assert(from >= (int64_t)ck->addr[2] &&
                    from + 4 * p->lanes <= (int64_t)(ck->addr[2] + ck->bytes[2]));
          for (uint32_t l = 0; l < p->lanes; ++l) {
            memcpy(&ck->idx[t][line * p->lanes + l], ck->dram + from + 4 * l, 4);
            ck->idx_loaded[t][line * p->lanes + l] = 1;
          }
        }
        continue;
      }
      if (is_gather(ck, t, ports[i])) {
        gathering = 1;
        if (sync[SPARROW_PMU_SYNC_ENABLE] & 1u) {
          mc.slot_base = pt[SPARROW_PMU_PORT_BASE];
          mc.slot_stride = (int32_t)pt[SPARROW_PMU_PORT_STRIDE + 2];
          mc.slot_len = cnt(sync, SPARROW_PMU_SYNC_WR_LINES);
        }
        (void)gather_walk(ck, t, ports[i], NULL, mark_line, &mc);
      } else {
        uint64_t n = agen_total(pt, SPARROW_PMU_PORT_COUNT);
        for (uint64_t b = 0; b < n; ++b) {
          mark_line(&mc,
                    agen_addr(pt, SPARROW_PMU_PORT_BASE, SPARROW_PMU_PORT_COUNT,
                              SPARROW_PMU_PORT_STRIDE, b),
                    0);
        }
      }
      ck_assert_msg(!mc.bad, "tile %u PMU port %u leaves the PMU", t, ports[i]);
      ck_assert_msg(!mc.bad_slot, "tile %u PMU port %u gathers outside its slot", t, ports[i]);
    }
    ck_assert_msg(!(index_write && gathering),
                  "tile %u writes the index memory while a port gathers", t);
    for (uint32_t line = 0; line < p->pmu_lines; ++line) {
      int buf0 = (mark[line] & 3) != 0, buf1 = (mark[line] & 12) != 0;
      ck_assert_msg(!(buf0 && buf1), "tile %u: PMU line %u used by both buffers", t, line);
      for (uint32_t b = 0; b < 2; ++b) {
        uint8_t rw = b == 0 ? 3 : 12;
        if (!(pmu[SPARROW_PMU_SYNC_BLOCK + 4 * b + SPARROW_PMU_SYNC_ENABLE] & 1u)) {
          ck_assert_msg((mark[line] & rw) != rw,
                        "tile %u: unsynchronized buffer %u reads and writes line %u", t, b, line);
        }
      }
    }
    free(mark);
    // Sync: slots filled = slots consumed (affine reads by sync_rd_lines, gathers by releases).
    for (uint32_t b = 0; b < 2; ++b) {
      const uint32_t *sync = &pmu[SPARROW_PMU_SYNC_BLOCK + 4 * b];
      uint32_t wp = b == 0 ? SPARROW_PMU_PORT_WR0 : SPARROW_PMU_PORT_WR1;
      uint32_t rp = b == 0 ? SPARROW_PMU_PORT_RD0 : SPARROW_PMU_PORT_RD1;
      uint32_t *wr = pmu_port(ck->units, t, wp), *rd = pmu_port(ck->units, t, rp);
      if (!(sync[SPARROW_PMU_SYNC_ENABLE] & 1u) || !(wr[SPARROW_PMU_PORT_ENABLE] & 1u)) {
        continue;
      }
      ck_assert(rd[SPARROW_PMU_PORT_ENABLE] & 1u);
      ck_assert_uint_le(cnt(sync, SPARROW_PMU_SYNC_SLOTS), SPARROW_PMU_MAX_SLOTS);
      uint64_t wl = agen_total(wr, SPARROW_PMU_PORT_COUNT);
      ck_assert_uint_eq(wl % cnt(sync, SPARROW_PMU_SYNC_WR_LINES), 0);
      uint64_t filled = wl / cnt(sync, SPARROW_PMU_SYNC_WR_LINES);
      uint64_t consumed;
      if (is_gather(ck, t, rp)) {
        (void)gather_walk(ck, t, rp, &consumed, NULL, NULL);
        // The gather's ring is the writer's ring: the same slots, the same slot length.
        ck_assert_uint_eq(cnt(rd, SPARROW_PMU_PORT_COUNT + 2), cnt(sync, SPARROW_PMU_SYNC_SLOTS));
        ck_assert_uint_eq(cnt(wr, SPARROW_PMU_PORT_COUNT + 1), cnt(sync, SPARROW_PMU_SYNC_SLOTS));
      } else {
        uint64_t rl = agen_total(rd, SPARROW_PMU_PORT_COUNT);
        ck_assert_uint_eq(rl % cnt(sync, SPARROW_PMU_SYNC_RD_LINES), 0);
        consumed = rl / cnt(sync, SPARROW_PMU_SYNC_RD_LINES);
      }
      ck_assert_msg(filled == consumed, "tile %u buffer %u: %llu slots filled, %llu released", t, b,
                    (unsigned long long)filled, (unsigned long long)consumed);
    }
    // AGCU: reads inside A, B, the index lists or C; writes inside C, counted per beat.
    for (uint32_t chan = 0; chan < 3; ++chan) {
      uint32_t *ch = agcu_chan(ck->units, t, chan);
      if (!(ch[SPARROW_AGCU_CHAN_ENABLE] & 1u)) {
        continue;
      }
      uint64_t n = agen_total(ch, SPARROW_AGCU_CHAN_COUNT);
      int64_t first = agen_addr(ch, SPARROW_AGCU_CHAN_BASE, SPARROW_AGCU_CHAN_COUNT,
                                SPARROW_AGCU_CHAN_STRIDE, 0);
      int buf = 3;
      while (buf > 0 && first < (int64_t)ck->addr[buf]) {
        buf--;
      }
      ck_assert_msg(chan != SPARROW_AGCU_CHANNEL_WR || buf == 3, "tile %u writes outside C", t);
      for (uint64_t b = 0; b < n; ++b) {
        int64_t a = agen_addr(ch, SPARROW_AGCU_CHAN_BASE, SPARROW_AGCU_CHAN_COUNT,
                              SPARROW_AGCU_CHAN_STRIDE, b);
        ck_assert_msg(a % 4 == 0 && a >= (int64_t)ck->addr[buf] &&
                          a + 4 * p->lanes <= (int64_t)(ck->addr[buf] + ck->bytes[buf]),
                      "tile %u AGCU channel %u beat %llu at 0x%llx outside buffer %d", t, chan,
                      (unsigned long long)b, (long long)a, buf);
        if (chan == SPARROW_AGCU_CHANNEL_WR) {
          ck_assert_uint_eq((a - (int64_t)ck->addr[3]) % (4 * p->lanes), 0);
          ck->c_writes[(a - (int64_t)ck->addr[3]) / (4 * p->lanes)]++;
        }
      }
    }
  }
  disable_units(ck->units, p->tiles);
}

// The stored work in beat pairs: every (row lane-block, stored lane-block of B) pair of spmm, every
// stored output lane-block times M for sddmm.
static uint64_t stored_pairs(const sparrow_ops_sparse_plan_t *p) {
  uint64_t per = p->block / p->lanes;
  if (p->op == SPARROW_OPS_SDDMM) {
    return (uint64_t)p->nnz_blocks * per * per * p->m;
  }
  return (uint64_t)p->row_blocks * p->nnz_blocks * p->block * per;
}

static void check_programs(const sparrow_ops_sparse_plan_t *plan, const uint8_t *dram,
                           const uint64_t addr[4], const sparrow_ops_programs_t *progs) {
  checker_t *ck = calloc(1, sizeof(*ck));
  ck_assert_ptr_nonnull(ck);
  ck->plan = plan;
  ck->dram = dram;
  memcpy(ck->addr, addr, sizeof(ck->addr));
  ck->bytes[0] = plan->a_bytes, ck->bytes[1] = plan->b_bytes;
  ck->bytes[2] = plan->idx_bytes, ck->bytes[3] = plan->c_bytes;
  size_t c_beats = plan->c_bytes / (4 * plan->lanes);
  ck->c_writes = calloc(c_beats, sizeof(uint16_t));
  ck_assert_ptr_nonnull(ck->c_writes);
  ck_assert_uint_ge(progs->count, 1);
  for (size_t pi = 0; pi < progs->count; ++pi) {
    const uint64_t *e = progs->entries[pi];
    size_t n = progs->lengths[pi];
    ck_assert_uint_le(n, plan->prog_entries);
    // Each program is self-contained: registers and index memory it did not write are garbage.
    memset(ck->idx_loaded, 0, sizeof(ck->idx_loaded));
    walk_program(ck->units, plan->tiles, e, n, check_phase, ck);
  }
  // Every output beat is written once per chunk of the reduction; the PCUs did the stored work.
  for (size_t i = 0; i < c_beats; ++i) {
    ck_assert_msg(ck->c_writes[i] ==
                      (plan->nnz_blocks == 0 && plan->op == SPARROW_OPS_SDDMM ? 0 : plan->chunks),
                  "C beat %zu written %u times (want %u)", i, ck->c_writes[i], plan->chunks);
  }
  ck_assert_uint_eq(ck->pcu_beat_pairs, stored_pairs(plan));
  free(ck->c_writes);
  free(ck);
}

// ---------------------------------------------------------------------------------------------------
// One case: plan, pack, build, check the programs, and (run = 1) run them on the golden model.

typedef struct sparse_case {
  sparrow_ops_sparse_op_t op;
  uint32_t m, k, n, block;
  mask_kind_t mask;
  uint32_t param;
} sparse_case_t;

typedef struct case_result {
  uint64_t cycles, macs, dram_rd, dram_wr, est;
  uint32_t launches;
  size_t mismatches, count;
  double max_rel_err, tolerance;
} case_result_t;

static uint32_t *alloc_words(size_t n) {
  uint32_t *p = malloc(n * 4 + 4);
  ck_assert_ptr_nonnull(p);
  return p;
}

static case_result_t run_case(const sparrow_hw_config_t *cfg, const sparse_case_t *c, uint64_t seed,
                              uint32_t prog_entries, int on_model) {
  case_result_t res;
  memset(&res, 0, sizeof(res));
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  if (prog_entries != 0) {
    fab.prog_entries = prog_entries;
  }
  sparrow_bsr_t w;
  make_w(c->k, c->n, c->block, c->mask, c->param, seed, &w);
  sparrow_ops_sparse_plan_t plan;
  char msg[256] = "";
  ck_assert_msg(
      sparrow_ops_sparse_plan(&fab, c->op, c->m, &w, &plan, msg, sizeof(msg)) == SPARROW_OPS_OK,
      "plan: %s", msg);
  // Inputs: a = the streamed operand (X, dY or X), b = sddmm's dY.
  uint32_t a_cols = c->op == SPARROW_OPS_SPMM_T ? c->n : c->k;
  uint32_t *a = alloc_words((size_t)c->m * a_cols), *b = alloc_words((size_t)c->m * c->n);
  sparrow_ref_fill_uniform(seed * 7 + 1, (size_t)c->m * a_cols, a);
  sparrow_ref_fill_uniform(seed * 7 + 2, (size_t)c->m * c->n, b);
  // Buffers at odd (aligned) places in a DRAM image prefilled with 0xFF.
  uint64_t addr[4];
  addr[0] = 0x440;
  addr[1] = (addr[0] + plan.a_bytes + 0x7C0) & ~0x3Full;
  addr[2] = (addr[1] + plan.b_bytes + 0x100) & ~0x3Full;
  addr[3] = (addr[2] + plan.idx_bytes + 0x140) & ~0x3Full;
  uint64_t dram_bytes = addr[3] + plan.c_bytes + 0x1000;
  uint8_t *dram = malloc(dram_bytes);
  ck_assert_ptr_nonnull(dram);
  memset(dram, 0xFF, dram_bytes);
  sparrow_ops_sparse_pack_a(&plan, a, (uint32_t *)(dram + addr[0]));
  sparrow_ops_sparse_pack_b(&plan, &w, b, (uint32_t *)(dram + addr[1]));
  sparrow_ops_sparse_pack_idx(&plan, (uint32_t *)(dram + addr[2]));
  sparrow_ops_programs_t progs;
  ck_assert_int_eq(sparrow_ops_sparse_build(&plan, addr[0], addr[1], addr[2], addr[3], &progs),
                   SPARROW_OPS_OK);
  check_programs(&plan, dram, addr, &progs);
  res.launches = (uint32_t)progs.count;
  res.est = plan.est_cycles;
  if (on_model) {
    sparrow_model_t *model = sparrow_model_create(cfg, dram, dram_bytes, DRAM_BW, DRAM_LATENCY);
    ck_assert_ptr_nonnull(model);
    model_run_t run;
    memset(&run, 0, sizeof(run));
    char what[96];
    snprintf(what, sizeof(what), "%s %s %ux%ux%u", cfg->name, sparrow_ops_sparse_op_name(c->op),
             c->m, c->n, c->k);
    launch_programs(model, &progs, fab.prog_entries, 100000, what, &run);
    res.cycles = run.cycles;
    res.macs = run.macs;
    res.dram_rd = run.dram_rd;
    res.dram_wr = run.dram_wr;
    sparrow_model_destroy(model);
    // Nothing outside C was written.
    for (uint64_t i = 0; i < addr[3]; ++i) {
      ck_assert_msg(dram[i] == 0xFF || (i >= addr[0] && i < addr[0] + plan.a_bytes) ||
                        (i >= addr[1] && i < addr[1] + plan.b_bytes) ||
                        (i >= addr[2] && i < addr[2] + plan.idx_bytes),
                    "byte 0x%llx written outside the buffers", (unsigned long long)i);
    }
    for (uint64_t i = addr[3] + plan.c_bytes; i < dram_bytes; ++i) {
      ck_assert_uint_eq(dram[i], 0xFF);
    }
    // The result against the golden order and the plain reference.
    size_t count = c->op == SPARROW_OPS_SDDMM  ? (size_t)w.nnz_blocks * c->block * c->block
                   : c->op == SPARROW_OPS_SPMM ? (size_t)c->m * c->n
                                               : (size_t)c->m * c->k;
    uint32_t *got = alloc_words(count), *gold = alloc_words(count), *plain = alloc_words(count);
    double *mag = malloc(count * sizeof(double) + 8);
    ck_assert_ptr_nonnull(mag);
    sparrow_ops_sparse_unpack_c(&plan, (const uint32_t *)(dram + addr[3]), got);
    uint32_t terms;
    if (c->op == SPARROW_OPS_SPMM) {
      ck_assert_int_eq(sparrow_ref_spmm_golden(c->m, a, &w, gold, NULL), 0);
      ck_assert_int_eq(sparrow_ref_spmm_plain(c->m, a, &w, plain, mag), 0);
      terms = c->k;
    } else if (c->op == SPARROW_OPS_SPMM_T) {
      ck_assert_int_eq(sparrow_ref_spmm_t_golden(c->m, a, &w, gold, NULL), 0);
      ck_assert_int_eq(sparrow_ref_spmm_t_plain(c->m, a, &w, plain, mag), 0);
      terms = c->n;
    } else {
      ck_assert_int_eq(sparrow_ref_sddmm_golden(c->m, a, b, &w, gold, NULL), 0);
      ck_assert_int_eq(sparrow_ref_sddmm_plain(c->m, a, b, &w, plain, mag), 0);
      terms = c->m;
    }
    res.count = count;
    res.mismatches = sparrow_ref_count_mismatches(count, got, gold);
    res.max_rel_err = sparrow_ref_max_rel_err(count, got, plain, mag);
    res.tolerance = sparrow_ref_gemm_tolerance(terms);
    // The fabric counted exactly the stored work (padding rows of spmm included).
    ck_assert_uint_eq(res.macs, stored_pairs(&plan) * cfg->lanes * cfg->lanes);
    free(got), free(gold), free(plain), free(mag);
  }
  printf(
      "%s %-6s %4ux%4ux%4u b%-2u %-8s 1/%-2u nnz %5u: tiles %ux%u nb %u rounds %u chunk %u x%u "
      "slots %u seg %u%s, %u launch(es), est %llu%s",
      cfg->name, sparrow_ops_sparse_op_name(c->op), c->m, c->n, c->k, c->block, mask_name(c->mask),
      c->param, w.nnz_blocks, plan.col_groups, plan.row_groups, plan.nb, plan.rounds, plan.chunk,
      plan.chunks, plan.slots, plan.segments, plan.multicast ? " multicast" : "", res.launches,
      (unsigned long long)plan.est_cycles, on_model ? "" : "\n");
  if (on_model) {
    printf(": model %s (%zu of %zu differ), max_rel_err %.3g (tol %.3g), cycles %llu\n",
           res.mismatches == 0 ? "exact" : "DIFFERS", res.mismatches, res.count, res.max_rel_err,
           res.tolerance, (unsigned long long)res.cycles);
  }
  sparrow_ops_programs_free(&progs);
  sparrow_ops_sparse_plan_free(&plan);
  sparrow_bsr_free(&w);
  free(dram), free(a), free(b);
  return res;
}

// The cases on configuration S (lanes 4): blocks 4, 8 and 16; padded M; every mask kind; K, N and M
// larger than one PMU holds (chunks), N wide enough for several rounds.
static const sparse_case_t kCasesS[] = {
    {SPARROW_OPS_SPMM, 20, 48, 64, 8, MASK_BALANCED, 2},
    {SPARROW_OPS_SPMM, 1, 8, 8, 8, MASK_FULL, 1},
    {SPARROW_OPS_SPMM, 37, 96, 40, 8, MASK_RANDOM, 3},
    {SPARROW_OPS_SPMM, 9, 64, 64, 8, MASK_SINGLE, 5},
    {SPARROW_OPS_SPMM, 12, 32, 48, 8, MASK_EMPTY, 1},
    {SPARROW_OPS_SPMM, 64, 128, 128, 4, MASK_BALANCED, 4},
    {SPARROW_OPS_SPMM, 30, 64, 96, 16, MASK_BALANCED, 2},
    {SPARROW_OPS_SPMM, 12, 1200, 24, 8, MASK_BALANCED, 2},
    {SPARROW_OPS_SPMM, 8, 64, 512, 8, MASK_BALANCED, 8},
    {SPARROW_OPS_SPMM, 100, 256, 32, 8, MASK_RANDOM, 2},
    {SPARROW_OPS_SPMM_T, 20, 48, 64, 8, MASK_BALANCED, 2},
    {SPARROW_OPS_SPMM_T, 1, 8, 8, 8, MASK_FULL, 1},
    {SPARROW_OPS_SPMM_T, 37, 96, 40, 8, MASK_RANDOM, 3},
    {SPARROW_OPS_SPMM_T, 9, 64, 64, 8, MASK_SINGLE, 7},
    {SPARROW_OPS_SPMM_T, 12, 32, 48, 8, MASK_EMPTY, 1},
    {SPARROW_OPS_SPMM_T, 64, 128, 128, 4, MASK_BALANCED, 4},
    {SPARROW_OPS_SPMM_T, 12, 24, 1200, 8, MASK_BALANCED, 2},
    {SPARROW_OPS_SPMM_T, 8, 512, 64, 8, MASK_BALANCED, 8},
    {SPARROW_OPS_SDDMM, 20, 48, 64, 8, MASK_BALANCED, 2},
    {SPARROW_OPS_SDDMM, 1, 8, 8, 8, MASK_FULL, 1},
    {SPARROW_OPS_SDDMM, 37, 96, 40, 8, MASK_RANDOM, 3},
    {SPARROW_OPS_SDDMM, 9, 64, 64, 8, MASK_SINGLE, 5},
    {SPARROW_OPS_SDDMM, 12, 32, 48, 8, MASK_EMPTY, 1},
    {SPARROW_OPS_SDDMM, 64, 128, 128, 4, MASK_BALANCED, 4},
    {SPARROW_OPS_SDDMM, 30, 64, 96, 16, MASK_BALANCED, 2},
    {SPARROW_OPS_SDDMM, 700, 32, 40, 8, MASK_BALANCED, 2},
    {SPARROW_OPS_SDDMM, 16, 256, 256, 8, MASK_FULL, 1},
    {SPARROW_OPS_SDDMM, 24, 96, 512, 8, MASK_BALANCED, 8},
    {SPARROW_OPS_SDDMM, 8, 2048, 16, 8, MASK_FULL, 1},  // lists beyond the index memory: segments
    {SPARROW_OPS_SDDMM, 5, 24, 64, 8, MASK_RANDOM, 2},  // 6 strips: a ring of 3 slots
};
#define N_CASES_S (sizeof(kCasesS) / sizeof(kCasesS[0]))

// On M (lanes 8, block 8): a few shapes, the benchmark's among them (programs only).
static const sparse_case_t kCasesM[] = {
    {SPARROW_OPS_SPMM, 24, 64, 128, 8, MASK_BALANCED, 4},
    {SPARROW_OPS_SPMM_T, 24, 64, 128, 8, MASK_RANDOM, 3},
    {SPARROW_OPS_SDDMM, 24, 64, 128, 8, MASK_BALANCED, 4},
    {SPARROW_OPS_SPMM, 17, 48, 16, 16, MASK_FULL, 1},
};
#define N_CASES_M (sizeof(kCasesM) / sizeof(kCasesM[0]))

static const sparse_case_t kBenchM[] = {
    {SPARROW_OPS_SPMM, 256, 512, 512, 8, MASK_BALANCED, 1},
    {SPARROW_OPS_SPMM, 256, 512, 512, 8, MASK_BALANCED, 8},
    {SPARROW_OPS_SPMM_T, 256, 512, 512, 8, MASK_BALANCED, 8},
    {SPARROW_OPS_SDDMM, 256, 512, 512, 8, MASK_BALANCED, 8},
    {SPARROW_OPS_SPMM, 256, 512, 512, 8, MASK_BALANCED, 4},
    {SPARROW_OPS_SPMM_T, 256, 512, 512, 8, MASK_BALANCED, 4},
    {SPARROW_OPS_SDDMM, 256, 512, 512, 8, MASK_BALANCED, 4},
    {SPARROW_OPS_SDDMM, 256, 512, 512, 8, MASK_BALANCED, 1},
};
#define N_BENCH_M (sizeof(kBenchM) / sizeof(kBenchM[0]))

START_TEST(test_program_invariants_s) {
  run_case(config_named("S"), &kCasesS[_i], 100 + (uint64_t)_i, 0, 0);
}
END_TEST

START_TEST(test_program_invariants_m) {
  run_case(config_named("M"), &kCasesM[_i], 200 + (uint64_t)_i, 0, 0);
}
END_TEST

START_TEST(test_program_invariants_bench_m) {
  run_case(config_named("M"), &kBenchM[_i], 300 + (uint64_t)_i, 0, 0);
}
END_TEST

START_TEST(test_model_bit_exact_s) {
  const sparse_case_t *c = &kCasesS[_i];
  case_result_t r = run_case(config_named("S"), c, 100 + (uint64_t)_i, 0, 1);
  ck_assert_msg(r.mismatches == 0, "%s %ux%ux%u: %zu of %zu elements differ from the golden order",
                sparrow_ops_sparse_op_name(c->op), c->m, c->n, c->k, r.mismatches, r.count);
  ck_assert_msg(r.max_rel_err <= r.tolerance, "max_rel_err %g above tolerance %g", r.max_rel_err,
                r.tolerance);
}
END_TEST

START_TEST(test_model_bit_exact_m) {
  const sparse_case_t *c = &kCasesM[_i];
  case_result_t r = run_case(config_named("M"), c, 200 + (uint64_t)_i, 0, 1);
  ck_assert_msg(r.mismatches == 0, "%s: %zu elements differ", sparrow_ops_sparse_op_name(c->op),
                r.mismatches);
}
END_TEST

// Random cases, three in four on S and one on M: operator, sizes (M any, K and N multiples of the
// block), block 4 (S only), 8 or 16, every mask kind at random densities; a fixed seed per case, so
// a failure names its case.
START_TEST(test_model_random_cases) {
  uint64_t st = 0xC0FFEEull + (uint64_t)_i;
  const sparrow_hw_config_t *cfg = config_named(_i % 4 == 3 ? "M" : "S");
  sparse_case_t c;
  static const uint32_t blocks[3] = {4, 8, 16};
  c.op = (sparrow_ops_sparse_op_t)(splitmix(&st) % 3);
  do {
    c.block = blocks[splitmix(&st) % 3];
  } while (c.block % cfg->lanes != 0);
  c.m = 1 + (uint32_t)(splitmix(&st) % 90);
  c.k = c.block * (1 + (uint32_t)(splitmix(&st) % (192 / c.block)));
  c.n = c.block * (1 + (uint32_t)(splitmix(&st) % (192 / c.block)));
  c.mask = (mask_kind_t)(splitmix(&st) % 4);  // balanced, random, single, full
  static const uint32_t dens[5] = {1, 2, 4, 8, 16};
  c.param = c.mask == MASK_RANDOM   ? 1 + (uint32_t)(splitmix(&st) % 5)
            : c.mask == MASK_SINGLE ? (uint32_t)(splitmix(&st) % 1000)
                                    : dens[splitmix(&st) % 5];
  case_result_t r = run_case(cfg, &c, 500 + (uint64_t)_i, 0, 1);
  ck_assert_msg(r.mismatches == 0, "random case %d (%s %s %ux%ux%u b%u): %zu elements differ", _i,
                cfg->name, sparrow_ops_sparse_op_name(c.op), c.m, c.n, c.k, c.block, r.mismatches);
  ck_assert(r.max_rel_err <= r.tolerance);
}
END_TEST

// Programs split over many launches (a small program memory): the same bits.
START_TEST(test_model_many_launches) {
  static const sparse_case_t cases[] = {
      {SPARROW_OPS_SPMM, 24, 1200, 40, 8, MASK_BALANCED, 2},
      {SPARROW_OPS_SPMM_T, 20, 48, 512, 8, MASK_RANDOM, 2},
      {SPARROW_OPS_SDDMM, 700, 64, 96, 8, MASK_BALANCED, 2},
  };
  case_result_t r = run_case(config_named("S"), &cases[_i], 400 + (uint64_t)_i, 300, 1);
  ck_assert_uint_gt(r.launches, 1);
  ck_assert_uint_eq(r.mismatches, 0);
}
END_TEST

// With every block stored, spmm is the dense GEMM X * W and spmm_t the dense GEMM dY * W^T, bit for
// bit (and sddmm's dW is X^T * dY): the same accumulation order.
START_TEST(test_density_one_is_dense_gemm) {
  const sparrow_hw_config_t *cfg = config_named(_i == 0 ? "S" : "M");
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  const uint32_t m = 19, k = 48, n = 40;
  sparrow_bsr_t w;
  make_w(k, n, 8, MASK_FULL, 1, 77, &w);
  uint32_t *wd = alloc_words((size_t)k * n), *wt = alloc_words((size_t)k * n);
  ck_assert_int_eq(sparrow_bsr_to_dense(&w, (float *)(void *)wd, NULL, 0), SPARROW_BSR_OK);
  for (uint32_t i = 0; i < k; ++i)
    for (uint32_t j = 0; j < n; ++j)
      wt[(size_t)j * k + i] = wd[(size_t)i * n + j];
  uint32_t *x = alloc_words((size_t)m * k), *dy = alloc_words((size_t)m * n);
  sparrow_ref_fill_uniform(5, (size_t)m * k, x);
  sparrow_ref_fill_uniform(6, (size_t)m * n, dy);
  uint32_t *xt = alloc_words((size_t)m * k);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t j = 0; j < k; ++j)
      xt[(size_t)j * m + i] = x[(size_t)i * k + j];
  uint32_t *g1 = alloc_words((size_t)m * n), *g2 = alloc_words((size_t)m * k);
  uint32_t *g3 = alloc_words((size_t)k * n);
  sparrow_ref_gemm_golden(m, n, k, x, wd, g1, NULL);
  sparrow_ref_gemm_golden(m, k, n, dy, wt, g2, NULL);
  sparrow_ref_gemm_golden(k, n, m, xt, dy, g3, NULL);
  for (int op = 0; op < 3; ++op) {
    sparrow_ops_sparse_plan_t plan;
    ck_assert_int_eq(
        sparrow_ops_sparse_plan(&fab, (sparrow_ops_sparse_op_t)op, m, &w, &plan, NULL, 0),
        SPARROW_OPS_OK);
    uint64_t addr[4] = {0x100, 0, 0, 0};
    addr[1] = (addr[0] + plan.a_bytes + 63) & ~63ull;
    addr[2] = (addr[1] + plan.b_bytes + 63) & ~63ull;
    addr[3] = (addr[2] + plan.idx_bytes + 63) & ~63ull;
    uint64_t dram_bytes = addr[3] + plan.c_bytes + 64;
    uint8_t *dram = calloc(dram_bytes, 1);
    ck_assert_ptr_nonnull(dram);
    sparrow_ops_sparse_pack_a(&plan, op == SPARROW_OPS_SPMM_T ? dy : x,
                              (uint32_t *)(dram + addr[0]));
    sparrow_ops_sparse_pack_b(&plan, &w, dy, (uint32_t *)(dram + addr[1]));
    sparrow_ops_sparse_pack_idx(&plan, (uint32_t *)(dram + addr[2]));
    sparrow_ops_programs_t progs;
    ck_assert_int_eq(sparrow_ops_sparse_build(&plan, addr[0], addr[1], addr[2], addr[3], &progs),
                     SPARROW_OPS_OK);
    sparrow_model_t *model = sparrow_model_create(cfg, dram, dram_bytes, DRAM_BW, DRAM_LATENCY);
    ck_assert_ptr_nonnull(model);
    model_run_t run;
    memset(&run, 0, sizeof(run));
    launch_programs(model, &progs, fab.prog_entries, 0, cfg->name, &run);
    sparrow_model_destroy(model);
    if (op == SPARROW_OPS_SDDMM) {
      // dW's blocks against the dense X^T * dY, block by block.
      uint32_t *dwv = alloc_words((size_t)w.nnz_blocks * 64);
      sparrow_ops_sparse_unpack_c(&plan, (const uint32_t *)(dram + addr[3]), dwv);
      for (uint32_t br = 0; br < w.block_rows; ++br)
        for (uint32_t e = w.row_ptr[br]; e < w.row_ptr[br + 1]; ++e)
          for (uint32_t r = 0; r < 8; ++r)
            for (uint32_t cc = 0; cc < 8; ++cc)
              ck_assert_uint_eq(dwv[(size_t)e * 64 + r * 8 + cc],
                                g3[(size_t)(br * 8 + r) * n + w.col_idx[e] * 8 + cc]);
      free(dwv);
    } else {
      uint32_t cols = op == SPARROW_OPS_SPMM ? n : k;
      uint32_t *got = alloc_words((size_t)m * cols);
      sparrow_ops_sparse_unpack_c(&plan, (const uint32_t *)(dram + addr[3]), got);
      ck_assert_mem_eq(got, op == SPARROW_OPS_SPMM ? g1 : g2, (size_t)m * cols * 4);
      free(got);
    }
    sparrow_ops_programs_free(&progs);
    sparrow_ops_sparse_plan_free(&plan);
    free(dram);
  }
  free(wd), free(wt), free(x), free(dy), free(xt), free(g1), free(g2), free(g3);
  sparrow_bsr_free(&w);
}
END_TEST

// The references: a hand-checked product, skipped blocks (not zeros: Inf * 0 would be NaN), the
// fixed order.
START_TEST(test_references) {
  // W 8x8 (one block of 4 on 2x2 blocks): only block (1, 0) stored, holding 1.0 everywhere.
  float dense[64];
  for (int i = 0; i < 64; ++i)
    dense[i] = 1.0f;
  uint8_t mask[4] = {0, 0, 1, 0};
  sparrow_bsr_t w;
  ck_assert_int_eq(sparrow_bsr_from_dense(dense, 8, 8, 4, mask, &w, NULL, 0), SPARROW_BSR_OK);
  uint32_t x[8], y[8], p[8];
  double mag[8];
  const float xf[8] = {INFINITY, 1, 2, 3, 4, 5, 6, 7};  // x[0] meets only absent blocks
  memcpy(x, xf, sizeof(x));
  ck_assert_int_eq(sparrow_ref_spmm_golden(1, x, &w, y, NULL), 0);
  ck_assert_int_eq(sparrow_ref_spmm_plain(1, x, &w, p, mag), 0);
  const float want[8] = {22, 22, 22, 22, 0, 0, 0, 0};  // 4 + 5 + 6 + 7 in columns 0..3
  for (int i = 0; i < 8; ++i) {
    float g, q;
    memcpy(&g, &y[i], 4);
    memcpy(&q, &p[i], 4);
    ck_assert(g == want[i] && q == want[i]);
    ck_assert_uint_eq(y[i] == 0 ? 0u : 1u, want[i] == 0 ? 0u : 1u);
  }
  // spmm_t: dx[k] = sum over n of dy[n] W[k][n], stored: k in 4..7, n in 0..3.
  ck_assert_int_eq(sparrow_ref_spmm_t_golden(1, x, &w, y, NULL), 0);
  for (int i = 0; i < 4; ++i)
    ck_assert_uint_eq(y[i], 0);  // +0.0, never touched by the Inf
  float g;
  memcpy(&g, &y[4], 4);
  ck_assert(isinf(g));
  // sddmm: dw (one block, 16 values) = x^T dy over m = 1: x[4 + r] * dy[c].
  uint32_t dw[16];
  ck_assert_int_eq(sparrow_ref_sddmm_golden(1, x, x, &w, dw, NULL), 0);
  memcpy(&g, &dw[1 * 4 + 2], 4);
  ck_assert(g == 5.0f * 2.0f);
  // The golden order: 2^24 + 1 + 1 in ascending k rounds twice (plain gets 2^24 + 2).
  float d2[16] = {0};
  d2[0] = 1, d2[4] = 1, d2[8] = 1;  // W[0..2][0] = 1 in block (0, 0) of 4x4
  uint8_t m2[1] = {1};
  sparrow_bsr_t w2;
  ck_assert_int_eq(sparrow_bsr_from_dense(d2, 4, 4, 4, m2, &w2, NULL, 0), SPARROW_BSR_OK);
  const float x2f[4] = {16777216.0f, 1.0f, 1.0f, 0.0f};
  uint32_t x2[4], y2[4], p2[4];
  memcpy(x2, x2f, sizeof(x2));
  ck_assert_int_eq(sparrow_ref_spmm_golden(1, x2, &w2, y2, NULL), 0);
  ck_assert_int_eq(sparrow_ref_spmm_plain(1, x2, &w2, p2, mag), 0);
  ck_assert_uint_eq(y2[0], 0x4B800000u);
  ck_assert_uint_eq(p2[0], 0x4B800001u);
  // A broken W is refused.
  sparrow_bsr_t bad = w;
  bad.row_ptr = NULL;
  ck_assert_int_eq(sparrow_ref_spmm_golden(1, x, &bad, y, NULL), -1);
  sparrow_bsr_free(&w);
  sparrow_bsr_free(&w2);
}
END_TEST

#ifndef N_RANDOM_CASES
#define N_RANDOM_CASES 40
#endif

static Suite *sparse_suite(void) {
  Suite *s = suite_create("ops_sparse");
  // "checks" does no binary32 arithmetic; it also runs under valgrind (tests/list.d/sparse.sh),
  // which sees every failure path of the planner and the operators free what it took.
  TCase *tk = tcase_create("checks");
  tcase_set_timeout(tk, 300);
  tcase_add_test(tk, test_program_gather_helpers);
  tcase_add_test(tk, test_plan_rejects_bad_w);
  tcase_add_test(tk, test_bad_w_never_reaches_the_device);
  suite_add_tcase(s, tk);
  TCase *tc = tcase_create("builder");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_references);
  tcase_add_loop_test(tc, test_program_invariants_s, 0, N_CASES_S);
  tcase_add_loop_test(tc, test_program_invariants_m, 0, N_CASES_M);
  tcase_add_loop_test(tc, test_program_invariants_bench_m, 0, N_BENCH_M);
  suite_add_tcase(s, tc);
  TCase *tm = tcase_create("model");
  tcase_set_timeout(tm, 600);
  tcase_add_loop_test(tm, test_model_bit_exact_s, 0, N_CASES_S);
  tcase_add_loop_test(tm, test_model_bit_exact_m, 0, N_CASES_M);
  tcase_add_loop_test(tm, test_model_many_launches, 0, 3);
  tcase_add_loop_test(tm, test_model_random_cases, 0, N_RANDOM_CASES);
  tcase_add_loop_test(tm, test_density_one_is_dense_gemm, 0, 2);
  suite_add_tcase(s, tm);
  return s;
}

int main(void) {
  const char *why = NULL;
  // The checks case alone needs no host arithmetic (and valgrind, which runs it, does not emulate
  // the MXCSR flags the self-check reads).
  const char *only = getenv("CK_RUN_CASE");
  int arithmetic = only == NULL || strcmp(only, "checks") != 0;
  if (arithmetic && sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    fprintf(stderr, "test_ops_sparse: host arithmetic unsuitable: %s\n", why);
    return 1;
  }
  SRunner *sr = srunner_create(sparse_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
