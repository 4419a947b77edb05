// SPDX-License-Identifier: Apache-2.0
//
// Verilator glue for the floating-point harness: owns the model, drives the clock, moves vectors.

#include "fpvec_rtl.h"

#include <new>

#include "Vsparrow_fpvec_top.h"
#include "verilated.h"

namespace {

constexpr size_t kFlagBits = 5;  // fp_flags_t: nv dz of uf nx

}  // namespace

struct fpvec_rtl {
  VerilatedContext context;
  Vsparrow_fpvec_top top{&context};
  uint64_t cycles = 0;
};

// Number of lanes the model was Verilated with, read off the width of its result port.
static constexpr size_t kLanes = sizeof(Vsparrow_fpvec_top::result_o) / sizeof(uint32_t);

static void clock_once(fpvec_rtl_t *rtl) {
  rtl->top.clk_i = 0;
  rtl->top.eval();
  rtl->top.clk_i = 1;
  rtl->top.eval();
  rtl->cycles++;
}

extern "C" fpvec_rtl_t *fpvec_rtl_open(void) {
  fpvec_rtl_t *rtl = new (std::nothrow) fpvec_rtl_t;
  if (rtl == nullptr) {
    return nullptr;
  }
  rtl->top.valid_i = 0;
  rtl->top.rst_ni = 0;
  clock_once(rtl);
  rtl->top.rst_ni = 1;
  clock_once(rtl);
  rtl->cycles = 0;
  return rtl;
}

extern "C" size_t fpvec_rtl_lanes(const fpvec_rtl_t *rtl) {
  (void)rtl;
  return kLanes;
}

extern "C" void fpvec_rtl_run(fpvec_rtl_t *rtl, fpvec_op_t op, const uint32_t *a, const uint32_t *b,
                              uint32_t *result, uint8_t *flags, size_t count) {
  Vsparrow_fpvec_top &top = rtl->top;
  top.op_mul_i = (op == kFpvecOpMul);
  top.valid_i = 1;
  for (size_t base = 0; base < count; base += kLanes) {
    size_t group = count - base < kLanes ? count - base : kLanes;
    for (size_t lane = 0; lane < kLanes; lane++) {
      top.a_i[lane] = lane < group ? a[base + lane] : 0;
      top.b_i[lane] = lane < group ? b[base + lane] : 0;
    }
    clock_once(rtl);
    for (size_t lane = 0; lane < group; lane++) {
      result[base + lane] = top.result_o[lane];
      flags[base + lane] = (uint8_t)((top.flags_o >> (lane * kFlagBits)) & ((1u << kFlagBits) - 1));
    }
  }
  top.valid_i = 0;
}

extern "C" uint64_t fpvec_rtl_cycles(const fpvec_rtl_t *rtl) {
  return rtl->cycles;
}

extern "C" void fpvec_rtl_close(fpvec_rtl_t *rtl) {
  if (rtl == nullptr) {
    return;
  }
  rtl->top.final();
  delete rtl;
}
