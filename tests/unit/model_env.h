// SPDX-License-Identifier: Apache-2.0
//
// The test fixture shared by the golden model's Check suites (test_model*.c): one
// model of a configuration over 1 MiB of DRAM, a program under construction, and CSR and DRAM word
// access. Everything goes through the model's CSR API, as the firmware drives the fabric.

#ifndef SPARROW_TESTS_UNIT_MODEL_ENV_H_
#define SPARROW_TESTS_UNIT_MODEL_ENV_H_

#include <stdint.h>

#include "../../sim/model/model_prog_builder.h"
#include "../../sim/model/sparrow_model.h"

#define DRAM_BYTES (1u << 20)
#define DRAM_BW 64u
#define DRAM_LATENCY 100u
#define MAX_WAIT 10000000u
#define BUSY (1u << SPARROW_STATUS_BUSY_BIT)
#define DONE (1u << SPARROW_STATUS_DONE_BIT)
#define ERROR (1u << SPARROW_STATUS_ERROR_BIT)

typedef struct {
  const sparrow_hw_config_t *hw;
  sparrow_model_t *model;
  uint8_t *dram;
  uint32_t lanes;
  uint32_t beat_bytes;
  uint64_t *storage;  // program memory plus one entry, so a test can overflow it on purpose
  sparrow_model_prog_t prog;
} env_t;

env_t *env_open(int config_index);
void env_close(env_t *env);
// Starts an empty program in env->prog.
void new_program(env_t *env);

uint32_t csr(env_t *env, uint32_t addr);
uint64_t csr64(env_t *env, uint32_t lo_addr);
void ctrl(env_t *env, uint32_t bit);
// Loads env->prog, launches it and waits; returns STATUS.
uint32_t run(env_t *env);

// Little-endian 32-bit words in the model's DRAM.
void put_word(env_t *env, uint32_t addr, uint32_t value);
uint32_t get_word(env_t *env, uint32_t addr);

#endif  // SPARROW_TESTS_UNIT_MODEL_ENV_H_
