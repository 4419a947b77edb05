// SPDX-License-Identifier: Apache-2.0
//
// Program builder and CSR loader (model_prog_builder.h). Every field position and register index
// comes from sparrow_hw.h.
#include "model_prog_builder.h"

#include <stddef.h>

void sparrow_model_prog_init(sparrow_model_prog_t *prog, uint64_t *storage, uint32_t capacity) {
  prog->entries = storage;
  prog->capacity = capacity;
  prog->count = 0;
  prog->overflow = false;
}

uint64_t sparrow_model_prog_entry(uint32_t opcode, uint32_t unit, uint32_t reg, uint32_t value) {
  // Bits 63:60 opcode, 55:48 unit, 47:32 register, 31:0 value.
  return (uint64_t)(opcode & 0xFu) << 60 | (uint64_t)(unit & 0xFFu) << 48 |
         (uint64_t)(reg & 0xFFFFu) << 32 | value;
}

static void append(sparrow_model_prog_t *prog, uint64_t entry) {
  if (prog->count >= prog->capacity) {
    prog->overflow = true;
    return;
  }
  prog->entries[prog->count++] = entry;
}

void sparrow_model_prog_cfg(sparrow_model_prog_t *prog, uint32_t unit, uint32_t reg,
                            uint32_t value) {
  append(prog, sparrow_model_prog_entry(SPARROW_OP_CFG, unit, reg, value));
}

void sparrow_model_prog_run(sparrow_model_prog_t *prog) {
  append(prog, sparrow_model_prog_entry(SPARROW_OP_RUN, 0, 0, 0));
}

void sparrow_model_prog_end(sparrow_model_prog_t *prog) {
  append(prog, sparrow_model_prog_entry(SPARROW_OP_END, 0, 0, 0));
}

void sparrow_model_prog_route(sparrow_model_prog_t *prog, uint32_t dst, uint32_t src) {
  sparrow_model_prog_cfg(prog, SPARROW_UNIT_SWITCH, dst,
                         1u << SPARROW_SWITCH_ROUTE_ENABLE_BIT | src);
}

void sparrow_model_prog_unroute(sparrow_model_prog_t *prog, uint32_t dst) {
  sparrow_model_prog_cfg(prog, SPARROW_UNIT_SWITCH, dst, SPARROW_SW_NO_SOURCE);
}

static void agen_regs(sparrow_model_prog_t *prog, uint32_t unit, uint32_t block, uint32_t base_reg,
                      uint32_t count_reg, uint32_t stride_reg,
                      const sparrow_model_agen_cfg_t *agen) {
  sparrow_model_prog_cfg(prog, unit, block + base_reg, agen->base);
  for (uint32_t level = 0; level < SPARROW_LOOP_LEVELS; ++level) {
    sparrow_model_prog_cfg(prog, unit, block + count_reg + level, agen->count[level]);
    sparrow_model_prog_cfg(prog, unit, block + stride_reg + level, (uint32_t)agen->stride[level]);
  }
}

static void agen_block(sparrow_model_prog_t *prog, uint32_t unit, uint32_t block, uint32_t base_reg,
                       uint32_t count_reg, uint32_t stride_reg, uint32_t enable_reg,
                       const sparrow_model_agen_cfg_t *agen) {
  agen_regs(prog, unit, block, base_reg, count_reg, stride_reg, agen);
  sparrow_model_prog_cfg(prog, unit, block + enable_reg, 1);
}

static bool is_read_port(uint32_t port) {
  return port == SPARROW_PMU_PORT_RD0 || port == SPARROW_PMU_PORT_RD1;
}

// Configures a PMU port's generator and mode register (port_gather on a read port, port_target on
// a write port: the mode persists across phases like every register but the enables), then
// enables it.
static void pmu_port(sparrow_model_prog_t *prog, uint32_t tile, uint32_t port,
                     const sparrow_model_agen_cfg_t *agen, uint32_t mode) {
  uint32_t unit = SPARROW_UNIT_PMU + tile;
  uint32_t block = port * SPARROW_PMU_PORT_BLOCK;
  agen_regs(prog, unit, block, SPARROW_PMU_PORT_BASE, SPARROW_PMU_PORT_COUNT,
            SPARROW_PMU_PORT_STRIDE, agen);
  uint32_t mode_reg = is_read_port(port) ? SPARROW_PMU_PORT_GATHER : SPARROW_PMU_PORT_TARGET;
  sparrow_model_prog_cfg(prog, unit, block + mode_reg, mode);
  sparrow_model_prog_cfg(prog, unit, block + SPARROW_PMU_PORT_ENABLE, 1);
}

void sparrow_model_prog_agcu(sparrow_model_prog_t *prog, uint32_t tile, uint32_t channel,
                             const sparrow_model_agen_cfg_t *agen) {
  agen_block(prog, SPARROW_UNIT_AGCU + tile, channel * SPARROW_AGCU_CHAN_BLOCK,
             SPARROW_AGCU_CHAN_BASE, SPARROW_AGCU_CHAN_COUNT, SPARROW_AGCU_CHAN_STRIDE,
             SPARROW_AGCU_CHAN_ENABLE, agen);
}

void sparrow_model_prog_pmu(sparrow_model_prog_t *prog, uint32_t tile, uint32_t port,
                            const sparrow_model_agen_cfg_t *agen) {
  // Gather off on a read port, the data lines on a write port.
  pmu_port(prog, tile, port, agen, is_read_port(port) ? 0u : SPARROW_PMU_TARGET_LINES);
}

void sparrow_model_prog_pmu_index(sparrow_model_prog_t *prog, uint32_t tile, uint32_t port,
                                  const sparrow_model_agen_cfg_t *agen) {
  pmu_port(prog, tile, port, agen, SPARROW_PMU_TARGET_INDEX);
}

void sparrow_model_prog_pmu_gather(sparrow_model_prog_t *prog, uint32_t tile, uint32_t port,
                                   const sparrow_model_agen_cfg_t *agen, uint32_t idx_base,
                                   uint32_t idx_count) {
  uint32_t unit = SPARROW_UNIT_PMU + tile;
  uint32_t block = port * SPARROW_PMU_PORT_BLOCK;
  sparrow_model_prog_cfg(prog, unit, block + SPARROW_PMU_PORT_IDX_BASE, idx_base);
  sparrow_model_prog_cfg(prog, unit, block + SPARROW_PMU_PORT_IDX_COUNT, idx_count);
  pmu_port(prog, tile, port, agen, 1);
}

uint32_t sparrow_model_gather_word(uint32_t offset, bool skip, bool release) {
  return (offset & ((1u << SPARROW_GATHER_OFFSET_BITS) - 1u)) |
         (uint32_t)skip << SPARROW_GATHER_SKIP_BIT |
         (uint32_t)release << SPARROW_GATHER_RELEASE_BIT;
}

void sparrow_model_prog_sync(sparrow_model_prog_t *prog, uint32_t tile, uint32_t buffer,
                             uint32_t enable, uint32_t slots, uint32_t wr_lines,
                             uint32_t rd_lines) {
  uint32_t unit = SPARROW_UNIT_PMU + tile;
  // Buffer b's four sync registers start at sync_block + 4b.
  uint32_t block = SPARROW_PMU_SYNC_BLOCK + buffer * (SPARROW_PMU_SYNC_RD_LINES + 1u);
  sparrow_model_prog_cfg(prog, unit, block + SPARROW_PMU_SYNC_SLOTS, slots);
  sparrow_model_prog_cfg(prog, unit, block + SPARROW_PMU_SYNC_WR_LINES, wr_lines);
  sparrow_model_prog_cfg(prog, unit, block + SPARROW_PMU_SYNC_RD_LINES, rd_lines);
  sparrow_model_prog_cfg(prog, unit, block + SPARROW_PMU_SYNC_ENABLE, enable);
}

void sparrow_model_prog_gemm(sparrow_model_prog_t *prog, uint32_t tile, uint32_t k_count,
                             uint32_t blocks, uint32_t acc_init) {
  uint32_t unit = SPARROW_UNIT_PCU + tile;
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_GEMM);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_K_COUNT, k_count);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_BLOCKS, blocks);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_ACC_INIT, acc_init);
  // The table persists across phases: turn it off so that k_count applies.
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_K_TABLE_LEN, 0);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_ENABLE, 1);
}

void sparrow_model_prog_gemm_k_table(sparrow_model_prog_t *prog, uint32_t tile,
                                     const uint32_t *k_table, uint32_t table_len, uint32_t blocks,
                                     uint32_t acc_init) {
  uint32_t unit = SPARROW_UNIT_PCU + tile;
  // Only the entries that exist are written; a longer table_len still goes to the register (the
  // PCU reads it as SPARROW_PCU_K_TABLE_ENTRIES).
  uint32_t entries =
      table_len < SPARROW_PCU_K_TABLE_ENTRIES ? table_len : SPARROW_PCU_K_TABLE_ENTRIES;
  for (uint32_t i = 0; i < entries; ++i) {
    sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_K_TABLE + i, k_table[i]);
  }
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_GEMM);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_BLOCKS, blocks);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_ACC_INIT, acc_init);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_K_TABLE_LEN, table_len);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_ENABLE, 1);
}

static uint32_t simd_field(uint32_t value, uint32_t lsb, uint32_t width) {
  return (value & ((1u << width) - 1u)) << lsb;
}

sparrow_model_simd_insn_t sparrow_model_simd_insn(uint32_t op, uint32_t dst, uint32_t src_a,
                                                  uint32_t src_b, uint32_t pred, uint32_t port,
                                                  uint32_t imm) {
  sparrow_model_simd_insn_t insn = {
      .word = simd_field(op, SPARROW_SIMD_FIELD_OP_LSB, SPARROW_SIMD_FIELD_OP_WIDTH) |
              simd_field(dst, SPARROW_SIMD_FIELD_DST_LSB, SPARROW_SIMD_FIELD_DST_WIDTH) |
              simd_field(src_a, SPARROW_SIMD_FIELD_SRC_A_LSB, SPARROW_SIMD_FIELD_SRC_A_WIDTH) |
              simd_field(src_b, SPARROW_SIMD_FIELD_SRC_B_LSB, SPARROW_SIMD_FIELD_SRC_B_WIDTH) |
              simd_field(pred, SPARROW_SIMD_FIELD_PRED_LSB, SPARROW_SIMD_FIELD_PRED_WIDTH) |
              simd_field(port, SPARROW_SIMD_FIELD_PORT_LSB, SPARROW_SIMD_FIELD_PORT_WIDTH),
      .imm = imm,
  };
  return insn;
}

uint32_t sparrow_model_simd_seg(uint32_t first, uint32_t count) {
  return (count & 0xFFFFu) << 16 | (first & 0xFFFFu);
}

void sparrow_model_prog_simd(sparrow_model_prog_t *prog, uint32_t tile,
                             const sparrow_model_simd_cfg_t *cfg) {
  uint32_t unit = SPARROW_UNIT_PCU + tile;
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_SIMD);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_SIMD_ROWS, cfg->rows);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_SIMD_BEATS, cfg->beats);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_SIMD_PASSES, cfg->passes);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_SIMD_ROW_BASE, cfg->row_base);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_SIMD_COL_BASE, cfg->col_base);
  for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
    sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_SIMD_SEG + seg,
                           sparrow_model_simd_seg(cfg->seg_first[seg], cfg->seg_count[seg]));
  }
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_ENABLE, 1);
}

void sparrow_model_prog_simd_load(sparrow_model_prog_t *prog, uint32_t tile, uint32_t load_base,
                                  uint32_t beats) {
  uint32_t unit = SPARROW_UNIT_PCU + tile;
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_LOAD);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_SIMD_LOAD_BASE, load_base);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_BLOCKS, beats);
  sparrow_model_prog_cfg(prog, unit, SPARROW_PCU_ENABLE, 1);
}

void sparrow_model_prog_load(sparrow_model_t *model, const sparrow_model_prog_t *prog) {
  sparrow_model_csr_write(model, SPARROW_CSR_PROG_ADDR, 0);
  for (uint32_t i = 0; i < prog->count; ++i) {
    sparrow_model_csr_write(model, SPARROW_CSR_PROG_DATA_LO, (uint32_t)prog->entries[i]);
    sparrow_model_csr_write(model, SPARROW_CSR_PROG_DATA_HI, (uint32_t)(prog->entries[i] >> 32));
  }
}

uint32_t sparrow_model_prog_launch_wait(sparrow_model_t *model, const sparrow_model_prog_t *prog,
                                        uint64_t max_cycles) {
  const uint32_t busy = 1u << SPARROW_STATUS_BUSY_BIT;
  sparrow_model_prog_load(model, prog);
  sparrow_model_csr_write(model, SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_LAUNCH_BIT);
  uint32_t status = sparrow_model_csr_read(model, SPARROW_CSR_STATUS);
  for (uint64_t cycle = 0; cycle < max_cycles && (status & busy) != 0; ++cycle) {
    sparrow_model_advance(model, 1);
    status = sparrow_model_csr_read(model, SPARROW_CSR_STATUS);
  }
  return status;
}
