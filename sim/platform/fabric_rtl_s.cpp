// SPDX-License-Identifier: Apache-2.0
//
// The RTL fabric of configuration S (its own translation unit: each Verilated model brings its own
// include directory).

#include "Vsparrow_fabric_S.h"
#include "fabric_rtl.h"

namespace sparrow_sim {

std::unique_ptr<Fabric> MakeRtlFabricS(const sparrow_hw_config_t &config, sc_core::sc_clock &clock,
                                       DramModule &dram, const TraceOptions &trace) {
  return std::make_unique<RtlFabric<Vsparrow_fabric_S>>("fabric", config, clock, dram, trace);
}

}  // namespace sparrow_sim
