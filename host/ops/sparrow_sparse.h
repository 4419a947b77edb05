// SPDX-License-Identifier: Apache-2.0
//
// The three block-sparse operators of a sparse linear layer on the fabric (docs/sparsity.md, the
// programs in docs/ops.md). W is K x N in BSR form (driver/include/sparrow_bsr.h) with a block size
// that is a multiple of the device's lanes:
//   spmm    Y[M x N]  = X[M x K] * W              (W's stored blocks only)
//   spmm_t  dX[M x K] = dY[M x N] * W^T           (the same stored blocks, each read transposed)
//   sddmm   dW        = (X^T * dY) on W's mask     X is M x K, dY is M x N; dW in W's BSR layout
// Every output element is one accumulator from +0.0 adding sparrow_fp_mul products in ascending
// order of the reduced index, over the stored blocks only (absent blocks are skipped, not added as
// zeros), partial sums carried through DRAM between chunks (docs/numerics.md). With every block
// stored, spmm and spmm_t give the dense GEMM's bits.
//
// Dense matrices are row-major binary32 bit patterns (uint32_t); BSR values are floats that are
// only copied. The BSR is validated (sparrow_bsr_validate against the device's lanes, shapes
// against the other operands) before anything is sent to the device; a defect is refused with
// SPARROW_OPS_E_ARG and a message naming it.

#ifndef SPARROW_HOST_OPS_SPARROW_SPARSE_H_
#define SPARROW_HOST_OPS_SPARROW_SPARSE_H_

#include <stddef.h>
#include <stdint.h>

#include "sparrow.h"
#include "sparrow_bsr.h"
#include "sparrow_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sparrow_ops_sparse_op {
  SPARROW_OPS_SPMM = 0,
  SPARROW_OPS_SPMM_T = 1,
  SPARROW_OPS_SDDMM = 2,
} sparrow_ops_sparse_op_t;

const char *sparrow_ops_sparse_op_name(sparrow_ops_sparse_op_t op);

// One tile's work in one round. The output C (rows x cols) is cut into lanes x lanes blocks; a
// tile takes the row lane-blocks [ib0, ib0 + mb) and the column lane-blocks listed for it (spmm:
// the run [j0, j0 + nb); sddmm: nb lane-blocks of whole block columns, see col_list). src is the
// tile whose AGCU read 0 streams the tile's strips (itself, or the tile that multicasts them to
// every tile working on the same rows). mb = 0 or nb = 0: idle in that round.
typedef struct sparrow_ops_sparse_task {
  uint32_t ib0, mb;
  uint32_t j0, nb;
  uint32_t src;
} sparrow_ops_sparse_task_t;

// What one tile does in one (round, chunk[, segment]): the slice of the packed B operand it loads
// (b_off bytes into the B buffer, b_lines PMU lines), its index list(s) (idx_off bytes into the
// index buffer; idx0 words for PMU read 0, then idx1 words for PMU read 1), and its PCU blocks.
// sddmm: out_off is the byte offset of its output blocks in the output buffer.
typedef struct sparrow_ops_sparse_slice {
  uint64_t b_off;
  uint32_t b_lines;
  uint64_t idx_off;
  uint32_t idx0, idx1;
  uint32_t blocks;    // PCU output blocks
  uint64_t out_off;   // sddmm only
  uint32_t kl0, kl1;  // sddmm: the strips [kl0, kl1) of this segment
} sparrow_ops_sparse_slice_t;

// How an operator is cut into phases (docs/ops.md, "Block-sparse operators"). The fabric computes
// C = A * B with C rows x cols, the reduced dimension red:
//   spmm:   C = Y (M x N),  A = X,    B = W,    red = K;  strips = row blocks of X (K rows each)
//   spmm_t: C = dX (M x K), A = dY,   B = W^T,  red = N;  strips = row blocks of dY
//   sddmm:  C = dW (K x N), A = X^T,  B = dY,   red = M;  strips = lane-blocks of K (M rows each)
// spmm/spmm_t: B is resident (phase A loads its stored blocks), the strips stream through a
// `slots`-slot ring, and PMU read 0 gathers the strip rows that meet stored blocks. sddmm: B (dY)
// is resident, the strips (X) stream, and both PMU read ports gather: one strip row block per
// stored output block.
typedef struct sparrow_ops_sparse_plan {
  sparrow_ops_sparse_op_t op;
  uint32_t m, n, k;  // the operator's sizes (above)
  uint32_t block;
  uint32_t nnz_blocks;
  uint32_t tiles, lanes, pmu_lines, idx_words, prog_entries, k_table_entries;
  uint32_t rows, cols, red;         // C rows x cols, reduced dimension
  uint32_t rows_p;                  // rows padded (spmm/spmm_t: lanes, even row blocks)
  uint32_t row_blocks, col_blocks;  // lane-blocks of C
  uint32_t col_groups, row_groups;  // tile groups taking different columns / rows
  uint32_t nb;                      // column lane-blocks per tile and round, at most
  uint32_t rounds;
  uint32_t chunk;  // reduced rows per chunk, at most
  uint32_t chunks;
  uint32_t slots;       // ring slots
  uint32_t segments;    // sddmm: strip segments per round, at most (index memory)
  uint32_t multicast;   // 1 when one AGCU streams strips to several tiles
  uint32_t ring_lines;  // PMU lines [0, ring_lines) hold the ring; B follows
  uint64_t a_bytes, b_bytes, idx_bytes, c_bytes;  // device buffers
  uint64_t b_read_bytes;  // DRAM bytes of B (weights) the programs read, all tiles
  uint64_t est_cycles;
  // Details (owned by the plan; sparrow_ops_sparse_plan_free).
  sparrow_ops_sparse_task_t *tasks;    // [round][tile]
  sparrow_ops_sparse_slice_t *slices;  // [round][tile][chunk] (spmm) / [round][tile][segment]
  uint32_t *col_list;                  // sddmm: [round][tile][nb] column lane-blocks
  uint32_t *seg_count;                 // sddmm: [round][row group] segments
  // The operand pattern B, column-major (spmm/spmm_t) or row-major (sddmm), in blocks:
  uint32_t pat_outer;  // spmm: block columns of B; sddmm: block rows of dW
  uint32_t *pat_ptr;   // pat_outer + 1
  uint32_t *pat_idx;   // inner block index, ascending within each outer
  uint32_t *pat_blk;   // the stored block of W (index into W's values)
} sparrow_ops_sparse_plan_t;

void sparrow_ops_sparse_plan_free(sparrow_ops_sparse_plan_t *plan);

// Plans an operator for a device. w: W (K x N, its values are not read; for sddmm they may be
// NULL); m: M. Checks W against the fabric's lanes first. msg says why on failure.
sparrow_ops_status_t sparrow_ops_sparse_plan(const sparrow_ops_fabric_t *fabric,
                                             sparrow_ops_sparse_op_t op, uint32_t m,
                                             const sparrow_bsr_t *w,
                                             sparrow_ops_sparse_plan_t *plan, char *msg,
                                             size_t msg_len) __attribute__((warn_unused_result));

// Packing into the device buffers (plan->a_bytes, b_bytes, idx_bytes; zero padded) and unpacking
// the result.
//   spmm:   a = X (m x k), b from w's values;     spmm_t: a = dY (m x n), b from w's values;
//   sddmm:  a = X (m x k), b = dY (m x n).
void sparrow_ops_sparse_pack_a(const sparrow_ops_sparse_plan_t *plan, const uint32_t *a,
                               uint32_t *dev_a);
// spmm/spmm_t: W's stored blocks in the order the PCUs take them; sddmm: dY in the tiles' order.
void sparrow_ops_sparse_pack_b(const sparrow_ops_sparse_plan_t *plan, const sparrow_bsr_t *w,
                               const uint32_t *b, uint32_t *dev_b);
void sparrow_ops_sparse_pack_idx(const sparrow_ops_sparse_plan_t *plan, uint32_t *dev_idx);
// spmm: Y (m x n); spmm_t: dX (m x k); sddmm: dW's values (nnz_blocks x block x block, W's block
// order, each block row-major).
void sparrow_ops_sparse_unpack_c(const sparrow_ops_sparse_plan_t *plan, const uint32_t *dev_c,
                                 uint32_t *c);

// The programs for a plan with its buffers at the given device byte addresses (one or more
// launches, each at most prog_entries long).
sparrow_ops_status_t sparrow_ops_sparse_build(const sparrow_ops_sparse_plan_t *plan,
                                              uint64_t a_addr, uint64_t b_addr, uint64_t idx_addr,
                                              uint64_t c_addr, sparrow_ops_programs_t *programs)
    __attribute__((warn_unused_result));

// What a sparse run cost (summed over launches), and its plan's figures.
typedef struct sparrow_ops_sparse_stats {
  uint64_t cycles;
  uint64_t macs;           // multiply-accumulates the PCUs performed
  uint64_t dram_rd_bytes;  // by the AGCUs
  uint64_t dram_wr_bytes;
  uint64_t weight_bytes;  // DRAM bytes of the weight-shaped operand: W read (spmm, spmm_t),
                          // dW written and reloaded (sddmm)
  uint32_t launches;
  size_t entries;
  uint32_t fp_status;
  uint64_t est_cycles;
  uint32_t nnz_blocks;
  double density;                  // nnz_blocks / (block_rows * block_cols)
  sparrow_ops_sparse_plan_t plan;  // its detail arrays are freed: only the figures remain
} sparrow_ops_sparse_stats_t;

// Y = X * W. x: m x w->rows; y: m x w->cols.
sparrow_ops_status_t sparrow_ops_spmm(sparrow_dev_t *dev, uint32_t m, const uint32_t *x,
                                      const sparrow_bsr_t *w, uint32_t *y,
                                      sparrow_ops_sparse_stats_t *stats, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
// dX = dY * W^T. dy: m x w->cols; dx: m x w->rows.
sparrow_ops_status_t sparrow_ops_spmm_t(sparrow_dev_t *dev, uint32_t m, const uint32_t *dy,
                                        const sparrow_bsr_t *w, uint32_t *dx,
                                        sparrow_ops_sparse_stats_t *stats, char *msg,
                                        size_t msg_len) __attribute__((warn_unused_result));
// dW = (X^T * dY) on w's mask. x: m x w->rows; dy: m x w->cols; dw_values: nnz_blocks * block^2
// words in w's block order (w's values are not read and may be NULL).
sparrow_ops_status_t sparrow_ops_sddmm(sparrow_dev_t *dev, uint32_t m, const uint32_t *x,
                                       const uint32_t *dy, const sparrow_bsr_t *w,
                                       uint32_t *dw_values, sparrow_ops_sparse_stats_t *stats,
                                       char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_SPARROW_SPARSE_H_
