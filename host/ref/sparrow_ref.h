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

#include <stdbool.h>
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

// ---------------------------------------------------------------------------------------------------
// Softmax and causal multi-head self-attention (host/ops/sparrow_nn.h; host/ref/attention_ref.c;
// docs/ops.md, "Attention and softmax"). Golden versions: the device's operation sequence, flags
// ORed into *flags (may be NULL). Plain versions: double arithmetic from the binary32 inputs, the
// scaled scores and probabilities stored as binary32, outputs rounded once; no sparrow_fp; their
// sums over keys or queries take every term, the masked ones as products with 0, as the
// definition does (so a non-finite value reaches the same elements as on the device). The
// attention functions return 0, or -1 for a bad shape (C not a multiple of NH, a zero dimension)
// or when the host is out of memory.
//
// Softmax of each row of x (m x n), golden: m = -inf, m = max(m, x_j) for j ascending; s = +0,
// s = s + exp(x_j - m) for j ascending; r = recip(s); y_j = exp(x_j - m) * r.
void sparrow_ref_softmax_golden(uint32_t m, uint32_t n, const uint32_t *x, uint32_t *y,
                                uint8_t *flags);
void sparrow_ref_softmax_plain(uint32_t m, uint32_t n, const uint32_t *x, uint32_t *y);
// Its backward from the forward's output y: dot = +0, dot = dot + y_j * dy_j for j ascending;
// dx_j = y_j * (dy_j - dot).
void sparrow_ref_softmax_bwd_golden(uint32_t m, uint32_t n, const uint32_t *y, const uint32_t *dy,
                                    uint32_t *dx, uint8_t *flags);
void sparrow_ref_softmax_bwd_plain(uint32_t m, uint32_t n, const uint32_t *y, const uint32_t *dy,
                                   uint32_t *dx);
// The general form the device's strip softmax computes (sparrow_nn.h, sparrow_ops_strip_t), rows
// of x (m x n): causal: row i takes elements j <= i only (the others: no operation, +0 out);
// has_scale: the forward computes z_j = x_j * scale first, the backward multiplies its result
// dx_j = y_j * (dy_j - dot) by scale last. Without either these are the two functions above.
void sparrow_ref_softmax_masked_golden(uint32_t m, uint32_t n, bool causal, bool has_scale,
                                       uint32_t scale, const uint32_t *x, uint32_t *y,
                                       uint8_t *flags);
void sparrow_ref_softmax_masked_bwd_golden(uint32_t m, uint32_t n, bool causal, bool has_scale,
                                           uint32_t scale, const uint32_t *y, const uint32_t *dy,
                                           uint32_t *dx, uint8_t *flags);
// The attention's scale: the binary32 value of (float)(1.0 / sqrt((double)head_size)), as bits.
uint32_t sparrow_ref_attention_scale(uint32_t head_size);
// Attention: qkv (B*T x 3C: q | k | v, head h in columns h*hs .. h*hs + hs - 1 of each, hs = C/NH)
// -> out (B*T x C, heads concatenated) and att (B x NH x T x T: the probabilities P[i][j], +0 where
// j > i). Golden, per (batch, head): S^T[j][i] = sum_d K[j][d] * Q[i][d] for every i, j (from +0.0,
// d ascending); row i: z_j = S[i][j] * scale, the softmax above over j <= i only (j > i: no
// operation, P = +0), y_j = exp(z_j - m) * recip(s); O[i][d] = sum over all j of P[i][j] * V[j][d].
int sparrow_ref_attention_golden(uint32_t B, uint32_t T, uint32_t C, uint32_t NH,
                                 const uint32_t *qkv, uint32_t *out, uint32_t *att, uint8_t *flags);
int sparrow_ref_attention_plain(uint32_t B, uint32_t T, uint32_t C, uint32_t NH,
                                const uint32_t *qkv, uint32_t *out, uint32_t *att);
// Backward from qkv, att (the forward's P) and dout (B*T x C) -> dqkv (B*T x 3C, every element
// written). Golden, per (batch, head): dP^T[j][i] = sum_d V[j][d] * dO[i][d]; row i over j <= i:
// dot = sum P[i][j] * dP[i][j], G[i][j] = (P[i][j] * (dP[i][j] - dot)) * scale (+0 for j > i);
// dQ = G K (sum over j), dK = G^T Q (sum over i), dV = P^T dO (sum over i), every sum from +0.0
// in ascending order over the whole range (masked terms are +0 products).
int sparrow_ref_attention_bwd_golden(uint32_t B, uint32_t T, uint32_t C, uint32_t NH,
                                     const uint32_t *qkv, const uint32_t *att, const uint32_t *dout,
                                     uint32_t *dqkv, uint8_t *flags);
int sparrow_ref_attention_bwd_plain(uint32_t B, uint32_t T, uint32_t C, uint32_t NH,
                                    const uint32_t *qkv, const uint32_t *att, const uint32_t *dout,
                                    uint32_t *dqkv);
// The forwards in double without any rounding (for central finite differences).
void sparrow_ref_softmax_f64(uint32_t m, uint32_t n, const double *x, double *y);
int sparrow_ref_attention_f64(uint32_t B, uint32_t T, uint32_t C, uint32_t NH, const double *qkv,
                              double *out);

// ---------------------------------------------------------------------------------------------------
// Layernorm and the token + position embedding (host/ops/sparrow_nn.h; host/ref/layernorm_ref.c,
// embedding_ref.c; docs/ops.md, "Layernorm and embedding"). Golden versions: the device programs'
// operation sequences, flags ORed into *flags (may be NULL); they return 0, or -1 for lanes that
// are not a power of two (up to 64), C = 0, or a token outside the vocabulary. The _f64 versions
// compute in double throughout (the gradient checks' forward and backward); the plain versions
// take the binary32 inputs to double, round the outputs once, and fill tol (may be NULL) with
// each output's normwise error bound for the golden sequence (docs/ops.md), -1 when the host is
// out of memory.

// eps = 1e-5 as binary32.
#define SPARROW_REF_LN_EPS 0x3727C5ACu
// 1/C as the nearest binary32 (the constant the mean and the variance are multiplied by).
uint32_t sparrow_ref_layernorm_inv_c(uint32_t c);
// y (m x c) = layernorm of each row of x with gamma, beta (c each); mean, rstd: m each. Golden,
// per row, with lanes L: lane l sums x[j] for j = l, l + L, ... < c from +0.0; S = the lane tree
// of the L sums; mean = S * inv_c; the same for q_l = sum of d*d, d = x[j] - mean; var = Q *
// inv_c; rstd = rsqrt(var + eps); y[j] = ((x[j] - mean) * rstd) * gamma[j] + beta[j].
// tol: y, mean, rstd.
int sparrow_ref_layernorm_golden(uint32_t lanes, uint32_t m, uint32_t c, const uint32_t *x,
                                 const uint32_t *gamma, const uint32_t *beta, uint32_t *y,
                                 uint32_t *mean, uint32_t *rstd, uint8_t *flags);
int sparrow_ref_layernorm_plain(uint32_t m, uint32_t c, const uint32_t *x, const uint32_t *gamma,
                                const uint32_t *beta, uint32_t *y, uint32_t *mean, uint32_t *rstd,
                                double tol[3]);
void sparrow_ref_layernorm_f64(uint32_t m, uint32_t c, const double *x, const double *gamma,
                               const double *beta, double *y, double *mean, double *rstd);
// Backward from x, gamma, the forward's mean and rstd, and dy: dx (m x c), dgamma, dbeta (c).
// Golden, per row: n[j] = (x[j] - mean) * rstd, g[j] = gamma[j] * dy[j]; lane sums of g and of
// g * n as above, m1 = A * inv_c, m2 = B * inv_c; dx[j] = ((g[j] - m1) - n[j] * m2) * rstd.
// dgamma[j] = sum over rows of dy * n, dbeta[j] = sum over rows of dy, each from +0.0 in
// ascending row order. tol: dx, dgamma, dbeta.
int sparrow_ref_layernorm_bwd_golden(uint32_t lanes, uint32_t m, uint32_t c, const uint32_t *x,
                                     const uint32_t *gamma, const uint32_t *mean,
                                     const uint32_t *rstd, const uint32_t *dy, uint32_t *dx,
                                     uint32_t *dgamma, uint32_t *dbeta, uint8_t *flags);
int sparrow_ref_layernorm_bwd_plain(uint32_t m, uint32_t c, const uint32_t *x,
                                    const uint32_t *gamma, const uint32_t *mean,
                                    const uint32_t *rstd, const uint32_t *dy, uint32_t *dx,
                                    uint32_t *dgamma, uint32_t *dbeta, double tol[3]);
void sparrow_ref_layernorm_bwd_f64(uint32_t m, uint32_t c, const double *x, const double *gamma,
                                   const double *mean, const double *rstd, const double *dy,
                                   double *dx, double *dgamma, double *dbeta);

// Embedding of B sequences of T tokens (row r = b*T + t, tokens[r] < V): x (B*T x C) =
// wte[tokens[r]] + wpe[t] (wte: V x C, wpe: T x C), one add per element. Backward from dx:
// dwte[v] = sum of dx[r] over the rows r with tokens[r] = v, dwpe[t] = sum over b of dx[b*T + t],
// each from +0.0 in ascending r (rows of wte that no token uses get +0.0). tol: dwte, dwpe.
int sparrow_ref_embedding_golden(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                 const uint32_t *tokens, const uint32_t *wte, const uint32_t *wpe,
                                 uint32_t *x, uint8_t *flags);
int sparrow_ref_embedding_plain(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                const uint32_t *tokens, const uint32_t *wte, const uint32_t *wpe,
                                uint32_t *x);
void sparrow_ref_embedding_f64(uint32_t B, uint32_t T, uint32_t C, const uint32_t *tokens,
                               const double *wte, const double *wpe, double *x);
int sparrow_ref_embedding_bwd_golden(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                     const uint32_t *tokens, const uint32_t *dx, uint32_t *dwte,
                                     uint32_t *dwpe, uint8_t *flags);
int sparrow_ref_embedding_bwd_plain(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                    const uint32_t *tokens, const uint32_t *dx, uint32_t *dwte,
                                    uint32_t *dwpe, double tol[2]);
void sparrow_ref_embedding_bwd_f64(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                   const uint32_t *tokens, const double *dx, double *dwte,
                                   double *dwpe);

// ---------------------------------------------------------------------------------------------------
// Softmax cross-entropy, AdamW and the global gradient norm (host/ops/sparrow_nn.h; host/ref/
// loss_ref.c, adamw_ref.c; docs/ops.md, "Loss and optimizer"). Golden versions: the device
// programs' operation sequences (sparrow_fp_add / _mul / _max, the lane trees, sparrow_fp_exp,
// _log, _recip, _rsqrt), flags ORed into *flags (may be NULL). Plain versions: C float (the
// trainer's reference algorithms) or double, no sparrow_fp.

// 1/n as the nearest binary32 (the mean loss's and the gradient's scale), as bits.
uint32_t sparrow_ref_inv_count(uint32_t n);
// Cross-entropy of n rows of logits (vocab columns counted, row stride ld >= vocab words), targets
// below vocab. Golden, with lanes L, per row: lane l keeps mx_l = max over its columns j (j mod L =
// l, j < vocab, ascending) from -inf; m = the lane tree's max; d_j = x_j - m; lane l sums exp(d_j)
// over its columns from +0.0 in ascending j; s = the lane tree's sum; loss = log(s) - d_t (when
// losses or mean is wanted); dlogits_j = ((exp(d_j) * recip(s)) - [j == t]) * inv_n for j < vocab,
// +0 for vocab <= j < ld; mean = (+0.0 + loss_0 + loss_1 + ...) * inv_n, rows ascending. losses,
// mean and dlogits may be NULL (not computed, no flags). Plain: float max, expf, a float sum, logf,
// the trainer's log-sum-exp form; mean in double. Both return 0, or -1 for a bad shape, lanes
// that are not a power of two up to 64, or a target out of range.
int sparrow_ref_cross_entropy_golden(uint32_t lanes, uint32_t n, uint32_t vocab, uint32_t ld,
                                     const uint32_t *logits, const uint32_t *targets,
                                     uint32_t *losses, uint32_t *mean, uint32_t *dlogits,
                                     uint8_t *flags);
int sparrow_ref_cross_entropy_plain(uint32_t n, uint32_t vocab, uint32_t ld,
                                    const uint32_t *logits, const uint32_t *targets,
                                    uint32_t *losses, uint32_t *mean, uint32_t *dlogits);
// The mean loss in double throughout (the gradient check's forward).
double sparrow_ref_cross_entropy_f64(uint32_t n, uint32_t vocab, uint32_t ld, const double *logits,
                                     const uint32_t *targets);
// The normwise bound of the device's losses, mean and dlogits against the plain version:
// (vocab + 16) * 2^-24 (both sum vocab exponentials in binary32; exp, log and recip add a few ulps).
double sparrow_ref_cross_entropy_tolerance(uint32_t vocab);

// The binary32 constants of one AdamW step: beta and 1 - beta (computed in double, rounded once;
// exact for beta in [1/2, 1]); the bias corrections bc = 1 / (1 - beta^step) in double, rounded
// once; eps, lr, weight_decay as given; clip the gradients' scale (bits).
typedef struct sparrow_ref_adamw_consts {
  uint32_t beta1, one_minus_beta1, beta2, one_minus_beta2, bc1, bc2;
  uint32_t eps, lr, weight_decay, clip;
} sparrow_ref_adamw_consts_t;
void sparrow_ref_adamw_consts(float lr, float beta1, float beta2, float eps, float weight_decay,
                              uint64_t step, uint32_t clip_scale, sparrow_ref_adamw_consts_t *c);
// sqrt(x) through rsqrt, the device's: x * rsqrt(x) for x in [+0, +inf) (rsqrt taking +inf in
// place of +-0, so no pole), x itself for -0, +inf, negatives and NaNs; rsqrt's flags always count.
uint32_t sparrow_ref_sqrt_rsqrt(uint32_t x, uint8_t *flags);
// AdamW on one element (p, m, v in place), golden: g = grad * clip; m = beta1 m + omb1 g;
// v = beta2 v + omb2 (g g); mhat = m bc1; vhat = v bc2; d = sqrt_rsqrt(vhat) + eps;
// u = mhat * recip(d) (sparrow_fp_div); decay: u = u + weight_decay p; p = p - lr u.
void sparrow_ref_adamw1_golden(const sparrow_ref_adamw_consts_t *c, bool decay, uint32_t *p,
                               uint32_t grad, uint32_t *m, uint32_t *v, uint8_t *flags);
void sparrow_ref_adamw_golden(const sparrow_ref_adamw_consts_t *c, size_t count, bool decay,
                              uint32_t *p, const uint32_t *g, uint32_t *m, uint32_t *v,
                              uint8_t *flags);
// Plain float AdamW (host/train/adamw.c's formula with the gradient times clip_scale first).
void sparrow_ref_adamw_plain(float lr, float beta1, float beta2, float eps, float weight_decay,
                             uint64_t step, uint32_t clip_scale, size_t count, bool decay,
                             uint32_t *p, const uint32_t *g, uint32_t *m, uint32_t *v);
// 1e-6 as binary32: the gradient norm's guard in the clip scale.
#define SPARROW_REF_GRAD_NORM_EPS 0x358637BDu
// The sum of squares of one tensor, golden: lane l sums g_j * g_j over j = l, l + L, ... in
// ascending order from +0.0; the lane tree joins them.
uint32_t sparrow_ref_sumsq_golden(uint32_t lanes, size_t count, const uint32_t *g, uint8_t *flags);
// The global gradient norm over nseg tensors (elements offset[k] .. offset[k] + count[k] - 1 of
// grads; count 0 skipped): out[0] = sumsq = (+0.0 + S_0) + S_1 + ... in tensor order, out[1] =
// norm = sqrt_rsqrt(sumsq), out[2] = clip = min(max_norm * recip(norm + 1e-6), 1). Returns -1 for
// lanes that are not a power of two up to 64. Plain: in double, clip = min(max_norm / (norm +
// 1e-6), 1).
int sparrow_ref_grad_norm_golden(uint32_t lanes, size_t nseg, const size_t *offset,
                                 const size_t *count, const uint32_t *grads, uint32_t max_norm,
                                 uint32_t out[3], uint8_t *flags);
void sparrow_ref_grad_norm_plain(size_t nseg, const size_t *offset, const size_t *count,
                                 const uint32_t *grads, uint32_t max_norm, double out[3]);
// The relative bound of sumsq, norm and clip against the plain version: (max_count + nseg + 8) *
// 2^-24 (recursive sums of at most max_count squares, nseg tensor sums, and a few roundings).
double sparrow_ref_grad_norm_tolerance(size_t nseg, size_t max_count);
// The normwise bounds of AdamW's p and of m, v against the plain float version (docs/ops.md).
#define SPARROW_REF_ADAMW_TOL_P 0x1p-20
#define SPARROW_REF_ADAMW_TOL_MV 0x1p-23

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_REF_SPARROW_REF_H_
