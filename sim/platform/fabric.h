// SPDX-License-Identifier: Apache-2.0
//
// The one interface the firmware HAL sees, whichever fabric implementation runs behind it: the
// Verilated RTL (fabric_rtl.h) or the C golden model (fabric_model.cpp).

#ifndef SPARROW_SIM_PLATFORM_FABRIC_H_
#define SPARROW_SIM_PLATFORM_FABRIC_H_

#include <cstdint>
#include <memory>
#include <string>

#include "sim_dram.h"
#include "sparrow_hw.h"

namespace sc_core {
class sc_clock;
}

namespace sparrow_sim {

class DramModule;

class Fabric {
 public:
  virtual ~Fabric() = default;
  // One CSR access is one cycle of the CSR bus on either fabric.
  virtual uint32_t CsrRead(uint32_t addr) = 0;
  virtual void CsrWrite(uint32_t addr, uint32_t value) = 0;
  // Lets the fabric run for the given number of cycles.
  virtual void Run(uint64_t cycles) = 0;
  // Cycles since power-on.
  virtual uint64_t Cycle() const = 0;
  // Power-on reset; called once all modules exist (SystemC may not run during construction).
  virtual void PowerOn() {}
  // Flushes what must reach the disk before exit (the waveform).
  virtual void Finish() {}
};

struct TraceOptions {
  const char *path = nullptr;  // FST file; nullptr: no tracing
  uint64_t start = 0;          // first traced cycle
  uint64_t cycles = UINT64_MAX;
};

// The golden model on the platform's DRAM array; nullptr with *err set when it cannot be created.
std::unique_ptr<Fabric> MakeModelFabric(const sparrow_hw_config_t &config, sparrow_dram_t *dram,
                                        uint32_t dram_bw, uint32_t dram_latency, std::string *err);

// The Verilated RTL of the named configuration, clocked by clock and connected to dram. nullptr
// with *err set when this configuration's model is not built into sparrow-sim.
std::unique_ptr<Fabric> MakeRtlFabric(const sparrow_hw_config_t &config, sc_core::sc_clock &clock,
                                      DramModule &dram, const TraceOptions &trace,
                                      std::string *err);

}  // namespace sparrow_sim

#endif  // SPARROW_SIM_PLATFORM_FABRIC_H_
