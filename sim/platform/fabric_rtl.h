// SPDX-License-Identifier: Apache-2.0
//
// The Verilated fabric (rtl/fabric/sparrow_fabric.sv) in the SystemC platform. A template over the
// Verilated class, so that configuration S and M (two Verilated models, one per parameter set)
// share this glue; fabric_rtl_s.cpp and fabric_rtl_m.cpp instantiate it, each with its own model's
// header.
//
// One cycle, rising edge to rising edge:
//   rising edge   clk_i = 1, eval: the fabric captures the CSR request and the DRAM responses
//                 presented since the last falling edge; then its new DRAM requests are sampled
//                 and handed to the DRAM model;
//   falling edge  the DRAM model ends the cycle (dram_module.h); one delta later the fabric gets
//                 clk_i = 0 and the responses staged for the next rising edge, and is evaluated.
// The CSR inputs are set between sc_start() calls, i.e. after a falling edge, so a request is
// captured by the next rising edge and its registered read data is there once that cycle has run.

#ifndef SPARROW_SIM_PLATFORM_FABRIC_RTL_H_
#define SPARROW_SIM_PLATFORM_FABRIC_RTL_H_

#include <systemc>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "dram_module.h"
#include "fabric.h"
#include "verilated.h"
#include "verilated_fst_c.h"

namespace sparrow_sim {

// Port access that does not care how wide Verilator made a packed port: up to 64 bits it is an
// integer, beyond that a VlWide array of 32-bit words (word 0 = bits 31:0).
template <class P>
uint32_t PortWord(const P &port, size_t index) {
  if constexpr (std::is_integral_v<P>) {
    return static_cast<uint32_t>(static_cast<uint64_t>(port) >> (32 * index));
  } else {
    return port[index];
  }
}

template <class P>
void SetPortWord(P &port, size_t index, uint32_t value) {
  if constexpr (std::is_integral_v<P>) {
    uint64_t mask = uint64_t{0xffffffffu} << (32 * index);
    port = static_cast<P>((static_cast<uint64_t>(port) & ~mask) |
                          (static_cast<uint64_t>(value) << (32 * index)));
  } else {
    port[index] = value;
  }
}

template <class P>
bool PortBit(const P &port, size_t index) {
  return ((static_cast<uint64_t>(port) >> index) & 1u) != 0;
}

template <class P>
void SetPortBit(P &port, size_t index, bool value) {
  uint64_t bit = uint64_t{1} << index;
  port = static_cast<P>(value ? (static_cast<uint64_t>(port) | bit)
                              : (static_cast<uint64_t>(port) & ~bit));
}

template <class V>
class RtlFabric final : public Fabric, public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;

  SC_HAS_PROCESS(RtlFabric);
  RtlFabric(sc_core::sc_module_name name, const sparrow_hw_config_t &config,
            sc_core::sc_clock &clock, DramModule &dram, const TraceOptions &trace)
      : sc_module(name),
        tiles_(config.tiles),
        lanes_(config.lanes),
        dram_(dram.dram()),
        trace_(trace),
        beat_(4 * size_t{config.lanes}) {
    // Tracing must be enabled before the model exists, so that it keeps its trace hooks.
    if (trace_.path != nullptr) {
      context_.traceEverOn(true);
    }
    top_ = std::make_unique<V>(&context_, "fabric");
    // The Verilated parameters are fixed at build time: refuse a model of another configuration.
    if (sizeof(top_->dram_rd_data_i) != size_t{tiles_} * lanes_ * 4) {
      SC_REPORT_FATAL("sparrow-sim/fabric",
                      "the Verilated fabric does not match its configuration");
    }
    clk(clock);
    SC_METHOD(OnRisingEdge);
    sensitive << clk.pos();
    dont_initialize();
    // The falling-edge work waits for the DRAM model's staged responses (same time, next delta).
    SC_METHOD(OnFallingEdge);
    sensitive << dram.staged();
    dont_initialize();
  }

  ~RtlFabric() override { Finish(); }

  void PowerOn() override {
    top_->clk_i = 0;
    top_->rst_ni = 0;  // asynchronous: the eval applies it
    top_->csr_req_i = 0;
    top_->csr_we_i = 0;
    top_->eval();
    Run(kResetCycles);
    top_->rst_ni = 1;
    Run(1);
  }

  uint32_t CsrRead(uint32_t addr) override {
    top_->csr_req_i = 1;
    top_->csr_we_i = 0;
    top_->csr_addr_i = addr;
    Run(1);
    top_->csr_req_i = 0;
    return top_->csr_rdata_o;  // registered at the rising edge that took the request
  }

  void CsrWrite(uint32_t addr, uint32_t value) override {
    top_->csr_req_i = 1;
    top_->csr_we_i = 1;
    top_->csr_addr_i = addr;
    top_->csr_wdata_i = value;
    Run(1);
    top_->csr_req_i = 0;
    top_->csr_we_i = 0;
  }

  void Run(uint64_t cycles) override {
    if (cycles > 0) {
      sc_core::sc_start(static_cast<double>(cycles), sc_core::SC_NS);
    }
  }

  uint64_t Cycle() const override { return cycle_; }

  void Finish() override {
    if (fst_ != nullptr) {
      fst_->close();
      fst_.reset();
    }
    if (!finished_) {
      top_->final();
      finished_ = true;
    }
  }

 private:
  static constexpr uint64_t kResetCycles = 4;

  void OnRisingEdge() {
    top_->clk_i = 1;
    top_->eval();
    Trace(cycle_);
    size_t words = lanes_;
    for (uint32_t t = 0; t < tiles_; t++) {
      if (PortBit(top_->dram_rd_req_o, t)) {
        Check(sparrow_dram_read_request(dram_, t, PortWord(top_->dram_rd_addr_o, t)));
      }
      if (PortBit(top_->dram_wr_req_o, t)) {
        // Lane i is the word at address + 4i, little-endian (docs/fabric.md).
        for (size_t w = 0; w < words; w++) {
          uint32_t v = PortWord(top_->dram_wr_data_o, t * words + w);
          for (size_t b = 0; b < 4; b++) {
            beat_[4 * w + b] = static_cast<uint8_t>(v >> (8 * b));
          }
        }
        Check(
            sparrow_dram_write_request(dram_, t, PortWord(top_->dram_wr_addr_o, t), beat_.data()));
      }
    }
    cycle_++;
  }

  void OnFallingEdge() {
    top_->clk_i = 0;
    size_t words = lanes_;
    for (uint32_t t = 0; t < tiles_; t++) {
      const uint8_t *data = sparrow_dram_read_response(dram_, t);
      SetPortBit(top_->dram_rd_rsp_i, t, data != nullptr);
      for (size_t w = 0; w < words; w++) {
        uint32_t v = 0;
        if (data != nullptr) {
          for (size_t b = 0; b < 4; b++) {
            v |= static_cast<uint32_t>(data[4 * w + b]) << (8 * b);
          }
        }
        SetPortWord(top_->dram_rd_data_i, t * words + w, v);
      }
      SetPortBit(top_->dram_wr_ack_i, t, sparrow_dram_write_ack(dram_, t));
    }
    top_->eval();
    Trace(cycle_ - 1);  // the falling edge belongs to the cycle whose rising edge counted it
  }

  // The waveform covers cycles [start, start + cycles): opened when the window begins, closed
  // (and so complete on disk) when it ends or at exit.
  void Trace(uint64_t cycle) {
    if (trace_.path == nullptr || trace_closed_) {
      return;
    }
    if (cycle < trace_.start) {
      return;
    }
    if (cycle - trace_.start >= trace_.cycles) {
      if (fst_ != nullptr) {
        fst_->close();
        fst_.reset();
      }
      trace_closed_ = true;
      return;
    }
    if (fst_ == nullptr) {
      fst_ = std::make_unique<VerilatedFstC>();
      top_->trace(fst_.get(), 99);
      fst_->open(trace_.path);
    }
    fst_->dump(static_cast<uint64_t>(sc_core::sc_time_stamp().value()));  // picoseconds
  }

  static void Check(bool ok) {
    if (!ok) {
      SC_REPORT_FATAL("sparrow-sim/fabric", "DRAM request refused (out of memory)");
    }
  }

  const uint32_t tiles_;
  const uint32_t lanes_;
  sparrow_dram_t *dram_;
  TraceOptions trace_;
  std::vector<uint8_t> beat_;  // a write beat on its way to the DRAM model
  VerilatedContext context_;
  std::unique_ptr<V> top_;
  std::unique_ptr<VerilatedFstC> fst_;
  bool trace_closed_ = false;
  bool finished_ = false;
  uint64_t cycle_ = 0;
};

}  // namespace sparrow_sim

#endif  // SPARROW_SIM_PLATFORM_FABRIC_RTL_H_
