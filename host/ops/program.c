// SPDX-License-Identifier: Apache-2.0
//
// Program-entry builder over sparrow_hw.h (see program.h).

#include "program.h"

#include <stdlib.h>
#include <string.h>

uint64_t sparrow_ops_entry_cfg(uint32_t unit, uint32_t reg, uint32_t value) {
  return ((uint64_t)SPARROW_OP_CFG << 60) | ((uint64_t)(unit & 0xFFu) << 48) |
         ((uint64_t)(reg & 0xFFFFu) << 32) | value;
}

uint64_t sparrow_ops_entry_run(void) {
  return (uint64_t)SPARROW_OP_RUN << 60;
}

uint64_t sparrow_ops_entry_end(void) {
  return (uint64_t)SPARROW_OP_END << 60;
}

uint32_t sparrow_ops_unit_reg_count(uint32_t tiles, uint32_t unit) {
  if (unit == SPARROW_UNIT_SWITCH) {
    return tiles * SPARROW_SWITCH_DST_PER_TILE;
  }
  if (unit >= SPARROW_UNIT_AGCU && unit < SPARROW_UNIT_AGCU + tiles) {
    return SPARROW_AGCU_REG_COUNT;
  }
  if (unit >= SPARROW_UNIT_PMU && unit < SPARROW_UNIT_PMU + tiles) {
    return SPARROW_PMU_REG_COUNT;
  }
  if (unit >= SPARROW_UNIT_PCU && unit < SPARROW_UNIT_PCU + tiles) {
    return SPARROW_PCU_REG_COUNT;
  }
  return 0;
}

sparrow_ops_prog_status_t sparrow_ops_prog_init(sparrow_ops_prog_t *prog, uint32_t tiles,
                                                size_t max_entries) {
  if (prog == NULL || tiles == 0 || tiles > SPARROW_MAX_TILES || max_entries < 2) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  memset(prog, 0, sizeof(*prog));
  prog->tiles = tiles;
  prog->max_entries = max_entries;
  prog->entries = calloc(max_entries, sizeof(uint64_t));
  if (prog->entries == NULL) {
    return SPARROW_OPS_PROG_E_NOMEM;
  }
  prog->capacity = max_entries;
  return SPARROW_OPS_PROG_OK;
}

void sparrow_ops_prog_free(sparrow_ops_prog_t *prog) {
  if (prog == NULL) {
    return;
  }
  free(prog->entries);
  prog->entries = NULL;
  prog->count = 0;
  prog->capacity = 0;
}

void sparrow_ops_prog_clear(sparrow_ops_prog_t *prog) {
  prog->count = 0;
  memset(prog->known, 0, sizeof(prog->known));
}

// Appends one entry, keeping the last slot of program memory for op_end.
static sparrow_ops_prog_status_t append(sparrow_ops_prog_t *prog, uint64_t entry, int is_end) {
  size_t limit = is_end ? prog->max_entries : prog->max_entries - 1;
  if (prog->count >= limit) {
    return SPARROW_OPS_PROG_E_FULL;
  }
  prog->entries[prog->count++] = entry;
  return SPARROW_OPS_PROG_OK;
}

sparrow_ops_prog_status_t sparrow_ops_prog_cfg(sparrow_ops_prog_t *prog, uint32_t unit,
                                               uint32_t reg, uint32_t value) {
  if (prog == NULL || unit >= SPARROW_OPS_PROG_UNITS || reg >= SPARROW_OPS_PROG_REGS ||
      reg >= sparrow_ops_unit_reg_count(prog->tiles, unit)) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  if (prog->known[unit][reg] && prog->value[unit][reg] == value) {
    return SPARROW_OPS_PROG_OK;
  }
  sparrow_ops_prog_status_t st = append(prog, sparrow_ops_entry_cfg(unit, reg, value), 0);
  if (st != SPARROW_OPS_PROG_OK) {
    return st;
  }
  prog->known[unit][reg] = 1;
  prog->value[unit][reg] = value;
  return SPARROW_OPS_PROG_OK;
}

sparrow_ops_prog_status_t sparrow_ops_prog_run(sparrow_ops_prog_t *prog) {
  if (prog == NULL) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  sparrow_ops_prog_status_t st = append(prog, sparrow_ops_entry_run(), 0);
  if (st != SPARROW_OPS_PROG_OK) {
    return st;
  }
  // The fabric clears every enable register when the phase ends.
  for (uint32_t t = 0; t < prog->tiles; ++t) {
    for (uint32_t c = 0; c < 3; ++c) {
      prog->known[SPARROW_UNIT_AGCU + t][c * SPARROW_AGCU_CHAN_BLOCK + SPARROW_AGCU_CHAN_ENABLE] =
          0;
    }
    for (uint32_t p = 0; p < 4; ++p) {
      prog->known[SPARROW_UNIT_PMU + t][p * SPARROW_PMU_PORT_BLOCK + SPARROW_PMU_PORT_ENABLE] = 0;
    }
    prog->known[SPARROW_UNIT_PCU + t][SPARROW_PCU_ENABLE] = 0;
  }
  return SPARROW_OPS_PROG_OK;
}

sparrow_ops_prog_status_t sparrow_ops_prog_end(sparrow_ops_prog_t *prog) {
  if (prog == NULL) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  return append(prog, sparrow_ops_entry_end(), 1);
}

// Writes an address generator's registers (base, counts, strides) into a register block.
// keep_stride1: a gather walk scales its index offsets by stride1 while count1 is unused (1), so
// that stride must be written as given.
static sparrow_ops_prog_status_t write_agen(sparrow_ops_prog_t *prog, uint32_t unit, uint32_t block,
                                            uint32_t base_reg, uint32_t count_reg,
                                            uint32_t stride_reg, const sparrow_ops_agen_t *agen,
                                            int keep_stride1) {
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, block + base_reg, agen->base));
  for (uint32_t l = 0; l < SPARROW_LOOP_LEVELS; ++l) {
    uint32_t count = agen->count[l] == 0 ? 1 : agen->count[l];
    // A loop level that runs once never moves its address: its stride is normalized to 0 so that
    // equal walks give equal register values (fewer entries).
    uint32_t stride = count == 1 && !(keep_stride1 && l == 1) ? 0 : (uint32_t)agen->stride[l];
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, block + count_reg + l, count));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, block + stride_reg + l, stride));
  }
  return SPARROW_OPS_PROG_OK;
}

sparrow_ops_prog_status_t sparrow_ops_prog_agcu(sparrow_ops_prog_t *prog, uint32_t tile,
                                                uint32_t chan, const sparrow_ops_agen_t *agen) {
  if (prog == NULL || agen == NULL || tile >= prog->tiles || chan > SPARROW_AGCU_CHANNEL_WR) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  uint32_t unit = SPARROW_UNIT_AGCU + tile;
  uint32_t block = chan * SPARROW_AGCU_CHAN_BLOCK;
  SPARROW_OPS_PROG_TRY(write_agen(prog, unit, block, SPARROW_AGCU_CHAN_BASE,
                                  SPARROW_AGCU_CHAN_COUNT, SPARROW_AGCU_CHAN_STRIDE, agen, 0));
  return sparrow_ops_prog_cfg(prog, unit, block + SPARROW_AGCU_CHAN_ENABLE, 1);
}

static int is_read_port(uint32_t port) {
  return port == SPARROW_PMU_PORT_RD0 || port == SPARROW_PMU_PORT_RD1;
}

// One PMU port: its mode register (a read port's port_gather, a write port's port_target), its
// address generator, its enable. The mode is always written (the shadow drops it when unchanged),
// so a program never inherits a gather or index-target setting from an earlier launch.
static sparrow_ops_prog_status_t write_port(sparrow_ops_prog_t *prog, uint32_t tile, uint32_t port,
                                            const sparrow_ops_agen_t *agen, uint32_t mode) {
  if (prog == NULL || agen == NULL || tile >= prog->tiles || port > SPARROW_PMU_PORT_WR1) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  uint32_t unit = SPARROW_UNIT_PMU + tile;
  uint32_t block = port * SPARROW_PMU_PORT_BLOCK;
  int gather = is_read_port(port) && mode != 0;
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(
      prog, unit, block + (is_read_port(port) ? SPARROW_PMU_PORT_GATHER : SPARROW_PMU_PORT_TARGET),
      mode));
  SPARROW_OPS_PROG_TRY(write_agen(prog, unit, block, SPARROW_PMU_PORT_BASE, SPARROW_PMU_PORT_COUNT,
                                  SPARROW_PMU_PORT_STRIDE, agen, gather));
  return sparrow_ops_prog_cfg(prog, unit, block + SPARROW_PMU_PORT_ENABLE, 1);
}

sparrow_ops_prog_status_t sparrow_ops_prog_pmu(sparrow_ops_prog_t *prog, uint32_t tile,
                                               uint32_t port, const sparrow_ops_agen_t *agen) {
  return write_port(prog, tile, port, agen,
                    is_read_port(port) ? 0u : (uint32_t)SPARROW_PMU_TARGET_LINES);
}

sparrow_ops_prog_status_t sparrow_ops_prog_pmu_gather(sparrow_ops_prog_t *prog, uint32_t tile,
                                                      uint32_t port, const sparrow_ops_agen_t *agen,
                                                      uint32_t idx_base, uint32_t idx_count) {
  if (prog == NULL || agen == NULL || tile >= prog->tiles || !is_read_port(port) ||
      idx_base >= SPARROW_PMU_IDX_WORDS || idx_count > SPARROW_PMU_IDX_WORDS) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  uint32_t unit = SPARROW_UNIT_PMU + tile;
  uint32_t block = port * SPARROW_PMU_PORT_BLOCK;
  SPARROW_OPS_PROG_TRY(
      sparrow_ops_prog_cfg(prog, unit, block + SPARROW_PMU_PORT_IDX_BASE, idx_base));
  SPARROW_OPS_PROG_TRY(
      sparrow_ops_prog_cfg(prog, unit, block + SPARROW_PMU_PORT_IDX_COUNT, idx_count));
  return write_port(prog, tile, port, agen, 1);
}

sparrow_ops_prog_status_t sparrow_ops_prog_pmu_index(sparrow_ops_prog_t *prog, uint32_t tile,
                                                     uint32_t port,
                                                     const sparrow_ops_agen_t *agen) {
  if (is_read_port(port)) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  return write_port(prog, tile, port, agen, SPARROW_PMU_TARGET_INDEX);
}

sparrow_ops_prog_status_t sparrow_ops_prog_pmu_sync(sparrow_ops_prog_t *prog, uint32_t tile,
                                                    uint32_t buffer, uint32_t enable,
                                                    uint32_t slots, uint32_t wr_lines,
                                                    uint32_t rd_lines) {
  if (prog == NULL || tile >= prog->tiles || buffer > 1 || slots > SPARROW_PMU_MAX_SLOTS) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  uint32_t unit = SPARROW_UNIT_PMU + tile;
  uint32_t block = SPARROW_PMU_SYNC_BLOCK + buffer * 4u;
  SPARROW_OPS_PROG_TRY(
      sparrow_ops_prog_cfg(prog, unit, block + SPARROW_PMU_SYNC_ENABLE, enable ? 1u : 0u));
  if (!enable) {
    return SPARROW_OPS_PROG_OK;
  }
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, block + SPARROW_PMU_SYNC_SLOTS, slots));
  SPARROW_OPS_PROG_TRY(
      sparrow_ops_prog_cfg(prog, unit, block + SPARROW_PMU_SYNC_WR_LINES, wr_lines));
  return sparrow_ops_prog_cfg(prog, unit, block + SPARROW_PMU_SYNC_RD_LINES, rd_lines);
}

sparrow_ops_prog_status_t sparrow_ops_prog_pcu_gemm(sparrow_ops_prog_t *prog, uint32_t tile,
                                                    uint32_t k_count, uint32_t blocks,
                                                    uint32_t acc_init) {
  if (prog == NULL || tile >= prog->tiles || k_count == 0 || blocks == 0) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  uint32_t unit = SPARROW_UNIT_PCU + tile;
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_GEMM));
  // Every block takes k_count, whatever table an earlier program left behind.
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_K_TABLE_LEN, 0));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_K_COUNT, k_count));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_BLOCKS, blocks));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_ACC_INIT, acc_init ? 1u : 0u));
  return sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_ENABLE, 1);
}

sparrow_ops_prog_status_t sparrow_ops_prog_pcu_gemm_table(sparrow_ops_prog_t *prog, uint32_t tile,
                                                          uint32_t blocks, uint32_t acc_init,
                                                          const uint32_t *k_table,
                                                          uint32_t table_len) {
  if (prog == NULL || tile >= prog->tiles || blocks == 0 || k_table == NULL || table_len == 0 ||
      table_len > SPARROW_PCU_K_TABLE_ENTRIES) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  uint32_t unit = SPARROW_UNIT_PCU + tile;
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_GEMM));
  for (uint32_t i = 0; i < table_len; ++i) {
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_K_TABLE + i, k_table[i]));
  }
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_K_TABLE_LEN, table_len));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_BLOCKS, blocks));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_ACC_INIT, acc_init ? 1u : 0u));
  return sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_ENABLE, 1);
}

sparrow_ops_prog_status_t sparrow_ops_prog_route(sparrow_ops_prog_t *prog, uint32_t tile,
                                                 uint32_t dst_kind, uint32_t src_tile,
                                                 uint32_t src_kind) {
  if (prog == NULL || tile >= prog->tiles || dst_kind >= SPARROW_SWITCH_DST_PER_TILE) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  uint32_t value = SPARROW_SW_NO_SOURCE;
  if (src_kind != SPARROW_SW_NO_SOURCE) {
    if (src_tile >= prog->tiles || src_kind >= SPARROW_SWITCH_SRC_PER_TILE) {
      return SPARROW_OPS_PROG_E_ARG;
    }
    value = (1u << SPARROW_SWITCH_ROUTE_ENABLE_BIT) |
            (src_tile * SPARROW_SWITCH_SRC_PER_TILE + src_kind);
  }
  return sparrow_ops_prog_cfg(prog, SPARROW_UNIT_SWITCH,
                              tile * SPARROW_SWITCH_DST_PER_TILE + dst_kind, value);
}

sparrow_ops_prog_status_t sparrow_ops_prog_pcu_load(sparrow_ops_prog_t *prog, uint32_t tile,
                                                    uint32_t load_base, uint32_t beats) {
  if (prog == NULL || tile >= prog->tiles || beats == 0 || load_base >= SPARROW_PCU_IMEM_WORDS) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  uint32_t unit = SPARROW_UNIT_PCU + tile;
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_LOAD));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_SIMD_LOAD_BASE, load_base));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_BLOCKS, beats));
  return sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_ENABLE, 1);
}

sparrow_ops_prog_status_t sparrow_ops_prog_pcu_simd(sparrow_ops_prog_t *prog, uint32_t tile,
                                                    const sparrow_ops_simd_walk_t *walk) {
  if (prog == NULL || walk == NULL || tile >= prog->tiles || walk->rows == 0 || walk->beats == 0 ||
      walk->passes == 0 || walk->passes > 3) {
    return SPARROW_OPS_PROG_E_ARG;
  }
  uint32_t unit = SPARROW_UNIT_PCU + tile;
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_SIMD));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_SIMD_ROWS, walk->rows));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_SIMD_BEATS, walk->beats));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_SIMD_PASSES, walk->passes));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_SIMD_ROW_BASE, walk->row_base));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_SIMD_COL_BASE, walk->col_base));
  // Every segment register is written (an empty one as 0), so a program never runs a segment an
  // earlier launch configured.
  for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_SIMD_SEG + seg, walk->seg[seg]));
  }
  return sparrow_ops_prog_cfg(prog, unit, SPARROW_PCU_ENABLE, 1);
}

void sparrow_ops_prog_mark(const sparrow_ops_prog_t *prog, sparrow_ops_prog_mark_t *mark) {
  mark->count = prog->count;
  memcpy(mark->known, prog->known, sizeof(mark->known));
  memcpy(mark->value, prog->value, sizeof(mark->value));
}

void sparrow_ops_prog_rollback(sparrow_ops_prog_t *prog, const sparrow_ops_prog_mark_t *mark) {
  prog->count = mark->count;
  memcpy(prog->known, mark->known, sizeof(prog->known));
  memcpy(prog->value, mark->value, sizeof(prog->value));
}

sparrow_ops_status_t sparrow_ops_prog_status(sparrow_ops_prog_status_t st) {
  switch (st) {
    case SPARROW_OPS_PROG_OK:
      return SPARROW_OPS_OK;
    case SPARROW_OPS_PROG_E_NOMEM:
      return SPARROW_OPS_E_NOMEM;
    case SPARROW_OPS_PROG_E_FULL:
      return SPARROW_OPS_E_UNSUPPORTED;
    case SPARROW_OPS_PROG_E_ARG:
      return SPARROW_OPS_E_ARG;
  }
  return SPARROW_OPS_E_ARG;
}

sparrow_ops_status_t sparrow_ops_programs_push(sparrow_ops_programs_t *out,
                                               const sparrow_ops_prog_t *prog) {
  uint64_t *copy = malloc(prog->count * sizeof(uint64_t));
  uint64_t **entries = realloc(out->entries, (out->count + 1) * sizeof(uint64_t *));
  if (entries != NULL) {
    out->entries = entries;
  }
  size_t *lengths = realloc(out->lengths, (out->count + 1) * sizeof(size_t));
  if (lengths != NULL) {
    out->lengths = lengths;
  }
  if (copy == NULL || entries == NULL || lengths == NULL) {
    free(copy);
    return SPARROW_OPS_E_NOMEM;
  }
  memcpy(copy, prog->entries, prog->count * sizeof(uint64_t));
  out->entries[out->count] = copy;
  out->lengths[out->count] = prog->count;
  out->count++;
  return SPARROW_OPS_OK;
}

sparrow_ops_status_t sparrow_ops_programs_run(sparrow_dev_t *dev,
                                              const sparrow_ops_programs_t *progs,
                                              uint32_t timeout_ms, const char *prefix,
                                              const char *suffix, sparrow_ops_run_totals_t *totals,
                                              char *msg, size_t msg_len) {
  for (size_t i = 0; i < progs->count; ++i) {
    sparrow_counters_t counters;
    uint32_t fp_status = 0;
    sparrow_status_t st =
        sparrow_run(dev, progs->entries[i], progs->lengths[i], timeout_ms, &counters, &fp_status);
    if (st != SPARROW_OK) {
      sparrow_ops_set_msg(msg, msg_len, "%slaunch %zu of %zu%s: %s: %s", prefix, i + 1,
                          progs->count, suffix, sparrow_status_name(st), sparrow_last_error(dev));
      return SPARROW_OPS_E_DEVICE;
    }
    totals->cycles += counters.cycles;
    totals->macs += counters.macs;
    totals->dram_rd_bytes += counters.dram_rd_bytes;
    totals->dram_wr_bytes += counters.dram_wr_bytes;
    totals->fp_status |= fp_status;
    totals->launches++;
    totals->entries += progs->lengths[i];
  }
  return SPARROW_OPS_OK;
}
