// SPDX-License-Identifier: Apache-2.0
//
// The golden model's CSR face (sparrow_model.h): the control block's registers, the program
// window, counters, and the launch's life cycle. A launch executes the whole program at once
// (model_program.c) and then stays busy until sparrow_model_advance() has covered its estimated
// cycles, so that software sees the same busy -> done/error sequence as on the RTL.
#include "sparrow_model.h"

#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define BIT(n) (1u << (n))

static bool config_supported(const sparrow_hw_config_t *config) {
  if (config == NULL) {
    return false;
  }
  if (config->tiles == 0 || config->tiles > SPARROW_MAX_TILES) {
    return false;
  }
  if (config->lanes == 0 || config->lanes > SPARROW_MODEL_MAX_LANES) {
    return false;
  }
  if ((config->lanes & (config->lanes - 1u)) != 0) {
    return false;  // the SIMD reduction trees (RSUM, RMAX) are defined for powers of two only
  }
  if (SPARROW_PMU_IDX_WORDS < config->lanes || SPARROW_PMU_IDX_WORDS % config->lanes != 0) {
    return false;  // the index memory is written in whole lines of lanes words
  }
  return config->pmu_words >= config->lanes && config->pmu_words % config->lanes == 0;
}

sparrow_model_t *sparrow_model_create(const sparrow_hw_config_t *config, uint8_t *dram,
                                      uint64_t dram_bytes, uint32_t dram_bw,
                                      uint32_t dram_latency) {
  if (!config_supported(config) || (dram == NULL && dram_bytes != 0)) {
    return NULL;
  }
  sparrow_model_t *model = calloc(1, sizeof *model);
  if (model == NULL) {
    return NULL;
  }
  model->config = *config;
  model->pmu_lines = config->pmu_words / config->lanes;
  model->idx_lines = SPARROW_PMU_IDX_WORDS / config->lanes;
  model->dram = dram;
  model->dram_bytes = dram_bytes;
  model->dram_bw = dram_bw;
  model->dram_latency = dram_latency;
  model->program = calloc(config->prog_entries == 0 ? 1u : config->prog_entries, sizeof(uint64_t));
  bool ok = model->program != NULL;
  for (uint32_t tile = 0; ok && tile < config->tiles; ++tile) {
    // The RTL's memories have no reset; the model starts them at 0 so that runs are reproducible.
    model->pmu_mem[tile] = calloc(config->pmu_words, sizeof(uint32_t));
    model->pmu_idx[tile] = calloc(SPARROW_PMU_IDX_WORDS, sizeof(uint32_t));
    ok = model->pmu_mem[tile] != NULL && model->pmu_idx[tile] != NULL;
  }
  if (!ok) {
    sparrow_model_destroy(model);
    return NULL;
  }
  return model;
}

void sparrow_model_destroy(sparrow_model_t *model) {
  if (model == NULL) {
    return;
  }
  for (uint32_t tile = 0; tile < SPARROW_MAX_TILES; ++tile) {
    free(model->pmu_mem[tile]);
    free(model->pmu_idx[tile]);
  }
  free(model->program);
  free(model);
}

static bool busy(const sparrow_model_t *model) {
  return (model->status & BIT(SPARROW_STATUS_BUSY_BIT)) != 0;
}

static uint64_t cycles_counter(const sparrow_model_t *model) {
  if (!busy(model)) {
    return model->cycles_base;
  }
  uint64_t elapsed =
      model->launch_elapsed < model->launch_cycles ? model->launch_elapsed : model->launch_cycles;
  return model->cycles_base + elapsed;
}

static uint32_t lo(uint64_t value) {
  return (uint32_t)value;
}
static uint32_t hi(uint64_t value) {
  return (uint32_t)(value >> 32);
}

static uint32_t unit_counter_read(const sparrow_model_t *model, uint32_t offset) {
  uint32_t unit = offset / SPARROW_MODEL_UNIT_COUNTER_STRIDE;
  if (unit >= 3u * model->config.tiles) {
    return 0;
  }
  // Words within a unit's block: BUSY_LO, BUSY_HI, STALL_LO, STALL_HI.
  switch (offset % SPARROW_MODEL_UNIT_COUNTER_STRIDE / 4u) {
    case 0:
      return lo(model->unit_busy[unit]);
    case 1:
      return hi(model->unit_busy[unit]);
    case 2:
      return lo(model->unit_stall[unit]);
    default:
      return hi(model->unit_stall[unit]);
  }
}

static uint32_t program_half(const sparrow_model_t *model, bool high) {
  if (model->prog_addr >= model->config.prog_entries) {
    return 0;
  }
  uint64_t entry = model->program[model->prog_addr];
  return high ? hi(entry) : lo(entry);
}

uint32_t sparrow_model_csr_read(sparrow_model_t *model, uint32_t addr) {
  const sparrow_hw_config_t *config = &model->config;
  if (addr >= SPARROW_CSR_UNIT_COUNTERS) {
    return unit_counter_read(model, addr - SPARROW_CSR_UNIT_COUNTERS);
  }
  switch (addr) {
    case SPARROW_CSR_ID:
      return SPARROW_CSR_ID_VALUE;
    case SPARROW_CSR_VERSION:
      return SPARROW_HW_VERSION;
    case SPARROW_CSR_PARAM_TILES:
      return config->tiles;
    case SPARROW_CSR_PARAM_LANES:
      return config->lanes;
    case SPARROW_CSR_PARAM_PMU_WORDS:
      return config->pmu_words;
    case SPARROW_CSR_PARAM_PROG_ENTRIES:
      return config->prog_entries;
    case SPARROW_CSR_PARAM_AGCU_OUTSTANDING:
      return config->agcu_outstanding;
    case SPARROW_CSR_STATUS:
      return model->status;
    case SPARROW_CSR_FP_STATUS:
      return model->fp_status;
    case SPARROW_CSR_WATCHDOG:
      return model->watchdog;
    case SPARROW_CSR_DRAM_LIMIT:
      return model->dram_limit;
    case SPARROW_CSR_ERROR_CODE:
      return model->error_code;
    case SPARROW_CSR_ERROR_ENTRY:
      return model->error_entry;
    case SPARROW_CSR_PROG_ADDR:
      return model->prog_addr;
    case SPARROW_CSR_PROG_DATA_LO:
      return program_half(model, false);
    case SPARROW_CSR_PROG_DATA_HI:
      return program_half(model, true);
    case SPARROW_CSR_CYCLES_LO:
      return lo(cycles_counter(model));
    case SPARROW_CSR_CYCLES_HI:
      return hi(cycles_counter(model));
    case SPARROW_CSR_DRAM_RD_LO:
      return lo(model->dram_rd);
    case SPARROW_CSR_DRAM_RD_HI:
      return hi(model->dram_rd);
    case SPARROW_CSR_DRAM_WR_LO:
      return lo(model->dram_wr);
    case SPARROW_CSR_DRAM_WR_HI:
      return hi(model->dram_wr);
    case SPARROW_CSR_MACS_LO:
      return lo(model->macs);
    case SPARROW_CSR_MACS_HI:
      return hi(model->macs);
    default:
      return 0;  // CTRL is write-only; unmapped addresses read 0
  }
}

// ctrl.clear: status (including an unfinished launch's), error, FP status and every counter.
static void clear_status_and_counters(sparrow_model_t *model) {
  model->status = 0;
  model->error_code = SPARROW_FABRIC_ERR_NONE;
  model->error_entry = 0;
  model->fp_status = 0;
  model->cycles_base = 0;
  model->dram_rd = 0;
  model->dram_wr = 0;
  model->macs = 0;
  memset(model->unit_busy, 0, sizeof model->unit_busy);
  memset(model->unit_stall, 0, sizeof model->unit_stall);
  model->launch_cycles = 0;
  model->launch_elapsed = 0;
}

static void launch(sparrow_model_t *model) {
  // A launch while one is running is ignored, as the control block ignores it while busy.
  if (busy(model)) {
    return;
  }
  model->status = BIT(SPARROW_STATUS_BUSY_BIT);
  model->error_code = SPARROW_FABRIC_ERR_NONE;
  model->error_entry = 0;
  sparrow_model_launch_result_t result = sparrow_model_program_execute(model);
  model->launch_cycles = result.cycles;
  model->launch_elapsed = 0;
  if (result.error == SPARROW_MODEL_OK) {
    model->launch_final_status = BIT(SPARROW_STATUS_DONE_BIT);
    model->launch_error_code = SPARROW_FABRIC_ERR_NONE;
    model->launch_error_entry = 0;
  } else {
    model->launch_final_status = BIT(SPARROW_STATUS_ERROR_BIT);
    model->launch_error_code = (uint32_t)result.error;
    model->launch_error_entry = result.entry;
  }
}

static void ctrl_write(sparrow_model_t *model, uint32_t value) {
  if (value & BIT(SPARROW_CTRL_RESET_BIT)) {
    clear_status_and_counters(model);
    sparrow_model_config_reset(model);
  }
  if (value & BIT(SPARROW_CTRL_CLEAR_BIT)) {
    clear_status_and_counters(model);
  }
  if (value & BIT(SPARROW_CTRL_LAUNCH_BIT)) {
    launch(model);
  }
}

void sparrow_model_csr_write(sparrow_model_t *model, uint32_t addr, uint32_t value) {
  switch (addr) {
    case SPARROW_CSR_CTRL:
      ctrl_write(model, value);
      break;
    case SPARROW_CSR_WATCHDOG:
      model->watchdog = value;
      break;
    case SPARROW_CSR_DRAM_LIMIT:
      model->dram_limit = value;
      break;
    case SPARROW_CSR_PROG_ADDR:
      model->prog_addr = value;
      break;
    case SPARROW_CSR_PROG_DATA_LO:
      model->prog_data_lo = value;
      break;
    case SPARROW_CSR_PROG_DATA_HI:
      // An entry beyond program memory is dropped; the address still advances, like a counter.
      if (model->prog_addr < model->config.prog_entries) {
        model->program[model->prog_addr] = (uint64_t)value << 32 | model->prog_data_lo;
      }
      model->prog_addr++;
      break;
    default:
      break;  // read-only and unmapped registers ignore writes
  }
}

void sparrow_model_advance(sparrow_model_t *model, uint64_t cycles) {
  if (!busy(model)) {
    return;
  }
  uint64_t left = model->launch_cycles - model->launch_elapsed;
  if (cycles < left) {
    model->launch_elapsed += cycles;
    return;
  }
  model->cycles_base += model->launch_cycles;
  model->launch_cycles = 0;
  model->launch_elapsed = 0;
  model->status = model->launch_final_status;
  model->error_code = model->launch_error_code;
  model->error_entry = model->launch_error_entry;
}
