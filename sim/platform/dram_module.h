// SPDX-License-Identifier: Apache-2.0
//
// The DRAM model as a SystemC module: it owns no logic of its own (sim_dram.c has it) but gives the
// DRAM its place in the clock: at each falling edge it ends the cycle (queue the requests the
// fabric made at the rising edge, serve at the bandwidth) and announces the responses staged for
// the next rising edge, which the fabric presents on its inputs in the next delta cycle.

#ifndef SPARROW_SIM_PLATFORM_DRAM_MODULE_H_
#define SPARROW_SIM_PLATFORM_DRAM_MODULE_H_

#include <systemc>

#include "sim_dram.h"

namespace sparrow_sim {

class DramModule : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;

  SC_HAS_PROCESS(DramModule);
  DramModule(sc_core::sc_module_name name, sparrow_dram_t *dram) : sc_module(name), dram_(dram) {
    SC_METHOD(Tick);
    sensitive << clk.neg();
    dont_initialize();
  }

  sparrow_dram_t *dram() const { return dram_; }
  // Notified (one delta after the falling edge) when the next edge's responses are staged.
  const sc_core::sc_event &staged() const { return staged_; }

 private:
  void Tick() {
    if (!sparrow_dram_tick(dram_)) {
      SC_REPORT_FATAL("sparrow-sim/dram", "out of memory for the DRAM request queues");
    }
    staged_.notify(sc_core::SC_ZERO_TIME);
  }

  sparrow_dram_t *dram_;
  sc_core::sc_event staged_;
};

}  // namespace sparrow_sim

#endif  // SPARROW_SIM_PLATFORM_DRAM_MODULE_H_
