// SPDX-License-Identifier: Apache-2.0
//
// The CPU reference backend (backend.h): the fp32 GPT of gpt.h and the AdamW of adamw.h on the
// host. (The device selection is in backend.c, the chip backend in backend_chip.c.)

#include <stdlib.h>
#include <string.h>

#include "backend.h"

typedef struct ref_impl {
  sparrow_gpt_t model;
  sparrow_adamw_t adamw;
  float *m, *v;
} ref_impl_t;

static sparrow_train_status_t ref_load(void *impl, const float *params, const float *m,
                                       const float *v, const uint8_t *masks, char *msg,
                                       size_t msg_len) {
  (void)msg;
  (void)msg_len;
  ref_impl_t *r = impl;
  size_t n = r->model.layout.n_params;
  memcpy(r->model.params, params, n * sizeof(float));
  if (m != NULL) {
    memcpy(r->m, m, n * sizeof(float));
  } else {
    memset(r->m, 0, n * sizeof(float));
  }
  if (v != NULL) {
    memcpy(r->v, v, n * sizeof(float));
  } else {
    memset(r->v, 0, n * sizeof(float));
  }
  r->model.masks_active = masks != NULL;
  if (masks != NULL) {
    memcpy(r->model.masks, masks, r->model.layout.mask_bytes);
  } else {
    memset(r->model.masks, 1, r->model.layout.mask_bytes);
  }
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t ref_save(void *impl, float *params, float *m, float *v, char *msg,
                                       size_t msg_len) {
  (void)msg;
  (void)msg_len;
  ref_impl_t *r = impl;
  size_t bytes = r->model.layout.n_params * sizeof(float);
  if (params != NULL) {
    memcpy(params, r->model.params, bytes);
  }
  if (m != NULL) {
    memcpy(m, r->m, bytes);
  }
  if (v != NULL) {
    memcpy(v, r->v, bytes);
  }
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t ref_forward(void *impl, const uint32_t *inputs,
                                          const uint32_t *targets, uint32_t B, uint32_t T,
                                          float *loss, char *msg, size_t msg_len) {
  ref_impl_t *r = impl;
  const sparrow_gpt_config_t *c = &r->model.config;
  if (B == 0 || T == 0 || B > c->batch || T > c->n_ctx) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "forward on %u x %u tokens: the model holds at most %u x %u", B, T,
                              c->batch, c->n_ctx);
  }
  size_t n = (size_t)B * T;
  for (size_t i = 0; i < n; i++) {
    if (inputs[i] >= c->vocab || (targets != NULL && targets[i] >= c->vocab)) {
      return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                                "forward: token %zu is outside the vocabulary of %u", i, c->vocab);
    }
  }
  sparrow_gpt_forward(&r->model, inputs, targets, B, T, loss);
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t ref_probs(void *impl, uint32_t b, uint32_t t, float *probs, char *msg,
                                        size_t msg_len) {
  ref_impl_t *r = impl;
  if (b >= r->model.cur_b || t >= r->model.cur_t) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "probabilities at (%u, %u): the last forward was %u x %u", b, t,
                              r->model.cur_b, r->model.cur_t);
  }
  memcpy(probs, sparrow_gpt_probs(&r->model, b, t), r->model.config.vocab_padded * sizeof(float));
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t ref_backward(void *impl, char *msg, size_t msg_len) {
  ref_impl_t *r = impl;
  if (!r->model.have_targets) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "backward: the last forward had no targets");
  }
  sparrow_gpt_backward(&r->model);
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t ref_grads(void *impl, float *grads, char *msg, size_t msg_len) {
  (void)msg;
  (void)msg_len;
  ref_impl_t *r = impl;
  memcpy(grads, r->model.grads, r->model.layout.n_params * sizeof(float));
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t ref_step(void *impl, float lr, uint64_t t, float *grad_norm,
                                       char *msg, size_t msg_len) {
  ref_impl_t *r = impl;
  if (t == 0) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len, "AdamW steps count from 1");
  }
  sparrow_adamw_step(&r->adamw, &r->model.layout, r->model.params, r->model.grads, r->m, r->v, lr,
                     t, grad_norm);
  return SPARROW_TRAIN_OK;
}

static void ref_counters(void *impl, sparrow_train_counters_t *out) {
  (void)impl;
  memset(out, 0, sizeof(*out));  // nothing is simulated on the host
}

static void ref_destroy(void *impl) {
  ref_impl_t *r = impl;
  if (r == NULL) {
    return;
  }
  sparrow_gpt_destroy(&r->model);
  free(r->m);
  free(r->v);
  free(r);
}

static const sparrow_train_backend_ops_t kRefOps = {
    .load = ref_load,
    .save = ref_save,
    .forward = ref_forward,
    .probs = ref_probs,
    .backward = ref_backward,
    .grads = ref_grads,
    .step = ref_step,
    .counters = ref_counters,
    .destroy = ref_destroy,
};

sparrow_train_status_t sparrow_train_backend_ref_open(const sparrow_gpt_config_t *config,
                                                      const sparrow_adamw_t *adamw,
                                                      sparrow_train_backend_t *backend, char *msg,
                                                      size_t msg_len) {
  ref_impl_t *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len, "reference: out of memory");
  }
  sparrow_train_status_t st = sparrow_gpt_create(config, &r->model, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    free(r);
    return st;
  }
  r->adamw = *adamw;
  r->m = calloc(r->model.layout.n_params, sizeof(float));
  r->v = calloc(r->model.layout.n_params, sizeof(float));
  if (r->m == NULL || r->v == NULL) {
    ref_destroy(r);
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len,
                              "reference: out of memory for the AdamW moments");
  }
  backend->name = "ref";
  backend->ops = &kRefOps;
  backend->impl = r;
  return SPARROW_TRAIN_OK;
}

const char *sparrow_train_op_kind_name(sparrow_train_op_kind_t kind) {
  static const char *const kNames[SPARROW_TRAIN_OP_KINDS] = {
      "embedding", "layernorm", "linear",  "bias", "attention",
      "gelu",      "residual",  "lm_head", "loss", "optimizer", "section",
  };
  return (unsigned)kind < SPARROW_TRAIN_OP_KINDS ? kNames[kind] : "?";
}

const char *sparrow_train_mode_name(sparrow_train_mode_t mode) {
  switch (mode) {
    case SPARROW_TRAIN_MODE_KBK:
      return "kbk";
    case SPARROW_TRAIN_MODE_DF:
      return "df";
  }
  return "?";
}

sparrow_train_status_t sparrow_train_mode_parse(const char *text, sparrow_train_mode_t *mode,
                                                char *msg, size_t msg_len) {
  static const sparrow_train_mode_t kModes[] = {SPARROW_TRAIN_MODE_KBK, SPARROW_TRAIN_MODE_DF};
  for (size_t i = 0; text != NULL && i < sizeof(kModes) / sizeof(kModes[0]); i++) {
    if (strcmp(text, sparrow_train_mode_name(kModes[i])) == 0) {
      *mode = kModes[i];
      return SPARROW_TRAIN_OK;
    }
  }
  return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                            "mode '%s' is neither kbk (kernel by kernel) nor df (dataflow)",
                            text != NULL ? text : "");
}

void sparrow_train_backend_close(sparrow_train_backend_t *backend) {
  if (backend == NULL || backend->ops == NULL) {
    return;
  }
  backend->ops->destroy(backend->impl);
  memset(backend, 0, sizeof(*backend));
}

sparrow_gpt_t *sparrow_train_backend_ref_model(const sparrow_train_backend_t *backend) {
  if (backend == NULL || backend->ops != &kRefOps) {
    return NULL;
  }
  return &((ref_impl_t *)backend->impl)->model;
}
