// SPDX-License-Identifier: Apache-2.0
//
// The training loop (see trainer.h).

#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "rng.h"
#include "sparrow_mask.h"

// The batch sampler and the random masks draw from states derived from the seed, each its own
// stream (the weights use the seed itself).
#define BATCH_STREAM 0x62617463685f7267ull  // "batch_rg"
#define MASK_STREAM 0x6d61736b5f726e67ull   // "mask_rng"
// The validation batches are the same for every run and every seed: comparable figures.
#define VAL_STATE 0x76616c69646174ull  // "validat"

void sparrow_train_run_defaults(sparrow_train_run_t *run) {
  memset(run, 0, sizeof(*run));
  sparrow_adamw_defaults(&run->adamw);
  run->seed = 1;
  run->steps = 1;
  run->density_den = 1;
  run->mask_kind = SPARROW_TRAIN_MASK_RANDOM;
  run->val_batches = SPARROW_TRAIN_DEFAULT_VAL_BATCHES;
  run->eval_every = SPARROW_TRAIN_DEFAULT_EVAL_EVERY;
  run->ckpt_every = SPARROW_TRAIN_DEFAULT_EVAL_EVERY;
}

sparrow_train_status_t sparrow_trainer_make_masks(const sparrow_train_run_t *run,
                                                  const sparrow_gpt_layout_t *layout,
                                                  const float *params, uint8_t *masks, char *msg,
                                                  size_t msg_len) {
  uint64_t stream = run->seed ^ MASK_STREAM;
  for (uint32_t l = 0; l < run->model.n_layer; l++) {
    for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
      uint8_t *mask = masks + layout->mask_offset[l * SPARROW_GPT_LINEARS + j];
      uint32_t br = layout->mask_rows[j], bc = layout->mask_cols[j];
      char why[200] = "";
      sparrow_mask_status_t ms;
      if (run->mask_kind == SPARROW_TRAIN_MASK_RANDOM) {
        ms = sparrow_mask_balanced_random(br, bc, run->density_den, sparrow_train_rng_next(&stream),
                                          mask, why, sizeof(why));
      } else {
        const float *w =
            sparrow_gpt_linear_weights(layout, (float *)params, l, (sparrow_gpt_linear_t)j);
        ms = sparrow_mask_magnitude(w, layout->weight_rows[j], layout->weight_cols[j],
                                    run->model.block, run->density_den, mask, why, sizeof(why));
      }
      if (ms != SPARROW_MASK_OK) {
        return sparrow_train_fail(
            ms == SPARROW_MASK_E_NAN ? SPARROW_TRAIN_E_NAN : SPARROW_TRAIN_E_ARG, msg, msg_len,
            "mask of layer %u %s: %s", l, sparrow_gpt_linear_name((sparrow_gpt_linear_t)j), why);
      }
    }
  }
  return SPARROW_TRAIN_OK;
}

static sparrow_train_status_t check_run(const sparrow_train_run_t *run,
                                        const sparrow_train_data_t *data, char *msg,
                                        size_t msg_len) {
  if (run->model.vocab != data->vocab) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "the model's vocabulary (%u) is not the data's (%u)",
                              run->model.vocab, data->vocab);
  }
  uint32_t den = run->density_den;
  if (den != 1 && den != 2 && den != 4 && den != 8) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "density 1/%u: the sparsity must be 0, 0.5, 0.75 or 0.875", den);
  }
  if (run->steps == 0 || run->val_batches == 0 || run->warmup > run->steps) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "a run needs steps > 0 (%llu), warm-up <= steps (%llu) and at least "
                              "one validation batch (%u)",
                              (unsigned long long)run->steps, (unsigned long long)run->warmup,
                              run->val_batches);
  }
  return sparrow_gpt_config_check(&run->model, msg, msg_len);
}

static sparrow_train_status_t alloc_state(sparrow_trainer_t *tr, char *msg, size_t msg_len) {
  size_t n = tr->layout.n_params;
  size_t bt = (size_t)tr->run.model.batch * tr->run.model.n_ctx;
  tr->params = calloc(n, sizeof(float));
  tr->m = calloc(n, sizeof(float));
  tr->v = calloc(n, sizeof(float));
  tr->masks = malloc(tr->layout.mask_bytes);
  tr->inputs = calloc(bt, sizeof(uint32_t));
  tr->targets = calloc(bt, sizeof(uint32_t));
  if (!tr->params || !tr->m || !tr->v || !tr->masks || !tr->inputs || !tr->targets) {
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len,
                              "trainer: out of memory (%zu parameters)", n);
  }
  memset(tr->masks, 1, tr->layout.mask_bytes);
  return SPARROW_TRAIN_OK;
}

// Makes the masks from the current weights (or the seed) and puts them into force: the absent
// blocks of the weights and of both moments become zero, and stay so (adamw.h).
static sparrow_train_status_t apply_masks(sparrow_trainer_t *tr, char *msg, size_t msg_len) {
  sparrow_train_backend_t *be = tr->backend;
  sparrow_train_status_t st = be->ops->save(be->impl, tr->params, tr->m, tr->v, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  st = sparrow_trainer_make_masks(&tr->run, &tr->layout, tr->params, tr->masks, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  sparrow_gpt_apply_masks(&tr->run.model, &tr->layout, tr->masks, tr->params);
  sparrow_gpt_apply_masks(&tr->run.model, &tr->layout, tr->masks, tr->m);
  sparrow_gpt_apply_masks(&tr->run.model, &tr->layout, tr->masks, tr->v);
  tr->masks_active = true;
  tr->check_pending = false;
  return be->ops->load(be->impl, tr->params, tr->m, tr->v, tr->masks, msg, msg_len);
}

// Whether the masks come into force before the next step.
static bool masks_due(const sparrow_trainer_t *tr) {
  return tr->run.density_den > 1 && !tr->masks_active && tr->step >= tr->run.dense_steps;
}

sparrow_train_status_t sparrow_trainer_init(sparrow_trainer_t *tr, const sparrow_train_run_t *run,
                                            const sparrow_train_data_t *data,
                                            sparrow_train_backend_t *backend, char *msg,
                                            size_t msg_len) {
  memset(tr, 0, sizeof(*tr));
  sparrow_train_status_t st = check_run(run, data, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  tr->run = *run;
  tr->data = data;
  tr->backend = backend;
  tr->rng = run->seed ^ BATCH_STREAM;
  st = sparrow_gpt_layout_init(&run->model, &tr->layout, msg, msg_len);
  if (st == SPARROW_TRAIN_OK) {
    st = alloc_state(tr, msg, msg_len);
  }
  if (st != SPARROW_TRAIN_OK) {
    sparrow_trainer_free(tr);
    return st;
  }
  sparrow_gpt_init_params(&run->model, &tr->layout, run->seed, tr->params);
  st = backend->ops->load(backend->impl, tr->params, NULL, NULL, NULL, msg, msg_len);
  if (st == SPARROW_TRAIN_OK && run->density_den > 1 && run->dense_steps == 0) {
    st = apply_masks(tr, msg, msg_len);
  }
  if (st != SPARROW_TRAIN_OK) {
    sparrow_trainer_free(tr);
  }
  return st;
}

sparrow_train_status_t sparrow_trainer_resume(sparrow_trainer_t *tr,
                                              const sparrow_train_ckpt_t *ckpt,
                                              const sparrow_train_data_t *data,
                                              sparrow_train_backend_t *backend, char *msg,
                                              size_t msg_len) {
  memset(tr, 0, sizeof(*tr));
  if (ckpt->data_bytes != data->n || ckpt->data_hash != data->hash) {
    return sparrow_train_fail(SPARROW_TRAIN_E_DATA, msg, msg_len,
                              "the checkpoint was trained on other data (%llu bytes, FNV-1a "
                              "%016llx; this text has %llu bytes, %016llx)",
                              (unsigned long long)ckpt->data_bytes,
                              (unsigned long long)ckpt->data_hash, (unsigned long long)data->n,
                              (unsigned long long)data->hash);
  }
  if (ckpt->run.model.vocab != data->vocab || memcmp(ckpt->chars, data->chars, data->vocab) != 0) {
    return sparrow_train_fail(SPARROW_TRAIN_E_DATA, msg, msg_len,
                              "the checkpoint's vocabulary differs from the data's");
  }
  sparrow_train_status_t st = check_run(&ckpt->run, data, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  tr->run = ckpt->run;
  tr->data = data;
  tr->backend = backend;
  tr->step = ckpt->step;
  tr->rng = ckpt->rng;
  tr->masks_active = ckpt->masks_active;
  tr->base_cycles = ckpt->cycles;
  tr->base_dram_bytes = ckpt->dram_bytes;
  st = sparrow_gpt_layout_init(&tr->run.model, &tr->layout, msg, msg_len);
  if (st == SPARROW_TRAIN_OK) {
    st = alloc_state(tr, msg, msg_len);
  }
  if (st != SPARROW_TRAIN_OK) {
    sparrow_trainer_free(tr);
    return st;
  }
  size_t fb = tr->layout.n_params * sizeof(float);
  memcpy(tr->params, ckpt->params, fb);
  memcpy(tr->m, ckpt->m, fb);
  memcpy(tr->v, ckpt->v, fb);
  memcpy(tr->masks, ckpt->masks, tr->layout.mask_bytes);
  st = backend->ops->load(backend->impl, tr->params, tr->m, tr->v,
                          tr->masks_active ? tr->masks : NULL, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    sparrow_trainer_free(tr);
  }
  return st;
}

sparrow_train_status_t sparrow_trainer_step(sparrow_trainer_t *tr,
                                            sparrow_train_step_result_t *result, char *msg,
                                            size_t msg_len) {
  sparrow_train_backend_t *be = tr->backend;
  const sparrow_gpt_config_t *c = &tr->run.model;
  sparrow_train_step_result_t r;
  memset(&r, 0, sizeof(r));
  sparrow_train_status_t st = SPARROW_TRAIN_OK;
  if (masks_due(tr)) {
    st = apply_masks(tr, msg, msg_len);
    if (st != SPARROW_TRAIN_OK) {
      return st;
    }
    r.masks_applied = true;
  }
  if (tr->masks_applied_early) {
    r.masks_applied = true;  // by the check just before this step
    tr->masks_applied_early = false;
  }
  sparrow_train_data_batch(tr->data, SPARROW_TRAIN_SPLIT_TRAIN, &tr->rng, c->batch, c->n_ctx,
                           tr->inputs, tr->targets);
  r.step = tr->step + 1;
  r.lr = sparrow_adamw_lr(&tr->run.adamw, tr->step, tr->run.steps, tr->run.warmup);
  if (tr->check_pending && tr->check_step == r.step) {
    // The check ran this batch from this state on the device: its loss and gradients are this
    // step's.
    r.loss = tr->check_loss;
  } else {
    st = be->ops->forward(be->impl, tr->inputs, tr->targets, c->batch, c->n_ctx, &r.loss, msg,
                          msg_len);
    if (st == SPARROW_TRAIN_OK) {
      st = be->ops->backward(be->impl, msg, msg_len);
    }
  }
  tr->check_pending = false;
  if (st == SPARROW_TRAIN_OK) {
    st = be->ops->step(be->impl, r.lr, tr->step + 1, &r.grad_norm, msg, msg_len);
  }
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  tr->step++;
  if (result != NULL) {
    *result = r;
  }
  if (!isfinite(r.loss) || !isfinite(r.grad_norm)) {
    return sparrow_train_fail(SPARROW_TRAIN_E_NAN, msg, msg_len,
                              "step %llu: loss %g, gradient norm %g (not finite; try a lower --lr)",
                              (unsigned long long)r.step, (double)r.loss, (double)r.grad_norm);
  }
  return SPARROW_TRAIN_OK;
}

sparrow_train_status_t sparrow_trainer_eval(sparrow_trainer_t *tr, float *val_loss, char *msg,
                                            size_t msg_len) {
  sparrow_train_backend_t *be = tr->backend;
  const sparrow_gpt_config_t *c = &tr->run.model;
  uint64_t rng = VAL_STATE;
  tr->check_pending = false;  // the validation forwards replace the device's activations
  double sum = 0.0;
  for (uint32_t i = 0; i < tr->run.val_batches; i++) {
    sparrow_train_data_batch(tr->data, SPARROW_TRAIN_SPLIT_VAL, &rng, c->batch, c->n_ctx,
                             tr->inputs, tr->targets);
    float loss = 0.0f;
    sparrow_train_status_t st = be->ops->forward(be->impl, tr->inputs, tr->targets, c->batch,
                                                 c->n_ctx, &loss, msg, msg_len);
    if (st != SPARROW_TRAIN_OK) {
      return st;
    }
    sum += loss;
  }
  *val_loss = (float)(sum / tr->run.val_batches);
  return SPARROW_TRAIN_OK;
}

sparrow_train_status_t sparrow_trainer_save(sparrow_trainer_t *tr, const char *path, char *msg,
                                            size_t msg_len) {
  sparrow_train_backend_t *be = tr->backend;
  sparrow_train_status_t st = be->ops->save(be->impl, tr->params, tr->m, tr->v, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  sparrow_train_ckpt_t c;
  memset(&c, 0, sizeof(c));
  c.run = tr->run;
  c.step = tr->step;
  c.rng = tr->rng;
  c.data_bytes = tr->data->n;
  c.data_hash = tr->data->hash;
  memcpy(c.chars, tr->data->chars, sizeof(c.chars));
  c.masks_active = tr->masks_active;
  sparrow_train_counters_t cnt;
  sparrow_trainer_counters(tr, &cnt);
  c.cycles = cnt.cycles;
  c.dram_bytes = cnt.dram_bytes;
  c.n_params = tr->layout.n_params;
  c.mask_bytes = tr->layout.mask_bytes;
  c.params = tr->params;
  c.m = tr->m;
  c.v = tr->v;
  c.masks = tr->masks;
  return sparrow_train_ckpt_write(path, &c, msg, msg_len);
}

void sparrow_trainer_counters(const sparrow_trainer_t *tr, sparrow_train_counters_t *out) {
  tr->backend->ops->counters(tr->backend->impl, out);
  out->cycles += tr->base_cycles;
  out->dram_bytes += tr->base_dram_bytes;
}

void sparrow_trainer_free(sparrow_trainer_t *tr) {
  if (tr == NULL) {
    return;
  }
  sparrow_gpt_layout_free(&tr->layout);
  free(tr->params);
  free(tr->m);
  free(tr->v);
  free(tr->masks);
  free(tr->inputs);
  free(tr->targets);
  memset(tr, 0, sizeof(*tr));
}

static double rel_err(const float *dev, const float *ref, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)dev[i] - (double)ref[i];
    num += d * d;
    den += (double)ref[i] * (double)ref[i];
  }
  if (den == 0.0) {
    return num == 0.0 ? 0.0 : INFINITY;
  }
  return sqrt(num / den);
}

sparrow_train_status_t sparrow_trainer_check(sparrow_trainer_t *tr, sparrow_train_backend_t *ref,
                                             const sparrow_train_check_tol_t *tol,
                                             sparrow_train_check_report_fn report, void *ctx,
                                             char *msg, size_t msg_len) {
  sparrow_train_backend_t *dev = tr->backend;
  const sparrow_gpt_config_t *c = &tr->run.model;
  size_t n = tr->layout.n_params;
  tr->check_pending = false;
  // The state of the next step: masks due before it come into force now.
  if (masks_due(tr)) {
    sparrow_train_status_t st = apply_masks(tr, msg, msg_len);
    if (st != SPARROW_TRAIN_OK) {
      return st;
    }
    tr->masks_applied_early = true;
  }
  // The batch of the next step, from a copy of the sampler: the run itself is not disturbed.
  uint64_t rng = tr->rng;
  sparrow_train_data_batch(tr->data, SPARROW_TRAIN_SPLIT_TRAIN, &rng, c->batch, c->n_ctx,
                           tr->inputs, tr->targets);
  float *g_dev = malloc(n * sizeof(float));
  float *g_ref = malloc(n * sizeof(float));
  if (g_dev == NULL || g_ref == NULL) {
    free(g_dev);
    free(g_ref);
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len, "check: out of memory");
  }
  float loss_dev = 0.0f, loss_ref = 0.0f;
  sparrow_train_status_t st = dev->ops->save(dev->impl, tr->params, tr->m, tr->v, msg, msg_len);
  if (st == SPARROW_TRAIN_OK) {
    st = ref->ops->load(ref->impl, tr->params, tr->m, tr->v, tr->masks_active ? tr->masks : NULL,
                        msg, msg_len);
  }
  sparrow_train_backend_t *both[2] = {dev, ref};
  float *losses[2] = {&loss_dev, &loss_ref};
  float *grads[2] = {g_dev, g_ref};
  for (int i = 0; i < 2 && st == SPARROW_TRAIN_OK; i++) {
    sparrow_train_backend_t *be = both[i];
    st = be->ops->forward(be->impl, tr->inputs, tr->targets, c->batch, c->n_ctx, losses[i], msg,
                          msg_len);
    if (st == SPARROW_TRAIN_OK) {
      st = be->ops->backward(be->impl, msg, msg_len);
    }
    if (st == SPARROW_TRAIN_OK) {
      st = be->ops->grads(be->impl, grads[i], msg, msg_len);
    }
  }
  if (st != SPARROW_TRAIN_OK) {
    free(g_dev);
    free(g_ref);
    return st;
  }
  // The device's forward and backward of the next step are done (dev ran first; the reference's
  // run does not touch it).
  tr->check_pending = true;
  tr->check_step = tr->step + 1;
  tr->check_loss = loss_dev;
  char worst[96] = "";
  double worst_ratio = 0.0;
  double loss_err = loss_ref != 0.0f ? fabs((double)loss_dev - loss_ref) / fabs((double)loss_ref)
                                     : fabs((double)loss_dev);
  if (report != NULL) {
    report(ctx, "loss", loss_err, tol->loss);
  }
  if (!(loss_err <= tol->loss)) {
    worst_ratio = INFINITY;
    snprintf(worst, sizeof(worst), "loss (%.3g against %.3g)", loss_err, tol->loss);
  }
  for (int t = 0; t < SPARROW_GPT_TENSORS; t++) {
    bool layered = t != SPARROW_GPT_WTE && t != SPARROW_GPT_WPE && t != SPARROW_GPT_LNFW &&
                   t != SPARROW_GPT_LNFB;
    uint32_t slices = layered ? c->n_layer : 1;
    size_t per = tr->layout.size[t] / slices;
    for (uint32_t l = 0; l < slices; l++) {
      size_t off = tr->layout.offset[t] + l * per;
      double err = rel_err(g_dev + off, g_ref + off, per);
      char what[48];
      if (layered) {
        snprintf(what, sizeof(what), "h%u.%s", l, sparrow_gpt_tensor_name((sparrow_gpt_tensor_t)t));
      } else {
        snprintf(what, sizeof(what), "%s", sparrow_gpt_tensor_name((sparrow_gpt_tensor_t)t));
      }
      if (report != NULL) {
        report(ctx, what, err, tol->grad);
      }
      double ratio = err / tol->grad;
      if (!(err <= tol->grad) && !(ratio <= worst_ratio)) {
        worst_ratio = isnan(ratio) ? INFINITY : ratio;
        snprintf(worst, sizeof(worst), "gradient %s (%.3g against %.3g)", what, err, tol->grad);
      }
    }
  }
  free(g_dev);
  free(g_ref);
  if (worst[0] != '\0') {
    return sparrow_train_fail(SPARROW_TRAIN_E_CHECK, msg, msg_len,
                              "check before step %llu failed: %s exceeds its tolerance",
                              (unsigned long long)tr->step + 1, worst);
  }
  return SPARROW_TRAIN_OK;
}
