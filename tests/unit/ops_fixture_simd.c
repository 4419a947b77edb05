// SPDX-License-Identifier: Apache-2.0

#include "ops_fixture_simd.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparrow_ref.h"

#define GAP 0x140u  // bytes between the executor's buffers

model_run_t run_simd_job(const sparrow_hw_config_t *cfg, const sparrow_ops_fabric_t *fab,
                         const sparrow_ops_simd_plan_t *plan, const sparrow_ops_simd_job_t *job,
                         uint8_t *dram, uint64_t dram_bytes, uint64_t code_addr,
                         const uint64_t in_addr[SPARROW_OPS_SIMD_INPUTS], uint64_t out_addr) {
  model_run_t r;
  memset(&r, 0, sizeof(r));
  ck_assert_int_eq(sparrow_ops_simd_code(plan, job, (uint32_t *)(dram + code_addr)),
                   SPARROW_OPS_OK);
  sparrow_ops_programs_t progs;
  ck_assert_int_eq(
      sparrow_ops_simd_build(plan, job, code_addr, in_addr, out_addr, &progs, &r.est_cycles),
      SPARROW_OPS_OK);
  sparrow_model_t *model =
      sparrow_model_create(cfg, dram, dram_bytes, fab->dram_bw, fab->dram_latency);
  ck_assert_ptr_nonnull(model);
  launch_programs(model, &progs, fab->prog_entries, WATCHDOG, cfg->name, &r);
  sparrow_model_destroy(model);
  sparrow_ops_programs_free(&progs);
  return r;
}

model_run_t run_exec(const sparrow_hw_config_t *cfg, sparrow_ops_exec_t *exec) {
  model_run_t r;
  memset(&r, 0, sizeof(r));
  uint64_t addr[SPARROW_OPS_EXEC_MAX_BUFS];
  uint64_t at = 0x1C0;
  for (uint32_t i = 0; i < exec->nbufs; ++i) {
    addr[i] = at;
    at += (exec->buf[i].bytes + GAP + 63u) / 64u * 64u + 0x40;
  }
  uint64_t dram_bytes = at + 0x200;
  uint8_t *dram = malloc(dram_bytes);
  ck_assert_ptr_nonnull(dram);
  memset(dram, FILL, dram_bytes);
  for (uint32_t i = 0; i < exec->nbufs; ++i) {
    if (exec->buf[i].role & SPARROW_OPS_EXEC_IN) {
      memcpy(dram + addr[i], exec->buf[i].image, exec->buf[i].bytes);
    }
  }
  sparrow_model_t *model =
      sparrow_model_create(cfg, dram, dram_bytes, exec->fabric.dram_bw, exec->fabric.dram_latency);
  ck_assert_ptr_nonnull(model);
  for (uint32_t j = 0; j < exec->njobs; ++j) {
    sparrow_ops_programs_t progs;
    uint64_t est = 0;
    ck_assert_int_eq(sparrow_ops_exec_programs(exec, j, addr, &progs, &est), SPARROW_OPS_OK);
    r.est_cycles += est;
    char what[64];
    snprintf(what, sizeof(what), "%s job %u", cfg->name, j);
    launch_programs(model, &progs, exec->fabric.prog_entries, WATCHDOG, what, &r);
    sparrow_ops_programs_free(&progs);
  }
  sparrow_model_destroy(model);
  ck_assert_uint_eq(r.macs, 0);  // SIMD work is not counted as MACs
  // Inputs and every gap untouched; outputs read back.
  uint64_t prev_end = 0;
  for (uint32_t i = 0; i < exec->nbufs; ++i) {
    for (uint64_t a = prev_end; a < addr[i]; ++a) {
      ck_assert_msg(dram[a] == FILL, "%s: stray write at byte 0x%llx before buffer %s", cfg->name,
                    (unsigned long long)a, exec->buf[i].name);
    }
    if (exec->buf[i].role & SPARROW_OPS_EXEC_OUT) {
      memcpy(exec->buf[i].image, dram + addr[i], exec->buf[i].bytes);
    } else {
      ck_assert_msg(memcmp(exec->buf[i].image, dram + addr[i], exec->buf[i].bytes) == 0,
                    "%s: input buffer %s was written", cfg->name, exec->buf[i].name);
    }
    prev_end = addr[i] + exec->buf[i].bytes;
  }
  for (uint64_t a = prev_end; a < dram_bytes; ++a) {
    ck_assert_uint_eq(dram[a], FILL);
  }
  free(dram);
  ck_assert_msg(r.cycles == r.est_cycles, "%s: %llu cycles, estimate %llu", cfg->name,
                (unsigned long long)r.cycles, (unsigned long long)r.est_cycles);
  return r;
}

double expect_within(const char *what, size_t count, const uint32_t *dev, const uint32_t *plain,
                     double tol) {
  size_t nonfinite = 0;
  double err = sparrow_ref_norm_rel_err(count, dev, plain, &nonfinite);
  printf("    %-40s normwise error %.3g (tolerance %.3g)\n", what, err, tol);
  ck_assert_msg(err <= tol && nonfinite == 0, "%s: error %g above %g, %zu non-finite disagree",
                what, err, tol, nonfinite);
  return err;
}
