// SPDX-License-Identifier: Apache-2.0
//
// The part of the ops suites' fixture (ops_fixture.h) that runs SIMD work on the golden model
// in-process: one SIMD job of the generic runner (test_simd_ops.c, test_attention.c), and every
// job of an executor with its buffers laid out in a DRAM image (test_ln_embed.c,
// test_loss_adamw.c), and the normwise comparison with a plain reference. ops_fixture_simd.c needs
// the SIMD objects (simd_run.c, nn_exec.c).

#ifndef SPARROW_TESTS_UNIT_OPS_FIXTURE_SIMD_H_
#define SPARROW_TESTS_UNIT_OPS_FIXTURE_SIMD_H_

#include <stdint.h>

#include "nn_exec.h"
#include "ops_fixture.h"
#include "simd_run.h"

// Runs a job on a fresh model over dram: its code encoded at code_addr, its inputs at in_addr,
// its output at out_addr (the caller has put the inputs); every launch must end DONE. Returns the
// counters, est_cycles the runner's estimate.
model_run_t run_simd_job(const sparrow_hw_config_t *cfg, const sparrow_ops_fabric_t *fab,
                         const sparrow_ops_simd_plan_t *plan, const sparrow_ops_simd_job_t *job,
                         uint8_t *dram, uint64_t dram_bytes, uint64_t code_addr,
                         const uint64_t in_addr[SPARROW_OPS_SIMD_INPUTS], uint64_t out_addr);

// The executor's buffers laid out in a DRAM image filled with FILL, at odd places with gaps, the
// IN images put, every job's programs launched; then the gaps must still hold FILL and the
// inputs their images, and the OUT images are read back. No launch may count MACs (SIMD work),
// and the cycles must equal the executor's estimate.
model_run_t run_exec(const sparrow_hw_config_t *cfg, sparrow_ops_exec_t *exec);

// The normwise (simd_ref.c) error against the plain reference, within tol; printed and returned.
double expect_within(const char *what, size_t count, const uint32_t *dev, const uint32_t *plain,
                     double tol);

#endif  // SPARROW_TESTS_UNIT_OPS_FIXTURE_SIMD_H_
