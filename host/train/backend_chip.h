// SPDX-License-Identifier: Apache-2.0
//
// The chip backend's insides (backend.h is its interface): its state, shared by backend_chip.c
// (the step: embedding, LM head, loss, optimizer, state) and backend_chip_block.c (each
// transformer block, executed by its plan, df_plan.h), and the operators both call.

#ifndef SPARROW_HOST_TRAIN_BACKEND_CHIP_H_
#define SPARROW_HOST_TRAIN_BACKEND_CHIP_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "simd_ops.h"
#include "sparrow.h"
#include "sparrow_bsr.h"
#include "sparrow_nn.h"
#include "sparrow_ops.h"

// One layer's activations, kept from the forward for the backward (row-major, N = B*T rows).
typedef struct chip_layer {
  uint32_t *ln1, *ln1_mean, *ln1_rstd;  // [N, C], [N], [N]
  uint32_t *qkv;                        // [N, 3C]
  uint32_t *atty;                       // [N, C]
  uint32_t *att;                        // what the attention's backward needs (its operator's)
  uint32_t *attproj, *resid2;           // [N, C]
  uint32_t *ln2, *ln2_mean, *ln2_rstd;  // [N, C], [N], [N]
  uint32_t *fch, *fchg;                 // [N, 4C]
  uint32_t *fcproj, *resid3;            // [N, C]
} chip_layer_t;

typedef struct chip_impl {
  char *uri;
  sparrow_dev_t *dev;
  sparrow_info_t info;
  sparrow_gpt_config_t c;
  sparrow_gpt_layout_t layout;
  sparrow_adamw_t adamw;
  // State (binary32 bit patterns, the parameter layout of gpt.h).
  uint32_t *params, *grads, *m, *v;
  uint8_t *masks;
  bool masks_active;
  sparrow_bsr_t *bsr;  // [L * LINEARS]: W of each sparse layer, built from params when stale
  bool bsr_fresh;
  // The last forward.
  uint32_t *inputs, *targets;
  uint32_t cur_b, cur_t;
  bool have_forward, have_targets, have_grads;
  float loss;
  uint32_t *encoded;
  chip_layer_t *layers;
  uint32_t *lnf, *lnf_mean, *lnf_rstd, *logits;
  // Backward scratch.
  uint32_t *d_res, *d_resid2, *d_x, *d_ln, *d_atty, *d_qkv, *d_fchg, *d_fch;
  uint32_t *d_logits, *d_lnf, *d_wte_head, *d_wte_emb;
  uint32_t *tmp;  // transposed operands, GEMM results before the bias, sddmm blocks
  // The optimizer's segments (one per tensor) and, with the masks in force, its compact arrays.
  sparrow_ops_param_seg_t opt_seg[SPARROW_GPT_TENSORS];
  size_t *opt_idx;  // [opt_count]: the state offset of each compact element
  size_t opt_count;
  uint32_t *opt_p, *opt_g, *opt_m, *opt_v;
  sparrow_train_counters_t counters;
  sparrow_train_op_kind_t kind;  // the kind the next operator's counters are added to
  // The execution mode the backend was opened in (backend.h): each block's plan follows it.
  sparrow_train_mode_t mode;
} chip_impl_t;

// Adds an operator's counters (what the fabric counted over its launches) to the totals and to the
// current kind (ci->kind).
void chip_account(chip_impl_t *ci, uint64_t cycles, uint64_t rd, uint64_t wr);
// An ops-library failure as the backend's status, naming the device and the operator.
sparrow_train_status_t chip_op_fail(const chip_impl_t *ci, sparrow_ops_status_t ost,
                                    const char *what, const char *why, char *msg, size_t msg_len);
// Accounts a SIMD operator's stats, or reports its failure.
sparrow_train_status_t chip_simd_result(chip_impl_t *ci, sparrow_ops_status_t ost,
                                        const sparrow_ops_simd_stats_t *s, const char *what,
                                        const char *why, char *msg, size_t msg_len);
// Parameter tensor t, layer l's slice, inside base (params, grads, m or v).
uint32_t *chip_tensor(const chip_impl_t *ci, uint32_t *base, sparrow_gpt_tensor_t t, uint32_t l);
// The bias of a linear layer.
sparrow_gpt_tensor_t chip_lin_bias(sparrow_gpt_linear_t lin);
// A SIMD operator of simd_ops.h on m x n tensors, accounted.
sparrow_train_status_t chip_simd(chip_impl_t *ci, const char *what, sparrow_ops_simd_op_t op,
                                 uint32_t m, uint32_t n, const uint32_t *in0, const uint32_t *in1,
                                 uint32_t *out0, uint32_t *out1, char *msg, size_t msg_len);
// A linear layer's matrix product y = x W (GEMM or spmm), and its backward: dx = dy W^T and the
// weight gradient into grads (GEMMs, or spmm_t and sddmm).
sparrow_train_status_t chip_linear_mm(chip_impl_t *ci, uint32_t l, sparrow_gpt_linear_t lin,
                                      const uint32_t *x, uint32_t n, uint32_t *y, char *msg,
                                      size_t msg_len);
sparrow_train_status_t chip_linear_bwd_mm(chip_impl_t *ci, uint32_t l, sparrow_gpt_linear_t lin,
                                          const uint32_t *x, const uint32_t *dy, uint32_t n,
                                          uint32_t *dx, char *msg, size_t msg_len);
// Layer l's causal self-attention (qkv -> atty, probabilities into att) and its backward
// (d_atty -> d_qkv).
sparrow_train_status_t chip_attention_fwd(chip_impl_t *ci, uint32_t l, uint32_t B, uint32_t T,
                                          char *msg, size_t msg_len);
sparrow_train_status_t chip_attention_bwd(chip_impl_t *ci, uint32_t l, uint32_t B, uint32_t T,
                                          char *msg, size_t msg_len);

// Block l of the last forward / backward, executed by its plan in the backend's mode
// (backend_chip_block.c). The forward reads block l's input (the embedding or block l-1's output)
// and leaves its activations in ci->layers[l] (and the final layernorm's in ci->lnf for the last
// block); the backward starts from ci->d_res (ci->d_lnf for the last block) and leaves the
// gradient of its input in ci->d_res.
sparrow_train_status_t chip_block_forward(chip_impl_t *ci, uint32_t l, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
sparrow_train_status_t chip_block_backward(chip_impl_t *ci, uint32_t l, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

#endif  // SPARROW_HOST_TRAIN_BACKEND_CHIP_H_
