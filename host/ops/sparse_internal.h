// SPDX-License-Identifier: Apache-2.0
//
// Internals shared by the block-sparse operators (sparse_plan.c, spmm.c, sddmm.c, sparse_run.c).
// Not part of the ops library's API.

#ifndef SPARROW_HOST_OPS_SPARSE_INTERNAL_H_
#define SPARROW_HOST_OPS_SPARSE_INTERNAL_H_

#include <stddef.h>
#include <stdint.h>

#include "ops_util.h"
#include "program.h"
#include "sparrow_sparse.h"

// A gather index word (docs/fabric.md): offset in bits 23:0, skip, release.
#define SPARSE_IDX_SKIP (1u << SPARROW_GATHER_SKIP_BIT)
#define SPARSE_IDX_RELEASE (1u << SPARROW_GATHER_RELEASE_BIT)
#define SPARSE_IDX_OFFSET_MAX ((1u << SPARROW_GATHER_OFFSET_BITS) - 1u)

// Index of the detail arrays.
static inline size_t sparse_task_at(const sparrow_ops_sparse_plan_t *p, uint32_t round,
                                    uint32_t tile) {
  return (size_t)round * p->tiles + tile;
}
// spmm: per (round, tile, chunk); sddmm: per (round, tile, segment).
static inline size_t sparse_slice_at(const sparrow_ops_sparse_plan_t *p, uint32_t round,
                                     uint32_t tile, uint32_t inner) {
  uint32_t per = p->op == SPARROW_OPS_SDDMM ? p->segments : p->chunks;
  return ((size_t)round * p->tiles + tile) * per + inner;
}

// Rows of reduced dimension in chunk q and where it starts.
static inline uint32_t sparse_chunk_rows(const sparrow_ops_sparse_plan_t *p, uint32_t q,
                                         uint32_t *first) {
  uint32_t r0 = q * p->chunk;
  if (first != NULL) {
    *first = r0;
  }
  return min_u32(p->chunk, p->red - r0);
}

// Cost model parameters (docs/ops.md, "Choosing nb and kc").
typedef struct sparse_cost {
  uint64_t dram_bw;      // bytes per cycle
  uint64_t latency;      // cycles
  uint64_t outstanding;  // beats in flight per AGCU channel
} sparse_cost_t;

// Cycles for one AGCU channel to move `beats` beats (Little's law: outstanding / latency beats
// per cycle at most, and one beat per cycle).
uint64_t sparse_channel_cycles(const sparse_cost_t *c, uint64_t beats);

// spmm/spmm_t: the stored blocks of column lane-block j in chunk q: [*lo, *hi) in the pattern.
void sparse_col_range(const sparrow_ops_sparse_plan_t *p, uint32_t j, uint32_t q, uint32_t *lo,
                      uint32_t *hi);

// Planner halves (sparse_plan.c calls them; they fill plan's figures and details).
sparrow_ops_status_t sparse_plan_spmm(sparrow_ops_sparse_plan_t *plan, const sparse_cost_t *cost,
                                      char *msg, size_t msg_len);
sparrow_ops_status_t sparse_plan_sddmm(sparrow_ops_sparse_plan_t *plan, const sparse_cost_t *cost,
                                       char *msg, size_t msg_len);

// Builders.
sparrow_ops_status_t sparse_build_spmm(const sparrow_ops_sparse_plan_t *plan, uint64_t a_addr,
                                       uint64_t b_addr, uint64_t idx_addr, uint64_t c_addr,
                                       sparrow_ops_programs_t *programs);
sparrow_ops_status_t sparse_build_sddmm(const sparrow_ops_sparse_plan_t *plan, uint64_t a_addr,
                                        uint64_t b_addr, uint64_t idx_addr, uint64_t c_addr,
                                        sparrow_ops_programs_t *programs);

// Packing halves.
void sparse_pack_b_spmm(const sparrow_ops_sparse_plan_t *plan, const sparrow_bsr_t *w,
                        uint32_t *dev_b);
void sparse_pack_idx_spmm(const sparrow_ops_sparse_plan_t *plan, uint32_t *dev_idx);
void sparse_pack_b_sddmm(const sparrow_ops_sparse_plan_t *plan, const uint32_t *dy,
                         uint32_t *dev_b);
void sparse_pack_idx_sddmm(const sparrow_ops_sparse_plan_t *plan, uint32_t *dev_idx);
void sparse_unpack_sddmm(const sparrow_ops_sparse_plan_t *plan, const uint32_t *dev_c,
                         uint32_t *dw_values);

// sddmm: calls fn(ctx, jl, entry) for every column lane-block of the tile's list (position jl)
// whose block with strip kl is stored, in list order; entry is the stored block's pattern index.
// Returns the count.
typedef void (*sparse_pair_fn)(void *ctx, uint32_t jl, uint32_t entry);
uint32_t sparse_sddmm_pairs(const sparrow_ops_sparse_plan_t *p, uint32_t round, uint32_t tile,
                            uint32_t kl, sparse_pair_fn fn, void *ctx);

// Program assembly shared by the builders: a route table written in full at every phase (so that
// no stale route survives), and the launch splitting of gemm.c.
typedef struct sparse_routes {
  uint32_t src[SPARROW_MAX_TILES][SPARROW_SWITCH_DST_PER_TILE];  // source id, or NO_SOURCE
} sparse_routes_t;

void sparse_routes_clear(sparse_routes_t *r);
void sparse_routes_set(sparse_routes_t *r, uint32_t tile, uint32_t dst_kind, uint32_t src_tile,
                       uint32_t src_kind);
sparrow_ops_prog_status_t sparse_routes_emit(sparrow_ops_prog_t *prog, const sparse_routes_t *r);

static inline sparrow_ops_agen_t sparse_agen(uint64_t base, uint32_t c0, int64_t s0, uint32_t c1,
                                             int64_t s1, uint32_t c2, int64_t s2, uint32_t c3,
                                             int64_t s3) {
  sparrow_ops_agen_t g = {
      (uint32_t)base, {c0, c1, c2, c3}, {(int32_t)s0, (int32_t)s1, (int32_t)s2, (int32_t)s3}};
  return g;
}

#endif  // SPARROW_HOST_OPS_SPARSE_INTERNAL_H_
