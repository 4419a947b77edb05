// SPDX-License-Identifier: Apache-2.0
//
// Picks the Verilated model of the configuration asked for at run time. sparrow-sim is linked
// with this file.

#include <cstring>

#include "fabric.h"

namespace sparrow_sim {

std::unique_ptr<Fabric> MakeRtlFabricS(const sparrow_hw_config_t &config, sc_core::sc_clock &clock,
                                       DramModule &dram, const TraceOptions &trace);
std::unique_ptr<Fabric> MakeRtlFabricM(const sparrow_hw_config_t &config, sc_core::sc_clock &clock,
                                       DramModule &dram, const TraceOptions &trace);

std::unique_ptr<Fabric> MakeRtlFabric(const sparrow_hw_config_t &config, sc_core::sc_clock &clock,
                                      DramModule &dram, const TraceOptions &trace,
                                      std::string *err) {
  if (std::strcmp(config.name, "S") == 0) {
    return MakeRtlFabricS(config, clock, dram, trace);
  }
  if (std::strcmp(config.name, "M") == 0) {
    return MakeRtlFabricM(config, clock, dram, trace);
  }
  *err = std::string("no Verilated fabric for configuration ") + config.name;
  return nullptr;
}

}  // namespace sparrow_sim
