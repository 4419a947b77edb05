// SPDX-License-Identifier: Apache-2.0
//
// The generic runner of SIMD operators (docs/simd.md, "The runner"): one SIMD program over a walk
// of rows, split over the device's tiles, with its streams between device DRAM and the PCUs.
//
// A job is a program (simd_asm.h) and its walk: `rows` SIMD rows of `passes` passes of `beats`
// beats (docs/fabric.md, "Walk"), and three streams:
//   in[0]: AGCU read 0 -> PCU a,  in[1]: AGCU read 1 -> PCU b,  out: PCU out -> AGCU write.
// A stream is an address walk over one device buffer holding `tensors` equally sized tensor images
// tensor_bytes apart; for each row and each pass it moves `beats` beats, and at every beat position
// one beat of each tensor in turn (interleaved: the program POPs them, or PUSHes them, in that
// order). A row's beats are `beat_stride` bytes apart and rows `row_stride` apart (0: every row
// reads the same beats, a broadcast such as a bias). An input streamed in several passes is read
// from DRAM again for each (the AGCU re-reads the row: no PMU capacity limit, and the DRAM bytes
// show in the counters).
//
// The rows are split over the tiles in contiguous, balanced runs; tile t runs its rows with
// simd_row_base = its first row (so ROW is the row's index in the whole job) and the job's
// col_base. Every launch first loads the program into the PCUs it uses (LOAD mode, from a device
// buffer holding the encoded program), then runs the SIMD phase, so it relies on nothing an
// earlier launch left; at its end it un-routes what it routed, so that nothing a later program
// does not write itself is left behind. One launch when the fabric program fits prog_entries,
// else one launch per tile.

#ifndef SPARROW_HOST_OPS_SIMD_RUN_H_
#define SPARROW_HOST_OPS_SIMD_RUN_H_

#include <stddef.h>
#include <stdint.h>

#include "simd_asm.h"
#include "sparrow.h"
#include "sparrow_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPARROW_OPS_SIMD_INPUTS 2u  // AGCU read 0 -> a, read 1 -> b

typedef struct sparrow_ops_simd_stream {
  uint32_t tensors;       // interleaved tensors (0: the stream is not used)
  uint64_t tensor_bytes;  // bytes of one tensor's image; the buffer holds tensors of them
  uint32_t beats;         // beats per row and pass (per tensor)
  uint32_t beat_stride;   // bytes between a row's consecutive beats
  uint32_t passes;        // inputs: passes that POP the row (re-read each time); outputs: 1
  uint32_t row_stride;    // bytes between consecutive rows (0: the same beats for every row)
} sparrow_ops_simd_stream_t;

typedef struct sparrow_ops_simd_job {
  const sparrow_simd_asm_t *code;
  uint32_t rows;    // SIMD rows, split over the tiles (>= 1)
  uint32_t beats;   // simd_beats (>= 1)
  uint32_t passes;  // simd_passes (1 .. 3)
  uint32_t col_base;
  sparrow_ops_simd_stream_t in[SPARROW_OPS_SIMD_INPUTS];
  sparrow_ops_simd_stream_t out;
  // Additions (zero keeps the behaviour above; every job is memset first):
  // max_tiles: at most this many tiles run the rows (0: all). With 1, one PCU runs every row in
  //   order and its registers carry from row to row, so a reduction over rows can keep one
  //   accumulator in ascending row order (the global gradient norm, sparrow_nn.h).
  // out_once: the out stream moves its `beats` beats once, after the last row (the epilogue
  //   PUSHes them), instead of once per row; it needs a single busy tile (max_tiles 1), and
  //   out.row_stride must be 0.
  uint32_t max_tiles;
  uint32_t out_once;
} sparrow_ops_simd_job_t;

typedef struct sparrow_ops_simd_plan {
  sparrow_ops_fabric_t fabric;
  uint32_t row_first[SPARROW_MAX_TILES];
  uint32_t row_count[SPARROW_MAX_TILES];  // 0: the tile is idle
  uint32_t busy_tiles;
  uint32_t insns;       // instructions of the program
  uint32_t code_words;  // 2 * insns, padded to whole beats
  uint32_t code_beats;
  uint32_t groups[SPARROW_SIMD_SEGMENTS];  // issue groups of each segment on this device
  uint64_t tile_groups_max;                // issue groups of the busiest tile's SIMD phase
} sparrow_ops_simd_plan_t;

// Checks a job against a device and splits its rows. SPARROW_OPS_E_ARG for an inconsistent job (a
// program with an assembler error, a stream that reaches past its buffer, counts of 0 or passes
// above 3), SPARROW_OPS_E_UNSUPPORTED when it does not fit the device's 32-bit addresses. msg
// (may be NULL) says why.
sparrow_ops_status_t sparrow_ops_simd_plan(const sparrow_ops_fabric_t *fabric,
                                           const sparrow_ops_simd_job_t *job,
                                           sparrow_ops_simd_plan_t *plan, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// The encoded program padded with zeros to code_words words (what the LOAD phases read).
sparrow_ops_status_t sparrow_ops_simd_code(const sparrow_ops_simd_plan_t *plan,
                                           const sparrow_ops_simd_job_t *job, uint32_t *words)
    __attribute__((warn_unused_result));

// The fabric programs of a planned job with the code at code_addr, stream in[i]'s buffer at
// in_addr[i] and out's at out_addr (device byte addresses). *est_cycles (may be NULL) gets the
// golden model's cycle count for them: its documented estimate (sim/model/README.md), computed
// from the same beats, issue groups and entries.
sparrow_ops_status_t sparrow_ops_simd_build(const sparrow_ops_simd_plan_t *plan,
                                            const sparrow_ops_simd_job_t *job, uint64_t code_addr,
                                            const uint64_t in_addr[SPARROW_OPS_SIMD_INPUTS],
                                            uint64_t out_addr, sparrow_ops_programs_t *programs,
                                            uint64_t *est_cycles)
    __attribute__((warn_unused_result));

// What SIMD work cost, as the fabric counted it (summed over launches and jobs).
typedef struct sparrow_ops_simd_stats {
  uint64_t cycles;
  uint64_t dram_rd_bytes;
  uint64_t dram_wr_bytes;
  uint32_t launches;
  size_t entries;       // fabric program entries over all launches
  uint32_t fp_status;   // sticky flags (SPARROW_FP_*) ORed over launches
  uint64_t est_cycles;  // the runner's estimate (the golden model's count)
  uint32_t jobs;
  uint32_t insns;        // SIMD instructions of the last job's program
  uint32_t body_groups;  // issue groups of its pass-0 body: cycles per beat when streams keep up
  sparrow_ops_simd_plan_t plan;  // the last job's
} sparrow_ops_simd_stats_t;

// Runs a job whose buffers are already in device memory: plans it for the device, writes the
// encoded program to a device buffer, runs every launch, frees the program buffer. Adds to *stats
// (the caller zeroes it first). On failure msg says why.
sparrow_ops_status_t sparrow_ops_simd_exec(sparrow_dev_t *dev, const sparrow_ops_simd_job_t *job,
                                           const uint64_t in_addr[SPARROW_OPS_SIMD_INPUTS],
                                           uint64_t out_addr, sparrow_ops_simd_stats_t *stats,
                                           char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_SIMD_RUN_H_
