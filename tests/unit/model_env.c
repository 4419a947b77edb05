// SPDX-License-Identifier: Apache-2.0

#include "model_env.h"

#include <check.h>
#include <stdlib.h>

env_t *env_open(int config_index) {
  env_t *env = calloc(1, sizeof *env);
  ck_assert_ptr_nonnull(env);
  env->hw = &kSparrowHwConfigs[config_index];
  env->dram = calloc(DRAM_BYTES, 1);
  ck_assert_ptr_nonnull(env->dram);
  env->model = sparrow_model_create(env->hw, env->dram, DRAM_BYTES, DRAM_BW, DRAM_LATENCY);
  ck_assert_ptr_nonnull(env->model);
  env->lanes = env->hw->lanes;
  env->beat_bytes = env->lanes * 4u;
  env->storage = calloc(env->hw->prog_entries + 1u, sizeof(uint64_t));
  ck_assert_ptr_nonnull(env->storage);
  new_program(env);
  return env;
}

void env_close(env_t *env) {
  sparrow_model_destroy(env->model);
  free(env->storage);
  free(env->dram);
  free(env);
}

void new_program(env_t *env) {
  sparrow_model_prog_init(&env->prog, env->storage, env->hw->prog_entries + 1u);
}

uint32_t csr(env_t *env, uint32_t addr) {
  return sparrow_model_csr_read(env->model, addr);
}

uint64_t csr64(env_t *env, uint32_t lo_addr) {
  return (uint64_t)csr(env, lo_addr + 4u) << 32 | csr(env, lo_addr);
}

void ctrl(env_t *env, uint32_t bit) {
  sparrow_model_csr_write(env->model, SPARROW_CSR_CTRL, 1u << bit);
}

uint32_t run(env_t *env) {
  ck_assert(!env->prog.overflow);
  return sparrow_model_prog_launch_wait(env->model, &env->prog, MAX_WAIT);
}

void put_word(env_t *env, uint32_t addr, uint32_t value) {
  for (uint32_t i = 0; i < 4; ++i) {
    env->dram[addr + i] = (uint8_t)(value >> (8 * i));
  }
}

uint32_t get_word(env_t *env, uint32_t addr) {
  uint32_t value = 0;
  for (uint32_t i = 0; i < 4; ++i) {
    value |= (uint32_t)env->dram[addr + i] << (8 * i);
  }
  return value;
}
