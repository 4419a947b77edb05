// SPDX-License-Identifier: Apache-2.0
//
// The special functions as SIMD instruction sequences (docs/simd.md): each macro emits a
// straight-line, predicated sequence that computes, in every lane, exactly what the C definition in
// sim/model/sparrow_fp_special.c computes for that lane's input: the same bits and the same
// exception flags. The definition's branches (special inputs, ranges) become integer compares that
// set p0/p1 and instructions predicated on them, so a lane raises only the flags of its own branch.
//
// Conventions for every macro:
//   - dst and the sources are registers r0..r15, allocated (or reserved) in the assembler, so
//     that no temporary can be one of them (SPARROW_SIMD_ASM_E_REGS otherwise); dst may equal a
//     source;
//   - temporaries come from the assembler's free registers and are returned at the end (the
//     macro fails with SPARROW_SIMD_ASM_E_REGS when there are too few; docs/simd.md lists how
//     many);
//   - p0 and p1 are clobbered;
//   - every lane computes (the macros take no outer predicate): a lane whose input must not count
//     (a padding lane) must hold an input on which the function raises no flag: +0.0 for exp and
//     tanh, +inf for recip and rsqrt (both give +0 exactly).

#ifndef SPARROW_HOST_OPS_SIMD_SPECIAL_H_
#define SPARROW_HOST_OPS_SIMD_SPECIAL_H_

#include <stdint.h>

#include "simd_asm.h"

#ifdef __cplusplus
extern "C" {
#endif

// dst = sparrow_fp_exp(src), _recip, _rsqrt, _tanh: values and flags bit for bit.
void sparrow_simd_exp(sparrow_simd_asm_t *as, uint32_t dst, uint32_t src);
void sparrow_simd_recip(sparrow_simd_asm_t *as, uint32_t dst, uint32_t src);
void sparrow_simd_rsqrt(sparrow_simd_asm_t *as, uint32_t dst, uint32_t src);
void sparrow_simd_tanh(sparrow_simd_asm_t *as, uint32_t dst, uint32_t src);
// dst = sparrow_fp_div(a, b) = a * recip(b) (not IEEE division: sparrow_fp_special.h).
void sparrow_simd_div(sparrow_simd_asm_t *as, uint32_t dst, uint32_t a, uint32_t b);
// dst = sparrow_fp_max / sparrow_fp_min(a, b): one instruction each.
void sparrow_simd_max(sparrow_simd_asm_t *as, uint32_t dst, uint32_t a, uint32_t b);
void sparrow_simd_min(sparrow_simd_asm_t *as, uint32_t dst, uint32_t a, uint32_t b);
// dst = sparrow_fp_log(src) (sim/model/sparrow_fp_log.h): values and flags bit for bit. A lane
// whose input must not count should hold 1.0 (log 1 = +0, no flag) or +inf.
void sparrow_simd_log(sparrow_simd_asm_t *as, uint32_t dst, uint32_t src);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_SIMD_SPECIAL_H_
