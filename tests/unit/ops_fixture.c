// SPDX-License-Identifier: Apache-2.0

#include "ops_fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "sparrow_ref.h"

// Host steps of 2^16 cycles before a launch counts as hung (the watchdog normally ends it first).
#define MAX_STEPS 1000000

const sparrow_hw_config_t *config_named(const char *name) {
  for (uint32_t i = 0; i < SPARROW_HW_CONFIG_COUNT; ++i) {
    if (strcmp(kSparrowHwConfigs[i].name, name) == 0) {
      return &kSparrowHwConfigs[i];
    }
  }
  ck_abort_msg("no configuration %s", name);
  return NULL;
}

sparrow_ops_fabric_t fabric_of(const sparrow_hw_config_t *cfg) {
  sparrow_ops_fabric_t f;
  memset(&f, 0, sizeof(f));
  f.tiles = cfg->tiles;
  f.lanes = cfg->lanes;
  f.pmu_words = cfg->pmu_words;
  f.prog_entries = cfg->prog_entries;
  f.agcu_outstanding = cfg->agcu_outstanding;
  f.dram_bw = DRAM_BW;
  f.dram_latency = DRAM_LATENCY;
  return f;
}

bool host_flags_observable(void) {
  uint8_t flags = 0;
  (void)sparrow_fp_mul(F_MAX, 0x40000000u, &flags);
  return flags != 0;
}

uint32_t fbits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

float bitsf(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

uint32_t *words(size_t count) {
  uint32_t *w = calloc(count + 1, sizeof(uint32_t));
  ck_assert_ptr_nonnull(w);
  return w;
}

void fill(uint64_t seed, size_t count, int exp2, uint32_t *w) {
  sparrow_ref_fill_uniform(seed, count, w);
  for (size_t i = 0; i < count; ++i) {
    w[i] = fbits(ldexpf(bitsf(w[i]), exp2));
  }
}

static uint64_t csr64(sparrow_model_t *model, uint32_t lo, uint32_t hi) {
  return (uint64_t)sparrow_model_csr_read(model, lo) |
         ((uint64_t)sparrow_model_csr_read(model, hi) << 32);
}

void launch_programs(sparrow_model_t *model, const sparrow_ops_programs_t *progs,
                     size_t max_entries, uint32_t watchdog, const char *what, model_run_t *run) {
  for (size_t li = 0; li < progs->count; ++li) {
    ck_assert_uint_le(progs->lengths[li], max_entries);
    sparrow_model_csr_write(model, SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_CLEAR_BIT);
    sparrow_model_csr_write(model, SPARROW_CSR_WATCHDOG, watchdog);
    sparrow_model_csr_write(model, SPARROW_CSR_PROG_ADDR, 0);
    for (size_t i = 0; i < progs->lengths[li]; ++i) {
      sparrow_model_csr_write(model, SPARROW_CSR_PROG_DATA_LO, (uint32_t)progs->entries[li][i]);
      sparrow_model_csr_write(model, SPARROW_CSR_PROG_DATA_HI,
                              (uint32_t)(progs->entries[li][i] >> 32));
    }
    sparrow_model_csr_write(model, SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_LAUNCH_BIT);
    uint32_t status = 0;
    for (int step = 0; step < MAX_STEPS; ++step) {
      status = sparrow_model_csr_read(model, SPARROW_CSR_STATUS);
      if (status & ((1u << SPARROW_STATUS_DONE_BIT) | (1u << SPARROW_STATUS_ERROR_BIT))) {
        break;
      }
      sparrow_model_advance(model, 1u << 16);
    }
    ck_assert_msg(status & (1u << SPARROW_STATUS_DONE_BIT),
                  "%s launch %zu: status 0x%x error %u at entry %u", what, li, status,
                  sparrow_model_csr_read(model, SPARROW_CSR_ERROR_CODE),
                  sparrow_model_csr_read(model, SPARROW_CSR_ERROR_ENTRY));
    run->cycles += csr64(model, SPARROW_CSR_CYCLES_LO, SPARROW_CSR_CYCLES_HI);
    run->macs += csr64(model, SPARROW_CSR_MACS_LO, SPARROW_CSR_MACS_HI);
    run->dram_rd += csr64(model, SPARROW_CSR_DRAM_RD_LO, SPARROW_CSR_DRAM_RD_HI);
    run->dram_wr += csr64(model, SPARROW_CSR_DRAM_WR_LO, SPARROW_CSR_DRAM_WR_HI);
    run->fp_status |= sparrow_model_csr_read(model, SPARROW_CSR_FP_STATUS);
    run->entries += progs->lengths[li];
    run->launches++;
  }
}

void expect_exact(const char *what, size_t count, const uint32_t *dev, const uint32_t *gold) {
  size_t bad = sparrow_ref_count_mismatches(count, dev, gold);
  for (size_t e = 0; e < count && bad != 0; ++e) {
    if (dev[e] != gold[e]) {
      fprintf(stderr, "%s[%zu] = 0x%08x, golden 0x%08x\n", what, e, dev[e], gold[e]);
      break;
    }
  }
  ck_assert_msg(bad == 0, "%s: %zu of %zu elements differ from the golden order", what, bad, count);
}

void expect_flags(const char *what, uint32_t device, uint8_t golden) {
  if (host_flags_observable()) {
    ck_assert_msg(device == golden, "%s: FP_STATUS 0x%x, golden flags 0x%x", what, device, golden);
  }
}

uint64_t agen_total(const uint32_t *regs, uint32_t count_reg) {
  uint64_t total = 1;
  for (uint32_t l = 0; l < SPARROW_LOOP_LEVELS; ++l) {
    total *= regs[count_reg + l] == 0 ? 1 : regs[count_reg + l];
  }
  return total;
}

uint32_t *agcu_chan(unit_regs_t *units, uint32_t t, uint32_t chan) {
  return &units[SPARROW_UNIT_AGCU + t].r[chan * SPARROW_AGCU_CHAN_BLOCK];
}

uint32_t *pmu_port(unit_regs_t *units, uint32_t t, uint32_t port) {
  return &units[SPARROW_UNIT_PMU + t].r[port * SPARROW_PMU_PORT_BLOCK];
}

void check_routes(const uint32_t *sw, uint32_t tiles, uint64_t phase, port_beats_fn source_beats,
                  port_beats_fn dest_beats, void *ctx) {
  for (uint32_t src = 0; src < tiles * SPARROW_SWITCH_SRC_PER_TILE; ++src) {
    uint64_t produced = source_beats(ctx, src);
    int routed = 0;
    for (uint32_t dst = 0; dst < tiles * SPARROW_SWITCH_DST_PER_TILE; ++dst) {
      uint32_t v = sw[dst];
      if (!((v >> SPARROW_SWITCH_ROUTE_ENABLE_BIT) & 1u) || (v & 0xFFu) != src) {
        continue;
      }
      routed = 1;
      ck_assert_msg(dest_beats(ctx, dst) == produced,
                    "phase %llu: source %u makes %llu beats, destination %u takes %llu",
                    (unsigned long long)phase, src, (unsigned long long)produced, dst,
                    (unsigned long long)dest_beats(ctx, dst));
    }
    ck_assert_msg(produced == 0 || routed, "phase %llu: source %u enabled but not routed",
                  (unsigned long long)phase, src);
  }
  for (uint32_t dst = 0; dst < tiles * SPARROW_SWITCH_DST_PER_TILE; ++dst) {
    uint64_t wanted = dest_beats(ctx, dst);
    if (wanted == 0) {
      continue;
    }
    uint32_t v = sw[dst];
    ck_assert_msg((v >> SPARROW_SWITCH_ROUTE_ENABLE_BIT) & 1u,
                  "phase %llu: destination %u takes beats but is not routed",
                  (unsigned long long)phase, dst);
    ck_assert_uint_eq(source_beats(ctx, v & 0xFFu), wanted);
  }
}

void disable_units(unit_regs_t *units, uint32_t tiles) {
  for (uint32_t t = 0; t < tiles; ++t) {
    for (uint32_t c = 0; c < 3; ++c) {
      agcu_chan(units, t, c)[SPARROW_AGCU_CHAN_ENABLE] = 0;
    }
    for (uint32_t q = 0; q < 4; ++q) {
      pmu_port(units, t, q)[SPARROW_PMU_PORT_ENABLE] = 0;
    }
    units[SPARROW_UNIT_PCU + t].r[SPARROW_PCU_ENABLE] = 0;
  }
}

void walk_program(unit_regs_t *units, uint32_t tiles, const uint64_t *entries, size_t n,
                  phase_fn phase, void *ctx) {
  ck_assert_uint_ge(n, 1);
  memset(units, 0xFF, sizeof(unit_regs_t) * SPARROW_OPS_PROG_UNITS);
  disable_units(units, tiles);
  for (size_t i = 0; i < n; ++i) {
    uint64_t e = entries[i];
    uint32_t op = (uint32_t)(e >> 60);
    ck_assert_msg(op == SPARROW_OP_CFG || op == SPARROW_OP_RUN || op == SPARROW_OP_END,
                  "entry %zu: opcode %u", i, op);
    ck_assert_msg((op == SPARROW_OP_END) == (i == n - 1), "entry %zu: END misplaced", i);
    if (op == SPARROW_OP_RUN) {
      phase(ctx);
      continue;
    }
    if (op != SPARROW_OP_CFG) {
      continue;
    }
    uint32_t unit = (uint32_t)(e >> 48) & 0xFFu, reg = (uint32_t)(e >> 32) & 0xFFFFu;
    ck_assert_uint_eq((e >> 56) & 0xFu, 0);  // reserved bits 59:56
    ck_assert_msg(reg < sparrow_ops_unit_reg_count(tiles, unit), "entry %zu: unit 0x%x register %u",
                  i, unit, reg);
    units[unit].r[reg] = (uint32_t)e;
  }
}
