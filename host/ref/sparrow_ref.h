// SPDX-License-Identifier: Apache-2.0
//
// CPU references for the ops library's checks (docs/ops.md, "Checks and tolerances"):
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

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_REF_SPARROW_REF_H_
