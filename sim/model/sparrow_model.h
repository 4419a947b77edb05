// SPDX-License-Identifier: Apache-2.0
//
// The golden model: a C implementation of the fabric behind the same CSR interface as the RTL
// (docs/fabric.md). Bit-exact with the RTL; its cycle count is an estimate.

#ifndef SPARROW_SIM_MODEL_SPARROW_MODEL_H_
#define SPARROW_SIM_MODEL_SPARROW_MODEL_H_

#include <stdint.h>

#include "sparrow_hw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sparrow_model sparrow_model_t;

// dram: the platform's DRAM storage (dram_bytes long), shared with the firmware's DMA path.
// dram_bw and dram_latency feed the cycle estimate. Returns NULL when out of memory.
sparrow_model_t *sparrow_model_create(const sparrow_hw_config_t *config, uint8_t *dram,
                                      uint64_t dram_bytes, uint32_t dram_bw, uint32_t dram_latency);
void sparrow_model_destroy(sparrow_model_t *model);

uint32_t sparrow_model_csr_read(sparrow_model_t *model, uint32_t addr);
void sparrow_model_csr_write(sparrow_model_t *model, uint32_t addr, uint32_t value);

// Simulated time passes. A launch executes the whole program when CTRL.launch is written; STATUS
// turns done (or error) once its estimated cycles have elapsed.
void sparrow_model_advance(sparrow_model_t *model, uint64_t cycles);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_SIM_MODEL_SPARROW_MODEL_H_
