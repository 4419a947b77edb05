// SPDX-License-Identifier: Apache-2.0
//
// CPU references for the ops library's checks (docs/ops.md, "Checks and tolerances"):
//   - the block-sparse operators, golden-order and plain (below; docs/sparsity.md);
//   - the golden-order GEMM: exactly the fabric's arithmetic (each element accumulated from +0.0 in
//     ascending k with sparrow_fp_mul then sparrow_fp_add), so a correct device matches it bit for
//     bit;
//   - a plain C GEMM (float data, double accumulator), independent of sparrow_fp, against which the
//     device's rounding error is measured.
// Matrices are row-major binary32 bit patterns (uint32_t).

#ifndef SPARROW_HOST_REF_SPARROW_REF_H_
#define SPARROW_HOST_REF_SPARROW_REF_H_

#include <stddef.h>
#include <stdint.h>

#include "sparrow_bsr.h"

#ifdef __cplusplus
extern "C" {
#endif

// c (m x n) = a (m x k) * b (k x n) in the fabric's order; *flags (may be NULL) ORs every
// operation's exception flags (SPARROW_FP_*).
void sparrow_ref_gemm_golden(uint32_t m, uint32_t n, uint32_t k, const uint32_t *a,
                             const uint32_t *b, uint32_t *c, uint8_t *flags);

// c = a * b with a double accumulator, rounded once to binary32. mag (may be NULL) receives
// sum_k |a_ik * b_kj| per element (double), the scale of the error bound.
void sparrow_ref_gemm_plain(uint32_t m, uint32_t n, uint32_t k, const uint32_t *a,
                            const uint32_t *b, uint32_t *c, double *mag);

// The block-sparse operators (docs/sparsity.md), W a K x N BSR whose mask selects the terms:
//   spmm:   y (m x N)  = x (m x K) * W,    y[i][n]  = sum over k with block (k, n) stored;
//   spmm_t: dx (m x K) = dy (m x N) * W^T, dx[i][k] = sum over n with block (k, n) stored;
//   sddmm:  dw[e]      = sum over i of x[i][k] * dy[i][n] for every element (k, n) of stored block
//           e, written in W's value order (nnz_blocks x b x b words).
// The golden versions are the fabric's arithmetic: one accumulator from +0.0, sparrow_fp_mul(a, b)
// then sparrow_fp_add, terms in ascending order of the reduced index, absent blocks skipped (not
// added as zeros). The plain versions use float data and a double accumulator, rounded once, and
// fill mag (may be NULL) with sum |terms| per output element. They return 0, or -1 when W is not a
// valid BSR or the host is out of memory.
int sparrow_ref_spmm_golden(uint32_t m, const uint32_t *x, const sparrow_bsr_t *w, uint32_t *y,
                            uint8_t *flags);
int sparrow_ref_spmm_t_golden(uint32_t m, const uint32_t *dy, const sparrow_bsr_t *w, uint32_t *dx,
                              uint8_t *flags);
int sparrow_ref_sddmm_golden(uint32_t m, const uint32_t *x, const uint32_t *dy,
                             const sparrow_bsr_t *w, uint32_t *dw, uint8_t *flags);
int sparrow_ref_spmm_plain(uint32_t m, const uint32_t *x, const sparrow_bsr_t *w, uint32_t *y,
                           double *mag);
int sparrow_ref_spmm_t_plain(uint32_t m, const uint32_t *dy, const sparrow_bsr_t *w, uint32_t *dx,
                             double *mag);
int sparrow_ref_sddmm_plain(uint32_t m, const uint32_t *x, const uint32_t *dy,
                            const sparrow_bsr_t *w, uint32_t *dw, double *mag);

// Elements whose bits differ.
size_t sparrow_ref_count_mismatches(size_t count, const uint32_t *x, const uint32_t *y);

// max over elements of |x - ref| / mag (elements with mag = 0 count only if x != ref, as infinity).
double sparrow_ref_max_rel_err(size_t count, const uint32_t *x, const uint32_t *ref,
                               const double *mag);

// The tolerance for max_rel_err of a K-term dot product in binary32 with separately rounded
// multiplies and adds: (k + 2) * 2^-24 (k roundings of the accumulation and products, gamma_k,
// plus one for the reference's own rounding to binary32, plus slack for the k u^2 term).
double sparrow_ref_gemm_tolerance(uint32_t k);

// FNV-1a 64 over the little-endian bytes of count words.
uint64_t sparrow_ref_fnv1a64(size_t count, const uint32_t *words);

// Deterministic inputs: uniform in [-1, 1) with 24 random bits (exact binary32 values), from a
// splitmix64 stream seeded with seed.
void sparrow_ref_fill_uniform(uint64_t seed, size_t count, uint32_t *words);

// ---------------------------------------------------------------------------------------------------
// The SIMD operators (host/ops/simd_ops.h; docs/ops.md, "SIMD operators"; host/ref/simd_ref.c).
//
// The golden versions are the device programs' exact operation sequences (sparrow_fp_add,
// sparrow_fp_mul, sparrow_fp_tanh), per element, flags ORed into *flags (may be NULL). The plain
// versions compute in double from the binary32 inputs (libm's tanh) and round once; they share no
// code with sparrow_fp.

// GELU, tanh form: gelu(x) = 0.5 x (1 + tanh(K (x + C1 x^3))), K = sqrt(2/pi), C1 = 0.044715; its
// derivative uses C3 = 3 C1. Each constant is the binary32 nearest the real number.
#define SPARROW_REF_GELU_K 0x3F4C422Au
#define SPARROW_REF_GELU_C1 0x3D372713u
#define SPARROW_REF_GELU_C3 0x3E095D4Fu

// y = a + b (residual_add; with a row-broadcast b it is bias_add, below).
void sparrow_ref_residual_add_golden(size_t count, const uint32_t *a, const uint32_t *b,
                                     uint32_t *y, uint8_t *flags);
void sparrow_ref_residual_add_plain(size_t count, const uint32_t *a, const uint32_t *b,
                                    uint32_t *y);
// y[i][j] = x[i][j] + bias[j] (x, y: m x n).
void sparrow_ref_bias_add_golden(uint32_t m, uint32_t n, const uint32_t *x, const uint32_t *bias,
                                 uint32_t *y, uint8_t *flags);
void sparrow_ref_bias_add_plain(uint32_t m, uint32_t n, const uint32_t *x, const uint32_t *bias,
                                uint32_t *y);
// dbias[j] = sum over i of dy[i][j]: golden, one accumulator from +0.0 adding rows i = 0, 1, ...,
// m - 1 in that order; plain, a double sum, with mag[j] = sum |dy[i][j]| (may be NULL).
void sparrow_ref_bias_add_bwd_golden(uint32_t m, uint32_t n, const uint32_t *dy, uint32_t *dbias,
                                     uint8_t *flags);
void sparrow_ref_bias_add_bwd_plain(uint32_t m, uint32_t n, const uint32_t *dy, uint32_t *dbias,
                                    double *mag);
// GELU of one element, golden order:
//   x2 = x*x; x3 = x2*x; t = C1*x3; u = x + t; z = K*u; th = tanh(z); g = 1 + th; h = 0.5*x;
//   y = h*g.
uint32_t sparrow_ref_gelu1_golden(uint32_t x, uint8_t *flags);
// dx = dy * gelu'(x), golden order (after th, g as above):
//   a = 0.5*g; s = th*th; s = 1 - s; d = C3*x2; d = 1 + d; d = K*d; h = 0.5*x; b = h*s; b = b*d;
//   p = a + b; dx = dy*p.
uint32_t sparrow_ref_gelu_bwd1_golden(uint32_t x, uint32_t dy, uint8_t *flags);
void sparrow_ref_gelu_golden(size_t count, const uint32_t *x, uint32_t *y, uint8_t *flags);
void sparrow_ref_gelu_plain(size_t count, const uint32_t *x, uint32_t *y);
void sparrow_ref_gelu_bwd_golden(size_t count, const uint32_t *x, const uint32_t *dy, uint32_t *dx,
                                 uint8_t *flags);
void sparrow_ref_gelu_bwd_plain(size_t count, const uint32_t *x, const uint32_t *dy, uint32_t *dx);

// The normwise error ||x - ref||_2 / ||ref||_2 over the elements where both are finite (0 when
// they all agree, infinity when ref is 0 there and x is not). *nonfinite (may be NULL) counts the
// elements where x and ref disagree about being finite, or are a NaN and an infinity, or
// infinities of opposite signs.
double sparrow_ref_norm_rel_err(size_t count, const uint32_t *x, const uint32_t *ref,
                                size_t *nonfinite);
// The normwise bound of sums of `terms` terms each, element j's magnitude sum mag[j]:
// (terms + 2) * 2^-24 * ||mag||_2 / ||ref||_2 (gamma_terms of recursive summation, plus the plain
// reference's own rounding; infinity when ||ref|| is 0 but ||mag|| is not).
double sparrow_ref_sum_norm_tolerance(uint32_t terms, size_t count, const double *mag,
                                      const uint32_t *ref);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_REF_SPARROW_REF_H_
