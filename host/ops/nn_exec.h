// SPDX-License-Identifier: Apache-2.0
//
// A small executor for operators made of several fabric jobs over shared device buffers (the
// layernorm and embedding operators, sparrow_nn.h). An operator is prepared in two steps that do
// not touch a device:
//
//   1. buffers: each a host image of `bytes` bytes (zeroed when added) that the operator packs
//      its inputs into; IN buffers are written to the device before the first job, OUT buffers
//      are read back after the last;
//   2. jobs, run in order: either a job of the generic SIMD runner (simd_run.h) whose streams
//      read and write buffers at byte offsets, or a custom builder that writes its own fabric
//      programs (PMU gather and the like) for the buffers' device addresses.
//
// Every job has its SIMD program in a code buffer of its own (the encoded words, padded to whole
// beats), which the job's launches LOAD into the PCUs. Then sparrow_ops_exec_run() allocates the
// buffers on a device, writes the IN images, builds and runs each job's programs, reads the OUT
// images and frees everything; a test can instead lay the buffers out in a DRAM image of the
// golden model and run sparrow_ops_exec_programs() there. Both paths run the same programs.

#ifndef SPARROW_HOST_OPS_NN_EXEC_H_
#define SPARROW_HOST_OPS_NN_EXEC_H_

#include <stddef.h>
#include <stdint.h>

#include "simd_asm.h"
#include "simd_run.h"
#include "sparrow.h"
#include "sparrow_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPARROW_OPS_EXEC_MAX_BUFS 10u
#define SPARROW_OPS_EXEC_MAX_JOBS 4u
#define SPARROW_OPS_EXEC_NONE 0xFFFFFFFFu  // no buffer (an unused stream)

// Buffer roles (bits).
#define SPARROW_OPS_EXEC_IN 1u   // written to the device before the jobs
#define SPARROW_OPS_EXEC_OUT 2u  // read back after them

typedef struct sparrow_ops_exec_buf {
  const char *name;  // for messages
  uint64_t bytes;    // a multiple of 4, at least 4
  uint32_t *image;   // bytes / 4 words, owned
  uint32_t role;     // SPARROW_OPS_EXEC_IN | _OUT (0: device scratch)
} sparrow_ops_exec_buf_t;

struct sparrow_ops_exec;

// A custom job's fabric programs, for the buffers at addr[i] (device byte addresses, one per
// buffer of the exec). *est_cycles gets the golden model's cycle count for them (its documented
// estimate, sim/model/README.md).
typedef sparrow_ops_status_t (*sparrow_ops_exec_build_fn)(const struct sparrow_ops_exec *exec,
                                                          uint32_t job, const uint64_t *addr,
                                                          sparrow_ops_programs_t *programs,
                                                          uint64_t *est_cycles);

typedef struct sparrow_ops_exec_job {
  sparrow_simd_asm_t *code;  // the job's SIMD program (owned)
  uint32_t code_buf;         // the buffer holding its encoded words
  uint32_t code_beats;       // beats of it (what a LOAD phase reads)
  // A runner job (build == NULL): its streams' buffers and byte offsets into them.
  sparrow_ops_simd_job_t simd;
  sparrow_ops_simd_plan_t plan;
  uint32_t in_buf[SPARROW_OPS_SIMD_INPUTS];
  uint64_t in_off[SPARROW_OPS_SIMD_INPUTS];
  uint32_t out_buf;
  uint64_t out_off;
  // A custom job.
  sparrow_ops_exec_build_fn build;
  uint32_t body_groups;  // issue groups of the program's pass-0 body on this device
} sparrow_ops_exec_job_t;

typedef struct sparrow_ops_exec {
  sparrow_ops_fabric_t fabric;
  uint32_t nbufs, njobs;
  sparrow_ops_exec_buf_t buf[SPARROW_OPS_EXEC_MAX_BUFS];
  sparrow_ops_exec_job_t job[SPARROW_OPS_EXEC_MAX_JOBS];
  void *ctx;            // the operator's plan, for its custom builders (owned: free()d)
  uint32_t busy_tiles;  // most tiles any job uses
} sparrow_ops_exec_t;

// An empty executor for a fabric.
void sparrow_ops_exec_init(sparrow_ops_exec_t *exec, const sparrow_ops_fabric_t *fabric);
// Frees the images, programs and ctx; the executor is empty again.
void sparrow_ops_exec_free(sparrow_ops_exec_t *exec);

// Adds a buffer of `bytes` bytes (rounded up to a whole word) with a zeroed image; *index gets its
// index. SPARROW_OPS_E_NOMEM, or E_ARG when there are too many buffers or bytes is 0.
sparrow_ops_status_t sparrow_ops_exec_add_buf(sparrow_ops_exec_t *exec, const char *name,
                                              uint64_t bytes, uint32_t role, uint32_t *index)
    __attribute__((warn_unused_result));

// A new, empty SIMD program for the next job (owned by the exec); NULL when out of memory or jobs.
sparrow_simd_asm_t *sparrow_ops_exec_new_code(sparrow_ops_exec_t *exec);

// Adds a runner job: job->code must be the program from sparrow_ops_exec_new_code; its streams
// read buffer in_buf[i] from byte in_off[i] and write out_buf from out_off (SPARROW_OPS_EXEC_NONE
// for a stream with no tensors). Plans it for the fabric (the stream extents are checked against
// the buffers) and encodes its program into a new code buffer. msg says why it failed.
sparrow_ops_status_t sparrow_ops_exec_add_simd(sparrow_ops_exec_t *exec,
                                               const sparrow_ops_simd_job_t *job,
                                               const uint32_t in_buf[SPARROW_OPS_SIMD_INPUTS],
                                               const uint64_t in_off[SPARROW_OPS_SIMD_INPUTS],
                                               uint32_t out_buf, uint64_t out_off, char *msg,
                                               size_t msg_len) __attribute__((warn_unused_result));

// Adds a custom job for the program `code` (from sparrow_ops_exec_new_code), encoded into a new
// code buffer; `build` writes its fabric programs. tiles: how many tiles it uses.
sparrow_ops_status_t sparrow_ops_exec_add_custom(sparrow_ops_exec_t *exec, sparrow_simd_asm_t *code,
                                                 sparrow_ops_exec_build_fn build, uint32_t tiles,
                                                 char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// The fabric programs of job j for buffers at addr[] (one device byte address per buffer).
sparrow_ops_status_t sparrow_ops_exec_programs(const sparrow_ops_exec_t *exec, uint32_t j,
                                               const uint64_t *addr,
                                               sparrow_ops_programs_t *programs,
                                               uint64_t *est_cycles)
    __attribute__((warn_unused_result));

// Runs every job on a device (above) and adds what it cost to *stats (the caller zeroes it):
// cycles, DRAM bytes, launches, entries, the ORed FP status, the estimate; insns, body_groups and
// plan describe the last job (plan.busy_tiles: the most tiles a job used). On failure msg says
// why; the device buffers are freed either way.
sparrow_ops_status_t sparrow_ops_exec_run(sparrow_dev_t *dev, sparrow_ops_exec_t *exec,
                                          sparrow_ops_simd_stats_t *stats, char *msg,
                                          size_t msg_len) __attribute__((warn_unused_result));

// The same for jobs [first, first + count) only (every buffer is allocated and every IN image
// written; only the OUT buffers those jobs write are read back): an operator whose jobs run apart,
// such as the layernorm backward in a dataflow section (its dx job) and as a kernel (its column
// sums).
sparrow_ops_status_t sparrow_ops_exec_run_jobs(sparrow_dev_t *dev, sparrow_ops_exec_t *exec,
                                               uint32_t first, uint32_t count,
                                               sparrow_ops_simd_stats_t *stats, char *msg,
                                               size_t msg_len) __attribute__((warn_unused_result));

// The device's fabric (sparrow_info) and its DRAM size.
sparrow_ops_status_t sparrow_ops_exec_device(sparrow_dev_t *dev, sparrow_ops_fabric_t *fabric,
                                             uint64_t *dram_bytes, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
// SPARROW_OPS_E_UNSUPPORTED (msg: "NAME needs N bytes of device memory, the device has M") when
// the buffers together exceed dram_bytes.
sparrow_ops_status_t sparrow_ops_exec_fits(const sparrow_ops_exec_t *exec, uint64_t dram_bytes,
                                           const char *name, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Helpers for custom builders: the golden model's estimate of one phase (sim/model/README.md,
// "Cycle estimate") from what each tile moved in it. A launch's estimate is the sum of its phases'
// plus SPARROW_OPS_MODEL_ENTRY_CYCLES per program entry; the two constants are the model's (its
// SPARROW_MODEL_ENTRY_CYCLES and SPARROW_MODEL_PHASE_OVERHEAD, sim/model/model_internal.h).
#define SPARROW_OPS_MODEL_ENTRY_CYCLES 1u    // per program entry decoded
#define SPARROW_OPS_MODEL_PHASE_OVERHEAD 8u  // per phase: start, pipeline fill, done collection
typedef struct sparrow_ops_exec_load {
  uint64_t agcu_rd[2];  // beats of AGCU read channels 0 and 1
  uint64_t agcu_wr;     // beats written
  uint64_t pmu;         // lines of the PMU's busiest port (gathered lines for a gather port)
  uint64_t pcu;         // PCU: SIMD issue groups, or LOAD beats
} sparrow_ops_exec_load_t;
uint64_t sparrow_ops_exec_estimate_phase(const sparrow_ops_fabric_t *fabric,
                                         const sparrow_ops_exec_load_t *tile_load, uint32_t tiles);
// Issue groups of a SIMD phase of `rows` rows of `passes` passes of `beats` beats (0 rows: 0).
uint64_t sparrow_ops_exec_simd_groups(const sparrow_simd_asm_t *code, uint32_t lanes, uint32_t rows,
                                      uint32_t beats, uint32_t passes);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_NN_EXEC_H_
