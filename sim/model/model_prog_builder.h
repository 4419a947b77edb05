// SPDX-License-Identifier: Apache-2.0
//
// A small builder for fabric programs (docs/fabric.md "Programs") and a loader that writes one
// into a golden model through its CSR program window, the way the firmware does. For tests and
// tools that drive the model directly; the ops library has its own program generator.

#ifndef SPARROW_SIM_MODEL_MODEL_PROG_BUILDER_H_
#define SPARROW_SIM_MODEL_MODEL_PROG_BUILDER_H_

#include <stdbool.h>
#include <stdint.h>

#include "sparrow_hw.h"
#include "sparrow_model.h"

typedef struct {
  uint64_t *entries;  // caller's storage
  uint32_t capacity;
  uint32_t count;
  bool overflow;  // an entry did not fit (the program is then incomplete)
} sparrow_model_prog_t;

// One address generator: base, then count and signed stride per loop level (level 0 innermost).
typedef struct {
  uint32_t base;
  uint32_t count[SPARROW_LOOP_LEVELS];
  int32_t stride[SPARROW_LOOP_LEVELS];
} sparrow_model_agen_cfg_t;

void sparrow_model_prog_init(sparrow_model_prog_t *prog, uint64_t *storage, uint32_t capacity);
uint64_t sparrow_model_prog_entry(uint32_t opcode, uint32_t unit, uint32_t reg, uint32_t value);
void sparrow_model_prog_cfg(sparrow_model_prog_t *prog, uint32_t unit, uint32_t reg,
                            uint32_t value);
void sparrow_model_prog_run(sparrow_model_prog_t *prog);
void sparrow_model_prog_end(sparrow_model_prog_t *prog);

// Switch: route source id src to destination id dst (enabled), or disable dst's route.
void sparrow_model_prog_route(sparrow_model_prog_t *prog, uint32_t dst, uint32_t src);
void sparrow_model_prog_unroute(sparrow_model_prog_t *prog, uint32_t dst);

// Configure and enable an AGCU channel / PMU port with the given address generator.
void sparrow_model_prog_agcu(sparrow_model_prog_t *prog, uint32_t tile, uint32_t channel,
                             const sparrow_model_agen_cfg_t *agen);
void sparrow_model_prog_pmu(sparrow_model_prog_t *prog, uint32_t tile, uint32_t port,
                            const sparrow_model_agen_cfg_t *agen);
// N-buffer sync of PMU buffer b (enable = 0 turns it off).
void sparrow_model_prog_sync(sparrow_model_prog_t *prog, uint32_t tile, uint32_t buffer,
                             uint32_t enable, uint32_t slots, uint32_t wr_lines, uint32_t rd_lines);
// Configure and enable a PCU in GEMM mode.
void sparrow_model_prog_gemm(sparrow_model_prog_t *prog, uint32_t tile, uint32_t k_count,
                             uint32_t blocks, uint32_t acc_init);

// Writes the program into the model's program memory from entry 0 (PROG_ADDR, LO, HI per entry).
void sparrow_model_prog_load(sparrow_model_t *model, const sparrow_model_prog_t *prog);

// Loads the program, launches it and advances simulated time until STATUS is no longer busy (at
// most max_cycles, in steps of one cycle so that the done cycle is exact). Returns STATUS.
uint32_t sparrow_model_prog_launch_wait(sparrow_model_t *model, const sparrow_model_prog_t *prog,
                                        uint64_t max_cycles);

#endif  // SPARROW_SIM_MODEL_MODEL_PROG_BUILDER_H_
