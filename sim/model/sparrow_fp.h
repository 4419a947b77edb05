/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C side of the fabric numerics: IEEE-754 binary32 add and multiply on bit patterns, with
 * Sparrow's conventions (docs/numerics.md, brief section 2):
 *
 *   - round to nearest, ties to even; subnormal operands and results are kept (no flush to zero,
 *     no denormals-are-zero);
 *   - tininess is detected after rounding, and underflow is raised only when the result is tiny
 *     AND inexact;
 *   - every NaN result is the canonical quiet NaN 0x7FC00000 (RISC-V convention): NaN payloads and
 *     signs are never propagated;
 *   - exception flags use the TestFloat / RISC-V fflags bit order (SPARROW_FP_NX .. SPARROW_FP_NV).
 *     A signalling NaN operand raises invalid; a quiet NaN operand alone raises nothing;
 *     inf - inf and 0 * inf raise invalid. Add and multiply never raise divide-by-zero.
 *
 * The results are computed by the host's own IEEE binary32 arithmetic (SSE on x86-64) and its
 * <fenv.h> exception flags. Call sparrow_fp_selfcheck() once before trusting them: it proves the
 * host computes binary32 exactly the way Sparrow needs. The host's floating-point environment
 * (exception flags) is left as the caller had it.
 */
#ifndef SPARROW_SIM_MODEL_SPARROW_FP_H_
#define SPARROW_SIM_MODEL_SPARROW_FP_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exception flags, one bit each, in TestFloat / RISC-V fflags order. */
enum {
  SPARROW_FP_NX = 1u << 0, /* inexact */
  SPARROW_FP_UF = 1u << 1, /* underflow (tiny after rounding and inexact) */
  SPARROW_FP_OF = 1u << 2, /* overflow */
  SPARROW_FP_DZ = 1u << 3, /* divide by zero (never raised by add or multiply) */
  SPARROW_FP_NV = 1u << 4, /* invalid */
};

/* All flag bits together. */
#define SPARROW_FP_FLAGS_ALL 0x1Fu

/* The only NaN a Sparrow operation ever returns. */
#define SPARROW_FP_CANONICAL_NAN 0x7FC00000u

/*
 * a + b and a * b on binary32 bit patterns. The operation's exception flags are ORed into *flags
 * (sticky, like the hardware status register); flags may be NULL when they are not wanted.
 */
uint32_t sparrow_fp_add(uint32_t a, uint32_t b, uint8_t *flags);
uint32_t sparrow_fp_mul(uint32_t a, uint32_t b, uint8_t *flags);

/*
 * acc[r * acc_stride + c] = acc + a[r] * b[c] for every r < rows, c < cols: bit for bit and flag
 * for flag the same as sparrow_fp_mul followed by sparrow_fp_add on each element, only faster
 * (one flag window for the whole outer product).
 */
void sparrow_fp_outer_mac(uint32_t rows, uint32_t cols, const uint32_t *a, const uint32_t *b,
                          uint32_t *acc, uint32_t acc_stride, uint8_t *flags);

typedef enum {
  SPARROW_FP_SELFCHECK_OK = 0,
  SPARROW_FP_SELFCHECK_FAILED = 1,
} sparrow_fp_selfcheck_t;

/*
 * Proves that the host (in the current thread's floating-point environment) computes binary32 the
 * way Sparrow needs: round to nearest-even, no flush-to-zero, no denormals-are-zero, no contraction
 * into fused multiply-add, tininess after rounding, overflow and NaN handling. On failure *why is
 * set to a readable reason naming the first check that failed; on success it is set to NULL.
 * why may be NULL. Every tool that computes expected values must refuse to run on failure.
 */
sparrow_fp_selfcheck_t sparrow_fp_selfcheck(const char **why) __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif

#endif /* SPARROW_SIM_MODEL_SPARROW_FP_H_ */
