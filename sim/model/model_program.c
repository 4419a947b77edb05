// SPDX-License-Identifier: Apache-2.0
//
// The control block's program interpreter: walks the program memory from entry 0, applies op_cfg
// writes to the unit configuration registers, runs a phase at every op_run and stops at op_end or
// at the first error, with ERROR_ENTRY the index of the entry that failed.
#include <stdint.h>
#include <string.h>

#include "model_internal.h"

// Program entry fields (docs/fabric.md): opcode 63:60, unit 55:48, register 47:32, value 31:0.
#define ENTRY_OPCODE_SHIFT 60u
#define ENTRY_OPCODE_MASK 0xFu
#define ENTRY_UNIT_SHIFT 48u
#define ENTRY_UNIT_MASK 0xFFu
#define ENTRY_REG_SHIFT 32u
#define ENTRY_REG_MASK 0xFFFFu

static bool unit_in(uint32_t unit, uint32_t base, uint32_t tiles) {
  return unit >= base && unit < base + tiles;
}

static sparrow_model_err_t config_write(sparrow_model_t *model, uint32_t unit, uint32_t reg,
                                        uint32_t value) {
  uint32_t tiles = model->config.tiles;
  if (unit == SPARROW_UNIT_SWITCH) {
    // One register per destination id of this configuration's tiles.
    if (reg >= tiles * SPARROW_SWITCH_DST_PER_TILE) {
      return SPARROW_MODEL_ERR_BAD_REGISTER;
    }
    model->switch_regs[reg] = value;
    return SPARROW_MODEL_OK;
  }
  if (unit_in(unit, SPARROW_UNIT_AGCU, tiles)) {
    if (reg >= SPARROW_AGCU_REG_COUNT) {
      return SPARROW_MODEL_ERR_BAD_REGISTER;
    }
    model->agcu_regs[unit - SPARROW_UNIT_AGCU][reg] = value;
    return SPARROW_MODEL_OK;
  }
  if (unit_in(unit, SPARROW_UNIT_PMU, tiles)) {
    if (reg >= SPARROW_PMU_REG_COUNT) {
      return SPARROW_MODEL_ERR_BAD_REGISTER;
    }
    model->pmu_regs[unit - SPARROW_UNIT_PMU][reg] = value;
    return SPARROW_MODEL_OK;
  }
  if (unit_in(unit, SPARROW_UNIT_PCU, tiles)) {
    if (reg >= SPARROW_PCU_REG_COUNT) {
      return SPARROW_MODEL_ERR_BAD_REGISTER;
    }
    model->pcu_regs[unit - SPARROW_UNIT_PCU][reg] = value;
    return SPARROW_MODEL_OK;
  }
  return SPARROW_MODEL_ERR_BAD_UNIT;
}

// A phase runs exactly what it enables: the enable registers clear when it ends, however it ends.
static void clear_enables(sparrow_model_t *model) {
  for (uint32_t tile = 0; tile < model->config.tiles; ++tile) {
    for (uint32_t channel = 0; channel < SPARROW_MODEL_AGCU_CHANNELS; ++channel) {
      model->agcu_regs[tile][channel * SPARROW_AGCU_CHAN_BLOCK + SPARROW_AGCU_CHAN_ENABLE] = 0;
    }
    for (uint32_t port = 0; port < SPARROW_MODEL_PMU_PORTS; ++port) {
      model->pmu_regs[tile][port * SPARROW_PMU_PORT_BLOCK + SPARROW_PMU_PORT_ENABLE] = 0;
    }
    model->pcu_regs[tile][SPARROW_PCU_ENABLE] = 0;
  }
}

static sparrow_model_err_t run_phase(sparrow_model_t *model, uint64_t *cycles) {
  sparrow_model_err_t err = sparrow_model_phase_run(model);
  *cycles += sparrow_model_estimate_phase(model, err == SPARROW_MODEL_ERR_WATCHDOG);
  // Whatever moved before an error was real traffic and is counted.
  model->dram_rd += model->phase.dram_rd_bytes;
  model->dram_wr += model->phase.dram_wr_bytes;
  model->macs += model->phase.macs;
  clear_enables(model);
  return err;
}

void sparrow_model_config_reset(sparrow_model_t *model) {
  memset(model->switch_regs, 0, sizeof model->switch_regs);
  memset(model->agcu_regs, 0, sizeof model->agcu_regs);
  memset(model->pmu_regs, 0, sizeof model->pmu_regs);
  memset(model->pcu_regs, 0, sizeof model->pcu_regs);
}

sparrow_model_launch_result_t sparrow_model_program_execute(sparrow_model_t *model) {
  sparrow_model_launch_result_t result = {SPARROW_MODEL_OK, 0, 0};
  // A launch runs the entries loaded so far: those below PROG_ADDR at launch time (as the RTL).
  uint32_t entries = model->prog_addr < model->config.prog_entries ? model->prog_addr
                                                                   : model->config.prog_entries;
  for (uint32_t index = 0; index < entries; ++index) {
    uint64_t entry = model->program[index];
    result.entry = index;
    result.cycles += SPARROW_MODEL_ENTRY_CYCLES;
    switch ((entry >> ENTRY_OPCODE_SHIFT) & ENTRY_OPCODE_MASK) {
      case SPARROW_OP_CFG:
        result.error =
            config_write(model, (uint32_t)(entry >> ENTRY_UNIT_SHIFT) & ENTRY_UNIT_MASK,
                         (uint32_t)(entry >> ENTRY_REG_SHIFT) & ENTRY_REG_MASK, (uint32_t)entry);
        break;
      case SPARROW_OP_RUN:
        result.error = run_phase(model, &result.cycles);
        break;
      case SPARROW_OP_END:
        return result;
      default:
        // Opcode 0 is not defined either, so a never-written (zero) entry stops here.
        result.error = SPARROW_MODEL_ERR_BAD_OPCODE;
        break;
    }
    if (result.error != SPARROW_MODEL_OK) {
      return result;
    }
  }
  // Ran past the loaded entries: ERROR_ENTRY names the first entry that was not loaded.
  result.entry = entries;
  result.error = SPARROW_MODEL_ERR_NO_END;
  return result;
}
