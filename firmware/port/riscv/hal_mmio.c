// SPDX-License-Identifier: Apache-2.0
//
// sparrow_hal.h over the memory-mapped blocks of sparrow_rv_map.h.

#include "../../hal/sparrow_hal.h"
#include "sparrow_rv_map.h"

// A DMA copy that has not finished after this many fabric cycles plus one per byte is abandoned
// (the engine or DRAM is wedged); the core then answers with an error instead of hanging.
#define SPARROW_RV_DMA_TIMEOUT_CYCLES 1000000u

static inline void io_fence(void) {
  __asm__ volatile("fence iorw, iorw" ::: "memory");
}

uint32_t sparrow_hal_csr_read(uint32_t addr) {
  if (addr >= SPARROW_RV_CSR_SPAN) {
    return 0;
  }
  return sparrow_rv_read(SPARROW_RV_CSR_BASE + (addr & ~3u));
}

void sparrow_hal_csr_write(uint32_t addr, uint32_t value) {
  if (addr >= SPARROW_RV_CSR_SPAN) {
    return;
  }
  sparrow_rv_write(SPARROW_RV_CSR_BASE + (addr & ~3u), value);
}

static bool dma(uint64_t dram, uintptr_t local, uint32_t len, uint32_t direction) {
  const uint32_t base = SPARROW_RV_DMA_BASE;
  if (sparrow_rv_read(base + SPARROW_RV_DMA_STATUS) & SPARROW_RV_DMA_BUSY) {
    return false;
  }
  io_fence();  // the engine must see the firmware's stores to the buffer
  sparrow_rv_write(base + SPARROW_RV_DMA_DRAM_LO, (uint32_t)dram);
  sparrow_rv_write(base + SPARROW_RV_DMA_DRAM_HI, (uint32_t)(dram >> 32));
  sparrow_rv_write(base + SPARROW_RV_DMA_LOCAL, (uint32_t)local);
  sparrow_rv_write(base + SPARROW_RV_DMA_LEN, len);
  sparrow_rv_write(base + SPARROW_RV_DMA_CTRL, direction);
  uint64_t deadline = sparrow_rv_cycles() + SPARROW_RV_DMA_TIMEOUT_CYCLES + len;
  uint32_t status;
  while ((status = sparrow_rv_read(base + SPARROW_RV_DMA_STATUS)) & SPARROW_RV_DMA_BUSY) {
    if (sparrow_rv_cycles() > deadline) {
      return false;
    }
  }
  io_fence();  // and the firmware must see the engine's stores before reading the buffer
  return (status & SPARROW_RV_DMA_ERROR) == 0;
}

bool sparrow_hal_dram_write(uint64_t addr, const uint8_t *src, uint32_t len) {
  return dma(addr, (uintptr_t)src, len, SPARROW_RV_DMA_TO_DRAM);
}

bool sparrow_hal_dram_read(uint64_t addr, uint8_t *dst, uint32_t len) {
  return dma(addr, (uintptr_t)dst, len, SPARROW_RV_DMA_FROM_DRAM);
}

void sparrow_hal_platform_info(sparrow_hal_platform_t *info) {
  const uint32_t base = SPARROW_RV_PLAT_BASE;
  info->dram_bytes = ((uint64_t)sparrow_rv_read(base + SPARROW_RV_PLAT_DRAM_BYTES_HI) << 32) |
                     sparrow_rv_read(base + SPARROW_RV_PLAT_DRAM_BYTES_LO);
  info->dram_bw = sparrow_rv_read(base + SPARROW_RV_PLAT_DRAM_BW);
  info->dram_latency = sparrow_rv_read(base + SPARROW_RV_PLAT_DRAM_LATENCY);
  info->fabric = sparrow_rv_read(base + SPARROW_RV_PLAT_FABRIC);
}

void sparrow_hal_wait_cycles(uint32_t cycles) {
  uint64_t until = sparrow_rv_cycles() + cycles;
  while (sparrow_rv_cycles() < until) {
  }
}
