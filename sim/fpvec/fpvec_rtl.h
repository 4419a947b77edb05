// SPDX-License-Identifier: Apache-2.0
//
// C interface to the Verilated floating-point harness (sparrow_fpvec_top.sv). The C++ behind it is
// only glue; everything else about vector checking is C.

#ifndef SPARROW_SIM_FPVEC_FPVEC_RTL_H_
#define SPARROW_SIM_FPVEC_FPVEC_RTL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fpvec_op {
  kFpvecOpAdd = 0,
  kFpvecOpMul = 1,
} fpvec_op_t;

typedef struct fpvec_rtl fpvec_rtl_t;

// Builds and resets one harness instance. Returns NULL when out of memory.
fpvec_rtl_t *fpvec_rtl_open(void);

// Vectors the harness accepts per clock.
size_t fpvec_rtl_lanes(const fpvec_rtl_t *rtl);

// Streams `count` operand pairs through the units, Lanes per clock, and stores each result and its
// exception flags (bit0 inexact .. bit4 invalid).
void fpvec_rtl_run(fpvec_rtl_t *rtl, fpvec_op_t op, const uint32_t *a, const uint32_t *b,
                   uint32_t *result, uint8_t *flags, size_t count);

// Clock cycles simulated since open.
uint64_t fpvec_rtl_cycles(const fpvec_rtl_t *rtl);

void fpvec_rtl_close(fpvec_rtl_t *rtl);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_SIM_FPVEC_FPVEC_RTL_H_
