// SPDX-License-Identifier: Apache-2.0
//
// The CPU reference's layers (docs/training.md, "The CPU reference"): plain fp32 forward and
// backward passes on row-major arrays, in the manner of llm.c. N = B*T rows; C channels. Every
// backward pass accumulates (+=) into its gradients, so a tensor used twice (the tied embedding)
// collects both contributions; the caller zeroes gradients before a backward pass.
//
// Every loop runs in a fixed order, so the same inputs give the same bits on every run (a resumed
// run repeats the uninterrupted one exactly).

#ifndef SPARROW_HOST_TRAIN_LAYERS_H_
#define SPARROW_HOST_TRAIN_LAYERS_H_

#include <stddef.h>
#include <stdint.h>

#define SPARROW_TRAIN_LN_EPS 1e-5f

// out[b,t,:] = wte[inp[b,t],:] + wpe[t,:]
void sparrow_train_encoder_forward(float *out, const uint32_t *inp, const float *wte,
                                   const float *wpe, size_t B, size_t T, size_t C);
void sparrow_train_encoder_backward(float *dwte, float *dwpe, const float *dout,
                                    const uint32_t *inp, size_t B, size_t T, size_t C);

// LayerNorm over C with weight w and bias b; mean and rstd (1/sqrt(var + eps)) saved per row.
void sparrow_train_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                     const float *w, const float *b, size_t N, size_t C);
void sparrow_train_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                                      const float *inp, const float *w, const float *mean,
                                      const float *rstd, size_t N, size_t C);

// A linear layer: out[N,OC] = inp[N,IC] . W[IC,OC] (+ bias[OC]). W is K x N in the fabric's sense
// (input channels down, output channels across), the layout of docs/sparsity.md. mask, when not
// NULL, is (IC/block) x (OC/block) bytes: a block with mask 0 is absent and counts as zero, and the
// weight gradient of an absent block is not computed (stays zero). The sum over the input channels
// runs in ascending order, so an all-ones mask gives the dense result bit for bit.
void sparrow_train_matmul_forward(float *out, const float *inp, const float *W, const float *bias,
                                  const uint8_t *mask, size_t block, size_t N, size_t IC,
                                  size_t OC);
void sparrow_train_matmul_backward(float *dinp, float *dW, float *dbias, const float *dout,
                                   const float *inp, const float *W, const uint8_t *mask,
                                   size_t block, size_t N, size_t IC, size_t OC);

// Causal multi-head self-attention. qkv is [B,T,3C] (q, k, v, each C = NH heads of C/NH);
// preatt and att are [B,NH,T,T] (scores scaled by 1/sqrt(C/NH), and their softmax; position t
// attends to positions 0..t only, the rest stay zero); out is [B,T,C].
void sparrow_train_attention_forward(float *out, float *preatt, float *att, const float *qkv,
                                     size_t B, size_t T, size_t C, size_t NH);
void sparrow_train_attention_backward(float *dqkv, float *dpreatt, float *datt, const float *dout,
                                      const float *qkv, const float *att, size_t B, size_t T,
                                      size_t C, size_t NH);

// The tied LM head: logits[N,Vp] = inp[N,C] . wte[Vp,C]^T (the token embedding, row per token).
void sparrow_train_lmhead_forward(float *logits, const float *inp, const float *wte, size_t N,
                                  size_t C, size_t Vp);
void sparrow_train_lmhead_backward(float *dinp, float *dwte, const float *dlogits, const float *inp,
                                   const float *wte, size_t N, size_t C, size_t Vp);

// GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
void sparrow_train_gelu_forward(float *out, const float *inp, size_t n);
void sparrow_train_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

// out = a + b; its backward adds dout to both.
void sparrow_train_residual_forward(float *out, const float *a, const float *b, size_t n);
void sparrow_train_residual_backward(float *da, float *db, const float *dout, size_t n);

// Softmax over the first V of Vp logits per row (the padding columns get probability 0) and the
// cross-entropy of targets: losses[i] = -log probs[i, targets[i]].
void sparrow_train_softmax_ce_forward(float *probs, float *losses, const float *logits,
                                      const uint32_t *targets, size_t N, size_t V, size_t Vp);
// dlogits += (probs - onehot(target)) * dloss for the first V columns; the padding's stay zero.
// dloss is the gradient of each row's loss (1/N for a mean).
void sparrow_train_softmax_ce_backward(float *dlogits, const float *probs, const uint32_t *targets,
                                       float dloss, size_t N, size_t V, size_t Vp);

#endif  // SPARROW_HOST_TRAIN_LAYERS_H_
