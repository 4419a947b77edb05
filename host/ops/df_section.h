// SPDX-License-Identifier: Apache-2.0
//
// Dataflow sections (docs/dataflow.md): several row-wise SIMD operators run as one fused pipeline
// over the same token rows, with the tensors passed between them kept in the PMUs.
//
// A section is a list of steps, each a runner job (simd_run.h) of an operator's executor
// (nn_exec.h), and links that connect an OUT buffer of one step to an IN buffer of a later step.
// The section runs the steps' very programs on the very same rows, so its results are bit for bit
// those of running the executors one after the other (kernel by kernel); what changes is where
// the tensors live:
//
//   - a linked buffer lives in the PMU of the tile that owns the rows: the producer's PCU output
//     goes to a PMU write port, the consumer's PCU input comes from a PMU read port. With `keep`
//     it is also written to DRAM (multicast from the PCU output) and read back, because something
//     after the section needs it (the backward pass, a GEMM);
//   - a broadcast input (a stream with row_stride 0: a bias, gamma and beta) is loaded into every
//     busy PMU once per launch instead of once per row;
//   - every other input streams from DRAM, or is staged: loaded into a pair of PMU regions one
//     chunk ahead, during the previous chunk's phases (double buffering), when the golden model's
//     estimate says that is faster; every other output goes to DRAM, as in the runner.
//
// The rows are split over the tiles as the runner splits them, and each tile works through its
// rows in chunks of as many rows as its PMU holds: for each chunk, every step runs as one phase.
// The programs of all steps are loaded once per launch when they fit the program memory together,
// else before each step's phase. A launch holds as many chunks as fit the program memory of the
// control block; further chunks go to further launches (each loads programs and broadcasts again).

#ifndef SPARROW_HOST_OPS_DF_SECTION_H_
#define SPARROW_HOST_OPS_DF_SECTION_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn_exec.h"
#include "simd_run.h"
#include "sparrow.h"
#include "sparrow_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPARROW_DF_MAX_STEPS 6u
#define SPARROW_DF_MAX_LINKS 8u

typedef struct sparrow_df_step {
  sparrow_ops_exec_t *exec;  // the operator's executor (its buffers hold the images)
  uint32_t job;              // a runner job of it (not a custom builder)
} sparrow_df_step_t;

typedef struct sparrow_df_link {
  uint32_t from_step, from_buf;  // an OUT buffer of an earlier step's executor
  uint32_t to_step, to_buf;      // the IN buffer of a later step's executor that it becomes
  bool keep;                     // also written to DRAM and read back into from_buf's image
} sparrow_df_link_t;

typedef struct sparrow_df_section {
  const char *name;  // for messages
  uint32_t nsteps;
  sparrow_df_step_t step[SPARROW_DF_MAX_STEPS];
  uint32_t nlinks;
  sparrow_df_link_t link[SPARROW_DF_MAX_LINKS];
} sparrow_df_section_t;

// How a section was laid out on a fabric (for tests, docs and the study).
typedef struct sparrow_df_layout {
  uint32_t chunk_rows;   // rows per tile per chunk
  uint32_t pmu_lines;    // PMU lines the section uses (broadcasts + one chunk of linked rows)
  uint32_t onchip_bufs;  // linked buffers (in the PMU)
  uint32_t kept_bufs;    // of them, also written to DRAM
  uint32_t broadcast_bufs;
  uint32_t staged_bufs;    // DRAM inputs double-buffered through the PMU
  bool programs_resident;  // every step's program loaded once per launch
} sparrow_df_layout_t;

// Checks the section against the fabric and lays it out: every step a runner job with the same
// rows, row-wise streams, links between matching streams of an OUT and a later IN buffer.
// SPARROW_OPS_E_ARG with msg saying what is wrong; E_UNSUPPORTED when one row of the linked
// buffers does not fit a PMU.
sparrow_ops_status_t sparrow_df_section_layout(const sparrow_df_section_t *section,
                                               const sparrow_ops_fabric_t *fabric,
                                               sparrow_df_layout_t *layout, char *msg,
                                               size_t msg_len) __attribute__((warn_unused_result));

// The section's fabric programs for the executors' buffers at addr[step][buf] (device byte
// addresses; buffers the section keeps in the PMUs need none). *est_cycles (may be NULL) gets the
// golden model's cycle count (sim/model/README.md, "Cycle estimate").
sparrow_ops_status_t sparrow_df_section_build(const sparrow_df_section_t *section,
                                              const sparrow_ops_fabric_t *fabric,
                                              const uint64_t addr[][SPARROW_OPS_EXEC_MAX_BUFS],
                                              sparrow_ops_programs_t *programs,
                                              uint64_t *est_cycles, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Runs the section on a device: allocates the buffers it needs in DRAM, writes the IN images,
// runs every launch, reads the OUT images (kept links included; the images of links that are not
// kept are left as they were), frees. Adds what it cost to *stats (the caller zeroes it). On
// failure msg says why; device buffers are freed either way.
sparrow_ops_status_t sparrow_df_section_run(sparrow_dev_t *dev, const sparrow_df_section_t *section,
                                            sparrow_ops_simd_stats_t *stats, char *msg,
                                            size_t msg_len) __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_DF_SECTION_H_
