// SPDX-License-Identifier: Apache-2.0
//
// The bare-metal RISC-V port's assumed address map (firmware/README.md explains each block). A
// board that places the blocks elsewhere changes only these numbers.

#ifndef SPARROW_FIRMWARE_PORT_RISCV_SPARROW_RV_MAP_H_
#define SPARROW_FIRMWARE_PORT_RISCV_SPARROW_RV_MAP_H_

#include <stdint.h>

// Fabric control block: CSR byte address A (docs/fabric.md) is the 32-bit word at CSR_BASE + A.
#define SPARROW_RV_CSR_BASE 0x40000000u
#define SPARROW_RV_CSR_SPAN 0x1000u

// Platform facts and a free-running fabric cycle counter.
#define SPARROW_RV_PLAT_BASE 0x40001000u
#define SPARROW_RV_PLAT_DRAM_BYTES_LO 0x00u
#define SPARROW_RV_PLAT_DRAM_BYTES_HI 0x04u
#define SPARROW_RV_PLAT_DRAM_BW 0x08u
#define SPARROW_RV_PLAT_DRAM_LATENCY 0x0Cu
#define SPARROW_RV_PLAT_FABRIC 0x10u
#define SPARROW_RV_PLAT_CYCLE_LO 0x14u
#define SPARROW_RV_PLAT_CYCLE_HI 0x18u

// DMA engine between firmware RAM and device DRAM.
#define SPARROW_RV_DMA_BASE 0x40002000u
#define SPARROW_RV_DMA_DRAM_LO 0x00u  // DRAM byte address, low word
#define SPARROW_RV_DMA_DRAM_HI 0x04u
#define SPARROW_RV_DMA_LOCAL 0x08u   // firmware RAM byte address
#define SPARROW_RV_DMA_LEN 0x0Cu     // bytes
#define SPARROW_RV_DMA_CTRL 0x10u    // write: 1 = RAM -> DRAM, 2 = DRAM -> RAM (starts the copy)
#define SPARROW_RV_DMA_STATUS 0x14u  // bit 0 busy, bit 1 error (range refused by the engine)
#define SPARROW_RV_DMA_TO_DRAM 1u
#define SPARROW_RV_DMA_FROM_DRAM 2u
#define SPARROW_RV_DMA_BUSY 1u
#define SPARROW_RV_DMA_ERROR 2u

// Host link: a byte FIFO each way (the USB device controller or a UART behind it).
#define SPARROW_RV_LINK_BASE 0x40003000u
#define SPARROW_RV_LINK_RX 0x00u      // read: bit 31 valid, bits 7:0 byte (a valid read pops it)
#define SPARROW_RV_LINK_TX 0x04u      // write: bits 7:0 byte
#define SPARROW_RV_LINK_STATUS 0x08u  // bit 0 RX not empty, bit 1 TX full
#define SPARROW_RV_LINK_CTRL 0x0Cu    // write bit 0: drop the connection (flushes both FIFOs)
#define SPARROW_RV_LINK_RX_VALID 0x80000000u
#define SPARROW_RV_LINK_TX_FULL 2u
#define SPARROW_RV_LINK_DROP 1u

static inline uint32_t sparrow_rv_read(uint32_t addr) {
  return *(volatile uint32_t *)(uintptr_t)addr;
}
static inline void sparrow_rv_write(uint32_t addr, uint32_t value) {
  *(volatile uint32_t *)(uintptr_t)addr = value;
}

// Free-running fabric cycles (LO/HI read so that a carry between the reads is not missed).
static inline uint64_t sparrow_rv_cycles(void) {
  uint32_t hi = sparrow_rv_read(SPARROW_RV_PLAT_BASE + SPARROW_RV_PLAT_CYCLE_HI);
  uint32_t lo = sparrow_rv_read(SPARROW_RV_PLAT_BASE + SPARROW_RV_PLAT_CYCLE_LO);
  uint32_t hi_again = sparrow_rv_read(SPARROW_RV_PLAT_BASE + SPARROW_RV_PLAT_CYCLE_HI);
  if (hi_again != hi) {
    lo = sparrow_rv_read(SPARROW_RV_PLAT_BASE + SPARROW_RV_PLAT_CYCLE_LO);
  }
  return ((uint64_t)hi_again << 32) | lo;
}

#endif  // SPARROW_FIRMWARE_PORT_RISCV_SPARROW_RV_MAP_H_
