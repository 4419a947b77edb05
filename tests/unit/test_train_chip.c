// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the chip backend (host/train/backend_chip.c) through the driver and sparrow-sim's
// golden model, configuration S, on a small model: the distribution at one position (what
// `sparrow sample` draws from) against the CPU reference's, a forward and backward against the
// reference's loss and gradients, the counters (their breakdown per kind of operator sums to the
// totals; the PCUs' busy cycles and the DRAM port's occupancy come from the driver's totals),
// sparse steps (the absent blocks of the weights and moments stay exactly zero), the execution
// modes kbk and df bit-identical over a step, the calls in the wrong order and bad arguments
// refused with their reasons, and devices that cannot be used. The longer runs (training with
// checks, RTL against golden model, resume) are tests/list.d/train.sh --train-chip-e2e.

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "gpt.h"
#include "rng.h"
#include "sparrow.h"

#define DEVICE "sim:model,config=S"

static char msg[1024];

static sparrow_gpt_config_t small_config(void) {
  sparrow_gpt_config_t c = {.n_layer = 2,
                            .n_head = 2,
                            .n_embd = 32,
                            .n_ctx = 16,
                            .batch = 2,
                            .vocab = 21,
                            .vocab_padded = 24,
                            .block = 8};
  return c;
}

// The chip and the reference with the same weights (the reference's initialisation, seed 7).
static void open_both(sparrow_train_backend_t *chip, sparrow_train_backend_t *ref) {
  sparrow_gpt_config_t c = small_config();
  sparrow_adamw_t hp;
  sparrow_adamw_defaults(&hp);
  ck_assert_msg(sparrow_train_backend_open(DEVICE, &c, &hp, SPARROW_TRAIN_MODE_KBK, chip, msg,
                                           sizeof(msg)) == SPARROW_TRAIN_OK,
                "%s", msg);
  ck_assert_int_eq(
      sparrow_train_backend_open("ref", &c, &hp, SPARROW_TRAIN_MODE_KBK, ref, msg, sizeof(msg)),
      SPARROW_TRAIN_OK);
  sparrow_gpt_t *model = sparrow_train_backend_ref_model(ref);
  sparrow_gpt_init_params(&c, &model->layout, 7, model->params);
  ck_assert_int_eq(chip->ops->load(chip->impl, model->params, NULL, NULL, NULL, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
}

static double rel_err(const float *a, const float *b, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; i++) {
    num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    den += (double)b[i] * b[i];
  }
  return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

START_TEST(test_probs_like_reference) {
  sparrow_train_backend_t chip, ref;
  open_both(&chip, &ref);
  sparrow_gpt_config_t c = small_config();
  uint32_t in[5] = {3, 1, 4, 1, 5};
  float pc[24], pr[24];
  for (uint32_t T = 1; T <= 5; T += 4) {
    ck_assert_msg(
        chip.ops->forward(chip.impl, in, NULL, 1, T, NULL, msg, sizeof(msg)) == SPARROW_TRAIN_OK,
        "%s", msg);
    ck_assert_int_eq(ref.ops->forward(ref.impl, in, NULL, 1, T, NULL, msg, sizeof(msg)),
                     SPARROW_TRAIN_OK);
    ck_assert_int_eq(chip.ops->probs(chip.impl, 0, T - 1, pc, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_int_eq(ref.ops->probs(ref.impl, 0, T - 1, pr, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    double sum = 0.0;
    for (uint32_t v = 0; v < c.vocab; v++) {
      ck_assert(pc[v] > 0.0f);
      sum += pc[v];
    }
    for (uint32_t v = c.vocab; v < c.vocab_padded; v++) {
      ck_assert(pc[v] == 0.0f);  // the padding tokens are never drawn
    }
    double err = rel_err(pc, pr, c.vocab_padded);
    printf(
        "probabilities after %u tokens: normwise error against the reference %.2e (tolerance "
        "1e-5), sum - 1 = %.1e\n",
        T, err, sum - 1.0);
    ck_assert(err < 1e-5);
    ck_assert(fabs(sum - 1.0) < 1e-5);
  }
  // Only the last forward's positions exist.
  ck_assert_int_eq(chip.ops->probs(chip.impl, 0, 5, pc, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  ck_assert_ptr_nonnull(strstr(msg, "the last forward was 1 x 5"));
  ck_assert_int_eq(chip.ops->probs(chip.impl, 1, 0, pc, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  sparrow_train_backend_close(&chip);
  sparrow_train_backend_close(&ref);
}
END_TEST

START_TEST(test_step_like_reference) {
  sparrow_train_backend_t chip, ref;
  open_both(&chip, &ref);
  sparrow_gpt_config_t c = small_config();
  sparrow_gpt_layout_t *layout = &sparrow_train_backend_ref_model(&ref)->layout;
  size_t n = layout->n_params;
  uint32_t in[32], tg[32];
  uint64_t r = 5;
  for (int i = 0; i < 32; i++) {
    in[i] = (uint32_t)(sparrow_train_rng_next(&r) % c.vocab);
    tg[i] = (uint32_t)(sparrow_train_rng_next(&r) % c.vocab);
  }
  float lc = 0.0f, lr = 0.0f;
  float *gc = malloc(n * sizeof(float)), *gr = malloc(n * sizeof(float));
  ck_assert_msg(
      chip.ops->forward(chip.impl, in, tg, 2, 16, &lc, msg, sizeof(msg)) == SPARROW_TRAIN_OK, "%s",
      msg);
  ck_assert_int_eq(chip.ops->backward(chip.impl, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(chip.ops->grads(chip.impl, gc, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(ref.ops->forward(ref.impl, in, tg, 2, 16, &lr, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
  ck_assert_int_eq(ref.ops->backward(ref.impl, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(ref.ops->grads(ref.impl, gr, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  double loss_err = fabs((double)lc - lr) / lr, worst = 0.0;
  for (int t = 0; t < SPARROW_GPT_TENSORS; t++) {
    double e = rel_err(gc + layout->offset[t], gr + layout->offset[t], layout->size[t]);
    worst = e > worst ? e : worst;
  }
  printf(
      "one step: loss %.6f (reference %.6f, error %.1e), largest gradient error %.2e "
      "(tolerances 1e-5, 1e-4)\n",
      (double)lc, (double)lr, loss_err, worst);
  ck_assert(loss_err < 1e-5 && worst < 1e-4);
  // The padding rows of the embedding get exactly zero gradient.
  for (size_t i = (size_t)c.vocab * c.n_embd; i < (size_t)c.vocab_padded * c.n_embd; i++) {
    ck_assert(gc[layout->offset[SPARROW_GPT_WTE] + i] == 0.0f);
  }
  // The counters: everything ran on the fabric, and the kinds add up to the totals.
  sparrow_train_counters_t cnt;
  chip.ops->counters(chip.impl, &cnt);
  uint64_t cyc = 0, dram = 0;
  for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
    cyc += cnt.kind_cycles[k];
    dram += cnt.kind_dram_bytes[k];
    if (k != SPARROW_TRAIN_OP_OPTIMIZER && k != SPARROW_TRAIN_OP_SECTION) {  // kbk: no sections
      ck_assert_msg(cnt.kind_cycles[k] > 0, "no cycles for %s",
                    sparrow_train_op_kind_name((sparrow_train_op_kind_t)k));
    }
  }
  ck_assert(cyc == cnt.cycles && dram == cnt.dram_bytes);
  ck_assert(cnt.kind_cycles[SPARROW_TRAIN_OP_OPTIMIZER] == 0);  // no step yet
  // From the driver's totals: one PCU per tile of the device, the DRAM port busy for the bytes
  // at the device's bandwidth, and the PCUs busy, never longer than the launches lasted.
  sparrow_dev_t *dev = NULL;
  ck_assert_int_eq(sparrow_open(DEVICE, &dev, msg, sizeof(msg)), SPARROW_OK);
  sparrow_info_t info;
  ck_assert_int_eq(sparrow_info(dev, &info), SPARROW_OK);
  sparrow_close(dev);
  printf(
      "counters: %llu cycles, %llu DRAM bytes, PCU busy %llu (utilization %.3f), DRAM busy "
      "%llu cycles (%.3f)\n",
      (unsigned long long)cnt.cycles, (unsigned long long)cnt.dram_bytes,
      (unsigned long long)cnt.pcu_busy,
      (double)cnt.pcu_busy / ((double)info.tiles * (double)cnt.cycles),
      (unsigned long long)cnt.dram_busy, (double)cnt.dram_busy / (double)cnt.cycles);
  ck_assert_uint_eq(cnt.tiles, info.tiles);
  ck_assert_uint_eq(cnt.dram_busy, (cnt.dram_bytes + info.dram_bw - 1) / info.dram_bw);
  ck_assert(cnt.pcu_busy > 0 && cnt.pcu_busy <= (uint64_t)cnt.tiles * cnt.cycles);
  float norm = 0.0f;
  ck_assert_int_eq(chip.ops->step(chip.impl, 1e-3f, 1, &norm, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  double ref_norm = 0.0;
  for (size_t i = 0; i < n; i++) {
    ref_norm += (double)gr[i] * gr[i];
  }
  printf("gradient norm %.6f (reference %.6f)\n", (double)norm, sqrt(ref_norm));
  ck_assert(fabs(norm - sqrt(ref_norm)) < 1e-5 * sqrt(ref_norm));
  sparrow_train_counters_t after;
  chip.ops->counters(chip.impl, &after);
  ck_assert(after.kind_cycles[SPARROW_TRAIN_OP_OPTIMIZER] > 0 && after.cycles > cnt.cycles);
  free(gc);
  free(gr);
  sparrow_train_backend_close(&chip);
  sparrow_train_backend_close(&ref);
}
END_TEST

// Sparse (density 1/4, masks in force): two steps on the chip; the absent blocks of the weights and
// of both moments stay exactly zero (the optimizer runs on the stored elements only), the stored
// ones move, and the gradients match the reference's on the mask.
START_TEST(test_sparse_steps_keep_masks) {
  sparrow_train_backend_t chip, ref;
  open_both(&chip, &ref);
  sparrow_gpt_config_t c = small_config();
  sparrow_gpt_t *model = sparrow_train_backend_ref_model(&ref);
  sparrow_gpt_layout_t *layout = &model->layout;
  size_t n = layout->n_params;
  uint8_t *masks = malloc(layout->mask_bytes);
  uint64_t r = 11;
  for (size_t i = 0; i < layout->mask_bytes; i++) {
    masks[i] = (uint8_t)(sparrow_train_rng_next(&r) % 4 == 0);  // about 1 block in 4
  }
  for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
    masks[layout->mask_offset[j]] = 1;  // block (0, 0) of every layer-0 matrix is stored
  }
  sparrow_gpt_apply_masks(&c, layout, masks, model->params);
  ck_assert_int_eq(chip.ops->load(chip.impl, model->params, NULL, NULL, masks, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
  ck_assert_int_eq(ref.ops->load(ref.impl, model->params, NULL, NULL, masks, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
  float *p0 = malloc(n * sizeof(float)), *p = malloc(n * sizeof(float));
  float *m = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
  float *g = malloc(n * sizeof(float)), *gr = malloc(n * sizeof(float));
  float *masked = malloc(n * sizeof(float));
  memcpy(p0, model->params, n * sizeof(float));
  uint32_t in[32], tg[32];
  for (int step = 1; step <= 2; step++) {
    for (int i = 0; i < 32; i++) {
      in[i] = (uint32_t)(sparrow_train_rng_next(&r) % c.vocab);
      tg[i] = (uint32_t)(sparrow_train_rng_next(&r) % c.vocab);
    }
    float loss = 0.0f, norm = 0.0f;
    ck_assert_msg(
        chip.ops->forward(chip.impl, in, tg, 2, 16, &loss, msg, sizeof(msg)) == SPARROW_TRAIN_OK,
        "%s", msg);
    ck_assert_int_eq(chip.ops->backward(chip.impl, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_int_eq(chip.ops->grads(chip.impl, g, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    // The same state on the reference: the gradients agree.
    ck_assert_int_eq(chip.ops->save(chip.impl, p, m, v, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_int_eq(ref.ops->load(ref.impl, p, m, v, masks, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_int_eq(ref.ops->forward(ref.impl, in, tg, 2, 16, &loss, msg, sizeof(msg)),
                     SPARROW_TRAIN_OK);
    ck_assert_int_eq(ref.ops->backward(ref.impl, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_int_eq(ref.ops->grads(ref.impl, gr, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    double err = rel_err(g, gr, n);
    printf("sparse step %d: gradient error against the reference %.2e (all tensors together)\n",
           step, err);
    ck_assert(err < 1e-5);
    ck_assert_int_eq(chip.ops->step(chip.impl, 1e-2f, (uint64_t)step, &norm, msg, sizeof(msg)),
                     SPARROW_TRAIN_OK);
    ck_assert_int_eq(chip.ops->save(chip.impl, p, m, v, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    float *arr[3] = {p, m, v};
    for (int a = 0; a < 3; a++) {
      memcpy(masked, arr[a], n * sizeof(float));
      sparrow_gpt_apply_masks(&c, layout, masks, masked);
      ck_assert_int_eq(memcmp(masked, arr[a], n * sizeof(float)), 0);
    }
  }
  // The stored weights of every sparse layer moved.
  for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
    const float *w0 = sparrow_gpt_linear_weights(layout, p0, 0, (sparrow_gpt_linear_t)j);
    const float *w1 = sparrow_gpt_linear_weights(layout, p, 0, (sparrow_gpt_linear_t)j);
    ck_assert(w0[0] != w1[0]);
  }
  free(p0), free(p), free(m), free(v), free(g), free(gr), free(masked), free(masks);
  sparrow_train_backend_close(&chip);
  sparrow_train_backend_close(&ref);
}
END_TEST

START_TEST(test_calls_out_of_order) {
  sparrow_train_backend_t chip, ref;
  open_both(&chip, &ref);
  sparrow_gpt_config_t c = small_config();
  float *g = malloc(sparrow_train_backend_ref_model(&ref)->layout.n_params * sizeof(float));
  float norm = 0.0f;
  ck_assert_int_eq(chip.ops->grads(chip.impl, g, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  printf("grads first: %s\n", msg);
  ck_assert_int_eq(chip.ops->step(chip.impl, 1e-3f, 1, &norm, msg, sizeof(msg)),
                   SPARROW_TRAIN_E_ARG);
  printf("step first: %s\n", msg);
  ck_assert_int_eq(chip.ops->backward(chip.impl, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  uint32_t in[32] = {0}, tg[32] = {0};
  ck_assert_int_eq(chip.ops->forward(chip.impl, in, NULL, 1, 3, NULL, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
  ck_assert_int_eq(chip.ops->backward(chip.impl, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  printf("backward without targets: %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "no targets"));
  ck_assert_int_eq(chip.ops->forward(chip.impl, in, tg, 3, 16, NULL, msg, sizeof(msg)),
                   SPARROW_TRAIN_E_ARG);
  printf("too large: %s\n", msg);
  tg[4] = c.vocab;
  ck_assert_int_eq(chip.ops->forward(chip.impl, in, tg, 1, 16, NULL, msg, sizeof(msg)),
                   SPARROW_TRAIN_E_ARG);
  printf("bad token: %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "token 4 is outside the vocabulary of 21"));
  free(g);
  sparrow_train_backend_close(&chip);
  sparrow_train_backend_close(&ref);
}
END_TEST

// The execution modes give bit-identical results (backend.h): one sparse step (density 1/2, masks
// in force) from the same state and batch in kbk and in df mode: the same loss, gradients, gradient
// norm, and parameters and moments after AdamW, bit for bit.
START_TEST(test_modes_bit_identical) {
  sparrow_gpt_config_t c = small_config();
  sparrow_adamw_t hp;
  sparrow_adamw_defaults(&hp);
  sparrow_train_backend_t be[2], ref;
  const sparrow_train_mode_t modes[2] = {SPARROW_TRAIN_MODE_KBK, SPARROW_TRAIN_MODE_DF};
  ck_assert_int_eq(
      sparrow_train_backend_open("ref", &c, &hp, SPARROW_TRAIN_MODE_KBK, &ref, msg, sizeof(msg)),
      SPARROW_TRAIN_OK);
  sparrow_gpt_t *model = sparrow_train_backend_ref_model(&ref);
  sparrow_gpt_layout_t *layout = &model->layout;
  size_t n = layout->n_params;
  sparrow_gpt_init_params(&c, layout, 9, model->params);
  uint8_t *masks = malloc(layout->mask_bytes);
  uint64_t r = 13;
  for (size_t i = 0; i < layout->mask_bytes; i++) {
    masks[i] = (uint8_t)(sparrow_train_rng_next(&r) % 2);
  }
  sparrow_gpt_apply_masks(&c, layout, masks, model->params);
  uint32_t in[32], tg[32];
  for (int i = 0; i < 32; i++) {
    in[i] = (uint32_t)(sparrow_train_rng_next(&r) % c.vocab);
    tg[i] = (uint32_t)(sparrow_train_rng_next(&r) % c.vocab);
  }
  float loss[2], norm[2], *g[2], *p[2], *m[2], *v[2];
  sparrow_train_counters_t cnt[2];
  for (int k = 0; k < 2; k++) {
    ck_assert_msg(sparrow_train_backend_open(DEVICE, &c, &hp, modes[k], &be[k], msg, sizeof(msg)) ==
                      SPARROW_TRAIN_OK,
                  "%s", msg);
    g[k] = malloc(n * sizeof(float)), p[k] = malloc(n * sizeof(float));
    m[k] = malloc(n * sizeof(float)), v[k] = malloc(n * sizeof(float));
    ck_assert_int_eq(
        be[k].ops->load(be[k].impl, model->params, NULL, NULL, masks, msg, sizeof(msg)),
        SPARROW_TRAIN_OK);
    ck_assert_msg(be[k].ops->forward(be[k].impl, in, tg, 2, 16, &loss[k], msg, sizeof(msg)) ==
                      SPARROW_TRAIN_OK,
                  "%s", msg);
    ck_assert_int_eq(be[k].ops->backward(be[k].impl, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_int_eq(be[k].ops->grads(be[k].impl, g[k], msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_int_eq(be[k].ops->step(be[k].impl, 1e-2f, 1, &norm[k], msg, sizeof(msg)),
                     SPARROW_TRAIN_OK);
    ck_assert_int_eq(be[k].ops->save(be[k].impl, p[k], m[k], v[k], msg, sizeof(msg)),
                     SPARROW_TRAIN_OK);
    be[k].ops->counters(be[k].impl, &cnt[k]);
    printf("mode %s: loss %.9g, gradient norm %.9g, %llu cycles, %llu DRAM bytes\n",
           sparrow_train_mode_name(modes[k]), (double)loss[k], (double)norm[k],
           (unsigned long long)cnt[k].cycles, (unsigned long long)cnt[k].dram_bytes);
  }
  ck_assert_int_eq(memcmp(&loss[0], &loss[1], sizeof(float)), 0);
  ck_assert_int_eq(memcmp(&norm[0], &norm[1], sizeof(float)), 0);
  ck_assert_int_eq(memcmp(g[0], g[1], n * sizeof(float)), 0);
  ck_assert_int_eq(memcmp(p[0], p[1], n * sizeof(float)), 0);
  ck_assert_int_eq(memcmp(m[0], m[1], n * sizeof(float)), 0);
  ck_assert_int_eq(memcmp(v[0], v[1], n * sizeof(float)), 0);
  // The modes differ where they should: df ran sections and moved fewer DRAM bytes.
  ck_assert_uint_eq(cnt[0].kind_cycles[SPARROW_TRAIN_OP_SECTION], 0);
  ck_assert_uint_gt(cnt[1].kind_cycles[SPARROW_TRAIN_OP_SECTION], 0);
  ck_assert_uint_lt(cnt[1].dram_bytes, cnt[0].dram_bytes);
  for (int k = 0; k < 2; k++) {
    ck_assert(cnt[k].cycles > 0);
    free(g[k]), free(p[k]), free(m[k]), free(v[k]);
    sparrow_train_backend_close(&be[k]);
  }
  free(masks);
  sparrow_train_backend_close(&ref);
}
END_TEST

START_TEST(test_devices) {
  sparrow_gpt_config_t c = small_config();
  sparrow_adamw_t hp;
  sparrow_adamw_defaults(&hp);
  sparrow_train_backend_t be;
  ck_assert_int_eq(sparrow_train_backend_check_device("bogus", msg, sizeof(msg)),
                   SPARROW_TRAIN_E_ARG);
  printf("%s\n", msg);
  ck_assert_int_eq(sparrow_train_backend_check_device("", msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  const char *ok[] = {"ref", "sim", "sim:model,config=S", "unix:/tmp/x", "tcp:127.0.0.1:7", "usb"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    ck_assert_int_eq(sparrow_train_backend_check_device(ok[i], msg, sizeof(msg)), SPARROW_TRAIN_OK);
  }
  ck_assert_int_eq(sparrow_train_backend_open("tcp:127.0.0.1:1", &c, &hp, SPARROW_TRAIN_MODE_KBK,
                                              &be, msg, sizeof(msg)),
                   SPARROW_TRAIN_E_DEVICE);
  printf("%s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "device 'tcp:127.0.0.1:1'"));
  ck_assert_int_eq(sparrow_train_backend_open("sim:model,config=X", &c, &hp, SPARROW_TRAIN_MODE_DF,
                                              &be, msg, sizeof(msg)),
                   SPARROW_TRAIN_E_DEVICE);
  printf("%s\n", msg);
  // A value that is not a mode is refused before anything is opened.
  ck_assert_int_eq(
      sparrow_train_backend_open(DEVICE, &c, &hp, (sparrow_train_mode_t)7, &be, msg, sizeof(msg)),
      SPARROW_TRAIN_E_ARG);
  printf("%s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "neither kbk nor df"));
  // The modes' names and their parser.
  sparrow_train_mode_t mode = SPARROW_TRAIN_MODE_KBK;
  ck_assert_str_eq(sparrow_train_mode_name(SPARROW_TRAIN_MODE_KBK), "kbk");
  ck_assert_str_eq(sparrow_train_mode_name(SPARROW_TRAIN_MODE_DF), "df");
  ck_assert_str_eq(sparrow_train_mode_name((sparrow_train_mode_t)7), "?");
  ck_assert_int_eq(sparrow_train_mode_parse("df", &mode, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(mode, SPARROW_TRAIN_MODE_DF);
  ck_assert_int_eq(sparrow_train_mode_parse("kbk", &mode, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(mode, SPARROW_TRAIN_MODE_KBK);
  const char *bad[] = {"DF", "", "kbk ", "dataflow", NULL};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_int_eq(sparrow_train_mode_parse(bad[i], &mode, msg, sizeof(msg)),
                     SPARROW_TRAIN_E_ARG);
    ck_assert_int_eq(mode, SPARROW_TRAIN_MODE_KBK);  // untouched
  }
  ck_assert_str_eq(msg, "mode '' is neither kbk (kernel by kernel) nor df (dataflow)");
}
END_TEST

int main(void) {
  Suite *suite = suite_create("train_chip");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_probs_like_reference);
  tcase_add_test(tc, test_step_like_reference);
  tcase_add_test(tc, test_sparse_steps_keep_masks);
  tcase_add_test(tc, test_calls_out_of_order);
  tcase_add_test(tc, test_modes_bit_identical);
  tcase_add_test(tc, test_devices);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
