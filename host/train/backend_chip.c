// SPDX-License-Identifier: Apache-2.0
//
// The chip backend (backend.h; docs/training.md, "The chip backend"): every operator of a training
// step runs on the fabric through the ops library and libsparrow, kernel by kernel (KBK: each
// operator reads its inputs from device DRAM and writes its outputs back) or, in DF mode, with the
// row-wise operators of each transformer block fused into dataflow sections (docs/dataflow.md;
// each block runs its plan, backend_chip_block.c). The host keeps the
// state (parameters, AdamW moments, masks, the last forward's activations and the gradients) and
// only moves data: it packs operands (transposes for the GEMMs of the backward pass, the block-
// sparse weights in BSR from the masks, the stored values of a sparse tensor gathered for AdamW)
// and supplies the step's scalar constants (learning rate, bias corrections). Every number of the
// model comes from the fabric, so two devices that compute the contract's arithmetic (the RTL and
// the golden model) give the same bits, and so do the two modes.
//
// The step follows the reference (gpt.c) operator by operator:
//   forward   embedding; per layer: layernorm, qkv linear, attention, attention projection,
//             residual add, layernorm, fc linear, GELU, fc projection, residual add; final
//             layernorm; the tied LM head (logits = lnf wte^T); softmax cross-entropy (with
//             targets: the mean loss and its gradient dlogits, in one job)
//   backward  LM head (dlnf = dlogits wte, dwte = dlogits^T lnf); final
//             layernorm; per layer in reverse: fc projection, GELU, fc, layernorm, residual join,
//             attention projection, attention, qkv, layernorm, residual join; embedding; the two
//             parts of the tied embedding's gradient added
//   step      global gradient norm, clipping and AdamW with bias correction and weight decay
// A linear layer is a GEMM (dense: sparsity 0, or before the masks come into force) or the block-
// sparse spmm / spmm_t / sddmm (masks in force), then the bias add; its backward the data gradient,
// the weight gradient and the bias gradient (column sums).

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_chip.h"
#include "simd_ops.h"
#include "sparrow.h"
#include "sparrow_bsr.h"
#include "sparrow_nn.h"
#include "sparrow_ops.h"
#include "sparrow_sparse.h"

// ---------------------------------------------------------------------------------------------
// Helpers: accounting, errors, data movement.

// Adds an operator's counters (what the fabric counted over its launches) to the totals and to its
// kind. (Its FP flags are not kept: a non-finite result shows in the loss or the gradient norm,
// which the training loop checks.)
void chip_account(chip_impl_t *ci, uint64_t cycles, uint64_t rd, uint64_t wr) {
  ci->counters.cycles += cycles;
  ci->counters.dram_bytes += rd + wr;
  ci->counters.kind_cycles[ci->kind] += cycles;
  ci->counters.kind_dram_bytes[ci->kind] += rd + wr;
}

sparrow_train_status_t chip_op_fail(const chip_impl_t *ci, sparrow_ops_status_t ost,
                                    const char *what, const char *why, char *msg, size_t msg_len) {
  return sparrow_train_fail(
      ost == SPARROW_OPS_E_NOMEM ? SPARROW_TRAIN_E_NOMEM : SPARROW_TRAIN_E_DEVICE, msg, msg_len,
      "device %s: %s: %s (%s)", ci->uri, what, why, sparrow_ops_status_name(ost));
}

// dst (cols x rows) = src (rows x cols)^T: data movement for the GEMMs' operands.
static void transpose(const uint32_t *src, size_t rows, size_t cols, uint32_t *dst) {
  for (size_t r = 0; r < rows; r++) {
    for (size_t c = 0; c < cols; c++) {
      dst[c * rows + r] = src[r * cols + c];
    }
  }
}

static bool layered(sparrow_gpt_tensor_t t) {
  return t != SPARROW_GPT_WTE && t != SPARROW_GPT_WPE && t != SPARROW_GPT_LNFW &&
         t != SPARROW_GPT_LNFB;
}

// Parameter tensor t, layer l's slice, inside base (params, grads, m or v).
uint32_t *chip_tensor(const chip_impl_t *ci, uint32_t *base, sparrow_gpt_tensor_t t, uint32_t l) {
  size_t per = ci->layout.size[t];
  if (layered(t)) {
    per /= ci->c.n_layer;
    return base + ci->layout.offset[t] + l * per;
  }
  return base + ci->layout.offset[t];
}

static const char *lin_name(sparrow_gpt_linear_t lin) {
  return sparrow_gpt_linear_name(lin);
}

// The bias of a linear layer follows its weights in the parameter order (gpt.h).
sparrow_gpt_tensor_t chip_lin_bias(sparrow_gpt_linear_t lin) {
  return (sparrow_gpt_tensor_t)(sparrow_gpt_linear_tensor(lin) + 1);
}

// ---------------------------------------------------------------------------------------------
// The operators, each one call of the ops library with its cost accounted.

static sparrow_train_status_t gemm(chip_impl_t *ci, const char *what, uint32_t m, uint32_t n,
                                   uint32_t k, const uint32_t *a, const uint32_t *b, uint32_t *c,
                                   char *msg, size_t msg_len) {
  sparrow_ops_gemm_stats_t s;
  char why[400] = "";
  sparrow_ops_status_t ost = sparrow_ops_gemm(ci->dev, m, n, k, a, b, c, &s, why, sizeof(why));
  if (ost != SPARROW_OPS_OK) {
    return chip_op_fail(ci, ost, what, why, msg, msg_len);
  }
  chip_account(ci, s.cycles, s.dram_rd_bytes, s.dram_wr_bytes);
  return SPARROW_TRAIN_OK;
}

sparrow_train_status_t chip_simd(chip_impl_t *ci, const char *what, sparrow_ops_simd_op_t op,
                                 uint32_t m, uint32_t n, const uint32_t *in0, const uint32_t *in1,
                                 uint32_t *out0, uint32_t *out1, char *msg, size_t msg_len) {
  const uint32_t *in[SPARROW_OPS_SIMD_MAX_TENSORS] = {in0, in1};
  uint32_t *out[SPARROW_OPS_SIMD_MAX_TENSORS] = {out0, out1};
  sparrow_ops_simd_stats_t s;
  char why[400] = "";
  sparrow_ops_status_t ost = sparrow_ops_simd(ci->dev, op, m, n, in, out, &s, why, sizeof(why));
  if (ost != SPARROW_OPS_OK) {
    return chip_op_fail(ci, ost, what, why, msg, msg_len);
  }
  chip_account(ci, s.cycles, s.dram_rd_bytes, s.dram_wr_bytes);
  return SPARROW_TRAIN_OK;
}

static void sparse_account(chip_impl_t *ci, const sparrow_ops_sparse_stats_t *s) {
  chip_account(ci, s->cycles, s->dram_rd_bytes, s->dram_wr_bytes);
}

// The BSR of every sparse layer's weights from the current parameters (data movement: the stored
// blocks copied), rebuilt after every change of the parameters.
static sparrow_train_status_t ensure_bsr(chip_impl_t *ci, char *msg, size_t msg_len) {
  if (!ci->masks_active || ci->bsr_fresh) {
    return SPARROW_TRAIN_OK;
  }
  for (uint32_t l = 0; l < ci->c.n_layer; l++) {
    for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
      sparrow_gpt_linear_t lin = (sparrow_gpt_linear_t)j;
      sparrow_bsr_t *w = &ci->bsr[l * SPARROW_GPT_LINEARS + j];
      sparrow_bsr_free(w);
      const uint32_t *dense = chip_tensor(ci, ci->params, sparrow_gpt_linear_tensor(lin), l);
      const uint8_t *mask = ci->masks + ci->layout.mask_offset[l * SPARROW_GPT_LINEARS + j];
      char why[200] = "";
      sparrow_bsr_status_t bs =
          sparrow_bsr_from_dense((const float *)dense, ci->layout.weight_rows[j],
                                 ci->layout.weight_cols[j], ci->c.block, mask, w, why, sizeof(why));
      if (bs != SPARROW_BSR_OK) {
        return sparrow_train_fail(
            bs == SPARROW_BSR_E_NOMEM ? SPARROW_TRAIN_E_NOMEM : SPARROW_TRAIN_E_ARG, msg, msg_len,
            "layer %u %s: weights to BSR: %s", l, lin_name(lin), why);
      }
    }
  }
  ci->bsr_fresh = true;
  return SPARROW_TRAIN_OK;
}

// y[n, OC] = x[n, IC] W: the GEMM, or the spmm when the masks are in force (the bias add is its
// own operator, df_plan.h).
sparrow_train_status_t chip_linear_mm(chip_impl_t *ci, uint32_t l, sparrow_gpt_linear_t lin,
                                      const uint32_t *x, uint32_t n, uint32_t *y, char *msg,
                                      size_t msg_len) {
  uint32_t ic = ci->layout.weight_rows[lin], oc = ci->layout.weight_cols[lin];
  char what[64];
  ci->kind = SPARROW_TRAIN_OP_LINEAR;
  if (ci->masks_active) {
    snprintf(what, sizeof(what), "layer %u %s forward (spmm)", l, lin_name(lin));
    sparrow_ops_sparse_stats_t s;
    char why[400] = "";
    sparrow_ops_status_t ost = sparrow_ops_spmm(
        ci->dev, n, x, &ci->bsr[l * SPARROW_GPT_LINEARS + lin], y, &s, why, sizeof(why));
    if (ost != SPARROW_OPS_OK) {
      return chip_op_fail(ci, ost, what, why, msg, msg_len);
    }
    sparse_account(ci, &s);
    return SPARROW_TRAIN_OK;
  }
  snprintf(what, sizeof(what), "layer %u %s forward (gemm)", l, lin_name(lin));
  const uint32_t *w = chip_tensor(ci, ci->params, sparrow_gpt_linear_tensor(lin), l);
  return gemm(ci, what, n, oc, ic, x, w, y, msg, msg_len);
}

// The backward of chip_linear_mm for the gradient dy[n, OC] of its output: dx[n, IC] = dy W^T and
// the weight gradient x^T dy into grads (on the mask when the masks are in force; exactly zero
// elsewhere). The bias gradient is its own operator.
sparrow_train_status_t chip_linear_bwd_mm(chip_impl_t *ci, uint32_t l, sparrow_gpt_linear_t lin,
                                          const uint32_t *x, const uint32_t *dy, uint32_t n,
                                          uint32_t *dx, char *msg, size_t msg_len) {
  uint32_t ic = ci->layout.weight_rows[lin], oc = ci->layout.weight_cols[lin];
  sparrow_gpt_tensor_t wt = sparrow_gpt_linear_tensor(lin);
  uint32_t *dw = chip_tensor(ci, ci->grads, wt, l);
  char what[64];
  sparrow_train_status_t st;
  ci->kind = SPARROW_TRAIN_OP_LINEAR;
  if (ci->masks_active) {
    const sparrow_bsr_t *w = &ci->bsr[l * SPARROW_GPT_LINEARS + lin];
    sparrow_ops_sparse_stats_t s;
    char why[400] = "";
    snprintf(what, sizeof(what), "layer %u %s data gradient (spmm_t)", l, lin_name(lin));
    sparrow_ops_status_t ost = sparrow_ops_spmm_t(ci->dev, n, dy, w, dx, &s, why, sizeof(why));
    if (ost != SPARROW_OPS_OK) {
      return chip_op_fail(ci, ost, what, why, msg, msg_len);
    }
    sparse_account(ci, &s);
    snprintf(what, sizeof(what), "layer %u %s weight gradient (sddmm)", l, lin_name(lin));
    ost = sparrow_ops_sddmm(ci->dev, n, x, dy, w, ci->tmp, &s, why, sizeof(why));
    if (ost != SPARROW_OPS_OK) {
      return chip_op_fail(ci, ost, what, why, msg, msg_len);
    }
    sparse_account(ci, &s);
    // The stored blocks into the dense gradient tensor; the absent blocks' gradients are zero.
    sparrow_bsr_t g = *w;
    g.values = (float *)ci->tmp;
    sparrow_bsr_status_t bs = sparrow_bsr_to_dense(&g, (float *)dw, why, sizeof(why));
    if (bs != SPARROW_BSR_OK) {
      return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len, "%s: %s", what, why);
    }
  } else {
    snprintf(what, sizeof(what), "layer %u %s data gradient (gemm)", l, lin_name(lin));
    transpose(chip_tensor(ci, ci->params, wt, l), ic, oc, ci->tmp);
    st = gemm(ci, what, n, ic, oc, dy, ci->tmp, dx, msg, msg_len);
    if (st != SPARROW_TRAIN_OK) {
      return st;
    }
    snprintf(what, sizeof(what), "layer %u %s weight gradient (gemm)", l, lin_name(lin));
    transpose(x, n, ic, ci->tmp);
    st = gemm(ci, what, ic, oc, n, ci->tmp, dy, dw, msg, msg_len);
    if (st != SPARROW_TRAIN_OK) {
      return st;
    }
  }
  return SPARROW_TRAIN_OK;
}

sparrow_train_status_t chip_simd_result(chip_impl_t *ci, sparrow_ops_status_t ost,
                                        const sparrow_ops_simd_stats_t *s, const char *what,
                                        const char *why, char *msg, size_t msg_len) {
  if (ost != SPARROW_OPS_OK) {
    return chip_op_fail(ci, ost, what, why, msg, msg_len);
  }
  chip_account(ci, s->cycles, s->dram_rd_bytes, s->dram_wr_bytes);
  return SPARROW_TRAIN_OK;
}

// The whole padded table wte (Vp rows: the padding rows' gradients come out +0.0) and the first T
// rows of wpe.
static sparrow_ops_embed_t embed_shape(const chip_impl_t *ci, uint32_t B, uint32_t T) {
  sparrow_ops_embed_t e = {
      .batch = B, .seq = T, .vocab = ci->c.vocab_padded, .channels = ci->c.n_embd};
  return e;
}

// encoded[b*T + t] = wte[inputs[b*T + t]] + wpe[t].
static sparrow_train_status_t embedding_fwd(chip_impl_t *ci, uint32_t B, uint32_t T, char *msg,
                                            size_t msg_len) {
  sparrow_ops_embed_t e = embed_shape(ci, B, T);
  sparrow_ops_simd_stats_t s;
  char why[400] = "";
  ci->kind = SPARROW_TRAIN_OP_EMBEDDING;
  sparrow_ops_status_t ost = sparrow_ops_embedding(
      ci->dev, &e, ci->inputs, chip_tensor(ci, ci->params, SPARROW_GPT_WTE, 0),
      chip_tensor(ci, ci->params, SPARROW_GPT_WPE, 0), ci->encoded, &s, why, sizeof(why));
  return chip_simd_result(ci, ost, &s, "embedding forward", why, msg, msg_len);
}

// The embedding's part of the wte gradient (d_wte_emb) and the wpe gradient, from d_res (the
// gradient of the encoded input).
static sparrow_train_status_t embedding_bwd(chip_impl_t *ci, uint32_t B, uint32_t T, char *msg,
                                            size_t msg_len) {
  sparrow_ops_embed_t e = embed_shape(ci, B, T);
  sparrow_ops_simd_stats_t s;
  char why[400] = "";
  ci->kind = SPARROW_TRAIN_OP_EMBEDDING;
  sparrow_ops_status_t ost = sparrow_ops_embedding_bwd(
      ci->dev, &e, ci->inputs, ci->d_res, ci->d_wte_emb,
      chip_tensor(ci, ci->grads, SPARROW_GPT_WPE, 0), &s, why, sizeof(why));
  return chip_simd_result(ci, ost, &s, "embedding backward", why, msg, msg_len);
}

static sparrow_train_status_t attn_result(chip_impl_t *ci, sparrow_ops_status_t ost,
                                          const sparrow_ops_attn_stats_t *s, const char *what,
                                          const char *why, char *msg, size_t msg_len) {
  if (ost != SPARROW_OPS_OK) {
    return chip_op_fail(ci, ost, what, why, msg, msg_len);
  }
  chip_account(ci, s->cycles, s->dram_rd_bytes, s->dram_wr_bytes);
  return SPARROW_TRAIN_OK;
}

// Causal self-attention of layer l: atty from qkv, the probabilities kept in att.
sparrow_train_status_t chip_attention_fwd(chip_impl_t *ci, uint32_t l, uint32_t B, uint32_t T,
                                          char *msg, size_t msg_len) {
  chip_layer_t *a = &ci->layers[l];
  sparrow_ops_attn_stats_t s;
  char why[400] = "", what[48];
  snprintf(what, sizeof(what), "layer %u attention forward", l);
  ci->kind = SPARROW_TRAIN_OP_ATTENTION;
  sparrow_ops_status_t ost = sparrow_ops_attention(ci->dev, B, T, ci->c.n_embd, ci->c.n_head,
                                                   a->qkv, a->atty, a->att, &s, why, sizeof(why));
  return attn_result(ci, ost, &s, what, why, msg, msg_len);
}

// d_qkv from d_atty, qkv and the forward's probabilities.
sparrow_train_status_t chip_attention_bwd(chip_impl_t *ci, uint32_t l, uint32_t B, uint32_t T,
                                          char *msg, size_t msg_len) {
  chip_layer_t *a = &ci->layers[l];
  sparrow_ops_attn_stats_t s;
  char why[400] = "", what[48];
  snprintf(what, sizeof(what), "layer %u attention backward", l);
  ci->kind = SPARROW_TRAIN_OP_ATTENTION;
  sparrow_ops_status_t ost =
      sparrow_ops_attention_bwd(ci->dev, B, T, ci->c.n_embd, ci->c.n_head, a->qkv, a->att,
                                ci->d_atty, ci->d_qkv, &s, why, sizeof(why));
  return attn_result(ci, ost, &s, what, why, msg, msg_len);
}

// The fused softmax cross-entropy of the last forward's logits (V real columns of Vp): the mean
// loss and dlogits = (softmax - onehot) / n in one job, as a training step needs them both.
static sparrow_train_status_t cross_entropy(chip_impl_t *ci, uint32_t n, char *msg,
                                            size_t msg_len) {
  sparrow_ops_ce_t ce = {.rows = n, .vocab = ci->c.vocab, .ld = ci->c.vocab_padded};
  sparrow_ops_simd_stats_t s;
  char why[400] = "";
  uint32_t mean = 0;
  ci->kind = SPARROW_TRAIN_OP_LOSS;
  sparrow_ops_status_t ost = sparrow_ops_cross_entropy(ci->dev, &ce, ci->logits, ci->targets, NULL,
                                                       &mean, ci->d_logits, &s, why, sizeof(why));
  sparrow_train_status_t st =
      chip_simd_result(ci, ost, &s, "softmax cross-entropy", why, msg, msg_len);
  if (st == SPARROW_TRAIN_OK) {
    memcpy(&ci->loss, &mean, sizeof(float));
  }
  return st;
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  return u;
}

// The optimizer's view of the parameters: one segment per tensor over the arrays AdamW runs on.
// Dense (or before the masks): the state arrays themselves. With the masks in force the four
// sparse weight tensors keep only their stored blocks' elements: opt_idx lists, in order, the
// offsets of the elements the compact arrays hold (row-major within each layer's matrix), and the
// step gathers p, g, m, v into them and scatters p, m, v back (data movement), so the gradient
// norm and AdamW work on the stored weights only.
static void build_opt_segments(chip_impl_t *ci) {
  size_t k = 0, b = ci->c.block;
  for (int t = 0; t < SPARROW_GPT_TENSORS; t++) {
    sparrow_ops_param_seg_t *seg = &ci->opt_seg[t];
    seg->decay = sparrow_gpt_tensor_decays((sparrow_gpt_tensor_t)t);
    if (!ci->masks_active) {
      seg->offset = ci->layout.offset[t];
      seg->count = ci->layout.size[t];
      continue;
    }
    int lin = -1;  // the linear layer whose weights tensor t holds, if any
    for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
      lin = sparrow_gpt_linear_tensor((sparrow_gpt_linear_t)j) == (sparrow_gpt_tensor_t)t ? j : lin;
    }
    seg->offset = k;
    if (lin < 0) {
      for (size_t i = 0; i < ci->layout.size[t]; i++) {
        ci->opt_idx[k++] = ci->layout.offset[t] + i;
      }
    }
    for (uint32_t l = 0; lin >= 0 && l < ci->c.n_layer; l++) {
      size_t rows = ci->layout.weight_rows[lin], cols = ci->layout.weight_cols[lin];
      size_t base = ci->layout.offset[t] + l * rows * cols, bc = ci->layout.mask_cols[lin];
      const uint8_t *mask = ci->masks + ci->layout.mask_offset[l * SPARROW_GPT_LINEARS + lin];
      for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
          if (mask[(r / b) * bc + c / b] != 0) {
            ci->opt_idx[k++] = base + r * cols + c;
          }
        }
      }
    }
    seg->count = k - seg->offset;
  }
  ci->opt_count = k;
}

static void gather(const uint32_t *dense, const size_t *idx, size_t n, uint32_t *compact) {
  for (size_t i = 0; i < n; i++) {
    compact[i] = dense[idx[i]];
  }
}

static void scatter(const uint32_t *compact, const size_t *idx, size_t n, uint32_t *dense) {
  for (size_t i = 0; i < n; i++) {
    dense[idx[i]] = compact[i];
  }
}

// The global gradient norm (and its clipping scale), then AdamW step t at learning rate lr, both
// on the fabric. The host supplies the scalars: lr, the hyper-parameters, the clip threshold (the
// AdamW operator derives its binary32 constants, bias corrections included, from them).
static sparrow_train_status_t optimizer_step(chip_impl_t *ci, float lr, uint64_t t,
                                             float *grad_norm, char *msg, size_t msg_len) {
  ci->kind = SPARROW_TRAIN_OP_OPTIMIZER;
  bool compact = ci->masks_active;
  uint32_t *p = ci->params, *g = ci->grads, *m = ci->m, *v = ci->v;
  if (compact) {
    p = ci->opt_p, g = ci->opt_g, m = ci->opt_m, v = ci->opt_v;
    gather(ci->params, ci->opt_idx, ci->opt_count, p);
    gather(ci->grads, ci->opt_idx, ci->opt_count, g);
    gather(ci->m, ci->opt_idx, ci->opt_count, m);
    gather(ci->v, ci->opt_idx, ci->opt_count, v);
  }
  float clip = ci->adamw.clip;
  sparrow_ops_grad_norm_t gn;
  sparrow_ops_simd_stats_t s;
  char why[400] = "";
  sparrow_ops_status_t ost =
      sparrow_ops_grad_norm(ci->dev, SPARROW_GPT_TENSORS, ci->opt_seg, g,
                            f32_bits(clip > 0.0f ? clip : 1.0f), &gn, &s, why, sizeof(why));
  sparrow_train_status_t st = chip_simd_result(ci, ost, &s, "gradient norm", why, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  memcpy(grad_norm, &gn.norm, sizeof(float));
  sparrow_ops_adamw_hp_t hp = {
      .lr = lr,
      .beta1 = ci->adamw.beta1,
      .beta2 = ci->adamw.beta2,
      .eps = ci->adamw.eps,
      .weight_decay = ci->adamw.weight_decay,
      .step = t,
      .clip_scale = clip > 0.0f ? gn.clip : f32_bits(1.0f),  // clip 0: no clipping
  };
  ost = sparrow_ops_adamw(ci->dev, &hp, SPARROW_GPT_TENSORS, ci->opt_seg, p, g, m, v, &s, why,
                          sizeof(why));
  st = chip_simd_result(ci, ost, &s, "AdamW", why, msg, msg_len);
  if (st == SPARROW_TRAIN_OK && compact) {
    scatter(p, ci->opt_idx, ci->opt_count, ci->params);
    scatter(m, ci->opt_idx, ci->opt_count, ci->m);
    scatter(v, ci->opt_idx, ci->opt_count, ci->v);
  }
  return st;
}

// ---------------------------------------------------------------------------------------------
// The backend's calls.

static sparrow_train_status_t chip_load(void *impl, const float *params, const float *m,
                                        const float *v, const uint8_t *masks, char *msg,
                                        size_t msg_len) {
  (void)msg;
  (void)msg_len;
  chip_impl_t *ci = impl;
  size_t bytes = ci->layout.n_params * sizeof(uint32_t);
  memcpy(ci->params, params, bytes);
  if (m != NULL) {
    memcpy(ci->m, m, bytes);
  } else {
    memset(ci->m, 0, bytes);
  }
  if (v != NULL) {
    memcpy(ci->v, v, bytes);
  } else {
    memset(ci->v, 0, bytes);
  }
  ci->masks_active = masks != NULL;
  if (masks != NULL) {
    memcpy(ci->masks, masks, ci->layout.mask_bytes);
  } else {
    memset(ci->masks, 1, ci->layout.mask_bytes);
  }
  build_opt_segments(ci);
  ci->bsr_fresh = false;
  ci->have_forward = ci->have_grads = false;
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t chip_save(void *impl, float *params, float *m, float *v, char *msg,
                                        size_t msg_len) {
  (void)msg;
  (void)msg_len;
  chip_impl_t *ci = impl;
  size_t bytes = ci->layout.n_params * sizeof(uint32_t);
  if (params != NULL) {
    memcpy(params, ci->params, bytes);
  }
  if (m != NULL) {
    memcpy(m, ci->m, bytes);
  }
  if (v != NULL) {
    memcpy(v, ci->v, bytes);
  }
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t chip_forward(void *impl, const uint32_t *inputs,
                                           const uint32_t *targets, uint32_t B, uint32_t T,
                                           float *loss, char *msg, size_t msg_len) {
  chip_impl_t *ci = impl;
  const sparrow_gpt_config_t *c = &ci->c;
  if (B == 0 || T == 0 || B > c->batch || T > c->n_ctx) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "forward on %u x %u tokens: the model holds at most %u x %u", B, T,
                              c->batch, c->n_ctx);
  }
  uint32_t n = B * T;
  for (uint32_t i = 0; i < n; i++) {
    if (inputs[i] >= c->vocab || (targets != NULL && targets[i] >= c->vocab)) {
      return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                                "forward: token %u is outside the vocabulary of %u", i, c->vocab);
    }
  }
  memcpy(ci->inputs, inputs, n * sizeof(uint32_t));
  ci->have_targets = targets != NULL;
  if (targets != NULL) {
    memcpy(ci->targets, targets, n * sizeof(uint32_t));
  }
  ci->cur_b = B;
  ci->cur_t = T;
  ci->have_forward = ci->have_grads = false;
  uint32_t C = c->n_embd, L = c->n_layer, Vp = c->vocab_padded;
  sparrow_train_status_t st = ensure_bsr(ci, msg, msg_len);
  if (st == SPARROW_TRAIN_OK) {
    st = embedding_fwd(ci, B, T, msg, msg_len);
  }
  // The blocks, each by its plan (df_plan.h): the last one's ends with the final layernorm.
  for (uint32_t l = 0; l < L && st == SPARROW_TRAIN_OK; l++) {
    st = chip_block_forward(ci, l, msg, msg_len);
  }
  if (st == SPARROW_TRAIN_OK) {
    // The tied LM head: logits = lnf wte^T, wte^T packed on the host.
    transpose(chip_tensor(ci, ci->params, SPARROW_GPT_WTE, 0), Vp, C, ci->tmp);
    ci->kind = SPARROW_TRAIN_OP_LMHEAD;
    st = gemm(ci, "LM head forward (gemm)", n, Vp, C, ci->lnf, ci->tmp, ci->logits, msg, msg_len);
  }
  if (st == SPARROW_TRAIN_OK && targets != NULL) {
    st = cross_entropy(ci, n, msg, msg_len);
  }
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  ci->have_forward = true;
  if (targets != NULL && loss != NULL) {
    *loss = ci->loss;
  }
  return SPARROW_TRAIN_OK;
}

// The distribution at one position: the softmax operator over that row's V real logits (the
// padding columns are left out, as the reference leaves them out), run when asked for (sampling
// asks for one position per forward).
static sparrow_train_status_t chip_probs(void *impl, uint32_t b, uint32_t t, float *probs,
                                         char *msg, size_t msg_len) {
  chip_impl_t *ci = impl;
  if (!ci->have_forward || b >= ci->cur_b || t >= ci->cur_t) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "probabilities at (%u, %u): the last forward was %u x %u", b, t,
                              ci->have_forward ? ci->cur_b : 0, ci->have_forward ? ci->cur_t : 0);
  }
  uint32_t V = ci->c.vocab, Vp = ci->c.vocab_padded;
  const uint32_t *row = ci->logits + ((size_t)b * ci->cur_t + t) * Vp;
  sparrow_ops_attn_stats_t s;
  char why[400] = "";
  ci->kind = SPARROW_TRAIN_OP_LOSS;
  sparrow_ops_status_t ost = sparrow_ops_softmax(ci->dev, 1, V, row, ci->tmp, &s, why, sizeof(why));
  sparrow_train_status_t st = attn_result(ci, ost, &s, "softmax of the logits", why, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  memcpy(probs, ci->tmp, V * sizeof(float));
  memset(probs + V, 0, (Vp - V) * sizeof(float));  // the padding tokens: probability zero
  return SPARROW_TRAIN_OK;
}

// The backward from the gradient of the logits (d_logits) down: every gradient tensor.
static sparrow_train_status_t backward_from_logits(chip_impl_t *ci, char *msg, size_t msg_len) {
  const sparrow_gpt_config_t *c = &ci->c;
  uint32_t B = ci->cur_b, T = ci->cur_t, n = B * T;
  uint32_t C = c->n_embd, L = c->n_layer, Vp = c->vocab_padded;
  ci->kind = SPARROW_TRAIN_OP_LMHEAD;
  sparrow_train_status_t st =
      gemm(ci, "LM head data gradient (gemm)", n, C, Vp, ci->d_logits,
           chip_tensor(ci, ci->params, SPARROW_GPT_WTE, 0), ci->d_lnf, msg, msg_len);
  if (st == SPARROW_TRAIN_OK) {
    transpose(ci->d_logits, n, Vp, ci->tmp);
    st = gemm(ci, "LM head weight gradient (gemm)", Vp, C, n, ci->tmp, ci->lnf, ci->d_wte_head, msg,
              msg_len);
  }
  // The blocks in reverse, each by its plan: the last one's starts with the final layernorm.
  for (uint32_t l = L; l-- > 0 && st == SPARROW_TRAIN_OK;) {
    st = chip_block_backward(ci, l, msg, msg_len);
  }
  if (st == SPARROW_TRAIN_OK) {
    st = embedding_bwd(ci, B, T, msg, msg_len);
  }
  if (st == SPARROW_TRAIN_OK) {
    // The tied embedding's gradient: the LM head's part plus the embedding's.
    ci->kind = SPARROW_TRAIN_OP_LMHEAD;
    st = chip_simd(ci, "tied embedding gradient sum", SPARROW_OPS_RESIDUAL_ADD, Vp, C,
                   ci->d_wte_head, ci->d_wte_emb, chip_tensor(ci, ci->grads, SPARROW_GPT_WTE, 0),
                   NULL, msg, msg_len);
  }
  return st;
}

static sparrow_train_status_t chip_backward(void *impl, char *msg, size_t msg_len) {
  chip_impl_t *ci = impl;
  if (!ci->have_forward || !ci->have_targets) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "backward: the last forward had no targets");
  }
  ci->have_grads = false;
  // Every gradient is written by an operator; the zeros left are the absent blocks' and the wpe
  // rows a shorter forward does not reach. d_logits came with the forward's loss (the fused
  // cross-entropy).
  memset(ci->grads, 0, ci->layout.n_params * sizeof(uint32_t));
  sparrow_train_status_t st = backward_from_logits(ci, msg, msg_len);
  if (st == SPARROW_TRAIN_OK) {
    ci->have_grads = true;
  }
  return st;
}

static sparrow_train_status_t chip_grads(void *impl, float *grads, char *msg, size_t msg_len) {
  chip_impl_t *ci = impl;
  if (!ci->have_grads) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "gradients: no backward since the last forward or load");
  }
  memcpy(grads, ci->grads, ci->layout.n_params * sizeof(uint32_t));
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t chip_step(void *impl, float lr, uint64_t t, float *grad_norm,
                                        char *msg, size_t msg_len) {
  chip_impl_t *ci = impl;
  if (t == 0) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len, "AdamW steps count from 1");
  }
  if (!ci->have_grads) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "AdamW step %llu: no gradients (backward first)",
                              (unsigned long long)t);
  }
  sparrow_train_status_t st = optimizer_step(ci, lr, t, grad_norm, msg, msg_len);
  // The parameters changed (or may have, on failure): the BSRs and the last forward are stale.
  ci->bsr_fresh = false;
  ci->have_forward = ci->have_grads = false;
  return st;
}

// The operators' counters, and from the driver's totals (every launch on this handle) the PCUs'
// busy cycles and the DRAM port's occupancy.
static void chip_counters(void *impl, sparrow_train_counters_t *out) {
  const chip_impl_t *ci = impl;
  *out = ci->counters;
  out->tiles = ci->info.tiles;
  sparrow_counters_t t;
  if (sparrow_totals(ci->dev, &t) != SPARROW_OK) {
    return;  // (only for a NULL handle, which an open backend never has)
  }
  // Units: AGCUs 0..tiles-1, then PMUs, then PCUs (docs/fabric.md, "Control block and CSRs").
  for (uint32_t u = 2 * ci->info.tiles; u < 3 * ci->info.tiles && u < t.units; u++) {
    out->pcu_busy += t.busy[u];
  }
  uint64_t bytes = t.dram_rd_bytes + t.dram_wr_bytes, bw = ci->info.dram_bw;
  out->dram_busy = bw > 0 ? (bytes + bw - 1) / bw : 0;
}

static void free_layers(chip_impl_t *ci) {
  if (ci->layers == NULL) {
    return;
  }
  for (uint32_t l = 0; l < ci->c.n_layer; l++) {
    chip_layer_t *a = &ci->layers[l];
    uint32_t *bufs[] = {a->ln1,      a->ln1_mean, a->ln1_rstd, a->qkv,    a->atty,
                        a->att,      a->attproj,  a->resid2,   a->ln2,    a->ln2_mean,
                        a->ln2_rstd, a->fch,      a->fchg,     a->fcproj, a->resid3};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
      free(bufs[i]);
    }
  }
  free(ci->layers);
  ci->layers = NULL;
}

static void chip_destroy(void *impl) {
  chip_impl_t *ci = impl;
  if (ci == NULL) {
    return;
  }
  if (ci->dev != NULL) {
    sparrow_close(ci->dev);
  }
  if (ci->bsr != NULL) {
    for (size_t i = 0; i < (size_t)ci->c.n_layer * SPARROW_GPT_LINEARS; i++) {
      sparrow_bsr_free(&ci->bsr[i]);
    }
    free(ci->bsr);
  }
  free_layers(ci);
  uint32_t *bufs[] = {ci->params,  ci->grads,      ci->m,         ci->v,        ci->inputs,
                      ci->targets, ci->encoded,    ci->lnf,       ci->lnf_mean, ci->lnf_rstd,
                      ci->logits,  ci->d_res,      ci->d_resid2,  ci->d_x,      ci->d_ln,
                      ci->d_atty,  ci->d_qkv,      ci->d_fchg,    ci->d_fch,    ci->d_logits,
                      ci->d_lnf,   ci->d_wte_head, ci->d_wte_emb, ci->tmp,      ci->opt_p,
                      ci->opt_g,   ci->opt_m,      ci->opt_v};
  for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
    free(bufs[i]);
  }
  free(ci->opt_idx);
  free(ci->masks);
  sparrow_gpt_layout_free(&ci->layout);
  free(ci->uri);
  free(ci);
}

static const sparrow_train_backend_ops_t kChipOps = {
    .load = chip_load,
    .save = chip_save,
    .forward = chip_forward,
    .probs = chip_probs,
    .backward = chip_backward,
    .grads = chip_grads,
    .step = chip_step,
    .counters = chip_counters,
    .destroy = chip_destroy,
};

// Allocates the host copies of the state, the activations and the scratch.
static bool alloc_buffers(chip_impl_t *ci) {
  const sparrow_gpt_config_t *c = &ci->c;
  size_t N = (size_t)c->batch * c->n_ctx, C = c->n_embd, Vp = c->vocab_padded;
  size_t P = ci->layout.n_params, L = c->n_layer;
  size_t NH = c->n_head, T = c->n_ctx, B = c->batch;
  size_t att_words = sparrow_ops_attention_att_elems((uint32_t)B, (uint32_t)T, (uint32_t)NH);
  // Scratch: the largest transposed operand or GEMM result (activations N x 4C or N x Vp, weights
  // 4C x C, the embedding Vp x C).
  size_t tw = N * 4 * C;
  tw = tw > N * Vp ? tw : N * Vp;
  tw = tw > Vp * C ? tw : Vp * C;
  tw = tw > 4 * C * C ? tw : 4 * C * C;
  struct {
    uint32_t **p;
    size_t words;
  } want[] = {
      {&ci->params, P},
      {&ci->grads, P},
      {&ci->m, P},
      {&ci->v, P},
      {&ci->inputs, N},
      {&ci->targets, N},
      {&ci->encoded, N * C},
      {&ci->lnf, N * C},
      {&ci->lnf_mean, N},
      {&ci->lnf_rstd, N},
      {&ci->logits, N * Vp},
      {&ci->d_res, N * C},
      {&ci->d_resid2, N * C},
      {&ci->d_x, N * C},
      {&ci->d_ln, N * C},
      {&ci->d_atty, N * C},
      {&ci->d_qkv, N * 3 * C},
      {&ci->d_fchg, N * 4 * C},
      {&ci->d_fch, N * 4 * C},
      {&ci->d_logits, N * Vp},
      {&ci->d_lnf, N * C},
      {&ci->d_wte_head, Vp * C},
      {&ci->d_wte_emb, Vp * C},
      {&ci->tmp, tw},
      {&ci->opt_p, P},
      {&ci->opt_g, P},
      {&ci->opt_m, P},
      {&ci->opt_v, P},
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    *want[i].p = calloc(want[i].words, sizeof(uint32_t));
    if (*want[i].p == NULL) {
      return false;
    }
  }
  ci->masks = malloc(ci->layout.mask_bytes);
  ci->bsr = calloc(L * SPARROW_GPT_LINEARS, sizeof(sparrow_bsr_t));
  ci->layers = calloc(L, sizeof(chip_layer_t));
  ci->opt_idx = calloc(P, sizeof(size_t));
  if (ci->masks == NULL || ci->bsr == NULL || ci->layers == NULL || ci->opt_idx == NULL) {
    return false;
  }
  memset(ci->masks, 1, ci->layout.mask_bytes);
  build_opt_segments(ci);
  for (size_t l = 0; l < L; l++) {
    chip_layer_t *a = &ci->layers[l];
    struct {
      uint32_t **p;
      size_t words;
    } per[] = {
        {&a->ln1, N * C},      {&a->ln1_mean, N},    {&a->ln1_rstd, N},    {&a->qkv, N * 3 * C},
        {&a->atty, N * C},     {&a->att, att_words}, {&a->attproj, N * C}, {&a->resid2, N * C},
        {&a->ln2, N * C},      {&a->ln2_mean, N},    {&a->ln2_rstd, N},    {&a->fch, N * 4 * C},
        {&a->fchg, N * 4 * C}, {&a->fcproj, N * C},  {&a->resid3, N * C},
    };
    for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
      *per[i].p = calloc(per[i].words, sizeof(uint32_t));
      if (*per[i].p == NULL) {
        return false;
      }
    }
  }
  return true;
}

sparrow_train_status_t sparrow_train_backend_chip_check(const char *device, char *msg,
                                                        size_t msg_len) {
  // The kinds of URI libsparrow opens (sparrow.h); the driver checks the rest when it opens one.
  static const char *const kPrefixes[] = {"sim", "unix:", "tcp:", "usb"};
  for (size_t i = 0; i < sizeof(kPrefixes) / sizeof(kPrefixes[0]); i++) {
    if (strncmp(device, kPrefixes[i], strlen(kPrefixes[i])) == 0) {
      return SPARROW_TRAIN_OK;
    }
  }
  return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                            "device '%s' is neither ref (the CPU reference) nor a device URI "
                            "(sim[:rtl|:model][,config=S|M,...], unix:PATH, tcp:HOST:PORT, "
                            "usb[:VID:PID[:SERIAL]])",
                            device);
}

sparrow_train_status_t sparrow_train_backend_chip_open(
    const char *device, const sparrow_gpt_config_t *config, const sparrow_adamw_t *adamw,
    sparrow_train_mode_t mode, sparrow_train_backend_t *backend, char *msg, size_t msg_len) {
  chip_impl_t *ci = calloc(1, sizeof(*ci));
  if (ci == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len, "chip backend: out of memory");
  }
  ci->c = *config;
  ci->adamw = *adamw;
  ci->mode = mode;
  sparrow_train_status_t st = sparrow_gpt_layout_init(config, &ci->layout, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    free(ci);
    return st;
  }
  ci->uri = strdup(device);
  if (ci->uri == NULL || !alloc_buffers(ci)) {
    size_t n = ci->layout.n_params;
    chip_destroy(ci);
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len,
                              "chip backend: out of memory (%zu parameters)", n);
  }
  char why[512] = "";
  sparrow_status_t ds = sparrow_open(device, &ci->dev, why, sizeof(why));
  if (ds != SPARROW_OK) {
    chip_destroy(ci);
    return sparrow_train_fail(SPARROW_TRAIN_E_DEVICE, msg, msg_len, "device '%s': %s (%s)", device,
                              why, sparrow_status_name(ds));
  }
  ds = sparrow_info(ci->dev, &ci->info);
  if (ds != SPARROW_OK) {
    snprintf(why, sizeof(why), "%s", sparrow_last_error(ci->dev));
    chip_destroy(ci);
    return sparrow_train_fail(SPARROW_TRAIN_E_DEVICE, msg, msg_len, "device '%s': info: %s (%s)",
                              device, why, sparrow_status_name(ds));
  }
  if (ci->info.lanes == 0 || config->block % ci->info.lanes != 0) {
    uint32_t lanes = ci->info.lanes;
    chip_destroy(ci);
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "device '%s': the model's block size %u is not a multiple of the "
                              "device's %u lanes (the sparse layers' blocks must be whole "
                              "lane-blocks)",
                              device, config->block, lanes);
  }
  backend->name = ci->uri;
  backend->ops = &kChipOps;
  backend->impl = ci;
  return SPARROW_TRAIN_OK;
}
