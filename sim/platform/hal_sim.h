// SPDX-License-Identifier: Apache-2.0
//
// The firmware HAL (firmware/hal/sparrow_hal.h) on the simulated platform: CSR accesses go to the
// active fabric, DMA to the DRAM array, waiting runs the fabric.

#ifndef SPARROW_SIM_PLATFORM_HAL_SIM_H_
#define SPARROW_SIM_PLATFORM_HAL_SIM_H_

#include <cstdint>

#include "fabric.h"
#include "sim_dram.h"

namespace sparrow_sim {

struct HalTarget {
  Fabric *fabric = nullptr;
  sparrow_dram_t *dram = nullptr;
  uint32_t dram_bw = 0;
  uint32_t dram_latency = 0;
  uint32_t fabric_kind = 0;  // 0 = Verilated RTL, 1 = C golden model
};

// The firmware's calls go to target from now on (the HAL is C: one platform per process).
void BindHal(const HalTarget &target);

// Prints (stderr) the DRAM model's accesses beyond capacity recorded since the last report.
void ReportDramErrors();

}  // namespace sparrow_sim

#endif  // SPARROW_SIM_PLATFORM_HAL_SIM_H_
