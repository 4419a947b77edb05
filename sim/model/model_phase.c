// SPDX-License-Identifier: Apache-2.0
//
// One phase (op_run): build every unit's run state from its configuration registers, then step
// all units and the switch round-robin, each moving at most one beat per port per round, until
// every enabled channel is done and no beat is left in the switch. A round in which nothing
// changes can never be followed by one that does, so it is a deadlock: the model cannot hang.
#include <stdint.h>
#include <string.h>

#include "model_internal.h"

static uint32_t nonzero_or_one(uint32_t value) {
  return value == 0 ? 1u : value;
}

static void setup_agcu(sparrow_model_t *model, uint32_t tile) {
  for (uint32_t channel = 0; channel < SPARROW_MODEL_AGCU_CHANNELS; ++channel) {
    const uint32_t *block = &model->agcu_regs[tile][channel * SPARROW_AGCU_CHAN_BLOCK];
    sparrow_model_channel_t *chan = &model->phase.agcu[tile][channel];
    chan->enabled = (block[SPARROW_AGCU_CHAN_ENABLE] & 1u) != 0;
    sparrow_model_agen_init(&chan->agen, block, SPARROW_AGCU_CHAN_BASE, SPARROW_AGCU_CHAN_COUNT,
                            SPARROW_AGCU_CHAN_STRIDE);
  }
}

static void setup_pmu(sparrow_model_t *model, uint32_t tile) {
  for (uint32_t port = 0; port < SPARROW_MODEL_PMU_PORTS; ++port) {
    const uint32_t *block = &model->pmu_regs[tile][port * SPARROW_PMU_PORT_BLOCK];
    sparrow_model_channel_t *chan = &model->phase.pmu[tile][port];
    chan->enabled = (block[SPARROW_PMU_PORT_ENABLE] & 1u) != 0;
    sparrow_model_agen_init(&chan->agen, block, SPARROW_PMU_PORT_BASE, SPARROW_PMU_PORT_COUNT,
                            SPARROW_PMU_PORT_STRIDE);
  }
  for (uint32_t buffer = 0; buffer < SPARROW_MODEL_PMU_BUFFERS; ++buffer) {
    // Mode bits are one-bit registers, like the enables: bit 0 counts. port_gather applies to the
    // read ports only, port_target to the write ports only.
    const uint32_t *rd =
        &model->pmu_regs[tile][(SPARROW_PMU_PORT_RD0 + buffer) * SPARROW_PMU_PORT_BLOCK];
    const uint32_t *wr =
        &model->pmu_regs[tile][(SPARROW_PMU_PORT_WR0 + buffer) * SPARROW_PMU_PORT_BLOCK];
    sparrow_model_gather_t *gather = &model->phase.gather[tile][buffer];
    gather->enabled = (rd[SPARROW_PMU_PORT_GATHER] & 1u) != 0;
    gather->idx_base = rd[SPARROW_PMU_PORT_IDX_BASE];
    gather->idx_count = rd[SPARROW_PMU_PORT_IDX_COUNT];
    // An empty list (idx_count 0, unlike a loop count) leaves nothing to do: the port is done.
    gather->finished = gather->idx_count == 0;
    model->phase.index_target[tile][buffer] =
        (wr[SPARROW_PMU_PORT_TARGET] & 1u) == SPARROW_PMU_TARGET_INDEX;
  }
  for (uint32_t buffer = 0; buffer < SPARROW_MODEL_PMU_BUFFERS; ++buffer) {
    // The four sync registers of buffer b follow each other from sync_block + 4b.
    const uint32_t *block =
        &model->pmu_regs[tile][SPARROW_PMU_SYNC_BLOCK + buffer * (SPARROW_PMU_SYNC_RD_LINES + 1u)];
    sparrow_model_sync_t *sync = &model->phase.sync[tile][buffer];
    sync->enabled = (block[SPARROW_PMU_SYNC_ENABLE] & 1u) != 0;
    // Zero slots or lines would make the counter meaningless; like loop counts, 0 means 1.
    sync->slots = nonzero_or_one(block[SPARROW_PMU_SYNC_SLOTS]);
    sync->wr_lines = nonzero_or_one(block[SPARROW_PMU_SYNC_WR_LINES]);
    sync->rd_lines = nonzero_or_one(block[SPARROW_PMU_SYNC_RD_LINES]);
  }
}

static void setup_pcu(sparrow_model_t *model, uint32_t tile) {
  const uint32_t *regs = model->pcu_regs[tile];
  sparrow_model_pcu_run_t *run = &model->phase.pcu[tile];
  run->enabled = (regs[SPARROW_PCU_ENABLE] & 1u) != 0;
  // k_count 0 counts as 1 like a loop count; a block with no MAC is what a k_table 0 entry is for.
  run->k_count = nonzero_or_one(regs[SPARROW_PCU_K_COUNT]);
  uint32_t table_len = regs[SPARROW_PCU_K_TABLE_LEN];
  run->k_table_len =
      table_len > SPARROW_PCU_K_TABLE_ENTRIES ? SPARROW_PCU_K_TABLE_ENTRIES : table_len;
  memcpy(run->k_table, &regs[SPARROW_PCU_K_TABLE], sizeof run->k_table);
  run->blocks = regs[SPARROW_PCU_BLOCKS];
  run->acc_init = (regs[SPARROW_PCU_ACC_INIT] & 1u) != 0;
  // Mode values above load are reserved and behave as GEMM (docs/fabric.md, corner cases).
  uint32_t mode = regs[SPARROW_PCU_MODE];
  run->mode =
      mode == SPARROW_PCU_MODE_SIMD || mode == SPARROW_PCU_MODE_LOAD ? mode : SPARROW_PCU_MODE_GEMM;
  run->load_base = regs[SPARROW_PCU_SIMD_LOAD_BASE];
  if (run->enabled && run->mode == SPARROW_PCU_MODE_SIMD) {
    sparrow_model_simd_setup(model, tile);
  }
}

static bool streams_empty(const sparrow_model_t *model) {
  uint32_t sources = model->config.tiles * SPARROW_SWITCH_SRC_PER_TILE;
  uint32_t destinations = model->config.tiles * SPARROW_SWITCH_DST_PER_TILE;
  for (uint32_t id = 0; id < sources; ++id) {
    if (!sparrow_model_fifo_empty(&model->phase.src[id])) {
      return false;
    }
  }
  for (uint32_t id = 0; id < destinations; ++id) {
    if (!sparrow_model_fifo_empty(&model->phase.dst[id])) {
      return false;
    }
  }
  return true;
}

static bool phase_done(const sparrow_model_t *model) {
  for (uint32_t tile = 0; tile < model->config.tiles; ++tile) {
    if (!sparrow_model_agcu_done(model, tile) || !sparrow_model_pmu_done(model, tile) ||
        !sparrow_model_pcu_done(model, tile)) {
      return false;
    }
  }
  return streams_empty(model);
}

sparrow_model_err_t sparrow_model_phase_run(sparrow_model_t *model) {
  memset(&model->phase, 0, sizeof model->phase);
  for (uint32_t tile = 0; tile < model->config.tiles; ++tile) {
    setup_agcu(model, tile);
    setup_pmu(model, tile);
    setup_pcu(model, tile);
  }
  sparrow_model_switch_setup(model);
  for (;;) {
    if (phase_done(model)) {
      return SPARROW_MODEL_OK;
    }
    bool moved = sparrow_model_switch_step(model);
    for (uint32_t tile = 0; tile < model->config.tiles; ++tile) {
      moved |= sparrow_model_agcu_step(model, tile);
      moved |= sparrow_model_pmu_step(model, tile);
      moved |= sparrow_model_pcu_step(model, tile);
    }
    if (model->phase.error != SPARROW_MODEL_OK) {
      return model->phase.error;
    }
    if (!moved) {
      return SPARROW_MODEL_ERR_WATCHDOG;
    }
  }
}
