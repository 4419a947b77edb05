// SPDX-License-Identifier: Apache-2.0
//
// The ops library: builds each operator's device program and runs it through the driver
// (docs/ops.md). For now: dense GEMM C = A * B for any M, N, K, tiled over every PCU of the device.
//
// Matrices are binary32 bit patterns (uint32_t), row-major. The device layouts (zero padded):
//   A^T: K rows of Mp words (Mp = M rounded up to lanes, and to an even number of lanes-wide row
//        blocks when there is more than one, for the double-buffered A ring);
//   B:   K rows of Np words (Np = N rounded up to lanes);
//   C:   Mp rows of Np words.
// Every element of C is accumulated from +0.0 in ascending k with separately rounded multiplies and
// adds (docs/numerics.md), whatever the tiling: chunks of K carry partial sums through DRAM.

#ifndef SPARROW_HOST_OPS_SPARROW_OPS_H_
#define SPARROW_HOST_OPS_SPARROW_OPS_H_

#include <stddef.h>
#include <stdint.h>

#include "sparrow.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sparrow_ops_status {
  SPARROW_OPS_OK = 0,
  SPARROW_OPS_E_ARG,          // bad argument (zero dimension, NULL pointer, impossible fabric)
  SPARROW_OPS_E_NOMEM,        // host out of memory
  SPARROW_OPS_E_UNSUPPORTED,  // the shape does not fit the device (32-bit addresses, program size)
  SPARROW_OPS_E_DEVICE,       // a driver call failed; the message says which and why
} sparrow_ops_status_t;

const char *sparrow_ops_status_name(sparrow_ops_status_t status);

// Writes a one-line reason to msg, printf-style (at most msg_len bytes with the NUL; nothing when
// msg is NULL or msg_len is 0): how every operator of the library reports a failure.
void sparrow_ops_set_msg(char *msg, size_t msg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// The device parameters the ops library adapts to (from the driver's sparrow_info).
typedef struct sparrow_ops_fabric {
  uint32_t tiles;
  uint32_t lanes;
  uint32_t pmu_words;
  uint32_t prog_entries;
  uint32_t agcu_outstanding;  // beats in flight per AGCU channel (cost model only)
  uint32_t dram_bw;           // bytes per cycle (cost model only)
  uint32_t dram_latency;      // cycles (cost model only)
} sparrow_ops_fabric_t;

void sparrow_ops_fabric_from_info(const sparrow_info_t *info, sparrow_ops_fabric_t *fabric);

// How a GEMM is cut into phases (docs/ops.md). Every tile works on a task per round: a run of mb
// row blocks starting at ib0 and nb column blocks starting at jb0 (mb = 0: idle in that round).
typedef struct sparrow_ops_gemm_plan {
  uint32_t m, n, k;
  uint32_t tiles, lanes, pmu_lines, prog_entries;
  uint32_t mp, np;            // padded sizes
  uint32_t mblocks, nblocks;  // row blocks (Mp / lanes) and column blocks (Np / lanes)
  uint32_t col_groups;        // tile groups that take different column blocks
  uint32_t row_groups;        // tiles per group, which split the row blocks between them
  uint32_t nb;                // column blocks per tile and round, at most
  uint32_t rounds;            // rounds over the column blocks
  uint32_t kc;                // K rows per chunk, at most
  uint32_t k_chunks;          // chunks of K (partial sums carried through DRAM between them)
  uint32_t b_region;          // first PMU line of the B chunk; lines [0, 2 kc) hold the A ring
  uint64_t a_bytes, b_bytes, c_bytes;  // device buffer sizes
  uint64_t est_cycles;                 // the planner's cost estimate
} sparrow_ops_gemm_plan_t;

typedef struct sparrow_ops_gemm_task {
  uint32_t ib0, mb;  // row blocks [ib0, ib0 + mb); mb is even or 1
  uint32_t jb0, nb;  // column blocks [jb0, jb0 + nb)
} sparrow_ops_gemm_task_t;

// Chooses the tiling for a device (minimum estimated cycles). m, n, k >= 1.
sparrow_ops_status_t sparrow_ops_gemm_plan(const sparrow_ops_fabric_t *fabric, uint32_t m,
                                           uint32_t n, uint32_t k, sparrow_ops_gemm_plan_t *plan)
    __attribute__((warn_unused_result));
// The task of one tile in one round (mb = nb = 0 when idle).
void sparrow_ops_gemm_task(const sparrow_ops_gemm_plan_t *plan, uint32_t round, uint32_t tile,
                           sparrow_ops_gemm_task_t *task);

// Packing. a: m x k, b: k x n, c: m x n, row-major. at, bp, cp: the device layouts above, with
// plan->a_bytes, b_bytes, c_bytes bytes.
void sparrow_ops_gemm_pack_a(const sparrow_ops_gemm_plan_t *plan, const uint32_t *a, uint32_t *at);
void sparrow_ops_gemm_pack_b(const sparrow_ops_gemm_plan_t *plan, const uint32_t *b, uint32_t *bp);
void sparrow_ops_gemm_unpack_c(const sparrow_ops_gemm_plan_t *plan, const uint32_t *cp,
                               uint32_t *c);

// A GEMM's device programs: one or more launches, run in order (each at most prog_entries long).
typedef struct sparrow_ops_programs {
  size_t count;
  uint64_t **entries;
  size_t *lengths;
} sparrow_ops_programs_t;

void sparrow_ops_programs_free(sparrow_ops_programs_t *programs);

// Builds the programs for a plan with A^T, B and C at the given device byte addresses.
sparrow_ops_status_t sparrow_ops_gemm_build(const sparrow_ops_gemm_plan_t *plan, uint64_t a_addr,
                                            uint64_t b_addr, uint64_t c_addr,
                                            sparrow_ops_programs_t *programs)
    __attribute__((warn_unused_result));

// What a GEMM run cost, as the fabric counted it (summed over launches).
typedef struct sparrow_ops_gemm_stats {
  uint64_t cycles;
  uint64_t macs;           // multiply-accumulates the PCUs performed (padding included)
  uint64_t dram_rd_bytes;  // by the AGCUs
  uint64_t dram_wr_bytes;
  uint32_t launches;
  size_t entries;       // program entries over all launches
  uint32_t fp_status;   // sticky flags (SPARROW_FP_*) ORed over launches
  uint64_t est_cycles;  // the planner's estimate
  sparrow_ops_gemm_plan_t plan;
} sparrow_ops_gemm_stats_t;

// C = A * B on the device: allocates device memory, packs and writes A and B, runs the programs,
// reads C back, frees. stats may be NULL. On failure msg (msg_len bytes, may be NULL) says why.
sparrow_ops_status_t sparrow_ops_gemm(sparrow_dev_t *dev, uint32_t m, uint32_t n, uint32_t k,
                                      const uint32_t *a, const uint32_t *b, uint32_t *c,
                                      sparrow_ops_gemm_stats_t *stats, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_SPARROW_OPS_H_
