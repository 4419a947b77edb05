// SPDX-License-Identifier: Apache-2.0
//
// The CPU reference GPT-2 (docs/training.md, "The model"): pre-LayerNorm blocks, learned positional
// embeddings, causal multi-head attention, GELU (tanh form), a tied LM head, biases; plain fp32 in
// llm.c's manner: one struct for the model, every parameter in one contiguous block (and every
// gradient in another of the same layout), one forward and one backward per layer (layers.h).
//
// The four linear layers of every block (qkv, attention projection, fc, fc projection) may be
// block-sparse: each has a block mask (block_rows x block_cols bytes, the format of
// host/ops/sparrow_mask.h). With masks active, absent blocks count as zero in both passes and their
// weight gradients are zero. Embeddings and the LM head stay dense.

#ifndef SPARROW_HOST_TRAIN_GPT_H_
#define SPARROW_HOST_TRAIN_GPT_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparrow_train.h"

typedef struct sparrow_gpt_config {
  uint32_t n_layer;       // L
  uint32_t n_head;        // NH
  uint32_t n_embd;        // C (width)
  uint32_t n_ctx;         // T (context)
  uint32_t batch;         // B
  uint32_t vocab;         // V: distinct bytes of the training text
  uint32_t vocab_padded;  // Vp: V rounded up to a multiple of block
  uint32_t block;         // b: block size of the sparse linear layers (and the vocabulary padding)
} sparrow_gpt_config_t;

// The presets of issue 6: micro (tests, the main job), small (longer runs), wide (one wide block).
// Returns false for an unknown name. vocab and vocab_padded are left 0: they come from the data.
bool sparrow_gpt_preset(const char *name, sparrow_gpt_config_t *config);

// Checks dimensions and relations (C a multiple of NH and of block; block a multiple of
// SPARROW_BSR_DEFAULT_BLOCK; Vp = V rounded up to block; limits that keep sizes sane).
sparrow_train_status_t sparrow_gpt_config_check(const sparrow_gpt_config_t *config, char *msg,
                                                size_t msg_len) __attribute__((warn_unused_result));

// Parameter tensors in the order of the contiguous block. Per-layer tensors hold L slices.
typedef enum sparrow_gpt_tensor {
  SPARROW_GPT_WTE = 0,   // [Vp, C] token embedding = LM head
  SPARROW_GPT_WPE,       // [T, C]
  SPARROW_GPT_LN1W,      // [L, C]
  SPARROW_GPT_LN1B,      // [L, C]
  SPARROW_GPT_QKVW,      // [L, C, 3C]
  SPARROW_GPT_QKVB,      // [L, 3C]
  SPARROW_GPT_ATTPROJW,  // [L, C, C]
  SPARROW_GPT_ATTPROJB,  // [L, C]
  SPARROW_GPT_LN2W,      // [L, C]
  SPARROW_GPT_LN2B,      // [L, C]
  SPARROW_GPT_FCW,       // [L, C, 4C]
  SPARROW_GPT_FCB,       // [L, 4C]
  SPARROW_GPT_FCPROJW,   // [L, 4C, C]
  SPARROW_GPT_FCPROJB,   // [L, C]
  SPARROW_GPT_LNFW,      // [C]
  SPARROW_GPT_LNFB,      // [C]
  SPARROW_GPT_TENSORS
} sparrow_gpt_tensor_t;

const char *sparrow_gpt_tensor_name(sparrow_gpt_tensor_t t);
// Whether AdamW decays the tensor: the matrices (embeddings and linear weights), not biases and
// LayerNorm parameters.
bool sparrow_gpt_tensor_decays(sparrow_gpt_tensor_t t);

// The sparse linear layers of a block, in mask order.
typedef enum sparrow_gpt_linear {
  SPARROW_GPT_LIN_QKV = 0,  // C -> 3C
  SPARROW_GPT_LIN_ATTPROJ,  // C -> C
  SPARROW_GPT_LIN_FC,       // C -> 4C
  SPARROW_GPT_LIN_FCPROJ,   // 4C -> C
  SPARROW_GPT_LINEARS
} sparrow_gpt_linear_t;

const char *sparrow_gpt_linear_name(sparrow_gpt_linear_t lin);
// The parameter tensor holding that linear layer's weights.
sparrow_gpt_tensor_t sparrow_gpt_linear_tensor(sparrow_gpt_linear_t lin);

typedef struct sparrow_gpt_layout {
  size_t offset[SPARROW_GPT_TENSORS];  // in floats, from the start of the block
  size_t size[SPARROW_GPT_TENSORS];    // in floats
  size_t n_params;
  // Masks: layer l, linear j at mask_offset[l][j] bytes into the mask block; mask_rows/cols[j]
  // blocks (the same in every layer).
  size_t *mask_offset;  // [L * SPARROW_GPT_LINEARS], owned by the layout
  uint32_t mask_rows[SPARROW_GPT_LINEARS], mask_cols[SPARROW_GPT_LINEARS];
  uint32_t weight_rows[SPARROW_GPT_LINEARS], weight_cols[SPARROW_GPT_LINEARS];  // IC, OC
  size_t mask_bytes;
} sparrow_gpt_layout_t;

sparrow_train_status_t sparrow_gpt_layout_init(const sparrow_gpt_config_t *config,
                                               sparrow_gpt_layout_t *layout, char *msg,
                                               size_t msg_len) __attribute__((warn_unused_result));
void sparrow_gpt_layout_free(sparrow_gpt_layout_t *layout);

// Layer l's linear j weights inside a parameter (or gradient, or AdamW moment) block.
float *sparrow_gpt_linear_weights(const sparrow_gpt_layout_t *layout, float *block, uint32_t l,
                                  sparrow_gpt_linear_t lin);

// GPT-2 initialisation from seed: matrices N(0, 0.02), the two residual projections N(0,
// 0.02/sqrt(2L)), biases 0, LayerNorm weights 1; the Vp - V padding rows of the embedding 0 (they
// are never an input and their logits are left out of the softmax).
void sparrow_gpt_init_params(const sparrow_gpt_config_t *config, const sparrow_gpt_layout_t *layout,
                             uint64_t seed, float *params);

// Zeroes every element of block (parameters, gradients or moments) in the absent blocks of masks.
void sparrow_gpt_apply_masks(const sparrow_gpt_config_t *config, const sparrow_gpt_layout_t *layout,
                             const uint8_t *masks, float *block);

typedef struct sparrow_gpt {
  sparrow_gpt_config_t config;
  sparrow_gpt_layout_t layout;
  float *params;   // [n_params]
  float *grads;    // [n_params]
  uint8_t *masks;  // [mask_bytes]
  bool masks_active;
  float *acts;   // activations for B x T (see gpt.c)
  float *dacts;  // their gradients (scratch of the backward pass)
  size_t n_acts;
  uint32_t *inputs, *targets;  // the last forward's batch
  uint32_t cur_b, cur_t;       // its shape
  bool have_targets;
  float loss;  // the last forward's mean loss (when it had targets)
} sparrow_gpt_t;

// Allocates the model (parameters zero, masks all ones and inactive).
sparrow_train_status_t sparrow_gpt_create(const sparrow_gpt_config_t *config, sparrow_gpt_t *model,
                                          char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
void sparrow_gpt_destroy(sparrow_gpt_t *model);

// Forward on B x T tokens (B <= batch, T <= n_ctx). With targets, also the mean cross-entropy
// (*loss). Without (targets NULL), only the probabilities (sparrow_gpt_probs).
void sparrow_gpt_forward(sparrow_gpt_t *model, const uint32_t *inputs, const uint32_t *targets,
                         uint32_t B, uint32_t T, float *loss);
// The probabilities (Vp floats, the padding 0) after the last forward at batch row b, position t.
const float *sparrow_gpt_probs(const sparrow_gpt_t *model, uint32_t b, uint32_t t);
// Gradients of the last forward's mean loss into model->grads (overwritten, not accumulated).
// The forward must have had targets.
void sparrow_gpt_backward(sparrow_gpt_t *model);

#endif  // SPARROW_HOST_TRAIN_GPT_H_
