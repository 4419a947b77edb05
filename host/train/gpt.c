// SPDX-License-Identifier: Apache-2.0
//
// The CPU reference GPT-2: configuration, parameter layout, initialisation, forward and backward
// (see gpt.h). The structure follows llm.c's train_gpt2.c; the code is this project's own.

#include "gpt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "rng.h"
#include "sparrow_bsr.h"

// Limits that keep every size well inside size_t and the host's memory plausible.
#define MAX_LAYERS 64u
#define MAX_HEADS 64u
#define MAX_EMBD 4096u
#define MAX_CTX 2048u
#define MAX_BATCH 512u

#define INIT_STD 0.02

typedef struct preset {
  const char *name;
  uint32_t n_layer, n_head, n_embd, n_ctx, batch;
} preset_t;

static const preset_t kPresets[] = {
    {"micro", 2, 4, 64, 64, 4},
    {"small", 4, 4, 128, 128, 8},
    {"wide", 1, 4, 256, 64, 4},
};

bool sparrow_gpt_preset(const char *name, sparrow_gpt_config_t *config) {
  for (size_t i = 0; i < sizeof(kPresets) / sizeof(kPresets[0]); i++) {
    if (strcmp(name, kPresets[i].name) == 0) {
      memset(config, 0, sizeof(*config));
      config->n_layer = kPresets[i].n_layer;
      config->n_head = kPresets[i].n_head;
      config->n_embd = kPresets[i].n_embd;
      config->n_ctx = kPresets[i].n_ctx;
      config->batch = kPresets[i].batch;
      config->block = SPARROW_BSR_DEFAULT_BLOCK;
      return true;
    }
  }
  return false;
}

sparrow_train_status_t sparrow_gpt_config_check(const sparrow_gpt_config_t *c, char *msg,
                                                size_t msg_len) {
  const struct {
    const char *name;
    uint32_t value, lo, hi;
  } ranges[] = {
      {"layers", c->n_layer, 1, MAX_LAYERS}, {"heads", c->n_head, 1, MAX_HEADS},
      {"width", c->n_embd, 1, MAX_EMBD},     {"context", c->n_ctx, 1, MAX_CTX},
      {"batch", c->batch, 1, MAX_BATCH},     {"vocabulary", c->vocab, 1, 256},
  };
  for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
    if (ranges[i].value < ranges[i].lo || ranges[i].value > ranges[i].hi) {
      return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len, "%s %u is out of range [%u, %u]",
                                ranges[i].name, ranges[i].value, ranges[i].lo, ranges[i].hi);
    }
  }
  if (c->block == 0 || c->block % SPARROW_BSR_DEFAULT_BLOCK != 0) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "block size %u is not a positive multiple of %u (the largest "
                              "device LANES, so that a checkpoint runs on every configuration)",
                              c->block, SPARROW_BSR_DEFAULT_BLOCK);
  }
  if (c->n_embd % c->n_head != 0) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "width %u is not a multiple of the number of heads %u", c->n_embd,
                              c->n_head);
  }
  if (c->n_embd % c->block != 0) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "width %u is not a multiple of the block size %u", c->n_embd,
                              c->block);
  }
  uint32_t vp = (c->vocab + c->block - 1) / c->block * c->block;
  if (c->vocab_padded != vp) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "padded vocabulary %u should be %u (%u rounded up to the block size)",
                              c->vocab_padded, vp, c->vocab);
  }
  return SPARROW_TRAIN_OK;
}

static const char *const kTensorNames[SPARROW_GPT_TENSORS] = {
    "wte",  "wpe",  "ln1w", "ln1b", "qkvw",    "qkvb",    "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw",  "fcb",  "fcprojw", "fcprojb", "lnfw",     "lnfb",
};

const char *sparrow_gpt_tensor_name(sparrow_gpt_tensor_t t) {
  return (unsigned)t < SPARROW_GPT_TENSORS ? kTensorNames[t] : "?";
}

bool sparrow_gpt_tensor_decays(sparrow_gpt_tensor_t t) {
  return t == SPARROW_GPT_WTE || t == SPARROW_GPT_WPE || t == SPARROW_GPT_QKVW ||
         t == SPARROW_GPT_ATTPROJW || t == SPARROW_GPT_FCW || t == SPARROW_GPT_FCPROJW;
}

const char *sparrow_gpt_linear_name(sparrow_gpt_linear_t lin) {
  static const char *const kNames[SPARROW_GPT_LINEARS] = {"qkv", "attproj", "fc", "fcproj"};
  return (unsigned)lin < SPARROW_GPT_LINEARS ? kNames[lin] : "?";
}

sparrow_gpt_tensor_t sparrow_gpt_linear_tensor(sparrow_gpt_linear_t lin) {
  static const sparrow_gpt_tensor_t kTensors[SPARROW_GPT_LINEARS] = {
      SPARROW_GPT_QKVW, SPARROW_GPT_ATTPROJW, SPARROW_GPT_FCW, SPARROW_GPT_FCPROJW};
  return kTensors[lin];
}

sparrow_train_status_t sparrow_gpt_layout_init(const sparrow_gpt_config_t *config,
                                               sparrow_gpt_layout_t *layout, char *msg,
                                               size_t msg_len) {
  sparrow_train_status_t st = sparrow_gpt_config_check(config, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  size_t L = config->n_layer, C = config->n_embd, T = config->n_ctx, Vp = config->vocab_padded;
  size_t sizes[SPARROW_GPT_TENSORS] = {
      Vp * C, T * C, L * C,         L * C,     L * C * 3 * C, L * 3 * C, L * C * C, L * C,
      L * C,  L * C, L * C * 4 * C, L * 4 * C, L * 4 * C * C, L * C,     C,         C,
  };
  sparrow_gpt_layout_t out;
  memset(&out, 0, sizeof(out));
  for (int t = 0; t < SPARROW_GPT_TENSORS; t++) {
    out.offset[t] = out.n_params;
    out.size[t] = sizes[t];
    out.n_params += sizes[t];
  }
  const uint32_t ic[SPARROW_GPT_LINEARS] = {(uint32_t)C, (uint32_t)C, (uint32_t)C,
                                            (uint32_t)(4 * C)};
  const uint32_t oc[SPARROW_GPT_LINEARS] = {(uint32_t)(3 * C), (uint32_t)C, (uint32_t)(4 * C),
                                            (uint32_t)C};
  out.mask_offset = malloc(L * SPARROW_GPT_LINEARS * sizeof(size_t));
  if (out.mask_offset == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len, "model layout: out of memory");
  }
  for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
    out.weight_rows[j] = ic[j];
    out.weight_cols[j] = oc[j];
    out.mask_rows[j] = ic[j] / config->block;
    out.mask_cols[j] = oc[j] / config->block;
  }
  for (size_t l = 0; l < L; l++) {
    for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
      out.mask_offset[l * SPARROW_GPT_LINEARS + j] = out.mask_bytes;
      out.mask_bytes += (size_t)out.mask_rows[j] * out.mask_cols[j];
    }
  }
  *layout = out;
  return SPARROW_TRAIN_OK;
}

void sparrow_gpt_layout_free(sparrow_gpt_layout_t *layout) {
  if (layout != NULL) {
    free(layout->mask_offset);
    layout->mask_offset = NULL;
  }
}

float *sparrow_gpt_linear_weights(const sparrow_gpt_layout_t *layout, float *block, uint32_t l,
                                  sparrow_gpt_linear_t lin) {
  size_t per_layer = (size_t)layout->weight_rows[lin] * layout->weight_cols[lin];
  return block + layout->offset[sparrow_gpt_linear_tensor(lin)] + l * per_layer;
}

void sparrow_gpt_init_params(const sparrow_gpt_config_t *config, const sparrow_gpt_layout_t *layout,
                             uint64_t seed, float *params) {
  uint64_t rng = seed;
  double proj_std = INIT_STD / sqrt(2.0 * config->n_layer);
  size_t real_wte = (size_t)config->vocab * config->n_embd;
  for (int t = 0; t < SPARROW_GPT_TENSORS; t++) {
    float *p = params + layout->offset[t];
    size_t n = layout->size[t];
    bool ln_weight = t == SPARROW_GPT_LN1W || t == SPARROW_GPT_LN2W || t == SPARROW_GPT_LNFW;
    if (ln_weight || !sparrow_gpt_tensor_decays((sparrow_gpt_tensor_t)t)) {
      float v = ln_weight ? 1.0f : 0.0f;
      for (size_t i = 0; i < n; i++) {
        p[i] = v;
      }
      continue;
    }
    double std = (t == SPARROW_GPT_ATTPROJW || t == SPARROW_GPT_FCPROJW) ? proj_std : INIT_STD;
    for (size_t i = 0; i < n; i++) {
      p[i] = (t == SPARROW_GPT_WTE && i >= real_wte)
                 ? 0.0f
                 : (float)(std * sparrow_train_rng_normal(&rng));
    }
  }
}

void sparrow_gpt_apply_masks(const sparrow_gpt_config_t *config, const sparrow_gpt_layout_t *layout,
                             const uint8_t *masks, float *block) {
  size_t b = config->block;
  for (uint32_t l = 0; l < config->n_layer; l++) {
    for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
      const uint8_t *mask = masks + layout->mask_offset[l * SPARROW_GPT_LINEARS + j];
      float *w = sparrow_gpt_linear_weights(layout, block, l, (sparrow_gpt_linear_t)j);
      size_t rows = layout->weight_rows[j], cols = layout->weight_cols[j];
      size_t bc = layout->mask_cols[j];
      for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
          if (mask[(r / b) * bc + c / b] == 0) {
            w[r * cols + c] = 0.0f;
          }
        }
      }
    }
  }
}

// Activation tensors. Each is allocated for the configured B x T (per layer: L slices of that);
// a forward on a smaller B' x T' packs its data at the start of each slice.
enum {
  A_ENCODED,
  A_LN1,
  A_LN1_MEAN,
  A_LN1_RSTD,
  A_QKV,
  A_ATTY,
  A_PREATT,
  A_ATT,
  A_ATTPROJ,
  A_RESID2,
  A_LN2,
  A_LN2_MEAN,
  A_LN2_RSTD,
  A_FCH,
  A_FCH_GELU,
  A_FCPROJ,
  A_RESID3,
  A_LNF,
  A_LNF_MEAN,
  A_LNF_RSTD,
  A_LOGITS,
  A_PROBS,
  A_LOSSES,
  A_COUNT
};

typedef struct act_shape {
  size_t per_layer;  // floats per slice
  size_t slices;     // 1, or L
} act_shape_t;

static void act_shapes(const sparrow_gpt_config_t *c, act_shape_t shapes[A_COUNT]) {
  size_t B = c->batch, T = c->n_ctx, C = c->n_embd, L = c->n_layer, NH = c->n_head;
  size_t Vp = c->vocab_padded, BT = B * T;
  const act_shape_t s[A_COUNT] = {
      [A_ENCODED] = {BT * C, 1},
      [A_LN1] = {BT * C, L},
      [A_LN1_MEAN] = {BT, L},
      [A_LN1_RSTD] = {BT, L},
      [A_QKV] = {BT * 3 * C, L},
      [A_ATTY] = {BT * C, L},
      [A_PREATT] = {B * NH * T * T, L},
      [A_ATT] = {B * NH * T * T, L},
      [A_ATTPROJ] = {BT * C, L},
      [A_RESID2] = {BT * C, L},
      [A_LN2] = {BT * C, L},
      [A_LN2_MEAN] = {BT, L},
      [A_LN2_RSTD] = {BT, L},
      [A_FCH] = {BT * 4 * C, L},
      [A_FCH_GELU] = {BT * 4 * C, L},
      [A_FCPROJ] = {BT * C, L},
      [A_RESID3] = {BT * C, L},
      [A_LNF] = {BT * C, 1},
      [A_LNF_MEAN] = {BT, 1},
      [A_LNF_RSTD] = {BT, 1},
      [A_LOGITS] = {BT * Vp, 1},
      [A_PROBS] = {BT * Vp, 1},
      [A_LOSSES] = {BT, 1},
  };
  memcpy(shapes, s, sizeof(s));
}

// Pointer to activation a, layer slice l, inside base (acts or dacts).
static float *act(const sparrow_gpt_t *m, float *base, int a, size_t l) {
  act_shape_t shapes[A_COUNT];
  act_shapes(&m->config, shapes);
  size_t off = 0;
  for (int i = 0; i < a; i++) {
    off += shapes[i].per_layer * shapes[i].slices;
  }
  return base + off + l * shapes[a].per_layer;
}

sparrow_train_status_t sparrow_gpt_create(const sparrow_gpt_config_t *config, sparrow_gpt_t *model,
                                          char *msg, size_t msg_len) {
  sparrow_gpt_t m;
  memset(&m, 0, sizeof(m));
  m.config = *config;
  sparrow_train_status_t st = sparrow_gpt_layout_init(config, &m.layout, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  act_shape_t shapes[A_COUNT];
  act_shapes(config, shapes);
  for (int a = 0; a < A_COUNT; a++) {
    m.n_acts += shapes[a].per_layer * shapes[a].slices;
  }
  size_t bt = (size_t)config->batch * config->n_ctx;
  m.params = calloc(m.layout.n_params, sizeof(float));
  m.grads = calloc(m.layout.n_params, sizeof(float));
  m.masks = malloc(m.layout.mask_bytes);
  m.acts = calloc(m.n_acts, sizeof(float));
  m.dacts = calloc(m.n_acts, sizeof(float));
  m.inputs = calloc(bt, sizeof(uint32_t));
  m.targets = calloc(bt, sizeof(uint32_t));
  if (!m.params || !m.grads || !m.masks || !m.acts || !m.dacts || !m.inputs || !m.targets) {
    sparrow_gpt_destroy(&m);
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len,
                              "model: out of memory (%zu parameters, %zu activations)",
                              m.layout.n_params, m.n_acts);
  }
  memset(m.masks, 1, m.layout.mask_bytes);
  *model = m;
  return SPARROW_TRAIN_OK;
}

void sparrow_gpt_destroy(sparrow_gpt_t *model) {
  if (model == NULL) {
    return;
  }
  sparrow_gpt_layout_free(&model->layout);
  free(model->params);
  free(model->grads);
  free(model->masks);
  free(model->acts);
  free(model->dacts);
  free(model->inputs);
  free(model->targets);
  memset(model, 0, sizeof(*model));
}

static const uint8_t *layer_mask(const sparrow_gpt_t *m, uint32_t l, sparrow_gpt_linear_t lin) {
  if (!m->masks_active) {
    return NULL;
  }
  return m->masks + m->layout.mask_offset[l * SPARROW_GPT_LINEARS + lin];
}

// Parameter tensor t, layer l's slice, inside base (params or grads).
static float *param(const sparrow_gpt_t *m, float *base, sparrow_gpt_tensor_t t, uint32_t l) {
  size_t per_layer = m->layout.size[t];
  bool layered = t != SPARROW_GPT_WTE && t != SPARROW_GPT_WPE && t != SPARROW_GPT_LNFW &&
                 t != SPARROW_GPT_LNFB;
  if (layered) {
    per_layer /= m->config.n_layer;
  }
  return base + m->layout.offset[t] + (layered ? l * per_layer : 0);
}

void sparrow_gpt_forward(sparrow_gpt_t *m, const uint32_t *inputs, const uint32_t *targets,
                         uint32_t B, uint32_t T, float *loss) {
  const sparrow_gpt_config_t *c = &m->config;
  size_t C = c->n_embd, NH = c->n_head, L = c->n_layer, V = c->vocab, Vp = c->vocab_padded;
  size_t N = (size_t)B * T, blk = c->block;
  float *P = m->params, *A = m->acts;
  memcpy(m->inputs, inputs, N * sizeof(uint32_t));
  m->have_targets = targets != NULL;
  if (targets != NULL) {
    memcpy(m->targets, targets, N * sizeof(uint32_t));
  }
  m->cur_b = B;
  m->cur_t = T;

  sparrow_train_encoder_forward(act(m, A, A_ENCODED, 0), m->inputs, param(m, P, SPARROW_GPT_WTE, 0),
                                param(m, P, SPARROW_GPT_WPE, 0), B, T, C);
  for (uint32_t l = 0; l < L; l++) {
    float *residual = l == 0 ? act(m, A, A_ENCODED, 0) : act(m, A, A_RESID3, l - 1);
    float *ln1 = act(m, A, A_LN1, l), *qkv = act(m, A, A_QKV, l), *atty = act(m, A, A_ATTY, l);
    float *attproj = act(m, A, A_ATTPROJ, l), *resid2 = act(m, A, A_RESID2, l);
    float *ln2 = act(m, A, A_LN2, l), *fch = act(m, A, A_FCH, l);
    float *fch_gelu = act(m, A, A_FCH_GELU, l), *fcproj = act(m, A, A_FCPROJ, l);
    sparrow_train_layernorm_forward(ln1, act(m, A, A_LN1_MEAN, l), act(m, A, A_LN1_RSTD, l),
                                    residual, param(m, P, SPARROW_GPT_LN1W, l),
                                    param(m, P, SPARROW_GPT_LN1B, l), N, C);
    sparrow_train_matmul_forward(qkv, ln1, param(m, P, SPARROW_GPT_QKVW, l),
                                 param(m, P, SPARROW_GPT_QKVB, l),
                                 layer_mask(m, l, SPARROW_GPT_LIN_QKV), blk, N, C, 3 * C);
    sparrow_train_attention_forward(atty, act(m, A, A_PREATT, l), act(m, A, A_ATT, l), qkv, B, T, C,
                                    NH);
    sparrow_train_matmul_forward(attproj, atty, param(m, P, SPARROW_GPT_ATTPROJW, l),
                                 param(m, P, SPARROW_GPT_ATTPROJB, l),
                                 layer_mask(m, l, SPARROW_GPT_LIN_ATTPROJ), blk, N, C, C);
    sparrow_train_residual_forward(resid2, residual, attproj, N * C);
    sparrow_train_layernorm_forward(ln2, act(m, A, A_LN2_MEAN, l), act(m, A, A_LN2_RSTD, l), resid2,
                                    param(m, P, SPARROW_GPT_LN2W, l),
                                    param(m, P, SPARROW_GPT_LN2B, l), N, C);
    sparrow_train_matmul_forward(fch, ln2, param(m, P, SPARROW_GPT_FCW, l),
                                 param(m, P, SPARROW_GPT_FCB, l),
                                 layer_mask(m, l, SPARROW_GPT_LIN_FC), blk, N, C, 4 * C);
    sparrow_train_gelu_forward(fch_gelu, fch, N * 4 * C);
    sparrow_train_matmul_forward(fcproj, fch_gelu, param(m, P, SPARROW_GPT_FCPROJW, l),
                                 param(m, P, SPARROW_GPT_FCPROJB, l),
                                 layer_mask(m, l, SPARROW_GPT_LIN_FCPROJ), blk, N, 4 * C, C);
    sparrow_train_residual_forward(act(m, A, A_RESID3, l), resid2, fcproj, N * C);
  }
  float *last = act(m, A, A_RESID3, L - 1);
  float *lnf = act(m, A, A_LNF, 0), *logits = act(m, A, A_LOGITS, 0);
  sparrow_train_layernorm_forward(lnf, act(m, A, A_LNF_MEAN, 0), act(m, A, A_LNF_RSTD, 0), last,
                                  param(m, P, SPARROW_GPT_LNFW, 0),
                                  param(m, P, SPARROW_GPT_LNFB, 0), N, C);
  sparrow_train_lmhead_forward(logits, lnf, param(m, P, SPARROW_GPT_WTE, 0), N, C, Vp);
  float *losses = act(m, A, A_LOSSES, 0);
  sparrow_train_softmax_ce_forward(act(m, A, A_PROBS, 0), targets != NULL ? losses : NULL, logits,
                                   m->targets, N, V, Vp);
  if (targets != NULL) {
    // The mean is a reported figure, not part of any gradient: summed in double.
    double sum = 0.0;
    for (size_t i = 0; i < N; i++) {
      sum += losses[i];
    }
    m->loss = (float)(sum / (double)N);
    if (loss != NULL) {
      *loss = m->loss;
    }
  }
}

const float *sparrow_gpt_probs(const sparrow_gpt_t *m, uint32_t b, uint32_t t) {
  return act(m, m->acts, A_PROBS, 0) + ((size_t)b * m->cur_t + t) * m->config.vocab_padded;
}

void sparrow_gpt_backward(sparrow_gpt_t *m) {
  const sparrow_gpt_config_t *c = &m->config;
  size_t C = c->n_embd, NH = c->n_head, L = c->n_layer, V = c->vocab, Vp = c->vocab_padded;
  size_t B = m->cur_b, T = m->cur_t, N = B * T, blk = c->block;
  float *P = m->params, *G = m->grads, *A = m->acts, *D = m->dacts;
  memset(G, 0, m->layout.n_params * sizeof(float));
  memset(D, 0, m->n_acts * sizeof(float));

  float *dlogits = act(m, D, A_LOGITS, 0);
  sparrow_train_softmax_ce_backward(dlogits, act(m, A, A_PROBS, 0), m->targets, 1.0f / (float)N, N,
                                    V, Vp);
  float *dlnf = act(m, D, A_LNF, 0);
  sparrow_train_lmhead_backward(dlnf, param(m, G, SPARROW_GPT_WTE, 0), dlogits, act(m, A, A_LNF, 0),
                                param(m, P, SPARROW_GPT_WTE, 0), N, C, Vp);
  sparrow_train_layernorm_backward(act(m, D, A_RESID3, L - 1), param(m, G, SPARROW_GPT_LNFW, 0),
                                   param(m, G, SPARROW_GPT_LNFB, 0), dlnf,
                                   act(m, A, A_RESID3, L - 1), param(m, P, SPARROW_GPT_LNFW, 0),
                                   act(m, A, A_LNF_MEAN, 0), act(m, A, A_LNF_RSTD, 0), N, C);
  for (uint32_t li = (uint32_t)L; li-- > 0;) {
    uint32_t l = li;
    float *residual = l == 0 ? act(m, A, A_ENCODED, 0) : act(m, A, A_RESID3, l - 1);
    float *dresidual = l == 0 ? act(m, D, A_ENCODED, 0) : act(m, D, A_RESID3, l - 1);
    float *dresid3 = act(m, D, A_RESID3, l), *dresid2 = act(m, D, A_RESID2, l);
    float *dfcproj = act(m, D, A_FCPROJ, l), *dfch_gelu = act(m, D, A_FCH_GELU, l);
    float *dfch = act(m, D, A_FCH, l), *dln2 = act(m, D, A_LN2, l);
    float *dattproj = act(m, D, A_ATTPROJ, l), *datty = act(m, D, A_ATTY, l);
    float *dqkv = act(m, D, A_QKV, l), *dln1 = act(m, D, A_LN1, l);

    sparrow_train_residual_backward(dresid2, dfcproj, dresid3, N * C);
    sparrow_train_matmul_backward(dfch_gelu, param(m, G, SPARROW_GPT_FCPROJW, l),
                                  param(m, G, SPARROW_GPT_FCPROJB, l), dfcproj,
                                  act(m, A, A_FCH_GELU, l), param(m, P, SPARROW_GPT_FCPROJW, l),
                                  layer_mask(m, l, SPARROW_GPT_LIN_FCPROJ), blk, N, 4 * C, C);
    sparrow_train_gelu_backward(dfch, act(m, A, A_FCH, l), dfch_gelu, N * 4 * C);
    sparrow_train_matmul_backward(dln2, param(m, G, SPARROW_GPT_FCW, l),
                                  param(m, G, SPARROW_GPT_FCB, l), dfch, act(m, A, A_LN2, l),
                                  param(m, P, SPARROW_GPT_FCW, l),
                                  layer_mask(m, l, SPARROW_GPT_LIN_FC), blk, N, C, 4 * C);
    sparrow_train_layernorm_backward(dresid2, param(m, G, SPARROW_GPT_LN2W, l),
                                     param(m, G, SPARROW_GPT_LN2B, l), dln2, act(m, A, A_RESID2, l),
                                     param(m, P, SPARROW_GPT_LN2W, l), act(m, A, A_LN2_MEAN, l),
                                     act(m, A, A_LN2_RSTD, l), N, C);
    sparrow_train_residual_backward(dresidual, dattproj, dresid2, N * C);
    sparrow_train_matmul_backward(datty, param(m, G, SPARROW_GPT_ATTPROJW, l),
                                  param(m, G, SPARROW_GPT_ATTPROJB, l), dattproj,
                                  act(m, A, A_ATTY, l), param(m, P, SPARROW_GPT_ATTPROJW, l),
                                  layer_mask(m, l, SPARROW_GPT_LIN_ATTPROJ), blk, N, C, C);
    sparrow_train_attention_backward(dqkv, act(m, D, A_PREATT, l), act(m, D, A_ATT, l), datty,
                                     act(m, A, A_QKV, l), act(m, A, A_ATT, l), B, T, C, NH);
    sparrow_train_matmul_backward(dln1, param(m, G, SPARROW_GPT_QKVW, l),
                                  param(m, G, SPARROW_GPT_QKVB, l), dqkv, act(m, A, A_LN1, l),
                                  param(m, P, SPARROW_GPT_QKVW, l),
                                  layer_mask(m, l, SPARROW_GPT_LIN_QKV), blk, N, C, 3 * C);
    sparrow_train_layernorm_backward(dresidual, param(m, G, SPARROW_GPT_LN1W, l),
                                     param(m, G, SPARROW_GPT_LN1B, l), dln1, residual,
                                     param(m, P, SPARROW_GPT_LN1W, l), act(m, A, A_LN1_MEAN, l),
                                     act(m, A, A_LN1_RSTD, l), N, C);
  }
  sparrow_train_encoder_backward(param(m, G, SPARROW_GPT_WTE, 0), param(m, G, SPARROW_GPT_WPE, 0),
                                 act(m, D, A_ENCODED, 0), m->inputs, B, T, C);
}
