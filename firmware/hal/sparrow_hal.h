// SPDX-License-Identifier: Apache-2.0
//
// The firmware's hardware abstraction layer: everything the firmware core needs from the chip.
// sparrow-sim implements it over the SystemC platform (sim/platform/); a board port implements it
// over real registers. The core calls nothing else.

#ifndef SPARROW_FIRMWARE_HAL_SPARROW_HAL_H_
#define SPARROW_FIRMWARE_HAL_SPARROW_HAL_H_

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Facts about the platform that the fabric's CSRs do not hold.
typedef struct sparrow_hal_platform {
  uint64_t dram_bytes;
  uint32_t dram_bw;       // bytes per cycle
  uint32_t dram_latency;  // cycles
  uint32_t fabric;        // 0 = Verilated RTL, 1 = C golden model
} sparrow_hal_platform_t;

// 32-bit access to the fabric's control-block CSRs (byte addresses, docs/fabric.md).
uint32_t sparrow_hal_csr_read(uint32_t addr);
void sparrow_hal_csr_write(uint32_t addr, uint32_t value);

// Copies between the firmware's buffers and device DRAM (the device's DMA path). The core has
// already checked the range; false means the platform refused anyway.
bool sparrow_hal_dram_write(uint64_t addr, const uint8_t *src, uint32_t len);
bool sparrow_hal_dram_read(uint64_t addr, uint8_t *dst, uint32_t len);

void sparrow_hal_platform_info(sparrow_hal_platform_t *info);

// Lets the fabric run for the given number of cycles (in the simulator: advances simulated time).
void sparrow_hal_wait_cycles(uint32_t cycles);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SPARROW_FIRMWARE_HAL_SPARROW_HAL_H_
