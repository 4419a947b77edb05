// SPDX-License-Identifier: Apache-2.0
//
// Block-sparse operators: the checks and the common part of planning, the dispatch to the spmm and
// sddmm halves, and the program-assembly helpers they share (docs/ops.md, "Block-sparse
// operators").

#include <stdlib.h>
#include <string.h>

#include "sparse_internal.h"

const char *sparrow_ops_sparse_op_name(sparrow_ops_sparse_op_t op) {
  switch (op) {
    case SPARROW_OPS_SPMM:
      return "spmm";
    case SPARROW_OPS_SPMM_T:
      return "spmm_t";
    case SPARROW_OPS_SDDMM:
      return "sddmm";
  }
  return "unknown";
}

uint64_t sparse_channel_cycles(const sparse_cost_t *c, uint64_t beats) {
  if (c->outstanding == 0 || c->latency == 0) {
    return beats;
  }
  return max_u64(beats, beats * c->latency / c->outstanding);
}

void sparrow_ops_sparse_plan_free(sparrow_ops_sparse_plan_t *plan) {
  if (plan == NULL) {
    return;
  }
  free(plan->tasks);
  free(plan->slices);
  free(plan->col_list);
  free(plan->seg_count);
  free(plan->pat_ptr);
  free(plan->pat_idx);
  free(plan->pat_blk);
  plan->tasks = NULL;
  plan->slices = NULL;
  plan->col_list = NULL;
  plan->seg_count = NULL;
  plan->pat_ptr = NULL;
  plan->pat_idx = NULL;
  plan->pat_blk = NULL;
}

// The pattern of B the kernel walks: spmm walks W's columns (W's transposed pattern, whose perm
// names W's blocks), spmm_t walks W^T's columns = W's rows, sddmm walks dW's rows = W's rows.
static sparrow_ops_status_t make_pattern(sparrow_ops_sparse_plan_t *p, const sparrow_bsr_t *w,
                                         char *msg, size_t msg_len) {
  uint32_t outer = p->op == SPARROW_OPS_SPMM ? w->block_cols : w->block_rows;
  uint32_t nnz = w->nnz_blocks;
  p->pat_outer = outer;
  p->pat_ptr = calloc((size_t)outer + 1, sizeof(uint32_t));
  p->pat_idx = calloc(nnz == 0 ? 1 : nnz, sizeof(uint32_t));
  p->pat_blk = calloc(nnz == 0 ? 1 : nnz, sizeof(uint32_t));
  if (p->pat_ptr == NULL || p->pat_idx == NULL || p->pat_blk == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "%s: host out of memory", sparrow_ops_sparse_op_name(p->op));
    return SPARROW_OPS_E_NOMEM;
  }
  if (p->op != SPARROW_OPS_SPMM) {
    memcpy(p->pat_ptr, w->row_ptr, ((size_t)outer + 1) * sizeof(uint32_t));
    if (nnz > 0) {
      memcpy(p->pat_idx, w->col_idx, (size_t)nnz * sizeof(uint32_t));
    }
    for (uint32_t e = 0; e < nnz; ++e) {
      p->pat_blk[e] = e;
    }
    return SPARROW_OPS_OK;
  }
  sparrow_bsr_pattern_t t;
  char why[160] = "";
  sparrow_bsr_status_t bst = sparrow_bsr_transpose_pattern(w, &t, why, sizeof(why));
  if (bst != SPARROW_BSR_OK) {
    sparrow_ops_set_msg(msg, msg_len, "spmm: W: %s", why);
    return bst == SPARROW_BSR_E_NOMEM ? SPARROW_OPS_E_NOMEM : SPARROW_OPS_E_ARG;
  }
  memcpy(p->pat_ptr, t.row_ptr, ((size_t)outer + 1) * sizeof(uint32_t));
  if (nnz > 0) {
    memcpy(p->pat_idx, t.col_idx, (size_t)nnz * sizeof(uint32_t));
    memcpy(p->pat_blk, t.perm, (size_t)nnz * sizeof(uint32_t));
  }
  sparrow_bsr_pattern_free(&t);
  return SPARROW_OPS_OK;
}

sparrow_ops_status_t sparrow_ops_sparse_plan(const sparrow_ops_fabric_t *fabric,
                                             sparrow_ops_sparse_op_t op, uint32_t m,
                                             const sparrow_bsr_t *w,
                                             sparrow_ops_sparse_plan_t *plan, char *msg,
                                             size_t msg_len) {
  if (plan == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "sparse plan: plan is NULL");
    return SPARROW_OPS_E_ARG;
  }
  memset(plan, 0, sizeof(*plan));
  const char *name = sparrow_ops_sparse_op_name(op);
  if (op != SPARROW_OPS_SPMM && op != SPARROW_OPS_SPMM_T && op != SPARROW_OPS_SDDMM) {
    sparrow_ops_set_msg(msg, msg_len, "sparse plan: unknown operator %d", (int)op);
    return SPARROW_OPS_E_ARG;
  }
  if (fabric == NULL || w == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "%s: %s is NULL", name, fabric == NULL ? "fabric" : "W");
    return SPARROW_OPS_E_ARG;
  }
  if (fabric->tiles == 0 || fabric->tiles > SPARROW_MAX_TILES || fabric->lanes == 0 ||
      fabric->pmu_words < 4u * fabric->lanes || fabric->prog_entries < 2) {
    sparrow_ops_set_msg(msg, msg_len, "%s: impossible fabric (%u tiles, %u lanes, %u PMU words)",
                        name, fabric->tiles, fabric->lanes, fabric->pmu_words);
    return SPARROW_OPS_E_ARG;
  }
  // The structure first, against the device's lanes: nothing is planned (or sent) for a broken W.
  // sddmm reads only W's pattern, so its values may be absent; the check then looks at a copy
  // whose values pointer is a placeholder that is never read.
  sparrow_bsr_t shape = *w;
  float placeholder = 0.0f;
  if (op == SPARROW_OPS_SDDMM && shape.values == NULL) {
    shape.values = &placeholder;
  }
  char why[200] = "";
  if (sparrow_bsr_validate(&shape, fabric->lanes, why, sizeof(why)) != SPARROW_BSR_OK) {
    sparrow_ops_set_msg(msg, msg_len, "%s: W is not a valid BSR for this device: %s", name, why);
    return SPARROW_OPS_E_ARG;
  }
  if (m == 0) {
    sparrow_ops_set_msg(msg, msg_len, "%s: M is 0", name);
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_sparse_plan_t p;
  memset(&p, 0, sizeof(p));
  p.op = op;
  p.m = m;
  p.k = w->rows;
  p.n = w->cols;
  p.block = w->block;
  p.nnz_blocks = w->nnz_blocks;
  p.tiles = fabric->tiles;
  p.lanes = fabric->lanes;
  p.pmu_lines = fabric->pmu_words / fabric->lanes;
  p.idx_words = SPARROW_PMU_IDX_WORDS;
  p.prog_entries = fabric->prog_entries;
  p.k_table_entries = SPARROW_PCU_K_TABLE_ENTRIES;
  sparse_cost_t cost = {fabric->dram_bw, fabric->dram_latency, fabric->agcu_outstanding};
  sparrow_ops_status_t st = make_pattern(&p, w, msg, msg_len);
  if (st == SPARROW_OPS_OK) {
    st = op == SPARROW_OPS_SDDMM ? sparse_plan_sddmm(&p, &cost, msg, msg_len)
                                 : sparse_plan_spmm(&p, &cost, msg, msg_len);
  }
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_sparse_plan_free(&p);
    return st;
  }
  *plan = p;
  return SPARROW_OPS_OK;
}

void sparrow_ops_sparse_pack_a(const sparrow_ops_sparse_plan_t *plan, const uint32_t *a,
                               uint32_t *dev_a) {
  memset(dev_a, 0, (size_t)plan->a_bytes);
  if (plan->op == SPARROW_OPS_SDDMM) {
    // X as it is: M rows of K words (a strip is one lane-block of columns).
    memcpy(dev_a, a, (size_t)plan->m * plan->k * 4u);
    return;
  }
  // A^T: red rows of rows_p words, as the dense GEMM's A^T.
  for (uint32_t i = 0; i < plan->rows; ++i) {
    for (uint32_t kk = 0; kk < plan->red; ++kk) {
      dev_a[(size_t)kk * plan->rows_p + i] = a[(size_t)i * plan->red + kk];
    }
  }
}

void sparrow_ops_sparse_pack_b(const sparrow_ops_sparse_plan_t *plan, const sparrow_bsr_t *w,
                               const uint32_t *b, uint32_t *dev_b) {
  if (plan->op == SPARROW_OPS_SDDMM) {
    sparse_pack_b_sddmm(plan, b, dev_b);
  } else {
    sparse_pack_b_spmm(plan, w, dev_b);
  }
}

void sparrow_ops_sparse_pack_idx(const sparrow_ops_sparse_plan_t *plan, uint32_t *dev_idx) {
  if (plan->op == SPARROW_OPS_SDDMM) {
    sparse_pack_idx_sddmm(plan, dev_idx);
  } else {
    sparse_pack_idx_spmm(plan, dev_idx);
  }
}

void sparrow_ops_sparse_unpack_c(const sparrow_ops_sparse_plan_t *plan, const uint32_t *dev_c,
                                 uint32_t *c) {
  if (plan->op == SPARROW_OPS_SDDMM) {
    sparse_unpack_sddmm(plan, dev_c, c);
    return;
  }
  for (uint32_t i = 0; i < plan->rows; ++i) {
    memcpy(&c[(size_t)i * plan->cols], &dev_c[(size_t)i * plan->cols], 4u * (size_t)plan->cols);
  }
}

sparrow_ops_status_t sparrow_ops_sparse_build(const sparrow_ops_sparse_plan_t *plan,
                                              uint64_t a_addr, uint64_t b_addr, uint64_t idx_addr,
                                              uint64_t c_addr, sparrow_ops_programs_t *programs) {
  if (plan == NULL || programs == NULL || plan->rounds == 0 || plan->tasks == NULL) {
    return SPARROW_OPS_E_ARG;
  }
  memset(programs, 0, sizeof(*programs));
  if (a_addr + plan->a_bytes > 0x100000000ull || b_addr + plan->b_bytes > 0x100000000ull ||
      idx_addr + plan->idx_bytes > 0x100000000ull || c_addr + plan->c_bytes > 0x100000000ull ||
      (a_addr | b_addr | idx_addr | c_addr) % 4 != 0) {
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  sparrow_ops_status_t st =
      plan->op == SPARROW_OPS_SDDMM
          ? sparse_build_sddmm(plan, a_addr, b_addr, idx_addr, c_addr, programs)
          : sparse_build_spmm(plan, a_addr, b_addr, idx_addr, c_addr, programs);
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_programs_free(programs);
  }
  return st;
}

// ---------------------------------------------------------------------------------------------------
// Program assembly.

void sparse_routes_clear(sparse_routes_t *r) {
  for (uint32_t t = 0; t < SPARROW_MAX_TILES; ++t) {
    for (uint32_t d = 0; d < SPARROW_SWITCH_DST_PER_TILE; ++d) {
      r->src[t][d] = SPARROW_SW_NO_SOURCE;
    }
  }
}

void sparse_routes_set(sparse_routes_t *r, uint32_t tile, uint32_t dst_kind, uint32_t src_tile,
                       uint32_t src_kind) {
  r->src[tile][dst_kind] = src_tile * SPARROW_SWITCH_SRC_PER_TILE + src_kind;
}

// Every destination kind the builders use, on every tile: a route not set this phase is disabled,
// so a source is never held back by a destination left over from an earlier phase.
sparrow_ops_prog_status_t sparse_routes_emit(sparrow_ops_prog_t *prog, const sparse_routes_t *r) {
  static const uint32_t kinds[] = {SPARROW_DST_AGCU_WR, SPARROW_DST_PMU_WR0, SPARROW_DST_PMU_WR1,
                                   SPARROW_DST_PCU_A,   SPARROW_DST_PCU_B,   SPARROW_DST_PCU_C};
  for (uint32_t t = 0; t < prog->tiles; ++t) {
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
      uint32_t s = r->src[t][kinds[i]];
      if (s == SPARROW_SW_NO_SOURCE) {
        SPARROW_OPS_PROG_TRY(sparrow_ops_prog_route(prog, t, kinds[i], 0, SPARROW_SW_NO_SOURCE));
      } else {
        SPARROW_OPS_PROG_TRY(sparrow_ops_prog_route(
            prog, t, kinds[i], s / SPARROW_SWITCH_SRC_PER_TILE, s % SPARROW_SWITCH_SRC_PER_TILE));
      }
    }
  }
  return SPARROW_OPS_PROG_OK;
}
