// SPDX-License-Identifier: Apache-2.0
//
// The training operators of the ops library beyond the GEMMs and the first SIMD operators
// (docs/ops.md): each runs on the fabric through the driver, with a golden-order CPU reference in
// host/ref (sparrow_ref.h) that it matches bit for bit, and a plain-float one within a documented
// tolerance. Tensors are binary32 bit patterns (uint32_t), row-major. Each operator family has its
// own block below.

#ifndef SPARROW_HOST_OPS_SPARROW_NN_H_
#define SPARROW_HOST_OPS_SPARROW_NN_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn_exec.h"
#include "simd_asm.h"
#include "simd_run.h"
#include "sparrow.h"
#include "sparrow_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// ===================================================================================================
// Causal multi-head self-attention and softmax (host/ops/op_attention.c, op_softmax.c;
// docs/ops.md, "Attention and softmax"; references in host/ref/attention_ref.c).
//
// Softmax rows run on the PCU's SIMD mode in *strip form*: the rows to normalize are the columns
// of a device buffer of `len` lines, so that each lane owns one row and sums it in one accumulator
// from +0.0 in ascending order (no cross-lane tree: S and M give the same bits). A SIMD row is a
// strip of `lanes` such columns; its beats walk down the len lines. The attention's GEMMs (S^T =
// K Q^T, O = P V; backward dP^T = V dO^T, dQ = G K, dK = G^T Q, dV = P^T dO) run on the PCU's GEMM
// mode through sparrow_ops_gemm; the host only moves data between the launches (slices of qkv,
// transposes, the strip layout).

// The normwise tolerances of the float checks, ||device - plain|| / ||plain|| per output tensor
// against the plain double references of sparrow_ref.h (docs/ops.md, "Attention and softmax":
// the largest errors measured are about a tenth of these).
#define SPARROW_OPS_TOL_SOFTMAX 0x1p-20
#define SPARROW_OPS_TOL_SOFTMAX_BWD 0x1p-20
#define SPARROW_OPS_TOL_ATTENTION 0x1p-19
#define SPARROW_OPS_TOL_ATTENTION_BWD 0x1p-18

// What an operator cost, as the fabric counted it (summed over every launch of every GEMM and
// SIMD job it ran).
typedef struct sparrow_ops_attn_stats {
  uint64_t cycles;  // gemm_cycles + simd_cycles
  uint64_t gemm_cycles;
  uint64_t simd_cycles;
  uint64_t simd_est_cycles;  // the SIMD runner's estimate (the golden model's count)
  uint64_t macs;             // multiply-accumulates the PCUs counted in GEMM mode (with padding)
  uint64_t dram_rd_bytes;
  uint64_t dram_wr_bytes;
  uint32_t launches;
  size_t entries;             // program entries over all launches
  uint32_t gemms;             // GEMMs run
  uint32_t simd_jobs;         // SIMD jobs run
  uint32_t fp_status;         // sticky flags (SPARROW_FP_*) ORed over every launch
  uint32_t simd_insns;        // SIMD instructions of the (last) softmax program
  uint32_t simd_body_groups;  // issue groups of its busiest pass body, per beat
} sparrow_ops_attn_stats_t;

// A strip-form softmax: `groups` groups of `cols` softmax rows of `len` elements each. The device
// buffer (in and out alike) is `len` lines of width = groups * colsp words (colsp = cols rounded
// up to lanes): row i of group g is column g * colsp + i, its element j on line j; the padding
// columns are never computed on (no flag) and come out +0. causal: row i takes elements j <= i
// only (the others: no operation, output +0; for attention len = cols = T). has_scale: the forward
// multiplies each element by `scale` first (z = x * scale), the backward multiplies its result by
// it last.
typedef struct sparrow_ops_strip {
  uint32_t len;
  uint32_t cols;
  uint32_t groups;
  bool causal;
  bool has_scale;
  uint32_t scale;  // binary32 bits
} sparrow_ops_strip_t;

// Words per line of the strip buffer (groups * colsp); 0 when it does not fit 32 bits.
uint32_t sparrow_ops_strip_width(const sparrow_ops_strip_t *strip, uint32_t lanes);

// The SIMD program and job of a strip softmax on a device with `lanes` lanes (a power of two).
// Forward (three passes: maximum, sum of exponentials, output): in[0] = x, out = y. Backward (two
// passes: dot = sum y dy, output): in[0] = y, in[1] = dy, out = dx. The job points at *code.
// SPARROW_OPS_E_ARG for an empty or inconsistent strip, E_UNSUPPORTED for lanes that are not a
// power of two or a buffer beyond 32-bit addresses.
sparrow_ops_status_t sparrow_ops_strip_job(const sparrow_ops_strip_t *strip, bool backward,
                                           uint32_t lanes, sparrow_simd_asm_t *code,
                                           sparrow_ops_simd_job_t *job)
    __attribute__((warn_unused_result));

// Runs a strip softmax on the device from host images of its buffers (len x width words each):
// allocates, writes in0 (and in1 for the backward), runs, reads out, frees. Adds to *stats.
sparrow_ops_status_t sparrow_ops_strip_run(sparrow_dev_t *dev, const sparrow_ops_strip_t *strip,
                                           bool backward, const uint32_t *in0, const uint32_t *in1,
                                           uint32_t *out, sparrow_ops_attn_stats_t *stats,
                                           char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// softmax: y (m x n) = the softmax of each row of x; softmax_bwd: dx = y * (dy - rowsum(y * dy))
// from the forward's y. stats (may be NULL) is zeroed, then filled. On failure msg says why.
sparrow_ops_status_t sparrow_ops_softmax(sparrow_dev_t *dev, uint32_t m, uint32_t n,
                                         const uint32_t *x, uint32_t *y,
                                         sparrow_ops_attn_stats_t *stats, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
sparrow_ops_status_t sparrow_ops_softmax_bwd(sparrow_dev_t *dev, uint32_t m, uint32_t n,
                                             const uint32_t *y, const uint32_t *dy, uint32_t *dx,
                                             sparrow_ops_attn_stats_t *stats, char *msg,
                                             size_t msg_len) __attribute__((warn_unused_result));

// Causal self-attention of B sequences of T tokens, C channels in NH heads of hs = C / NH.
// qkv: B*T x 3C (q | k | v; head h in columns h*hs .. h*hs + hs - 1 of each); out: B*T x C (the
// heads concatenated); att: B x NH x T x T, the probabilities P[i][j] (+0 where j > i), which the
// backward takes. The backward writes every element of dqkv (B*T x 3C) from qkv, att and dout
// (B*T x C). stats (may be NULL) is zeroed, then filled. On failure msg says why.
size_t sparrow_ops_attention_att_elems(uint32_t B, uint32_t T, uint32_t NH);
sparrow_ops_status_t sparrow_ops_attention(sparrow_dev_t *dev, uint32_t B, uint32_t T, uint32_t C,
                                           uint32_t NH, const uint32_t *qkv, uint32_t *out,
                                           uint32_t *att, sparrow_ops_attn_stats_t *stats,
                                           char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
sparrow_ops_status_t sparrow_ops_attention_bwd(sparrow_dev_t *dev, uint32_t B, uint32_t T,
                                               uint32_t C, uint32_t NH, const uint32_t *qkv,
                                               const uint32_t *att, const uint32_t *dout,
                                               uint32_t *dqkv, sparrow_ops_attn_stats_t *stats,
                                               char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// ===================================================================================================
// Layernorm and the token + position embedding (host/ops/op_layernorm.c, op_embedding.c, run by
// the executor of nn_exec.h; docs/ops.md, "Layernorm and embedding"; references in
// host/ref/layernorm_ref.c and embedding_ref.c, whose golden order each matches bit for bit).
//
// Each operator has a device call (allocates, writes, runs, reads, frees; stats (may be NULL) is
// zeroed, then filled; on failure msg says why) and, for tests that run the same programs on the
// golden model in-process, a prepare step that packs the host tensors into an executor's images
// and jobs for a fabric, and a finish step that unpacks the outputs from the images once the jobs
// have run (the executor is the caller's to sparrow_ops_exec_free).

// layernorm: each of the m rows of x (m x c) normalized with its mean and variance, then scaled
// and shifted: y = ((x - mean) * rstd) * gamma + beta, rstd = rsqrt(var + 1e-5); mean and rstd (m
// each) are outputs too, for the backward. layernorm_bwd: dx (m x c), dgamma and dbeta (c each,
// written, not accumulated) from x, gamma, the forward's mean and rstd, and dy.
sparrow_ops_status_t sparrow_ops_layernorm(sparrow_dev_t *dev, uint32_t m, uint32_t c,
                                           const uint32_t *x, const uint32_t *gamma,
                                           const uint32_t *beta, uint32_t *y, uint32_t *mean,
                                           uint32_t *rstd, sparrow_ops_simd_stats_t *stats,
                                           char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
sparrow_ops_status_t sparrow_ops_layernorm_bwd(sparrow_dev_t *dev, uint32_t m, uint32_t c,
                                               const uint32_t *x, const uint32_t *gamma,
                                               const uint32_t *mean, const uint32_t *rstd,
                                               const uint32_t *dy, uint32_t *dx, uint32_t *dgamma,
                                               uint32_t *dbeta, sparrow_ops_simd_stats_t *stats,
                                               char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
sparrow_ops_status_t sparrow_ops_layernorm_prepare(const sparrow_ops_fabric_t *fabric, uint32_t m,
                                                   uint32_t c, const uint32_t *x,
                                                   const uint32_t *gamma, const uint32_t *beta,
                                                   sparrow_ops_exec_t *exec, char *msg,
                                                   size_t msg_len)
    __attribute__((warn_unused_result));
void sparrow_ops_layernorm_finish(const sparrow_ops_exec_t *exec, uint32_t m, uint32_t c,
                                  uint32_t *y, uint32_t *mean, uint32_t *rstd);
sparrow_ops_status_t sparrow_ops_layernorm_bwd_prepare(
    const sparrow_ops_fabric_t *fabric, uint32_t m, uint32_t c, const uint32_t *x,
    const uint32_t *gamma, const uint32_t *mean, const uint32_t *rstd, const uint32_t *dy,
    sparrow_ops_exec_t *exec, char *msg, size_t msg_len) __attribute__((warn_unused_result));
// dx NULL skips dx (job 0's output), dgamma and dbeta NULL skip them (job 1's).
void sparrow_ops_layernorm_bwd_finish(const sparrow_ops_exec_t *exec, uint32_t m, uint32_t c,
                                      uint32_t *dx, uint32_t *dgamma, uint32_t *dbeta);

// The embedding's shape: `batch` sequences of `seq` tokens (row r = b * seq + t of x and dx), a
// table wte of `vocab` rows (token ids below vocab) and wpe of `seq` rows, `channels` columns.
typedef struct sparrow_ops_embed {
  uint32_t batch, seq, vocab, channels;
} sparrow_ops_embed_t;

// embedding: x[b*T + t] = wte[tokens[b*T + t]] + wpe[t]. embedding_bwd: dwte[v] = the sum of
// dx[r] over the rows whose token is v (+0.0 for a row no token uses), dwpe[t] = the sum of
// dx[b*T + t] over b; written, not accumulated. A token id outside the vocabulary is refused
// (SPARROW_OPS_E_ARG), as is a vocabulary that does not fit the PMU (E_UNSUPPORTED).
sparrow_ops_status_t sparrow_ops_embedding(sparrow_dev_t *dev, const sparrow_ops_embed_t *e,
                                           const uint32_t *tokens, const uint32_t *wte,
                                           const uint32_t *wpe, uint32_t *x,
                                           sparrow_ops_simd_stats_t *stats, char *msg,
                                           size_t msg_len) __attribute__((warn_unused_result));
sparrow_ops_status_t sparrow_ops_embedding_bwd(sparrow_dev_t *dev, const sparrow_ops_embed_t *e,
                                               const uint32_t *tokens, const uint32_t *dx,
                                               uint32_t *dwte, uint32_t *dwpe,
                                               sparrow_ops_simd_stats_t *stats, char *msg,
                                               size_t msg_len) __attribute__((warn_unused_result));
sparrow_ops_status_t sparrow_ops_embedding_prepare(const sparrow_ops_fabric_t *fabric,
                                                   const sparrow_ops_embed_t *e,
                                                   const uint32_t *tokens, const uint32_t *wte,
                                                   const uint32_t *wpe, sparrow_ops_exec_t *exec,
                                                   char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
void sparrow_ops_embedding_finish(const sparrow_ops_exec_t *exec, uint32_t *x);
// max_chunk_rows: 0, or a smaller limit on the rows of dx per chunk (tests use it to exercise the
// partial sums carried from chunk to chunk).
sparrow_ops_status_t sparrow_ops_embedding_bwd_prepare(const sparrow_ops_fabric_t *fabric,
                                                       const sparrow_ops_embed_t *e,
                                                       const uint32_t *tokens, const uint32_t *dx,
                                                       uint32_t max_chunk_rows,
                                                       sparrow_ops_exec_t *exec, char *msg,
                                                       size_t msg_len)
    __attribute__((warn_unused_result));
void sparrow_ops_embedding_bwd_finish(const sparrow_ops_exec_t *exec, uint32_t *dwte,
                                      uint32_t *dwpe);

// ===================================================================================================
// Softmax cross-entropy, AdamW and the global gradient norm (host/ops/op_loss.c, op_adamw.c, run by
// the executor of nn_exec.h; docs/ops.md, "Loss and optimizer"; references in host/ref/loss_ref.c
// and adamw_ref.c, whose golden order each matches bit for bit). Each has a device call
// (allocates, writes, runs, reads, frees; stats (may be NULL) is zeroed, then filled; on failure
// msg says why) and a prepare / finish pair for tests that run the same programs on the golden
// model in-process (the executor is the caller's to sparrow_ops_exec_free).

// Softmax cross-entropy over `rows` rows of logits, `vocab` columns counted of a host row of `ld`
// words (ld >= vocab: the trainer's padded vocabulary; columns vocab .. ld - 1 never count).
typedef struct sparrow_ops_ce {
  uint32_t rows, vocab, ld;
} sparrow_ops_ce_t;

// cross_entropy, per row i with target t = targets[i] (< vocab, else SPARROW_OPS_E_ARG):
//   m = max_j x_j; d_j = x_j - m; s = sum_j exp(d_j); losses[i] = log(s) - d_t;
//   mean = (sum over i of losses[i], ascending) * inv_n, inv_n = 1/rows as a binary32 constant;
//   dlogits[i][j] = (exp(d_j) * recip(s) - [j == t]) * inv_n for j < vocab, +0 for the others.
// The max and the sum are per lane over the columns of that lane in ascending order, then the lane
// tree (docs/numerics.md): S and M differ in the last bits. Outputs may be NULL (not computed):
// without dlogits it is the forward (two passes over the logits), with it three passes (forward
// and backward in one job); mean needs a second, one-tile job. At least one must be wanted.
sparrow_ops_status_t sparrow_ops_cross_entropy(sparrow_dev_t *dev, const sparrow_ops_ce_t *ce,
                                               const uint32_t *logits, const uint32_t *targets,
                                               uint32_t *losses, uint32_t *mean, uint32_t *dlogits,
                                               sparrow_ops_simd_stats_t *stats, char *msg,
                                               size_t msg_len) __attribute__((warn_unused_result));
sparrow_ops_status_t sparrow_ops_cross_entropy_prepare(
    const sparrow_ops_fabric_t *fabric, const sparrow_ops_ce_t *ce, const uint32_t *logits,
    const uint32_t *targets, bool want_losses, bool want_mean, bool want_dlogits,
    sparrow_ops_exec_t *exec, char *msg, size_t msg_len) __attribute__((warn_unused_result));
// Unpacks what the prepare step asked for (the other pointers may be NULL).
void sparrow_ops_cross_entropy_finish(const sparrow_ops_exec_t *exec, uint32_t *losses,
                                      uint32_t *mean, uint32_t *dlogits);

// A parameter tensor inside flat host arrays (params, grads, m, v share one layout): elements
// [offset, offset + count); decay: AdamW's weight decay applies to it. Tensors must not overlap; a
// tensor of count 0 is skipped.
typedef struct sparrow_ops_param_seg {
  size_t offset, count;
  bool decay;
} sparrow_ops_param_seg_t;

// The global gradient norm and the clipping scale, as binary32 bits (docs/ops.md): per tensor, lane
// l sums g_j * g_j for the tensor's j = l, l + L, ... in ascending order from +0.0, the lane tree
// joins them into S_k; sumsq = (+0.0 + S_0) + S_1 + ... in tensor order; norm = sqrt(sumsq)
// computed as sumsq * rsqrt(sumsq) (+0 and +inf: themselves); clip = min(max_norm * recip(norm +
// 1e-6), 1). One tile runs it (a single accumulator across every row).
typedef struct sparrow_ops_grad_norm {
  uint32_t sumsq, norm, clip;
} sparrow_ops_grad_norm_t;

sparrow_ops_status_t sparrow_ops_grad_norm(sparrow_dev_t *dev, size_t nseg,
                                           const sparrow_ops_param_seg_t *segs,
                                           const uint32_t *grads, uint32_t max_norm,
                                           sparrow_ops_grad_norm_t *out,
                                           sparrow_ops_simd_stats_t *stats, char *msg,
                                           size_t msg_len) __attribute__((warn_unused_result));
sparrow_ops_status_t sparrow_ops_grad_norm_prepare(const sparrow_ops_fabric_t *fabric, size_t nseg,
                                                   const sparrow_ops_param_seg_t *segs,
                                                   const uint32_t *grads, uint32_t max_norm,
                                                   sparrow_ops_exec_t *exec, char *msg,
                                                   size_t msg_len)
    __attribute__((warn_unused_result));
void sparrow_ops_grad_norm_finish(const sparrow_ops_exec_t *exec, sparrow_ops_grad_norm_t *out);

// One AdamW step: hyper-parameters as the trainer holds them; the binary32 constants the device
// multiplies by are sparrow_ref_adamw_consts() of them (docs/ops.md: 1 - beta, and the bias
// corrections 1 / (1 - beta^step) computed in double and rounded once per step).
typedef struct sparrow_ops_adamw_hp {
  float lr, beta1, beta2, eps, weight_decay;
  uint64_t step;        // t, from 1
  uint32_t clip_scale;  // binary32 bits every gradient is multiplied by first (1.0f: no clipping)
} sparrow_ops_adamw_hp_t;

// Per element of every tensor: g = grad * clip; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// mhat = m * bc1; vhat = v * bc2; denom = sqrt(vhat) + eps (sqrt as the gradient norm's);
// u = mhat * recip(denom), plus weight_decay * p for a decaying tensor; p = p - lr u. params, m, v
// are updated in place; grads is read.
sparrow_ops_status_t sparrow_ops_adamw(sparrow_dev_t *dev, const sparrow_ops_adamw_hp_t *hp,
                                       size_t nseg, const sparrow_ops_param_seg_t *segs,
                                       uint32_t *params, const uint32_t *grads, uint32_t *m,
                                       uint32_t *v, sparrow_ops_simd_stats_t *stats, char *msg,
                                       size_t msg_len) __attribute__((warn_unused_result));
sparrow_ops_status_t sparrow_ops_adamw_prepare(const sparrow_ops_fabric_t *fabric,
                                               const sparrow_ops_adamw_hp_t *hp, size_t nseg,
                                               const sparrow_ops_param_seg_t *segs,
                                               const uint32_t *params, const uint32_t *grads,
                                               const uint32_t *m, const uint32_t *v,
                                               sparrow_ops_exec_t *exec, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
void sparrow_ops_adamw_finish(const sparrow_ops_exec_t *exec, size_t nseg,
                              const sparrow_ops_param_seg_t *segs, uint32_t *params, uint32_t *m,
                              uint32_t *v);

// ===================================================================================================

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_SPARROW_NN_H_
