// SPDX-License-Identifier: Apache-2.0
//
// The fake chip behind sparrow_hal.h for test_fw (see test_fw_hal.h).

#include "test_fw_hal.h"

#include <string.h>

#include "sparrow_hw.h"

fake_chip_t g_fake;

static uint32_t *reg(uint32_t addr) {
  return &g_fake.csr[addr / 4];
}

static void clear_counters(void) {
  for (uint32_t a = SPARROW_CSR_CYCLES_LO; a <= SPARROW_CSR_MACS_HI; a += 4) {
    *reg(a) = 0;
  }
  for (uint32_t a = SPARROW_CSR_UNIT_COUNTERS; a < FAKE_CSR_WORDS * 4; a += 4) {
    *reg(a) = 0;
  }
}

static void clear_status(void) {
  g_fake.busy = g_fake.done = g_fake.error = false;
  *reg(SPARROW_CSR_FP_STATUS) = 0;
  *reg(SPARROW_CSR_ERROR_CODE) = 0;
  *reg(SPARROW_CSR_ERROR_ENTRY) = 0;
  clear_counters();
}

void fake_reset(void) {
  memset(&g_fake, 0, sizeof g_fake);
  const sparrow_hw_config_t *s = &kSparrowHwConfigs[0];
  *reg(SPARROW_CSR_ID) = SPARROW_CSR_ID_VALUE;
  *reg(SPARROW_CSR_VERSION) = SPARROW_HW_VERSION;
  *reg(SPARROW_CSR_PARAM_TILES) = s->tiles;
  *reg(SPARROW_CSR_PARAM_LANES) = s->lanes;
  *reg(SPARROW_CSR_PARAM_PMU_WORDS) = s->pmu_words;
  *reg(SPARROW_CSR_PARAM_AGCU_OUTSTANDING) = s->agcu_outstanding;
  *reg(SPARROW_CSR_PARAM_PROG_ENTRIES) = s->prog_entries;
  g_fake.prog_entries = s->prog_entries;
  g_fake.done_after = 1000;
  g_fake.fail_after = FAKE_NEVER;
  g_fake.platform = (sparrow_hal_platform_t){
      .dram_bytes = FAKE_DRAM_BYTES, .dram_bw = 64, .dram_latency = 100, .fabric = 1};
  memset(g_fake.mem, FAKE_GUARD_FILL, FAKE_GUARD_BYTES);
  memset(g_fake.mem + FAKE_GUARD_BYTES + FAKE_DRAM_BYTES, FAKE_GUARD_FILL, FAKE_GUARD_BYTES);
}

uint8_t *fake_dram(void) {
  return g_fake.mem + FAKE_GUARD_BYTES;
}

bool fake_guards_intact(void) {
  const uint8_t *tail = g_fake.mem + FAKE_GUARD_BYTES + FAKE_DRAM_BYTES;
  for (uint32_t i = 0; i < FAKE_GUARD_BYTES; i++) {
    if (g_fake.mem[i] != FAKE_GUARD_FILL || tail[i] != FAKE_GUARD_FILL) {
      return false;
    }
  }
  return true;
}

void fake_set_counter(uint32_t lo_addr, uint64_t value) {
  *reg(lo_addr) = (uint32_t)value;
  *reg(lo_addr + 4) = (uint32_t)(value >> 32);
}

uint32_t fake_csr(uint32_t addr) {
  return *reg(addr);
}

uint32_t sparrow_hal_csr_read(uint32_t addr) {
  if (addr % 4 != 0 || addr >= FAKE_CSR_WORDS * 4) {
    g_fake.violations++;
    return 0;
  }
  if (addr == SPARROW_CSR_STATUS) {
    return (uint32_t)g_fake.busy << SPARROW_STATUS_BUSY_BIT |
           (uint32_t)g_fake.done << SPARROW_STATUS_DONE_BIT |
           (uint32_t)g_fake.error << SPARROW_STATUS_ERROR_BIT;
  }
  return *reg(addr);
}

void sparrow_hal_csr_write(uint32_t addr, uint32_t value) {
  switch (addr) {
    case SPARROW_CSR_CTRL:
      if (value & (1u << SPARROW_CTRL_RESET_BIT)) {
        g_fake.resets++;  // keeps program memory, WATCHDOG and DRAM_LIMIT (docs/fabric.md)
        clear_status();
      }
      if (value & (1u << SPARROW_CTRL_CLEAR_BIT)) {
        g_fake.clears++;
        clear_status();
      }
      if (value & (1u << SPARROW_CTRL_LAUNCH_BIT)) {
        if (g_fake.busy) {
          g_fake.violations++;  // the firmware must refuse a second launch itself
        }
        g_fake.launches++;
        g_fake.busy = true;
        g_fake.done = g_fake.error = false;
        g_fake.since_launch = 0;
      }
      return;
    case SPARROW_CSR_WATCHDOG:
    case SPARROW_CSR_DRAM_LIMIT:
      *reg(addr) = value;
      return;
    case SPARROW_CSR_PROG_ADDR:
      g_fake.prog_addr = value;
      return;
    case SPARROW_CSR_PROG_DATA_LO:
      g_fake.prog_lo = value;
      return;
    case SPARROW_CSR_PROG_DATA_HI:
      if (g_fake.prog_addr >= g_fake.prog_entries) {
        g_fake.violations++;
        return;
      }
      g_fake.prog[g_fake.prog_addr++] = (uint64_t)value << 32 | g_fake.prog_lo;
      g_fake.prog_writes++;
      return;
    default:
      g_fake.violations++;  // read-only or unmapped
      return;
  }
}

static bool in_dram(uint64_t addr, uint32_t len) {
  return addr <= FAKE_DRAM_BYTES && len <= FAKE_DRAM_BYTES - addr;
}

bool sparrow_hal_dram_write(uint64_t addr, const uint8_t *src, uint32_t len) {
  if (!in_dram(addr, len)) {
    g_fake.violations++;
    return false;
  }
  if (g_fake.refuse_dram) {
    return false;
  }
  memcpy(fake_dram() + addr, src, len);
  return true;
}

bool sparrow_hal_dram_read(uint64_t addr, uint8_t *dst, uint32_t len) {
  if (!in_dram(addr, len)) {
    g_fake.violations++;
    return false;
  }
  if (g_fake.refuse_dram) {
    return false;
  }
  memcpy(dst, fake_dram() + addr, len);
  return true;
}

void sparrow_hal_platform_info(sparrow_hal_platform_t *info) {
  *info = g_fake.platform;
}

void sparrow_hal_wait_cycles(uint32_t cycles) {
  g_fake.wait_calls++;
  g_fake.cycles_waited += cycles;
  if (!g_fake.busy) {
    return;
  }
  g_fake.since_launch += cycles;
  if (g_fake.since_launch >= g_fake.fail_after) {
    g_fake.busy = false;
    g_fake.error = true;
    *reg(SPARROW_CSR_ERROR_CODE) = g_fake.fail_code;
    *reg(SPARROW_CSR_ERROR_ENTRY) = g_fake.fail_entry;
    fake_set_counter(SPARROW_CSR_CYCLES_LO, g_fake.fail_after);
  } else if (g_fake.since_launch >= g_fake.done_after) {
    g_fake.busy = false;
    g_fake.done = true;
    fake_set_counter(SPARROW_CSR_CYCLES_LO, g_fake.done_after);
  }
}
