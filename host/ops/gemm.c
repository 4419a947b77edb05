// SPDX-License-Identifier: Apache-2.0
//
// GEMM on the fabric: the planner (tiling and its cost model), packing, and the program builder.
// docs/ops.md describes the schedule; docs/fabric.md the units it programs.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_util.h"
#include "program.h"
#include "sparrow_ops.h"

const char *sparrow_ops_status_name(sparrow_ops_status_t status) {
  switch (status) {
    case SPARROW_OPS_OK:
      return "ok";
    case SPARROW_OPS_E_ARG:
      return "bad argument";
    case SPARROW_OPS_E_NOMEM:
      return "out of memory";
    case SPARROW_OPS_E_UNSUPPORTED:
      return "unsupported shape";
    case SPARROW_OPS_E_DEVICE:
      return "device error";
  }
  return "unknown status";
}

void sparrow_ops_set_msg(char *msg, size_t msg_len, const char *fmt, ...) {
  if (msg == NULL || msg_len == 0) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, msg_len, fmt, ap);
  va_end(ap);
}

void sparrow_ops_fabric_from_info(const sparrow_info_t *info, sparrow_ops_fabric_t *fabric) {
  memset(fabric, 0, sizeof(*fabric));
  fabric->tiles = info->tiles;
  fabric->lanes = info->lanes;
  fabric->pmu_words = info->pmu_words;
  fabric->prog_entries = info->prog_entries;
  fabric->agcu_outstanding = info->agcu_outstanding;
  fabric->dram_bw = info->dram_bw;
  fabric->dram_latency = info->dram_latency;
}

void sparrow_ops_gemm_task(const sparrow_ops_gemm_plan_t *plan, uint32_t round, uint32_t tile,
                           sparrow_ops_gemm_task_t *task) {
  memset(task, 0, sizeof(*task));
  uint32_t group = tile / plan->row_groups;
  uint32_t member = tile % plan->row_groups;
  if (group >= plan->col_groups || round >= plan->rounds) {
    return;
  }
  // The round's column blocks, shared out over the column groups.
  uint32_t per_round = plan->col_groups * plan->nb;
  uint32_t first_block = round * per_round;
  if (first_block >= plan->nblocks) {
    return;
  }
  uint32_t in_round = min_u32(per_round, plan->nblocks - first_block);
  uint32_t jb0 = 0, nb = 0;
  split_even(in_round, plan->col_groups, group, &jb0, &nb);
  if (nb == 0) {
    return;
  }
  // Row blocks, shared out over the group's tiles in pairs (the A ring has two slots).
  uint32_t unit = plan->mblocks == 1 ? 1u : 2u;
  uint32_t units = plan->mblocks / unit;
  uint32_t u0 = 0, un = 0;
  split_even(units, plan->row_groups, member, &u0, &un);
  if (un == 0) {
    return;
  }
  task->ib0 = u0 * unit;
  task->mb = un * unit;
  task->jb0 = first_block + jb0;
  task->nb = nb;
}

typedef struct cost_params {
  uint64_t dram_bw;      // bytes per cycle
  uint64_t latency;      // cycles
  uint64_t outstanding;  // beats in flight per AGCU channel (0: unknown, no limit)
} cost_params_t;

// Cycles for one AGCU channel to move `beats` beats: it keeps at most `outstanding` requests in
// flight, so it moves at most outstanding / latency beats per cycle (Little's law).
static uint64_t channel_cycles(const cost_params_t *c, uint64_t beats) {
  if (c->outstanding == 0 || c->latency == 0) {
    return 0;
  }
  return beats * c->latency / c->outstanding;
}

// Estimated cycles of the two phases of one (round, chunk). The model: a phase costs its DRAM
// latency, then the largest of its DRAM transfer time (total bytes / bandwidth), its slowest AGCU
// channel (requests in flight / latency) and its busiest unit's beats, then a drain.
static uint64_t estimate_pair(const sparrow_ops_gemm_plan_t *plan, uint32_t round, uint32_t kcq,
                              int acc_init, const cost_params_t *c) {
  uint64_t beat = 4ull * plan->lanes;
  uint64_t b_bytes = 0, a_bytes = 0, c_bytes = 0, b_lines = 0, compute = 0;
  uint64_t chan_a = 0, chan_b = 0;
  for (uint32_t t = 0; t < plan->tiles; ++t) {
    sparrow_ops_gemm_task_t task;
    sparrow_ops_gemm_task(plan, round, t, &task);
    if (task.mb == 0) {
      continue;
    }
    uint64_t blocks = (uint64_t)task.mb * task.nb;
    b_bytes += (uint64_t)task.nb * kcq * beat;
    b_lines = max_u64(b_lines, (uint64_t)task.nb * kcq);
    a_bytes += (uint64_t)task.mb * kcq * beat;
    c_bytes += blocks * plan->lanes * beat * (acc_init ? 2u : 1u);
    chan_a = max_u64(chan_a, channel_cycles(c, (uint64_t)task.nb * kcq));
    chan_b = max_u64(chan_b, channel_cycles(c, (uint64_t)task.mb * kcq));
    // One beat pair per cycle, plus the first A slot's fill and the c beats of a reloaded block.
    compute = max_u64(compute, blocks * kcq + kcq + (acc_init ? blocks * plan->lanes : 0));
  }
  uint64_t bw = c->dram_bw == 0 ? 1 : c->dram_bw;
  uint64_t phase_a = c->latency + max_u64(max_u64(b_bytes / bw, chan_a), b_lines) + 16;
  uint64_t phase_b = 2ull * c->latency +
                     max_u64(max_u64((a_bytes + c_bytes) / bw, chan_b), compute) + plan->lanes + 16;
  return phase_a + phase_b;
}

static uint64_t estimate_plan(const sparrow_ops_gemm_plan_t *plan, const cost_params_t *c) {
  uint64_t total = 0;
  for (uint32_t r = 0; r < plan->rounds; ++r) {
    for (uint32_t q = 0; q < plan->k_chunks; ++q) {
      uint32_t k0 = q * plan->kc;
      uint32_t kcq = min_u32(plan->kc, plan->k - k0);
      total += estimate_pair(plan, r, kcq, q > 0, c);
    }
  }
  return total;
}

sparrow_ops_status_t sparrow_ops_gemm_plan(const sparrow_ops_fabric_t *fabric, uint32_t m,
                                           uint32_t n, uint32_t k, sparrow_ops_gemm_plan_t *plan) {
  if (fabric == NULL || plan == NULL || m == 0 || n == 0 || k == 0) {
    return SPARROW_OPS_E_ARG;
  }
  if (fabric->tiles == 0 || fabric->tiles > SPARROW_MAX_TILES || fabric->lanes == 0 ||
      fabric->pmu_words < 3u * fabric->lanes || fabric->prog_entries < 2) {
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_gemm_plan_t p;
  memset(&p, 0, sizeof(p));
  p.m = m;
  p.n = n;
  p.k = k;
  p.tiles = fabric->tiles;
  p.lanes = fabric->lanes;
  p.pmu_lines = fabric->pmu_words / fabric->lanes;
  p.prog_entries = fabric->prog_entries;
  p.mblocks = ceil_div_u32(m, p.lanes);
  if (p.mblocks > 1 && p.mblocks % 2 != 0) {
    p.mblocks += 1;  // the A ring's two slots take row blocks in pairs
  }
  p.nblocks = ceil_div_u32(n, p.lanes);
  p.mp = p.mblocks * p.lanes;
  p.np = p.nblocks * p.lanes;
  p.a_bytes = 4ull * k * p.mp;
  p.b_bytes = 4ull * k * p.np;
  p.c_bytes = 4ull * p.mp * p.np;
  // DRAM addresses and AGCU strides are 32-bit (the row stride of C times lanes must fit).
  if (p.a_bytes + p.b_bytes + p.c_bytes > 0xFFFFFFFFull || 4ull * p.np * p.lanes > 0x7FFFFFFFull ||
      4ull * p.mp > 0x7FFFFFFFull) {
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  // Tiles: as many column groups as there are column blocks (up to the tile count); when there are
  // fewer column blocks than tiles, the spare tiles split the row blocks of a column group.
  p.col_groups = min_u32(p.tiles, p.nblocks);
  uint32_t row_units = p.mblocks == 1 ? 1u : p.mblocks / 2u;
  p.row_groups = min_u32(p.tiles / p.col_groups, row_units);
  if (p.row_groups == 0) {
    p.row_groups = 1;
  }
  // Try every chunk width nb, with the fewest K chunks that fit (nb + 2) * kc lines in a PMU; keep
  // the cheapest by the cost model.
  uint32_t per_group = ceil_div_u32(p.nblocks, p.col_groups);
  cost_params_t cost = {fabric->dram_bw, fabric->dram_latency, fabric->agcu_outstanding};
  uint64_t best = UINT64_MAX;
  sparrow_ops_gemm_plan_t best_plan = p;
  for (uint32_t nb = 1; nb <= per_group; ++nb) {
    uint32_t rounds = ceil_div_u32(p.nblocks, p.col_groups * nb);
    if (ceil_div_u32(p.nblocks, p.col_groups * rounds) != nb) {
      continue;  // the same balanced split as a smaller nb
    }
    uint32_t kc_max = p.pmu_lines / (nb + 2u);
    if (kc_max == 0) {
      break;
    }
    sparrow_ops_gemm_plan_t c = p;
    c.nb = nb;
    c.rounds = rounds;
    c.k_chunks = ceil_div_u32(k, kc_max);
    c.kc = ceil_div_u32(k, c.k_chunks);
    c.b_region = 2u * c.kc;
    c.est_cycles = estimate_plan(&c, &cost);
    if (c.est_cycles < best) {
      best = c.est_cycles;
      best_plan = c;
    }
  }
  if (best == UINT64_MAX) {
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  *plan = best_plan;
  return SPARROW_OPS_OK;
}

void sparrow_ops_gemm_pack_a(const sparrow_ops_gemm_plan_t *plan, const uint32_t *a, uint32_t *at) {
  memset(at, 0, (size_t)plan->a_bytes);
  for (uint32_t i = 0; i < plan->m; ++i) {
    for (uint32_t kk = 0; kk < plan->k; ++kk) {
      at[(size_t)kk * plan->mp + i] = a[(size_t)i * plan->k + kk];
    }
  }
}

void sparrow_ops_gemm_pack_b(const sparrow_ops_gemm_plan_t *plan, const uint32_t *b, uint32_t *bp) {
  memset(bp, 0, (size_t)plan->b_bytes);
  for (uint32_t kk = 0; kk < plan->k; ++kk) {
    memcpy(&bp[(size_t)kk * plan->np], &b[(size_t)kk * plan->n], 4u * (size_t)plan->n);
  }
}

void sparrow_ops_gemm_unpack_c(const sparrow_ops_gemm_plan_t *plan, const uint32_t *cp,
                               uint32_t *c) {
  for (uint32_t i = 0; i < plan->m; ++i) {
    memcpy(&c[(size_t)i * plan->n], &cp[(size_t)i * plan->np], 4u * (size_t)plan->n);
  }
}

void sparrow_ops_programs_free(sparrow_ops_programs_t *programs) {
  if (programs == NULL) {
    return;
  }
  for (size_t i = 0; i < programs->count; ++i) {
    free(programs->entries[i]);
  }
  free(programs->entries);
  free(programs->lengths);
  memset(programs, 0, sizeof(*programs));
}

// ---------------------------------------------------------------------------------------------------
// Program builder.

static sparrow_ops_agen_t agen(uint64_t base, uint32_t c0, int64_t s0, uint32_t c1, int64_t s1,
                               uint32_t c2, int64_t s2, uint32_t c3, int64_t s3) {
  sparrow_ops_agen_t g = {
      (uint32_t)base, {c0, c1, c2, c3}, {(int32_t)s0, (int32_t)s1, (int32_t)s2, (int32_t)s3}};
  return g;
}

typedef struct pair_ctx {
  const sparrow_ops_gemm_plan_t *plan;
  uint64_t a_addr, b_addr, c_addr;
} pair_ctx_t;

// Phase A of (round, chunk): every busy tile loads its B chunk, kcq rows of nb column blocks, into
// PMU lines b_region + jb * kcq + k through AGCU read 1 -> PMU write 1.
static sparrow_ops_prog_status_t emit_phase_a(sparrow_ops_prog_t *prog, const pair_ctx_t *ctx,
                                              uint32_t round, uint32_t k0, uint32_t kcq) {
  const sparrow_ops_gemm_plan_t *p = ctx->plan;
  const uint64_t lane_bytes = 4ull * p->lanes;
  const uint64_t row_b = 4ull * p->np;
  for (uint32_t t = 0; t < p->tiles; ++t) {
    sparrow_ops_gemm_task_t task;
    sparrow_ops_gemm_task(p, round, t, &task);
    if (task.mb == 0) {
      continue;
    }
    // agcu_rd1 feeds only pmu_wr1 here (a multicast to pcu_c would stall it).
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_route(prog, t, SPARROW_DST_PCU_C, t, SPARROW_SW_NO_SOURCE));
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_route(prog, t, SPARROW_DST_PMU_WR1, t, SPARROW_SRC_AGCU_RD1));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 1, 0, 0, 0, 0));
    sparrow_ops_agen_t rd =
        agen(ctx->b_addr + (uint64_t)k0 * row_b + (uint64_t)task.jb0 * lane_bytes, kcq, row_b,
             task.nb, lane_bytes, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD1, &rd));
    sparrow_ops_agen_t wr = agen(p->b_region, kcq * task.nb, 1, 1, 0, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_WR1, &wr));
  }
  return sparrow_ops_prog_run(prog);
}

// Phase B of (round, chunk): every busy tile streams its A row blocks through the two-slot ring
// (AGCU read 0 -> PMU write 0, synchronized with PMU read 0, which reads each block nb times), the
// B chunk once per A block (PMU read 1), computes mb * nb output blocks and writes them to C (PCU
// out
// -> AGCU write); from the second chunk of K on, AGCU read 1 reloads the partial sums (-> PCU c).
static sparrow_ops_prog_status_t emit_phase_b(sparrow_ops_prog_t *prog, const pair_ctx_t *ctx,
                                              uint32_t round, uint32_t k0, uint32_t kcq,
                                              int acc_init) {
  const sparrow_ops_gemm_plan_t *p = ctx->plan;
  const uint64_t lane_bytes = 4ull * p->lanes;
  const uint64_t row_a = 4ull * p->mp;
  const uint64_t row_c = 4ull * p->np;
  for (uint32_t t = 0; t < p->tiles; ++t) {
    sparrow_ops_gemm_task_t task;
    sparrow_ops_gemm_task(p, round, t, &task);
    if (task.mb == 0) {
      continue;
    }
    uint32_t slots = task.mb == 1 ? 1u : 2u;
    uint32_t pairs = task.mb / slots;
    if (acc_init) {
      SPARROW_OPS_PROG_TRY(
          sparrow_ops_prog_route(prog, t, SPARROW_DST_PMU_WR1, t, SPARROW_SW_NO_SOURCE));
      SPARROW_OPS_PROG_TRY(
          sparrow_ops_prog_route(prog, t, SPARROW_DST_PCU_C, t, SPARROW_SRC_AGCU_RD1));
    } else {
      SPARROW_OPS_PROG_TRY(
          sparrow_ops_prog_route(prog, t, SPARROW_DST_PCU_C, t, SPARROW_SW_NO_SOURCE));
    }
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_route(prog, t, SPARROW_DST_PMU_WR0, t, SPARROW_SRC_AGCU_RD0));
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_route(prog, t, SPARROW_DST_PCU_A, t, SPARROW_SRC_PMU_RD0));
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_route(prog, t, SPARROW_DST_PCU_B, t, SPARROW_SRC_PMU_RD1));
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_route(prog, t, SPARROW_DST_AGCU_WR, t, SPARROW_SRC_PCU_OUT));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 0, 1, 2, kcq, kcq * task.nb));
    // A^T rows k0.., row blocks ib0..: kcq beats per block.
    sparrow_ops_agen_t a_rd =
        agen(ctx->a_addr + (uint64_t)k0 * row_a + (uint64_t)task.ib0 * lane_bytes, kcq, row_a,
             task.mb, lane_bytes, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &a_rd));
    sparrow_ops_agen_t ring_wr = agen(0, kcq, 1, slots, kcq, pairs, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_WR0, &ring_wr));
    sparrow_ops_agen_t ring_rd = agen(0, kcq, 1, task.nb, 0, slots, kcq, pairs, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_RD0, &ring_rd));
    sparrow_ops_agen_t b_rd = agen(p->b_region, kcq, 1, task.nb, kcq, task.mb, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_RD1, &b_rd));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pcu_gemm(prog, t, kcq, task.mb * task.nb, acc_init));
    // C blocks in the PCU's order: row r of block (ib, jb), jb inner.
    sparrow_ops_agen_t c_walk =
        agen(ctx->c_addr + (uint64_t)task.ib0 * p->lanes * row_c + (uint64_t)task.jb0 * lane_bytes,
             p->lanes, row_c, task.nb, lane_bytes, task.mb, (int64_t)p->lanes * row_c, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_WR, &c_walk));
    if (acc_init) {
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD1, &c_walk));
    }
  }
  return sparrow_ops_prog_run(prog);
}

static sparrow_ops_prog_status_t emit_pair(sparrow_ops_prog_t *prog, const pair_ctx_t *ctx,
                                           uint32_t round, uint32_t chunk) {
  const sparrow_ops_gemm_plan_t *p = ctx->plan;
  uint32_t k0 = chunk * p->kc;
  uint32_t kcq = min_u32(p->kc, p->k - k0);
  SPARROW_OPS_PROG_TRY(emit_phase_a(prog, ctx, round, k0, kcq));
  return emit_phase_b(prog, ctx, round, k0, kcq, chunk > 0);
}

static sparrow_ops_status_t build_into(const sparrow_ops_gemm_plan_t *plan, const pair_ctx_t *ctx,
                                       sparrow_ops_prog_t *prog, sparrow_ops_prog_mark_t *mark,
                                       sparrow_ops_programs_t *out) {
  for (uint32_t r = 0; r < plan->rounds; ++r) {
    for (uint32_t q = 0; q < plan->k_chunks; ++q) {
      sparrow_ops_prog_mark(prog, mark);
      sparrow_ops_prog_status_t st = emit_pair(prog, ctx, r, q);
      if (st == SPARROW_OPS_PROG_E_FULL && mark->count > 0) {
        // Full: end this launch here and start a new, self-contained program with the pair.
        sparrow_ops_prog_rollback(prog, mark);
        st = sparrow_ops_prog_end(prog);
        if (st != SPARROW_OPS_PROG_OK) {
          return sparrow_ops_prog_status(st);
        }
        sparrow_ops_status_t ost = sparrow_ops_programs_push(out, prog);
        if (ost != SPARROW_OPS_OK) {
          return ost;
        }
        sparrow_ops_prog_clear(prog);
        st = emit_pair(prog, ctx, r, q);
      }
      if (st != SPARROW_OPS_PROG_OK) {
        return sparrow_ops_prog_status(st);
      }
    }
  }
  sparrow_ops_prog_status_t st = sparrow_ops_prog_end(prog);
  if (st != SPARROW_OPS_PROG_OK) {
    return sparrow_ops_prog_status(st);
  }
  return sparrow_ops_programs_push(out, prog);
}

sparrow_ops_status_t sparrow_ops_gemm_build(const sparrow_ops_gemm_plan_t *plan, uint64_t a_addr,
                                            uint64_t b_addr, uint64_t c_addr,
                                            sparrow_ops_programs_t *programs) {
  if (plan == NULL || programs == NULL || plan->rounds == 0 || plan->k_chunks == 0) {
    return SPARROW_OPS_E_ARG;
  }
  memset(programs, 0, sizeof(*programs));
  if (a_addr + plan->a_bytes > 0x100000000ull || b_addr + plan->b_bytes > 0x100000000ull ||
      c_addr + plan->c_bytes > 0x100000000ull || (a_addr | b_addr | c_addr) % 4 != 0) {
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  sparrow_ops_prog_t *prog = malloc(sizeof(*prog));
  sparrow_ops_prog_mark_t *mark = malloc(sizeof(*mark));
  if (prog == NULL || mark == NULL) {
    free(prog);
    free(mark);
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_status_t status =
      sparrow_ops_prog_status(sparrow_ops_prog_init(prog, plan->tiles, plan->prog_entries));
  if (status == SPARROW_OPS_OK) {
    pair_ctx_t ctx = {plan, a_addr, b_addr, c_addr};
    status = build_into(plan, &ctx, prog, mark, programs);
  }
  sparrow_ops_prog_free(prog);
  free(prog);
  free(mark);
  if (status != SPARROW_OPS_OK) {
    sparrow_ops_programs_free(programs);
  }
  return status;
}
