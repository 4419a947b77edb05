// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the training loop and its checkpoints (host/train/trainer.c, ckpt.c): the
// checkpoint round trip (every field and every byte of the arrays), corrupt, truncated and foreign
// files rejected with their reasons, "kill and resume" (a run interrupted after k steps and resumed
// from its checkpoint by a fresh process state repeats the uninterrupted run's losses and weights
// bit for bit, with the masks coming into force before and after the interruption), sparse
// training (balanced masks, pruned weights exactly zero throughout), and the device-vs-reference
// check (passes on equal backends, names the tensor that differs; the step after a check reuses
// its device pass and gives the same bits).

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "ckpt.h"
#include "sparrow_mask.h"
#include "trainer.h"

static char g_dir[256];
static char g_text[300];
static char msg[1024];

static void setup(void) {
  snprintf(g_dir, sizeof(g_dir), "/tmp/sparrow-test-train-ckpt-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(g_dir));
  // A text with some structure to learn: words from a small list.
  static const char *const kWords[] = {"in",    "the", "beginning", "was", "word",  "and",
                                       "light", "God", "said",      "let", "there", "be"};
  snprintf(g_text, sizeof(g_text), "%s/text.txt", g_dir);
  FILE *f = fopen(g_text, "w");
  ck_assert_ptr_nonnull(f);
  uint64_t r = 3;
  for (int i = 0; i < 3000; i++) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    fprintf(f, "%s%s", kWords[(r >> 33) % 12], (r >> 40) % 9 == 0 ? ".\n" : " ");
  }
  fclose(f);
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
  ck_assert_int_eq(system(cmd), 0);
}

// A small run: 1 layer, 2 heads, width 16, context 16, batch 2.
static void small_run(const sparrow_train_data_t *d, sparrow_train_run_t *run, uint64_t steps,
                      uint32_t den, uint64_t dense_steps, sparrow_train_mask_kind_t kind) {
  sparrow_train_run_defaults(run);
  run->model = (sparrow_gpt_config_t){.n_layer = 1,
                                      .n_head = 2,
                                      .n_embd = 16,
                                      .n_ctx = 16,
                                      .batch = 2,
                                      .vocab = d->vocab,
                                      .vocab_padded = (d->vocab + 7) / 8 * 8,
                                      .block = 8};
  run->seed = 11;
  run->steps = steps;
  run->warmup = sparrow_adamw_warmup(steps);
  run->adamw.lr = 3e-3f;
  run->density_den = den;
  run->dense_steps = dense_steps;
  run->mask_kind = kind;
  run->val_batches = 2;
}

static void load_text(sparrow_train_data_t *d) {
  ck_assert_int_eq(sparrow_train_data_load(g_text, 16, d, msg, sizeof(msg)), SPARROW_TRAIN_OK);
}

static void open_ref(const sparrow_train_run_t *run, sparrow_train_backend_t *be) {
  ck_assert_int_eq(sparrow_train_backend_ref_open(&run->model, &run->adamw, be, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
}

// Trains steps_a steps from scratch, or (k > 0) k steps, checkpoint, everything freed, resumed
// from the file and trained to the end. Returns the losses and the final parameters.
static void train(const sparrow_train_run_t *run, uint64_t k, float *losses, float *params,
                  float *val) {
  sparrow_train_data_t d;
  load_text(&d);
  sparrow_train_backend_t be;
  open_ref(run, &be);
  sparrow_trainer_t tr;
  ck_assert_int_eq(sparrow_trainer_init(&tr, run, &d, &be, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  uint64_t stop = k > 0 ? k : run->steps;
  while (tr.step < stop) {
    sparrow_train_step_result_t r;
    ck_assert_int_eq(sparrow_trainer_step(&tr, &r, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    losses[r.step - 1] = r.loss;
  }
  if (k > 0) {
    char path[300];
    snprintf(path, sizeof(path), "%s/ckpt.bin", g_dir);
    ck_assert_int_eq(sparrow_trainer_save(&tr, path, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    // "Kill": nothing of the first process survives but the file and the text.
    sparrow_trainer_free(&tr);
    sparrow_train_backend_close(&be);
    sparrow_train_data_free(&d);
    sparrow_train_ckpt_t ck;
    ck_assert_int_eq(sparrow_train_ckpt_read(path, &ck, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_uint_eq(ck.step, k);
    load_text(&d);
    open_ref(&ck.run, &be);
    ck_assert_int_eq(sparrow_trainer_resume(&tr, &ck, &d, &be, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    sparrow_train_ckpt_free(&ck);
    while (tr.step < run->steps) {
      sparrow_train_step_result_t r;
      ck_assert_int_eq(sparrow_trainer_step(&tr, &r, msg, sizeof(msg)), SPARROW_TRAIN_OK);
      losses[r.step - 1] = r.loss;
    }
  }
  ck_assert_int_eq(sparrow_trainer_eval(&tr, val, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(be.ops->save(be.impl, params, NULL, NULL, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  sparrow_trainer_free(&tr);
  sparrow_train_backend_close(&be);
  sparrow_train_data_free(&d);
}

static void check_resume(uint32_t den, uint64_t dense_steps, uint64_t k) {
  enum { STEPS = 14 };
  sparrow_train_data_t d;
  load_text(&d);
  sparrow_train_run_t run;
  small_run(&d, &run, STEPS, den, dense_steps,
            dense_steps > 0 ? SPARROW_TRAIN_MASK_MAGNITUDE : SPARROW_TRAIN_MASK_RANDOM);
  sparrow_gpt_layout_t lay;
  ck_assert_int_eq(sparrow_gpt_layout_init(&run.model, &lay, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  float la[STEPS], lb[STEPS], va = 0, vb = 0;
  float *pa = malloc(lay.n_params * 4), *pb = malloc(lay.n_params * 4);
  train(&run, 0, la, pa, &va);
  train(&run, k, lb, pb, &vb);
  printf("density 1/%u, dense steps %llu, interrupted after %llu of %d: losses", den,
         (unsigned long long)dense_steps, (unsigned long long)k, STEPS);
  for (int i = 0; i < STEPS; i++) {
    printf(" %.4f%s", (double)la[i], la[i] == lb[i] ? "" : "(differs)");
  }
  printf("; validation %.6f / %.6f\n", (double)va, (double)vb);
  ck_assert_int_eq(memcmp(la, lb, sizeof(la)), 0);
  ck_assert_int_eq(memcmp(pa, pb, lay.n_params * 4), 0);
  ck_assert(va == vb);
  ck_assert(la[STEPS - 1] < la[0]);  // and it learned something
  free(pa);
  free(pb);
  sparrow_gpt_layout_free(&lay);
  sparrow_train_data_free(&d);
}

START_TEST(test_resume_dense) {
  check_resume(1, 0, 6);
}
END_TEST

START_TEST(test_resume_sparse_masks_before_kill) {
  check_resume(4, 3, 6);
}
END_TEST

START_TEST(test_resume_sparse_masks_after_kill) {
  check_resume(2, 9, 6);
}
END_TEST

START_TEST(test_resume_sparse_random_from_start) {
  check_resume(8, 0, 7);
}
END_TEST

START_TEST(test_roundtrip) {
  sparrow_train_data_t d;
  load_text(&d);
  sparrow_train_run_t run;
  small_run(&d, &run, 20, 2, 3, SPARROW_TRAIN_MASK_MAGNITUDE);
  sparrow_train_backend_t be;
  open_ref(&run, &be);
  sparrow_trainer_t tr;
  ck_assert_int_eq(sparrow_trainer_init(&tr, &run, &d, &be, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(sparrow_trainer_step(&tr, NULL, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  }
  char path[300];
  snprintf(path, sizeof(path), "%s/rt.bin", g_dir);
  ck_assert_int_eq(sparrow_trainer_save(&tr, path, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  sparrow_train_ckpt_t ck;
  ck_assert_int_eq(sparrow_train_ckpt_read(path, &ck, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(memcmp(&ck.run.model, &run.model, sizeof(run.model)), 0);
  ck_assert_int_eq(memcmp(&ck.run.adamw, &run.adamw, sizeof(run.adamw)), 0);
  ck_assert(ck.run.seed == run.seed && ck.run.steps == run.steps && ck.run.warmup == run.warmup);
  ck_assert(ck.run.density_den == 2 && ck.run.dense_steps == 3 &&
            ck.run.mask_kind == SPARROW_TRAIN_MASK_MAGNITUDE && ck.run.val_batches == 2);
  ck_assert(ck.step == 5 && ck.rng == tr.rng && ck.masks_active);
  ck_assert(ck.data_bytes == d.n && ck.data_hash == d.hash);
  ck_assert_int_eq(memcmp(ck.chars, d.chars, d.vocab), 0);
  ck_assert_uint_eq(ck.n_params, tr.layout.n_params);
  size_t fb = tr.layout.n_params * 4;
  float *p = malloc(fb), *m = malloc(fb), *v = malloc(fb);
  ck_assert_int_eq(be.ops->save(be.impl, p, m, v, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(memcmp(ck.params, p, fb), 0);
  ck_assert_int_eq(memcmp(ck.m, m, fb), 0);
  ck_assert_int_eq(memcmp(ck.v, v, fb), 0);
  ck_assert_int_eq(memcmp(ck.masks, tr.masks, tr.layout.mask_bytes), 0);
  // The run's simulated counters (0 on the reference) at offsets 184 and 192, and a resumed
  // trainer continues from them.
  ck_assert(ck.cycles == 0 && ck.dram_bytes == 0);
  ck.cycles = 0x0123456789abcdefull;
  ck.dram_bytes = 987654321ull;
  char path2[300];
  snprintf(path2, sizeof(path2), "%s/rt2.bin", g_dir);
  ck_assert_int_eq(sparrow_train_ckpt_write(path2, &ck, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  {
    uint8_t head[256];
    FILE *h = fopen(path2, "rb");
    ck_assert_uint_eq(fread(head, 1, sizeof(head), h), sizeof(head));
    fclose(h);
    uint64_t cyc = 0, dram = 0;
    for (int i = 7; i >= 0; i--) {
      cyc = cyc << 8 | head[184 + i];
      dram = dram << 8 | head[192 + i];
    }
    ck_assert(cyc == ck.cycles && dram == ck.dram_bytes);
    sparrow_train_ckpt_t ck2;
    ck_assert_int_eq(sparrow_train_ckpt_read(path2, &ck2, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert(ck2.cycles == ck.cycles && ck2.dram_bytes == ck.dram_bytes);
    sparrow_train_backend_t be2;
    open_ref(&ck2.run, &be2);
    sparrow_trainer_t tr2;
    ck_assert_int_eq(sparrow_trainer_resume(&tr2, &ck2, &d, &be2, msg, sizeof(msg)),
                     SPARROW_TRAIN_OK);
    sparrow_train_counters_t cnt;
    sparrow_trainer_counters(&tr2, &cnt);
    ck_assert(cnt.cycles == ck.cycles && cnt.dram_bytes == ck.dram_bytes);
    sparrow_trainer_free(&tr2);
    sparrow_train_backend_close(&be2);
    sparrow_train_ckpt_free(&ck2);
  }
  // The file's size is the documented one: header, three arrays, masks, checksum.
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  ck_assert_int_eq(size,
                   (long)(SPARROW_TRAIN_CKPT_HEADER_BYTES + 3 * fb + tr.layout.mask_bytes + 8));
  // No temporary file is left beside it.
  char tmp[400];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  ck_assert_int_ne(access(tmp, F_OK), 0);
  free(p), free(m), free(v);
  sparrow_train_ckpt_free(&ck);
  sparrow_trainer_free(&tr);
  sparrow_train_backend_close(&be);
  sparrow_train_data_free(&d);
}
END_TEST

// Writes a checkpoint of a fresh small run and returns its bytes.
static uint8_t *fresh_ckpt_bytes(const char *path, long *size) {
  sparrow_train_data_t d;
  load_text(&d);
  sparrow_train_run_t run;
  small_run(&d, &run, 10, 1, 0, SPARROW_TRAIN_MASK_RANDOM);
  sparrow_train_backend_t be;
  open_ref(&run, &be);
  sparrow_trainer_t tr;
  ck_assert_int_eq(sparrow_trainer_init(&tr, &run, &d, &be, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(sparrow_trainer_save(&tr, path, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  sparrow_trainer_free(&tr);
  sparrow_train_backend_close(&be);
  sparrow_train_data_free(&d);
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *bytes = malloc((size_t)*size);
  ck_assert_uint_eq(fread(bytes, 1, (size_t)*size, f), (size_t)*size);
  fclose(f);
  return bytes;
}

static void expect_bad(const char *path, const uint8_t *bytes, long size, const char *what) {
  FILE *f = fopen(path, "wb");
  fwrite(bytes, 1, (size_t)size, f);
  fclose(f);
  sparrow_train_ckpt_t ck;
  sparrow_train_status_t st = sparrow_train_ckpt_read(path, &ck, msg, sizeof(msg));
  printf("  %s\n", msg);
  ck_assert_int_eq(st, SPARROW_TRAIN_E_FORMAT);
  ck_assert_msg(strstr(msg, what) != NULL, "'%s' lacks '%s'", msg, what);
}

START_TEST(test_bad_checkpoints) {
  char path[300], bad[300];
  snprintf(path, sizeof(path), "%s/good.bin", g_dir);
  snprintf(bad, sizeof(bad), "%s/bad.bin", g_dir);
  long size = 0;
  uint8_t *bytes = fresh_ckpt_bytes(path, &size);
  sparrow_train_ckpt_t ck;
  ck_assert_int_eq(sparrow_train_ckpt_read(path, &ck, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  sparrow_train_ckpt_free(&ck);
  printf("bad checkpoints:\n");
  uint8_t *copy = malloc((size_t)size + 1);
  memcpy(copy, bytes, (size_t)size);
  copy[0] = 'X';
  expect_bad(bad, copy, size, "not a Sparrow checkpoint");
  memcpy(copy, bytes, (size_t)size);
  copy[8] = 2;  // version 2
  expect_bad(bad, copy, size, "format version 2");
  memcpy(copy, bytes, (size_t)size);
  copy[600] ^= 0x10;  // one bit of a parameter
  expect_bad(bad, copy, size, "checksum");
  memcpy(copy, bytes, (size_t)size);
  copy[16] = 0;  // zero layers
  expect_bad(bad, copy, size, "bad model");
  expect_bad(bad, bytes, size - 1, "truncated");
  expect_bad(bad, bytes, 100, "truncated");
  memcpy(copy, bytes, (size_t)size);
  copy[size] = 0;
  expect_bad(bad, copy, size + 1, "trailing");
  snprintf(bad, sizeof(bad), "%s/none.bin", g_dir);
  ck_assert_int_eq(sparrow_train_ckpt_read(bad, &ck, msg, sizeof(msg)), SPARROW_TRAIN_E_IO);
  printf("  %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "No such file"));
  free(copy);
  free(bytes);
}
END_TEST

START_TEST(test_resume_other_data) {
  char path[300];
  snprintf(path, sizeof(path), "%s/good.bin", g_dir);
  long size = 0;
  free(fresh_ckpt_bytes(path, &size));
  sparrow_train_ckpt_t ck;
  ck_assert_int_eq(sparrow_train_ckpt_read(path, &ck, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  // The same vocabulary, one byte changed.
  FILE *f = fopen(g_text, "r+");
  fseek(f, 10, SEEK_SET);
  int c = fgetc(f);
  fseek(f, 10, SEEK_SET);
  fputc(c == 'e' ? 'a' : 'e', f);
  fclose(f);
  sparrow_train_data_t d;
  load_text(&d);
  sparrow_train_backend_t be;
  open_ref(&ck.run, &be);
  sparrow_trainer_t tr;
  ck_assert_int_eq(sparrow_trainer_resume(&tr, &ck, &d, &be, msg, sizeof(msg)),
                   SPARROW_TRAIN_E_DATA);
  printf("other data: %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "other data"));
  sparrow_train_backend_close(&be);
  sparrow_train_data_free(&d);
  sparrow_train_ckpt_free(&ck);
}
END_TEST

START_TEST(test_sparse_training_keeps_masks) {
  sparrow_train_data_t d;
  load_text(&d);
  sparrow_train_run_t run;
  small_run(&d, &run, 12, 8, 4, SPARROW_TRAIN_MASK_MAGNITUDE);
  sparrow_train_backend_t be;
  open_ref(&run, &be);
  sparrow_trainer_t tr;
  ck_assert_int_eq(sparrow_trainer_init(&tr, &run, &d, &be, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert(!tr.masks_active);
  size_t fb = tr.layout.n_params * 4;
  float *p = malloc(fb), *m = malloc(fb), *v = malloc(fb), *masked = malloc(fb);
  for (int i = 0; i < 12; i++) {
    sparrow_train_step_result_t r;
    ck_assert_int_eq(sparrow_trainer_step(&tr, &r, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert(r.masks_applied == (r.step == 5));  // after 4 dense steps
    ck_assert(tr.masks_active == (r.step >= 5));
    ck_assert_int_eq(be.ops->save(be.impl, p, m, v, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    if (r.step < 5) {
      continue;
    }
    // The pruned weights and their moments are exactly zero after every step.
    float *arr[3] = {p, m, v};
    for (int a = 0; a < 3; a++) {
      memcpy(masked, arr[a], fb);
      sparrow_gpt_apply_masks(&run.model, &tr.layout, tr.masks, masked);
      ck_assert_int_eq(memcmp(masked, arr[a], fb), 0);
    }
  }
  // Balanced masks: every block column of every matrix keeps blocks_per_col blocks.
  for (uint32_t l = 0; l < run.model.n_layer; l++) {
    for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
      uint32_t br = tr.layout.mask_rows[j], bc = tr.layout.mask_cols[j];
      const uint8_t *mask = tr.masks + tr.layout.mask_offset[l * 4 + j];
      for (uint32_t c = 0; c < bc; c++) {
        uint32_t n = 0;
        for (uint32_t r = 0; r < br; r++) {
          n += mask[r * bc + c];
        }
        ck_assert_uint_eq(n, sparrow_mask_blocks_per_col(br, 8));
      }
    }
  }
  free(p), free(m), free(v), free(masked);
  sparrow_trainer_free(&tr);
  sparrow_train_backend_close(&be);
  sparrow_train_data_free(&d);
}
END_TEST

// A check runs the device's forward and backward of the next step; that step takes its loss and
// gradients from the check instead of computing them again. Checked against a run without checks:
// the same losses and parameters bit for bit, also when a check puts the masks into force (the
// step after it still reports them), and the backend computes each step's forward only once.
static int g_forwards;
static sparrow_train_backend_ops_t g_counting_ops;
static const sparrow_train_backend_ops_t *g_inner_ops;
static sparrow_train_status_t counting_forward(void *impl, const uint32_t *in, const uint32_t *tg,
                                               uint32_t B, uint32_t T, float *loss, char *e,
                                               size_t l) {
  g_forwards++;
  return g_inner_ops->forward(impl, in, tg, B, T, loss, e, l);
}

START_TEST(test_check_then_step) {
  sparrow_train_data_t d;
  load_text(&d);
  sparrow_train_run_t run;
  small_run(&d, &run, 8, 2, 3, SPARROW_TRAIN_MASK_MAGNITUDE);
  sparrow_train_backend_t plain_be, dev, ref;
  open_ref(&run, &plain_be);
  open_ref(&run, &dev);
  open_ref(&run, &ref);
  g_inner_ops = dev.ops;
  g_counting_ops = *dev.ops;
  g_counting_ops.forward = counting_forward;
  dev.ops = &g_counting_ops;
  sparrow_trainer_t plain, checked;
  ck_assert_int_eq(sparrow_trainer_init(&plain, &run, &d, &plain_be, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
  ck_assert_int_eq(sparrow_trainer_init(&checked, &run, &d, &dev, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
  sparrow_train_check_tol_t tol = {.loss = SPARROW_TRAIN_CHECK_TOL_LOSS,
                                   .grad = SPARROW_TRAIN_CHECK_TOL_GRAD};
  size_t fb = plain.layout.n_params * 4;
  float *p1 = malloc(fb), *p2 = malloc(fb);
  for (int i = 0; i < 8; i++) {
    sparrow_train_step_result_t r1, r2;
    ck_assert_int_eq(sparrow_trainer_step(&plain, &r1, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    g_forwards = 0;
    // Checks before steps 1, 4 (the masks are due: the check puts them into force) and 6.
    if (i == 0 || i == 3 || i == 5) {
      ck_assert_int_eq(sparrow_trainer_check(&checked, &ref, &tol, NULL, NULL, msg, sizeof(msg)),
                       SPARROW_TRAIN_OK);
      ck_assert(checked.masks_active == (i >= 3));
    }
    ck_assert_int_eq(sparrow_trainer_step(&checked, &r2, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_int_eq(g_forwards, 1);  // the check's forward, or the step's own
    ck_assert_int_eq(memcmp(&r1.loss, &r2.loss, sizeof(float)), 0);
    ck_assert(r1.masks_applied == r2.masks_applied);
    ck_assert(r2.masks_applied == (r2.step == 4));
    ck_assert_int_eq(plain_be.ops->save(plain_be.impl, p1, NULL, NULL, msg, sizeof(msg)),
                     SPARROW_TRAIN_OK);
    ck_assert_int_eq(dev.ops->save(dev.impl, p2, NULL, NULL, msg, sizeof(msg)), SPARROW_TRAIN_OK);
    ck_assert_int_eq(memcmp(p1, p2, fb), 0);
  }
  // A validation between the check and the step replaces the device's activations: the step
  // computes its own forward again.
  ck_assert_int_eq(sparrow_trainer_check(&checked, &ref, &tol, NULL, NULL, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
  float val = 0.0f;
  ck_assert_int_eq(sparrow_trainer_eval(&checked, &val, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  g_forwards = 0;
  checked.run.steps = plain.run.steps = 9;
  sparrow_train_step_result_t r1, r2;
  ck_assert_int_eq(sparrow_trainer_step(&plain, &r1, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(sparrow_trainer_step(&checked, &r2, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(g_forwards, 1);
  ck_assert_int_eq(memcmp(&r1.loss, &r2.loss, sizeof(float)), 0);
  printf("check then step: 9 steps, 4 checks, the same losses and weights as without checks\n");
  free(p1);
  free(p2);
  sparrow_trainer_free(&plain);
  sparrow_trainer_free(&checked);
  dev.ops = g_inner_ops;
  sparrow_train_backend_close(&plain_be);
  sparrow_train_backend_close(&dev);
  sparrow_train_backend_close(&ref);
  sparrow_train_data_free(&d);
}
END_TEST

// A backend that is the reference except for one gradient tensor, scaled by 1 + 1e-2: the check
// must name it.
typedef struct faulty {
  sparrow_train_backend_t inner;
  size_t off, len;
} faulty_t;

static sparrow_train_backend_ops_t g_faulty_ops;

static sparrow_train_status_t faulty_grads(void *impl, float *grads, char *m, size_t l) {
  faulty_t *f = impl;
  sparrow_train_status_t st = f->inner.ops->grads(f->inner.impl, grads, m, l);
  for (size_t i = f->off; i < f->off + f->len; i++) {
    grads[i] *= 1.01f;
  }
  return st;
}

static sparrow_train_status_t faulty_load(void *impl, const float *p, const float *m,
                                          const float *v, const uint8_t *masks, char *e, size_t l) {
  faulty_t *f = impl;
  return f->inner.ops->load(f->inner.impl, p, m, v, masks, e, l);
}
static sparrow_train_status_t faulty_save(void *impl, float *p, float *m, float *v, char *e,
                                          size_t l) {
  faulty_t *f = impl;
  return f->inner.ops->save(f->inner.impl, p, m, v, e, l);
}
static sparrow_train_status_t faulty_forward(void *impl, const uint32_t *in, const uint32_t *tg,
                                             uint32_t B, uint32_t T, float *loss, char *e,
                                             size_t l) {
  faulty_t *f = impl;
  return f->inner.ops->forward(f->inner.impl, in, tg, B, T, loss, e, l);
}
static sparrow_train_status_t faulty_backward(void *impl, char *e, size_t l) {
  faulty_t *f = impl;
  return f->inner.ops->backward(f->inner.impl, e, l);
}

static int g_reports;
static void count_report(void *ctx, const char *what, double err, double tol) {
  (void)ctx;
  g_reports++;
  printf("  check %-12s %.3e (tolerance %.0e)\n", what, err, tol);
}

START_TEST(test_check_against_reference) {
  sparrow_train_data_t d;
  load_text(&d);
  sparrow_train_run_t run;
  small_run(&d, &run, 10, 2, 0, SPARROW_TRAIN_MASK_RANDOM);
  sparrow_train_backend_t dev, ref;
  open_ref(&run, &dev);
  open_ref(&run, &ref);
  sparrow_trainer_t tr;
  ck_assert_int_eq(sparrow_trainer_init(&tr, &run, &d, &dev, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(sparrow_trainer_step(&tr, NULL, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  sparrow_train_check_tol_t tol = {.loss = SPARROW_TRAIN_CHECK_TOL_LOSS,
                                   .grad = SPARROW_TRAIN_CHECK_TOL_GRAD};
  uint64_t rng_before = tr.rng;
  printf("check, reference against itself:\n");
  g_reports = 0;
  ck_assert_int_eq(sparrow_trainer_check(&tr, &ref, &tol, count_report, NULL, msg, sizeof(msg)),
                   SPARROW_TRAIN_OK);
  // The loss, plus every tensor: 4 global ones and 12 per layer.
  ck_assert_int_eq(g_reports, 1 + 4 + 12 * (int)run.model.n_layer);
  ck_assert(tr.rng == rng_before);  // the run's batches are not disturbed
  // The same trainer on a device whose fc projection gradient is 1% off.
  faulty_t f = {.inner = dev,
                .off = tr.layout.offset[SPARROW_GPT_FCPROJW],
                .len = tr.layout.size[SPARROW_GPT_FCPROJW]};
  g_faulty_ops = *dev.ops;
  g_faulty_ops.load = faulty_load;
  g_faulty_ops.save = faulty_save;
  g_faulty_ops.forward = faulty_forward;
  g_faulty_ops.backward = faulty_backward;
  g_faulty_ops.grads = faulty_grads;
  sparrow_train_backend_t faulty_be = {.name = "faulty", .ops = &g_faulty_ops, .impl = &f};
  tr.backend = &faulty_be;
  printf("check, a device with h0.fcprojw 1%% off:\n");
  ck_assert_int_eq(sparrow_trainer_check(&tr, &ref, &tol, count_report, NULL, msg, sizeof(msg)),
                   SPARROW_TRAIN_E_CHECK);
  printf("  -> %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "h0.fcprojw"));
  tr.backend = &dev;
  sparrow_trainer_free(&tr);
  sparrow_train_backend_close(&dev);
  sparrow_train_backend_close(&ref);
  sparrow_train_data_free(&d);
}
END_TEST

int main(void) {
  Suite *suite = suite_create("train_ckpt");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_resume_dense);
  tcase_add_test(tc, test_resume_sparse_masks_before_kill);
  tcase_add_test(tc, test_resume_sparse_masks_after_kill);
  tcase_add_test(tc, test_resume_sparse_random_from_start);
  tcase_add_test(tc, test_roundtrip);
  tcase_add_test(tc, test_bad_checkpoints);
  tcase_add_test(tc, test_resume_other_data);
  tcase_add_test(tc, test_sparse_training_keeps_masks);
  tcase_add_test(tc, test_check_then_step);
  tcase_add_test(tc, test_check_against_reference);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? 0 : 1;
}
