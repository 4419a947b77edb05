/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The natural logarithm of the PCU's SIMD mode, defined like the special functions of
 * sparrow_fp_special.h: a fixed sequence of the fabric's binary32 operations (sparrow_fp_add,
 * sparrow_fp_mul) and bit operations (exponent extraction, masks, integer add and shift), no
 * division, square root, fused multiply-add or libm, so that the SIMD program that computes it
 * (host/ops/simd_special.c, sparrow_simd_log) agrees with it bit for bit, flags included. The
 * softmax cross-entropy loss needs it (docs/ops.md). docs/numerics.md ("log") gives the algorithm,
 * its constants and its accuracy as measured over all 2^32 inputs (tests/unit/test_fp_log.c).
 *
 * Conventions are those of sparrow_fp_special.h: bit patterns in and out, the canonical NaN, the
 * flags of the operations performed ORed into *flags (may be NULL), only the branch taken
 * contributing. Two forms with bit-identical results and flags:
 *   sparrow_fp_log       the definition: every step calls sparrow_fp_add or sparrow_fp_mul;
 *   sparrow_fp_log_fast  the same steps on the host's binary32 arithmetic in one flag window
 *                        (x86-64; elsewhere it is the definition).
 * Both need sparrow_fp_selfcheck() to pass.
 */
#ifndef SPARROW_SIM_MODEL_SPARROW_FP_LOG_H_
#define SPARROW_SIM_MODEL_SPARROW_FP_LOG_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ln(x). log(1) = +0 exactly without flags; log(+inf) = +inf without flags; log(+-0) = -inf with
 * OF|NX (a pole: the fabric raises no divide-by-zero, as recip(0)); x < 0 (including -inf) gives
 * the canonical NaN with NV; a NaN input gives the canonical NaN, NV if it signals. Every other
 * input (subnormals included) gives a finite result with NX (never UF or OF), faithfully rounded.
 */
uint32_t sparrow_fp_log(uint32_t x, uint8_t *flags);
uint32_t sparrow_fp_log_fast(uint32_t x, uint8_t *flags);

#ifdef __cplusplus
}
#endif

#endif /* SPARROW_SIM_MODEL_SPARROW_FP_LOG_H_ */
