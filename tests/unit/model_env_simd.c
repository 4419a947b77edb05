// SPDX-License-Identifier: Apache-2.0

#include "model_env_simd.h"

#include <check.h>
#include <string.h>

// Host steps of 2^16 cycles before a launch counts as hung (the watchdog normally ends it first).
#define MAX_SPINS 100000

void env_simd_encode(env_simd_t *s, const char *what) {
  char msg[160];
  ck_assert_msg(sparrow_simd_asm_check(&s->as, msg, sizeof(msg)) == SPARROW_SIMD_ASM_OK, "%s: %s",
                what, msg);
  s->code_words = 2u * s->as.count;
  ck_assert_int_eq(sparrow_simd_asm_encode(&s->as, s->code, SPARROW_PCU_IMEM_WORDS),
                   SPARROW_SIMD_ASM_OK);
}

static sparrow_model_agen_cfg_t linear(uint32_t base, uint32_t count, uint32_t stride) {
  sparrow_model_agen_cfg_t agen = {base, {count, 1, 1, 1}, {(int32_t)stride, 0, 0, 0}};
  return agen;
}

uint32_t env_simd_run(env_t *env, const env_simd_t *s, const env_simd_layout_t *layout,
                      size_t count, uint32_t watchdog) {
  ck_assert(count % env->lanes == 0 && count <= layout->max_count && count > 0);
  uint32_t code_beats = (s->code_words + env->lanes - 1u) / env->lanes;
  for (uint32_t i = 0; i < code_beats * env->lanes; ++i) {
    put_word(env, layout->code_addr + 4u * i, i < s->code_words ? s->code[i] : 0u);
  }
  uint32_t beats = (uint32_t)(count / env->lanes);
  new_program(env);
  sparrow_model_prog_t *prog = &env->prog;
  sparrow_model_prog_route(prog, SPARROW_DST_PCU_A, SPARROW_SRC_AGCU_RD0);
  sparrow_model_agen_cfg_t code = linear(layout->code_addr, code_beats, env->beat_bytes);
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD0, &code);
  sparrow_model_prog_simd_load(prog, 0, 0, code_beats);
  sparrow_model_prog_run(prog);
  sparrow_model_agen_cfg_t rd = linear(layout->a_addr, beats, env->beat_bytes);
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  if (layout->two_inputs) {
    sparrow_model_agen_cfg_t rd_b = linear(layout->b_addr, beats, env->beat_bytes);
    sparrow_model_prog_route(prog, SPARROW_DST_PCU_B, SPARROW_SRC_AGCU_RD1);
    sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD1, &rd_b);
  }
  sparrow_model_agen_cfg_t wr = linear(layout->out_addr, beats, env->beat_bytes);
  sparrow_model_prog_route(prog, SPARROW_DST_AGCU_WR, SPARROW_SRC_PCU_OUT);
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_WR, &wr);
  sparrow_model_simd_cfg_t cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.rows = 1;
  cfg.beats = beats;
  cfg.passes = 1;
  for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
    uint32_t reg = sparrow_simd_asm_seg_reg(&s->as, seg, 0);
    cfg.seg_first[seg] = reg & 0xFFFFu;
    cfg.seg_count[seg] = reg >> 16;
  }
  sparrow_model_prog_simd(prog, 0, &cfg);
  sparrow_model_prog_run(prog);
  sparrow_model_prog_end(prog);
  ck_assert(!prog->overflow);

  sparrow_model_t *model = env->model;
  sparrow_model_csr_write(model, SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_CLEAR_BIT);
  sparrow_model_csr_write(model, SPARROW_CSR_WATCHDOG, watchdog);
  sparrow_model_prog_load(model, prog);
  sparrow_model_csr_write(model, SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_LAUNCH_BIT);
  uint32_t status = sparrow_model_csr_read(model, SPARROW_CSR_STATUS);
  for (int spins = 0; (status & BUSY) != 0 && spins < MAX_SPINS; ++spins) {
    sparrow_model_advance(model, 1u << 16);
    status = sparrow_model_csr_read(model, SPARROW_CSR_STATUS);
  }
  ck_assert_msg(status == DONE, "launch status %08x, error %u at entry %u", status,
                sparrow_model_csr_read(model, SPARROW_CSR_ERROR_CODE),
                sparrow_model_csr_read(model, SPARROW_CSR_ERROR_ENTRY));
  return sparrow_model_csr_read(model, SPARROW_CSR_FP_STATUS);
}
