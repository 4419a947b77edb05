// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the ops library's GEMM (host/ops): packing, the planner, the invariants of every
// generated program (entry encoding, beat counts between each route's producer and consumer, PMU
// regions, DRAM ranges, coverage of C), and — when the golden model is built — the programs run on
// the model in-process through its CSR window, compared bit for bit with the golden-order C GEMM.
// The in-process model is a test harness only; the CLI goes through the driver.

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "ops_fixture.h"
#include "program.h"
#include "sparrow_hw.h"
#include "sparrow_model.h"
#include "sparrow_ops.h"
#include "sparrow_ref.h"

// Shapes every test walks: odd sizes, 1x1x1, tall and skinny, K larger than a PMU holds.
typedef struct shape {
  uint32_t m, n, k;
} shape_t;
static const shape_t kShapes[] = {
    {1, 1, 1},      {1, 7, 3},      {5, 1, 9},    {4, 4, 4},      {8, 8, 8},     {20, 36, 50},
    {17, 33, 65},   {64, 64, 64},   {3, 200, 17}, {200, 3, 17},   {9, 9, 1},     {33, 5, 700},
    {16, 40, 1500}, {72, 24, 2100}, {256, 16, 8}, {13, 130, 300}, {40, 8, 4100},
};
#define N_SHAPES (sizeof(kShapes) / sizeof(kShapes[0]))

// ---------------------------------------------------------------------------------------------------
// Packing.

START_TEST(test_pack_round_trip) {
  const sparrow_hw_config_t *cfg = config_named(_i == 0 ? "S" : "M");
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  for (size_t s = 0; s < N_SHAPES; ++s) {
    uint32_t m = kShapes[s].m, n = kShapes[s].n, k = kShapes[s].k;
    sparrow_ops_gemm_plan_t plan;
    ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, m, n, k, &plan), SPARROW_OPS_OK);
    ck_assert_uint_eq(plan.mp % cfg->lanes, 0);
    ck_assert_uint_eq(plan.np % cfg->lanes, 0);
    ck_assert_uint_ge(plan.mp, m);
    ck_assert_uint_ge(plan.np, n);
    ck_assert_uint_lt(plan.np, n + cfg->lanes);
    ck_assert_uint_lt(plan.mp, m + 2 * cfg->lanes);
    uint32_t *a = malloc(4ull * m * k), *b = malloc(4ull * k * n), *c = malloc(4ull * m * n);
    uint32_t *at = malloc(plan.a_bytes), *bp = malloc(plan.b_bytes), *cp = malloc(plan.c_bytes);
    ck_assert(a && b && c && at && bp && cp);
    for (size_t i = 0; i < (size_t)m * k; ++i)
      a[i] = 0x40000000u + (uint32_t)i;
    for (size_t i = 0; i < (size_t)k * n; ++i)
      b[i] = 0x50000000u + (uint32_t)i;
    sparrow_ops_gemm_pack_a(&plan, a, at);
    sparrow_ops_gemm_pack_b(&plan, b, bp);
    for (uint32_t kk = 0; kk < k; ++kk) {
      for (uint32_t i = 0; i < plan.mp; ++i) {
        uint32_t want = i < m ? a[(size_t)i * k + kk] : 0u;
        ck_assert_uint_eq(at[(size_t)kk * plan.mp + i], want);
      }
      for (uint32_t j = 0; j < plan.np; ++j) {
        uint32_t want = j < n ? b[(size_t)kk * n + j] : 0u;
        ck_assert_uint_eq(bp[(size_t)kk * plan.np + j], want);
      }
    }
    for (size_t i = 0; i < plan.c_bytes / 4; ++i)
      cp[i] = (uint32_t)(i * 2654435761u);
    sparrow_ops_gemm_unpack_c(&plan, cp, c);
    for (uint32_t i = 0; i < m; ++i) {
      for (uint32_t j = 0; j < n; ++j) {
        ck_assert_uint_eq(c[(size_t)i * n + j], cp[(size_t)i * plan.np + j]);
      }
    }
    free(a), free(b), free(c), free(at), free(bp), free(cp);
  }
}
END_TEST

START_TEST(test_plan_rejects_bad_input) {
  sparrow_ops_fabric_t fab = fabric_of(config_named("S"));
  sparrow_ops_gemm_plan_t plan;
  ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, 0, 4, 4, &plan), SPARROW_OPS_E_ARG);
  ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, 4, 0, 4, &plan), SPARROW_OPS_E_ARG);
  ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, 4, 4, 0, &plan), SPARROW_OPS_E_ARG);
  ck_assert_int_eq(sparrow_ops_gemm_plan(NULL, 4, 4, 4, &plan), SPARROW_OPS_E_ARG);
  ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, 4, 4, 4, NULL), SPARROW_OPS_E_ARG);
  sparrow_ops_fabric_t bad = fab;
  bad.tiles = 0;
  ck_assert_int_eq(sparrow_ops_gemm_plan(&bad, 4, 4, 4, &plan), SPARROW_OPS_E_ARG);
  bad = fab;
  bad.lanes = 0;
  ck_assert_int_eq(sparrow_ops_gemm_plan(&bad, 4, 4, 4, &plan), SPARROW_OPS_E_ARG);
  // 2^31 rows of C do not fit 32-bit device addresses.
  ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, 0x80000000u, 64, 64, &plan),
                   SPARROW_OPS_E_UNSUPPORTED);
}
END_TEST

// Every (row block, column block) of C belongs to exactly one tile in exactly one round, and the
// PMU holds the ring and the B chunk.
START_TEST(test_plan_covers_c_once) {
  const sparrow_hw_config_t *cfg = config_named(_i == 0 ? "S" : "M");
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  for (size_t s = 0; s < N_SHAPES; ++s) {
    sparrow_ops_gemm_plan_t plan;
    ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, kShapes[s].m, kShapes[s].n, kShapes[s].k, &plan),
                     SPARROW_OPS_OK);
    ck_assert(plan.mblocks == 1 || plan.mblocks % 2 == 0);
    ck_assert_uint_le(plan.b_region + plan.nb * plan.kc, plan.pmu_lines);
    ck_assert_uint_eq(plan.b_region, 2 * plan.kc);
    ck_assert_uint_ge((uint64_t)plan.kc * plan.k_chunks, plan.k);
    ck_assert_uint_lt((uint64_t)plan.kc * (plan.k_chunks - 1), plan.k);
    uint8_t *seen = calloc((size_t)plan.mblocks * plan.nblocks, 1);
    ck_assert_ptr_nonnull(seen);
    for (uint32_t r = 0; r < plan.rounds; ++r) {
      for (uint32_t t = 0; t < plan.tiles; ++t) {
        sparrow_ops_gemm_task_t task;
        sparrow_ops_gemm_task(&plan, r, t, &task);
        if (task.mb == 0) {
          continue;
        }
        ck_assert(task.mb == 1 || task.mb % 2 == 0);
        ck_assert_uint_le(task.nb, plan.nb);
        for (uint32_t ib = task.ib0; ib < task.ib0 + task.mb; ++ib) {
          for (uint32_t jb = task.jb0; jb < task.jb0 + task.nb; ++jb) {
            ck_assert_uint_lt(ib, plan.mblocks);
            ck_assert_uint_lt(jb, plan.nblocks);
            seen[(size_t)ib * plan.nblocks + jb]++;
          }
        }
      }
    }
    for (size_t i = 0; i < (size_t)plan.mblocks * plan.nblocks; ++i) {
      ck_assert_msg(seen[i] == 1, "shape %ux%ux%u: block %zu covered %u times", kShapes[s].m,
                    kShapes[s].n, kShapes[s].k, i, seen[i]);
    }
    free(seen);
  }
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// Program invariants: an independent reading of the entries (not an interpreter of the data).

typedef struct checker {
  const sparrow_ops_gemm_plan_t *plan;
  uint64_t a_addr, b_addr, c_addr;
  unit_regs_t units[SPARROW_OPS_PROG_UNITS];
  uint16_t *c_writes;  // writes per C beat (Mp x Np / lanes beats)
  uint64_t phases;
  uint64_t pcu_beat_pairs;
} checker_t;

// Calls fn for every address of a generator (in order).
typedef void (*addr_fn)(void *ctx, int64_t addr);
static void agen_walk(const uint32_t *regs, uint32_t base_reg, uint32_t count_reg,
                      uint32_t stride_reg, addr_fn fn, void *ctx) {
  uint32_t c[4];
  int32_t s[4];
  for (int l = 0; l < 4; ++l) {
    c[l] = regs[count_reg + l] == 0 ? 1 : regs[count_reg + l];
    s[l] = (int32_t)regs[stride_reg + l];
  }
  for (uint32_t i3 = 0; i3 < c[3]; ++i3)
    for (uint32_t i2 = 0; i2 < c[2]; ++i2)
      for (uint32_t i1 = 0; i1 < c[1]; ++i1)
        for (uint32_t i0 = 0; i0 < c[0]; ++i0)
          fn(ctx, (int64_t)regs[base_reg] + (int64_t)i0 * s[0] + (int64_t)i1 * s[1] +
                      (int64_t)i2 * s[2] + (int64_t)i3 * s[3]);
}

typedef struct range_ctx {
  int64_t lo, hi;  // allowed [lo, hi)
  int64_t span;    // bytes (AGCU) or 1 line (PMU) per access
  int bad;
  uint8_t *mark;  // optional: PMU lines touched
  uint8_t bit;
} range_ctx_t;

static void range_fn(void *vctx, int64_t addr) {
  range_ctx_t *ctx = vctx;
  if (addr < ctx->lo || addr + ctx->span > ctx->hi) {
    ctx->bad = 1;
    return;
  }
  if (ctx->mark != NULL) {
    ctx->mark[addr] |= ctx->bit;
  }
}

typedef struct cw_ctx {
  checker_t *ck;
  int bad;
} cw_ctx_t;

static void c_write_fn(void *vctx, int64_t addr) {
  cw_ctx_t *ctx = vctx;
  const sparrow_ops_gemm_plan_t *p = ctx->ck->plan;
  int64_t off = addr - (int64_t)ctx->ck->c_addr;
  if (off < 0 || off % (4 * p->lanes) != 0 || off + 4 * p->lanes > (int64_t)p->c_bytes) {
    ctx->bad = 1;
    return;
  }
  ctx->ck->c_writes[off / (4 * p->lanes)]++;
}

// Beats a source produces in this phase (0 when disabled).
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
    case SPARROW_SRC_PMU_RD1: {
      uint32_t *pt = pmu_port(
          ck->units, t, kind == SPARROW_SRC_PMU_RD0 ? SPARROW_PMU_PORT_RD0 : SPARROW_PMU_PORT_RD1);
      return pt[SPARROW_PMU_PORT_ENABLE] ? agen_total(pt, SPARROW_PMU_PORT_COUNT) : 0;
    }
    case SPARROW_SRC_PCU_OUT:
      return pcu[SPARROW_PCU_ENABLE] ? (uint64_t)pcu[SPARROW_PCU_BLOCKS] * ck->plan->lanes : 0;
  }
  return 0;
}

// Beats a destination takes in this phase (0 when its unit is idle).
static uint64_t dest_beats(void *ctx, uint32_t dst) {
  checker_t *ck = ctx;
  uint32_t t = dst / SPARROW_SWITCH_DST_PER_TILE, kind = dst % SPARROW_SWITCH_DST_PER_TILE;
  uint32_t *pcu = ck->units[SPARROW_UNIT_PCU + t].r;
  uint64_t blocks = pcu[SPARROW_PCU_ENABLE] ? pcu[SPARROW_PCU_BLOCKS] : 0;
  switch (kind) {
    case SPARROW_DST_AGCU_WR: {
      uint32_t *ch = agcu_chan(ck->units, t, SPARROW_AGCU_CHANNEL_WR);
      return ch[SPARROW_AGCU_CHAN_ENABLE] ? agen_total(ch, SPARROW_AGCU_CHAN_COUNT) : 0;
    }
    case SPARROW_DST_PMU_WR0:
    case SPARROW_DST_PMU_WR1: {
      uint32_t *pt = pmu_port(
          ck->units, t, kind == SPARROW_DST_PMU_WR0 ? SPARROW_PMU_PORT_WR0 : SPARROW_PMU_PORT_WR1);
      return pt[SPARROW_PMU_PORT_ENABLE] ? agen_total(pt, SPARROW_PMU_PORT_COUNT) : 0;
    }
    case SPARROW_DST_PCU_A:
    case SPARROW_DST_PCU_B:
      return blocks * pcu[SPARROW_PCU_K_COUNT];
    case SPARROW_DST_PCU_C:
      return pcu[SPARROW_PCU_ACC_INIT] ? blocks * ck->plan->lanes : 0;
  }
  return 0;
}

static void check_phase(void *ctx) {
  checker_t *ck = ctx;
  const sparrow_ops_gemm_plan_t *p = ck->plan;
  uint32_t *sw = ck->units[SPARROW_UNIT_SWITCH].r;
  ck->phases++;
  // Routes: every beat produced is consumed by each routed destination, every consumer's beats are
  // produced by its source.
  check_routes(sw, p->tiles, ck->phases, source_beats, dest_beats, ck);
  for (uint32_t t = 0; t < p->tiles; ++t) {
    uint32_t *pcu = ck->units[SPARROW_UNIT_PCU + t].r;
    if (pcu[SPARROW_PCU_ENABLE]) {
      ck_assert_uint_eq(pcu[SPARROW_PCU_MODE], SPARROW_PCU_MODE_GEMM);
      ck->pcu_beat_pairs += (uint64_t)pcu[SPARROW_PCU_BLOCKS] * pcu[SPARROW_PCU_K_COUNT];
    }
    // PMU: addresses inside the PMU (never relying on wrap-around); buffer 0's lines and buffer 1's
    // lines disjoint; an unsynchronized buffer never reads what it writes in the same phase.
    uint8_t *mark = calloc(p->pmu_lines, 1);
    ck_assert_ptr_nonnull(mark);
    static const uint32_t ports[4] = {SPARROW_PMU_PORT_RD0, SPARROW_PMU_PORT_RD1,
                                      SPARROW_PMU_PORT_WR0, SPARROW_PMU_PORT_WR1};
    static const uint8_t bits[4] = {1, 4, 2, 8};  // rd0, rd1, wr0, wr1
    for (int i = 0; i < 4; ++i) {
      uint32_t *pt = pmu_port(ck->units, t, ports[i]);
      if (!pt[SPARROW_PMU_PORT_ENABLE]) {
        continue;
      }
      range_ctx_t rc = {0, p->pmu_lines, 1, 0, mark, bits[i]};
      agen_walk(pt, SPARROW_PMU_PORT_BASE, SPARROW_PMU_PORT_COUNT, SPARROW_PMU_PORT_STRIDE,
                range_fn, &rc);
      ck_assert_msg(!rc.bad, "tile %u PMU port %u leaves the PMU", t, ports[i]);
    }
    uint32_t *pmu = ck->units[SPARROW_UNIT_PMU + t].r;
    for (uint32_t line = 0; line < p->pmu_lines; ++line) {
      int buf0 = (mark[line] & 3) != 0, buf1 = (mark[line] & 12) != 0;
      ck_assert_msg(!(buf0 && buf1), "tile %u: PMU line %u used by both buffers", t, line);
      for (uint32_t b = 0; b < 2; ++b) {
        uint8_t rw = b == 0 ? 3 : 12;
        if (!pmu[SPARROW_PMU_SYNC_BLOCK + 4 * b + SPARROW_PMU_SYNC_ENABLE]) {
          ck_assert_msg((mark[line] & rw) != rw,
                        "tile %u: unsynchronized buffer %u reads and writes line %u", t, b, line);
        }
      }
    }
    free(mark);
    // Sync: the write side fills exactly as many slots as the read side consumes.
    for (uint32_t b = 0; b < 2; ++b) {
      const uint32_t *sync = &pmu[SPARROW_PMU_SYNC_BLOCK + 4 * b];
      uint32_t *wr = pmu_port(ck->units, t, b == 0 ? SPARROW_PMU_PORT_WR0 : SPARROW_PMU_PORT_WR1);
      uint32_t *rd = pmu_port(ck->units, t, b == 0 ? SPARROW_PMU_PORT_RD0 : SPARROW_PMU_PORT_RD1);
      if (!sync[SPARROW_PMU_SYNC_ENABLE] || !wr[SPARROW_PMU_PORT_ENABLE]) {
        continue;
      }
      ck_assert(rd[SPARROW_PMU_PORT_ENABLE]);
      ck_assert_uint_ge(sync[SPARROW_PMU_SYNC_SLOTS], 1);
      ck_assert_uint_le(sync[SPARROW_PMU_SYNC_SLOTS], SPARROW_PMU_MAX_SLOTS);
      uint64_t wl = agen_total(wr, SPARROW_PMU_PORT_COUNT);
      uint64_t rl = agen_total(rd, SPARROW_PMU_PORT_COUNT);
      ck_assert_uint_eq(wl % sync[SPARROW_PMU_SYNC_WR_LINES], 0);
      ck_assert_uint_eq(rl % sync[SPARROW_PMU_SYNC_RD_LINES], 0);
      ck_assert_uint_eq(wl / sync[SPARROW_PMU_SYNC_WR_LINES], rl / sync[SPARROW_PMU_SYNC_RD_LINES]);
    }
    // AGCU: reads inside A^T, B or C; writes inside C, counted per beat.
    for (uint32_t chan = 0; chan < 3; ++chan) {
      uint32_t *ch = agcu_chan(ck->units, t, chan);
      if (!ch[SPARROW_AGCU_CHAN_ENABLE]) {
        continue;
      }
      ck_assert_uint_eq(ch[SPARROW_AGCU_CHAN_BASE] % 4, 0);
      if (chan == SPARROW_AGCU_CHANNEL_WR) {
        cw_ctx_t cw = {ck, 0};
        agen_walk(ch, SPARROW_AGCU_CHAN_BASE, SPARROW_AGCU_CHAN_COUNT, SPARROW_AGCU_CHAN_STRIDE,
                  c_write_fn, &cw);
        ck_assert_msg(!cw.bad, "tile %u writes outside C", t);
        continue;
      }
      uint64_t base = ch[SPARROW_AGCU_CHAN_BASE];
      uint64_t lo, size;
      if (base >= ck->c_addr) {
        lo = ck->c_addr, size = p->c_bytes;
      } else if (base >= ck->b_addr) {
        lo = ck->b_addr, size = p->b_bytes;
      } else {
        lo = ck->a_addr, size = p->a_bytes;
      }
      range_ctx_t rc = {(int64_t)lo, (int64_t)(lo + size), 4 * p->lanes, 0, NULL, 0};
      agen_walk(ch, SPARROW_AGCU_CHAN_BASE, SPARROW_AGCU_CHAN_COUNT, SPARROW_AGCU_CHAN_STRIDE,
                range_fn, &rc);
      ck_assert_msg(!rc.bad, "tile %u AGCU channel %u reads outside its buffer", t, chan);
    }
  }
  // Enables end with the phase.
  disable_units(ck->units, p->tiles);
}

static void check_programs(const sparrow_ops_gemm_plan_t *plan, uint64_t a_addr, uint64_t b_addr,
                           uint64_t c_addr, const sparrow_ops_programs_t *progs) {
  checker_t *ck = calloc(1, sizeof(*ck));
  ck_assert_ptr_nonnull(ck);
  ck->plan = plan;
  ck->a_addr = a_addr, ck->b_addr = b_addr, ck->c_addr = c_addr;
  size_t c_beats = plan->c_bytes / (4 * plan->lanes);
  ck->c_writes = calloc(c_beats, sizeof(uint16_t));
  ck_assert_ptr_nonnull(ck->c_writes);
  ck_assert_uint_ge(progs->count, 1);
  for (size_t pi = 0; pi < progs->count; ++pi) {
    const uint64_t *e = progs->entries[pi];
    size_t n = progs->lengths[pi];
    ck_assert_uint_le(n, plan->prog_entries);
    // Each program is self-contained: start from registers the builder cannot know (all ones).
    walk_program(ck->units, plan->tiles, e, n, check_phase, ck);
  }
  // Every C beat is written once per chunk of K; the PCUs see every (block, k) pair once.
  for (size_t i = 0; i < c_beats; ++i) {
    ck_assert_msg(ck->c_writes[i] == plan->k_chunks, "C beat %zu written %u times (want %u)", i,
                  ck->c_writes[i], plan->k_chunks);
  }
  ck_assert_uint_eq(ck->pcu_beat_pairs, (uint64_t)plan->mblocks * plan->nblocks * plan->k);
  free(ck->c_writes);
  free(ck);
}

START_TEST(test_program_invariants) {
  const sparrow_hw_config_t *cfg = config_named(_i == 0 ? "S" : "M");
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  for (size_t s = 0; s < N_SHAPES; ++s) {
    sparrow_ops_gemm_plan_t plan;
    ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, kShapes[s].m, kShapes[s].n, kShapes[s].k, &plan),
                     SPARROW_OPS_OK);
    uint64_t a_addr = 0x1000, b_addr = a_addr + plan.a_bytes + 0x40;
    uint64_t c_addr = b_addr + plan.b_bytes + 0x40;
    sparrow_ops_programs_t progs;
    ck_assert_int_eq(sparrow_ops_gemm_build(&plan, a_addr, b_addr, c_addr, &progs), SPARROW_OPS_OK);
    check_programs(&plan, a_addr, b_addr, c_addr, &progs);
    size_t entries = 0;
    for (size_t i = 0; i < progs.count; ++i)
      entries += progs.lengths[i];
    printf(
        "%s %4ux%4ux%4u: nb %u kc %u chunks %u rounds %u groups %ux%u, %zu launch(es), "
        "%zu entries, est %llu cycles\n",
        cfg->name, plan.m, plan.n, plan.k, plan.nb, plan.kc, plan.k_chunks, plan.rounds,
        plan.col_groups, plan.row_groups, progs.count, entries,
        (unsigned long long)plan.est_cycles);
    sparrow_ops_programs_free(&progs);
  }
}
END_TEST

// A tiny program limit forces many launches; each must still be self-contained and valid.
START_TEST(test_program_split_into_launches) {
  sparrow_ops_fabric_t fab = fabric_of(config_named("S"));
  fab.prog_entries = 200;
  sparrow_ops_gemm_plan_t plan;
  ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, 24, 40, 1500, &plan), SPARROW_OPS_OK);
  sparrow_ops_programs_t progs;
  ck_assert_int_eq(
      sparrow_ops_gemm_build(&plan, 0, plan.a_bytes, plan.a_bytes + plan.b_bytes, &progs),
      SPARROW_OPS_OK);
  ck_assert_uint_gt(progs.count, 1);
  check_programs(&plan, 0, plan.a_bytes, plan.a_bytes + plan.b_bytes, &progs);
  sparrow_ops_programs_free(&progs);
  // A limit below one phase pair cannot work, and says so.
  fab.prog_entries = 12;
  ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, 24, 40, 100, &plan), SPARROW_OPS_OK);
  ck_assert_int_eq(
      sparrow_ops_gemm_build(&plan, 0, plan.a_bytes, plan.a_bytes + plan.b_bytes, &progs),
      SPARROW_OPS_E_UNSUPPORTED);
  ck_assert_uint_eq(progs.count, 0);
  // Addresses beyond 32 bits are refused.
  ck_assert_int_eq(sparrow_ops_gemm_build(&plan, 0xFFFFFF00ull, 0, 0x10000, &progs),
                   SPARROW_OPS_E_UNSUPPORTED);
}
END_TEST

START_TEST(test_entry_encoding) {
  ck_assert_uint_eq(
      sparrow_ops_entry_cfg(0x31, 0x0004, 0xDEADBEEF),
      ((uint64_t)SPARROW_OP_CFG << 60) | (0x31ull << 48) | (0x4ull << 32) | 0xDEADBEEFull);
  ck_assert_uint_eq(sparrow_ops_entry_run() >> 60, SPARROW_OP_RUN);
  ck_assert_uint_eq(sparrow_ops_entry_end() >> 60, SPARROW_OP_END);
  ck_assert_uint_eq(sparrow_ops_entry_run() & 0x0FFFFFFFFFFFFFFFull, 0);
  sparrow_ops_prog_t prog;
  ck_assert_int_eq(sparrow_ops_prog_init(&prog, 2, 8), SPARROW_OPS_PROG_OK);
  // Unknown units and registers are refused, repeated values cost nothing.
  ck_assert_int_eq(sparrow_ops_prog_cfg(&prog, SPARROW_UNIT_PCU + 2, 0, 1), SPARROW_OPS_PROG_E_ARG);
  ck_assert_int_eq(sparrow_ops_prog_cfg(&prog, SPARROW_UNIT_PCU, SPARROW_PCU_REG_COUNT, 1),
                   SPARROW_OPS_PROG_E_ARG);
  ck_assert_int_eq(sparrow_ops_prog_cfg(&prog, SPARROW_UNIT_PCU, SPARROW_PCU_K_COUNT, 7),
                   SPARROW_OPS_PROG_OK);
  ck_assert_int_eq(sparrow_ops_prog_cfg(&prog, SPARROW_UNIT_PCU, SPARROW_PCU_K_COUNT, 7),
                   SPARROW_OPS_PROG_OK);
  ck_assert_uint_eq(prog.count, 1);
  // Enables are forgotten at the end of a phase (the fabric clears them).
  ck_assert_int_eq(sparrow_ops_prog_cfg(&prog, SPARROW_UNIT_PCU, SPARROW_PCU_ENABLE, 1),
                   SPARROW_OPS_PROG_OK);
  ck_assert_int_eq(sparrow_ops_prog_run(&prog), SPARROW_OPS_PROG_OK);
  ck_assert_int_eq(sparrow_ops_prog_cfg(&prog, SPARROW_UNIT_PCU, SPARROW_PCU_ENABLE, 1),
                   SPARROW_OPS_PROG_OK);
  ck_assert_uint_eq(prog.count, 4);
  // The last entry is kept for END.
  for (uint32_t v = 0; v < 3; ++v) {
    ck_assert_int_eq(sparrow_ops_prog_cfg(&prog, SPARROW_UNIT_PCU, SPARROW_PCU_BLOCKS, v),
                     SPARROW_OPS_PROG_OK);
  }
  ck_assert_int_eq(sparrow_ops_prog_cfg(&prog, SPARROW_UNIT_PCU, SPARROW_PCU_BLOCKS, 9),
                   SPARROW_OPS_PROG_E_FULL);
  ck_assert_int_eq(sparrow_ops_prog_end(&prog), SPARROW_OPS_PROG_OK);
  ck_assert_uint_eq(prog.count, 8);
  ck_assert_int_eq(sparrow_ops_prog_end(&prog), SPARROW_OPS_PROG_E_FULL);
  sparrow_ops_prog_free(&prog);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// References.

START_TEST(test_ref_golden_and_plain) {
  // 2x3 * 3x2 with exact small integers: both references give the exact product.
  const float af[6] = {1, 2, 3, 4, 5, 6}, bf[6] = {7, 8, 9, 10, 11, 12};
  uint32_t a[6], b[6], g[4], p[4];
  double mag[4];
  memcpy(a, af, sizeof(a));
  memcpy(b, bf, sizeof(b));
  uint8_t flags = 0;
  sparrow_ref_gemm_golden(2, 2, 3, a, b, g, &flags);
  sparrow_ref_gemm_plain(2, 2, 3, a, b, p, mag);
  const float want[4] = {58, 64, 139, 154};
  for (int i = 0; i < 4; ++i) {
    float gf, pf;
    memcpy(&gf, &g[i], 4);
    memcpy(&pf, &p[i], 4);
    ck_assert(gf == want[i] && pf == want[i]);
  }
  ck_assert_uint_eq(flags, 0);
  ck_assert_double_eq(mag[0], 58.0);
  ck_assert_uint_eq(sparrow_ref_count_mismatches(4, g, p), 0);
  ck_assert_double_eq(sparrow_ref_max_rel_err(4, g, p, mag), 0.0);
  // The golden order is fixed: (2^24 + 1 + 1) in ascending k rounds 2^24 + 1 to 2^24 twice.
  const float a2f[3] = {16777216.0f, 1.0f, 1.0f}, b2f[3] = {1.0f, 1.0f, 1.0f};
  uint32_t a2[3], b2[3], c2, p2;
  memcpy(a2, a2f, sizeof(a2));
  memcpy(b2, b2f, sizeof(b2));
  sparrow_ref_gemm_golden(1, 1, 3, a2, b2, &c2, NULL);
  sparrow_ref_gemm_plain(1, 1, 3, a2, b2, &p2, mag);
  ck_assert_uint_eq(c2, 0x4B800000u);  // 2^24
  ck_assert_uint_eq(p2, 0x4B800001u);  // 2^24 + 2
  double err = sparrow_ref_max_rel_err(1, &c2, &p2, mag);
  ck_assert_double_eq_tol(err, 2.0 / (16777216.0 + 2.0), 1e-15);
  ck_assert(err <= sparrow_ref_gemm_tolerance(3));
  // FNV-1a 64 of no bytes is the offset basis; of one zero word (four zero bytes), the value an
  // independent implementation (Python) gives.
  ck_assert_uint_eq(sparrow_ref_fnv1a64(0, NULL), 0xcbf29ce484222325ull);
  uint32_t zero = 0;
  ck_assert_uint_eq(sparrow_ref_fnv1a64(1, &zero), 0x4d25767f9dce13f5ull);
  // Inputs: deterministic, in [-1, 1).
  uint32_t r1[64], r2[64];
  sparrow_ref_fill_uniform(5, 64, r1);
  sparrow_ref_fill_uniform(5, 64, r2);
  ck_assert_mem_eq(r1, r2, sizeof(r1));
  for (int i = 0; i < 64; ++i) {
    float f;
    memcpy(&f, &r1[i], 4);
    ck_assert(f >= -1.0f && f < 1.0f);
  }
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// On the golden model, in-process.

typedef struct model_result {
  uint64_t cycles, macs, dram_rd, dram_wr;
  uint32_t launches;
  size_t mismatches;
  double max_rel_err;
} model_result_t;

// prog_entries: the program limit the builder works to (0: the configuration's).
static model_result_t run_on_model(const sparrow_hw_config_t *cfg, uint32_t m, uint32_t n,
                                   uint32_t k, uint64_t seed, uint32_t prog_entries) {
  model_result_t res;
  memset(&res, 0, sizeof(res));
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  if (prog_entries != 0) {
    fab.prog_entries = prog_entries;
  }
  sparrow_ops_gemm_plan_t plan;
  ck_assert_int_eq(sparrow_ops_gemm_plan(&fab, m, n, k, &plan), SPARROW_OPS_OK);
  // Buffers at odd (but aligned) places, C prefilled with NaN bits so nothing unwritten passes.
  uint64_t a_addr = 0x440, b_addr = (a_addr + plan.a_bytes + 0x7C0) & ~0x3Full;
  uint64_t c_addr = (b_addr + plan.b_bytes + 0x100) & ~0x3Full;
  uint64_t dram_bytes = c_addr + plan.c_bytes + 0x1000;
  uint8_t *dram = malloc(dram_bytes);
  ck_assert_ptr_nonnull(dram);
  memset(dram, 0xFF, dram_bytes);
  uint32_t *a = malloc(4ull * m * k), *b = malloc(4ull * k * n);
  uint32_t *c = malloc(4ull * m * n), *g = malloc(4ull * m * n), *p = malloc(4ull * m * n);
  double *mag = malloc(sizeof(double) * m * n);
  ck_assert(a && b && c && g && p && mag);
  sparrow_ref_fill_uniform(seed, (size_t)m * k, a);
  sparrow_ref_fill_uniform(seed ^ 0x5A5A5A5Aull, (size_t)k * n, b);
  sparrow_ops_gemm_pack_a(&plan, a, (uint32_t *)(dram + a_addr));
  sparrow_ops_gemm_pack_b(&plan, b, (uint32_t *)(dram + b_addr));
  sparrow_ops_programs_t progs;
  ck_assert_int_eq(sparrow_ops_gemm_build(&plan, a_addr, b_addr, c_addr, &progs), SPARROW_OPS_OK);

  sparrow_model_t *model = sparrow_model_create(cfg, dram, dram_bytes, DRAM_BW, DRAM_LATENCY);
  ck_assert_ptr_nonnull(model);
  model_run_t run;
  memset(&run, 0, sizeof(run));
  char what[64];
  snprintf(what, sizeof(what), "%s %ux%ux%u", cfg->name, m, n, k);
  launch_programs(model, &progs, fab.prog_entries, 100000, what, &run);
  res.cycles = run.cycles;
  res.macs = run.macs;
  res.dram_rd = run.dram_rd;
  res.dram_wr = run.dram_wr;
  res.launches = run.launches;
  sparrow_model_destroy(model);
  // Nothing outside C was written.
  for (uint64_t i = 0; i < a_addr; ++i)
    ck_assert_uint_eq(dram[i], 0xFF);
  for (uint64_t i = c_addr + plan.c_bytes; i < dram_bytes; ++i)
    ck_assert_uint_eq(dram[i], 0xFF);
  sparrow_ops_gemm_unpack_c(&plan, (const uint32_t *)(dram + c_addr), c);
  sparrow_ref_gemm_golden(m, n, k, a, b, g, NULL);
  sparrow_ref_gemm_plain(m, n, k, a, b, p, mag);
  res.mismatches = sparrow_ref_count_mismatches((size_t)m * n, c, g);
  res.max_rel_err = sparrow_ref_max_rel_err((size_t)m * n, c, p, mag);
  // Padding rows/columns of C hold exact zeros (zero inputs).
  const uint32_t *cp = (const uint32_t *)(dram + c_addr);
  for (uint32_t i = 0; i < plan.mp; ++i) {
    for (uint32_t j = (i < m ? n : 0); j < plan.np; ++j) {
      ck_assert_uint_eq(cp[(size_t)i * plan.np + j], 0);
    }
  }
  uint64_t ideal = (uint64_t)plan.mblocks * plan.nblocks * plan.k * cfg->lanes * cfg->lanes;
  ck_assert_uint_eq(res.macs, ideal);
  double util = (double)m * n * k / ((double)res.cycles * cfg->tiles * cfg->lanes * cfg->lanes);
  printf(
      "model %s %4ux%4ux%4u: %s mismatches %zu, max_rel_err %.3g (tol %.3g), cycles %llu "
      "(est %llu), launches %u, util %.3f, dram rd %llu wr %llu\n",
      cfg->name, m, n, k, res.mismatches == 0 ? "exact" : "DIFFERS", res.mismatches,
      res.max_rel_err, sparrow_ref_gemm_tolerance(k), (unsigned long long)res.cycles,
      (unsigned long long)plan.est_cycles, res.launches, util, (unsigned long long)res.dram_rd,
      (unsigned long long)res.dram_wr);
  sparrow_ops_programs_free(&progs);
  free(dram), free(a), free(b), free(c), free(g), free(p), free(mag);
  return res;
}

START_TEST(test_model_gemm_bit_exact) {
  const char *name = _i == 0 ? "S" : "M";
  const sparrow_hw_config_t *cfg = config_named(name);
  for (size_t s = 0; s < N_SHAPES; ++s) {
    model_result_t r = run_on_model(cfg, kShapes[s].m, kShapes[s].n, kShapes[s].k, 1000 + s, 0);
    ck_assert_msg(r.mismatches == 0, "%s %ux%ux%u: %zu elements differ from the golden order", name,
                  kShapes[s].m, kShapes[s].n, kShapes[s].k, r.mismatches);
    ck_assert_msg(r.max_rel_err <= sparrow_ref_gemm_tolerance(kShapes[s].k),
                  "max_rel_err %g above tolerance", r.max_rel_err);
  }
}
END_TEST

// The benchmark shape on M: bit-exact, and the model's cycle estimate near the ideal 65536.
START_TEST(test_model_gemm_256_on_m) {
  const sparrow_hw_config_t *cfg = config_named("M");
  model_result_t r = run_on_model(cfg, 256, 256, 256, 7, 0);
  ck_assert_uint_eq(r.mismatches, 0);
  double util = 256.0 * 256.0 * 256.0 / ((double)r.cycles * 256.0);
  ck_assert_msg(util >= 0.85, "utilization %.3f below 0.85 on the model (cycles %llu)", util,
                (unsigned long long)r.cycles);
}
END_TEST

// A GEMM split over many launches (small program limit): the same bits as in one launch.
START_TEST(test_model_gemm_many_launches) {
  const sparrow_hw_config_t *cfg = config_named(_i == 0 ? "S" : "M");
  model_result_t r = run_on_model(cfg, 24, 40, 1500, 11, _i == 0 ? 200 : 400);
  ck_assert_uint_gt(r.launches, 1);
  ck_assert_uint_eq(r.mismatches, 0);
}
END_TEST

static Suite *ops_suite(void) {
  Suite *s = suite_create("ops_gemm");
  TCase *tc = tcase_create("builder");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_entry_encoding);
  tcase_add_loop_test(tc, test_pack_round_trip, 0, 2);
  tcase_add_test(tc, test_plan_rejects_bad_input);
  tcase_add_loop_test(tc, test_plan_covers_c_once, 0, 2);
  tcase_add_loop_test(tc, test_program_invariants, 0, 2);
  tcase_add_test(tc, test_program_split_into_launches);
  tcase_add_test(tc, test_ref_golden_and_plain);
  suite_add_tcase(s, tc);
  TCase *tm = tcase_create("model");
  tcase_set_timeout(tm, 600);
  tcase_add_loop_test(tm, test_model_gemm_bit_exact, 0, 2);
  tcase_add_test(tm, test_model_gemm_256_on_m);
  tcase_add_loop_test(tm, test_model_gemm_many_launches, 0, 2);
  suite_add_tcase(s, tm);
  return s;
}

int main(void) {
  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    fprintf(stderr, "test_ops_gemm: host arithmetic unsuitable: %s\n", why);
    return 1;
  }
  SRunner *sr = srunner_create(ops_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
