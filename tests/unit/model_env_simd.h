// SPDX-License-Identifier: Apache-2.0
//
// The SIMD part of the model suites' fixture (model_env.h), for the suites that run code from the
// ops library's SIMD assembler (host/ops/simd_asm.c) on the model (test_simd_special.c,
// test_fp_log.c): the program encoded, then run in batches on tile 0. model_env_simd.c needs
// simd_asm.o besides model_env.o.

#ifndef SPARROW_TESTS_UNIT_MODEL_ENV_SIMD_H_
#define SPARROW_TESTS_UNIT_MODEL_ENV_SIMD_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../host/ops/simd_asm.h"
#include "model_env.h"

typedef struct env_simd {
  sparrow_simd_asm_t as;  // the program, assembled by the suite
  uint32_t code_words;    // what env_simd_encode made of it
  uint32_t code[SPARROW_PCU_IMEM_WORDS];
} env_simd_t;

// Where a batch's code and data lie in the fixture's DRAM.
typedef struct env_simd_layout {
  uint32_t code_addr;
  uint32_t a_addr;  // AGCU 0 read 0 -> pcu_a
  uint32_t b_addr;  // AGCU 0 read 1 -> pcu_b, when two_inputs
  uint32_t out_addr;
  bool two_inputs;
  size_t max_count;  // the words each buffer holds
} env_simd_layout_t;

// Checks s->as (`what` names the program in the message) and encodes it into s->code.
void env_simd_encode(env_simd_t *s, const char *what);

// Runs the encoded program over the `count` words already at the layout's inputs (count a
// multiple of lanes, at most max_count) on tile 0: the code put at code_addr (padded to whole
// beats) and read by a LOAD phase, then one SIMD phase writing pcu_out to out_addr. Launched after
// a CLEAR with `watchdog`; DONE is asserted. Returns FP_STATUS.
uint32_t env_simd_run(env_t *env, const env_simd_t *s, const env_simd_layout_t *layout,
                      size_t count, uint32_t watchdog);

#endif  // SPARROW_TESTS_UNIT_MODEL_ENV_SIMD_H_
