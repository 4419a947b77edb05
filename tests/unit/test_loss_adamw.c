// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the softmax cross-entropy, AdamW and the global gradient norm (host/ops/
// op_loss.c, op_adamw.c on the executor nn_exec.c; references host/ref/loss_ref.c, adamw_ref.c).
//
//   - The operators' programs run on the golden model in-process (through its CSR window, as the
//     firmware drives it) on S and M; every output is compared bit for bit with the golden-order
//     reference, FP_STATUS with the reference's flags, the cycle counter with the runner's
//     estimate (the model's documented formula: equal), and DRAM outside the output buffers must
//     stay untouched. Every output is also compared with the plain float reference, normwise,
//     within the documented bound (docs/ops.md), the measured error printed.
//   - Edge inputs: large logits, rows of equal logits, a dominant logit, infinities and NaNs among
//     the logits (reported in FP_STATUS); zero gradients with m = v = 0 at step 1, pruned elements
//     (all zero: they stay exactly zero), infinite and NaN gradients; an all-zero gradient norm.
//   - The gradient check of the cross-entropy's backward: the CPU float version against central
//     finite differences of the CPU forward in double, then the device's backward against the CPU
//     version.
//   - The operators through the driver and a spawned sparrow-sim with the golden model on S
//     (build/bin/sparrow-sim): the same bits as the golden order.
//   - Bad input is refused with a message.

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "nn_exec.h"
#include "ops_fixture_simd.h"
#include "simd_asm.h"
#include "simd_run.h"
#include "sparrow.h"
#include "sparrow_model.h"
#include "sparrow_nn.h"
#include "sparrow_ref.h"

#define F_SNAN 0x7FA00001u

// ---------------------------------------------------------------------------------------------------
// Cross-entropy.

typedef struct ce_out {
  uint32_t *losses, *dlogits, mean;
  model_run_t run;
} ce_out_t;

// What to ask for: 0 forward (losses, mean), 1 backward (dlogits), 2 all in one.
enum { CE_FWD = 0, CE_BWD = 1, CE_ALL = 2 };

// Runs the operator in-process in one mode; checks bits and flags against the golden order and
// the result against the plain version; returns the outputs (the caller frees them).
static ce_out_t ce_check(const sparrow_hw_config_t *cfg, const sparrow_ops_ce_t *ce,
                         const uint32_t *x, const uint32_t *t, int mode, const char *label,
                         bool check_plain) {
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  const bool want_loss = mode != CE_BWD, want_grad = mode != CE_FWD;
  const size_t n = ce->rows, xl = (size_t)ce->rows * ce->ld;
  sparrow_ops_exec_t exec;
  char msg[200] = "";
  ck_assert_msg(sparrow_ops_cross_entropy_prepare(&fab, ce, x, t, want_loss, want_loss, want_grad,
                                                  &exec, msg, sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  ce_out_t o;
  memset(&o, 0, sizeof(o));
  o.run = run_exec(cfg, &exec);
  o.losses = words(n);
  o.dlogits = words(xl);
  for (size_t i = 0; i < xl; ++i) {
    o.dlogits[i] = 0xDEADBEEFu;  // the padding columns must come back +0
  }
  sparrow_ops_cross_entropy_finish(&exec, want_loss ? o.losses : NULL, want_loss ? &o.mean : NULL,
                                   want_grad ? o.dlogits : NULL);
  sparrow_ops_exec_free(&exec);

  uint32_t *gl = words(n), *gd = words(xl), gm = 0;
  uint8_t flags = 0;
  ck_assert_int_eq(sparrow_ref_cross_entropy_golden(cfg->lanes, ce->rows, ce->vocab, ce->ld, x, t,
                                                    want_loss ? gl : NULL, want_loss ? &gm : NULL,
                                                    want_grad ? gd : NULL, &flags),
                   0);
  char what[96];
  snprintf(what, sizeof(what), "cross_entropy %s %ux%u (ld %u) on %s [%s]",
           mode == CE_FWD   ? "fwd"
           : mode == CE_BWD ? "bwd"
                            : "fwd+bwd",
           ce->rows, ce->vocab, ce->ld, cfg->name, label);
  if (want_loss) {
    expect_exact(what, n, o.losses, gl);
    expect_exact(what, 1, &o.mean, &gm);
  }
  if (want_grad) {
    expect_exact(what, xl, o.dlogits, gd);
  }
  expect_flags(what, o.run.fp_status, flags);
  printf("  %s: exact, flags 0x%02x, %llu cycles (= estimate), %u launch(es)\n", what, flags,
         (unsigned long long)o.run.cycles, o.run.launches);
  if (check_plain) {
    uint32_t *pl = words(n), *pd = words(xl), pm = 0;
    ck_assert_int_eq(
        sparrow_ref_cross_entropy_plain(ce->rows, ce->vocab, ce->ld, x, t, pl, &pm, pd), 0);
    double tol = sparrow_ref_cross_entropy_tolerance(ce->vocab);
    if (want_loss) {
      expect_within("losses vs plain float", n, o.losses, pl, tol);
      expect_within("mean vs plain float", 1, &o.mean, &pm, tol);
    }
    if (want_grad) {
      expect_within("dlogits vs plain float", xl, o.dlogits, pd, tol);
    }
    free(pl);
    free(pd);
  }
  free(gl);
  free(gd);
  return o;
}

static void ce_free(ce_out_t *o) {
  free(o->losses);
  free(o->dlogits);
}

static uint32_t *targets_for(uint32_t rows, uint32_t vocab, uint64_t seed) {
  uint32_t *t = words(rows);
  uint64_t s = seed;
  for (uint32_t i = 0; i < rows; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t[i] = (uint32_t)((s >> 33) % vocab);
  }
  return t;
}

static const sparrow_ops_ce_t kCeShapes[] = {
    {1, 1, 1}, {3, 5, 5}, {17, 64, 64}, {37, 45, 48}, {130, 8, 8}, {64, 80, 80}, {9, 67, 72},
};
#define CE_SHAPES (sizeof(kCeShapes) / sizeof(kCeShapes[0]))

START_TEST(test_ce_exact) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  for (size_t s = 0; s < CE_SHAPES; ++s) {
    const sparrow_ops_ce_t *ce = &kCeShapes[s];
    uint32_t *x = words((size_t)ce->rows * ce->ld), *t = targets_for(ce->rows, ce->vocab, 7 + s);
    fill(100 + s, (size_t)ce->rows * ce->ld, 2, x);  // logits in [-4, 4)
    ce_out_t all = ce_check(cfg, ce, x, t, CE_ALL, "random", true);
    ce_out_t fwd = ce_check(cfg, ce, x, t, CE_FWD, "random", false);
    ce_out_t bwd = ce_check(cfg, ce, x, t, CE_BWD, "random", false);
    // The fused job and the separate ones give the same bits.
    expect_exact("fused vs forward losses", ce->rows, all.losses, fwd.losses);
    ck_assert_uint_eq(all.mean, fwd.mean);
    expect_exact("fused vs backward dlogits", (size_t)ce->rows * ce->ld, all.dlogits, bwd.dlogits);
    ce_free(&all);
    ce_free(&fwd);
    ce_free(&bwd);
    free(x);
    free(t);
  }
}
END_TEST

// The trainer's shapes: micro (4 x 64 tokens, vocabulary 65 padded to 72) and small (8 x 128).
START_TEST(test_ce_trainer_shapes) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  static const sparrow_ops_ce_t kShapes[] = {{256, 65, 72}, {1024, 80, 80}};
  for (size_t s = 0; s < 2; ++s) {
    const sparrow_ops_ce_t *ce = &kShapes[s];
    uint32_t *x = words((size_t)ce->rows * ce->ld), *t = targets_for(ce->rows, ce->vocab, 3);
    fill(31 + s, (size_t)ce->rows * ce->ld, 1, x);
    ce_out_t o = ce_check(cfg, ce, x, t, CE_ALL, "trainer shape", true);
    ce_free(&o);
    free(x);
    free(t);
  }
}
END_TEST

START_TEST(test_ce_edges) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  const sparrow_ops_ce_t ce = {6, 37, 40};
  const size_t xl = (size_t)ce.rows * ce.ld;
  uint32_t *x = words(xl), *t = targets_for(ce.rows, ce.vocab, 11);
  fill(5, xl, 3, x);
  for (uint32_t j = 0; j < ce.ld; ++j) {
    x[0 * ce.ld + j] = fbits(1000.0f + bitsf(x[0 * ce.ld + j]));  // large: exp(1000) overflows
    x[1 * ce.ld + j] = fbits(-3.0e4f + bitsf(x[1 * ce.ld + j]));  // large negative
    x[2 * ce.ld + j] = 0x40490FDBu;                               // equal logits (pi)
    x[3 * ce.ld + j] = fbits(-50.0f);                             // a dominant logit ...
    x[4 * ce.ld + j] = j % 2 ? fbits(3.0e38f) : fbits(-3.0e38f);  // huge of both signs
  }
  x[3 * ce.ld + t[3]] = fbits(50.0f);    // ... on the target: its probability rounds to 1
  x[4 * ce.ld + t[4]] = fbits(3.0e38f);  // (x - m overflows to -inf elsewhere: exp 0)
  ce_out_t o = ce_check(cfg, &ce, x, t, CE_ALL, "edges", true);
  for (uint32_t i = 0; i < ce.rows; ++i) {
    ck_assert_msg(isfinite(bitsf(o.losses[i])), "row %u: loss %g not finite", i,
                  (double)bitsf(o.losses[i]));
  }
  // Equal logits: loss log(37) to within log's bound; every probability the same.
  ck_assert(fabs((double)bitsf(o.losses[2]) - log(37.0)) <= 4e-7);
  for (uint32_t j = 1; j < ce.vocab; ++j) {
    if (j != t[2] && j - 1 != t[2]) {
      ck_assert_uint_eq(o.dlogits[2 * ce.ld + j], o.dlogits[2 * ce.ld + j - 1]);
    }
  }
  // The dominant logit on the target: loss 0 (+0: log(1) - 0), gradient ~0 everywhere.
  ck_assert_uint_eq(o.losses[3], 0u);
  printf("  edges: large logits %g, %g; equal logits %.9g (log 37 = %.9g); dominant %g\n",
         (double)bitsf(o.losses[0]), (double)bitsf(o.losses[1]), (double)bitsf(o.losses[2]),
         log(37.0), (double)bitsf(o.losses[3]));
  ce_free(&o);
  // Non-finite logits: a NaN (signalling) in a row and +inf in another: their losses and
  // gradients are NaN, with NV (inf - inf) in FP_STATUS; the other rows are untouched.
  x[0 * ce.ld + 3] = F_SNAN;
  x[5 * ce.ld + 7] = F_INF;
  ce_out_t bad = ce_check(cfg, &ce, x, t, CE_ALL, "NaN and inf", false);
  ck_assert(isnan(bitsf(bad.losses[0])) && isnan(bitsf(bad.losses[5])));
  ck_assert(isnan(bitsf(bad.mean)));
  ck_assert(isfinite(bitsf(bad.losses[2])));
  if (host_flags_observable()) {
    ck_assert_uint_eq(bad.run.fp_status & SPARROW_FP_NV, SPARROW_FP_NV);
  }
  ce_free(&bad);
  free(x);
  free(t);
}
END_TEST

// The gradient check: the CPU float backward (the plain version's dlogits) against central
// differences of the CPU forward in double; then the device's backward against the CPU version.
#define GRAD_H 1e-4
#define GRAD_TOL 1e-5

START_TEST(test_ce_gradcheck) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[0];  // S
  const sparrow_ops_ce_t ce = {7, 13, 16};
  const size_t xl = (size_t)ce.rows * ce.ld;
  uint32_t *xb = words(xl), *t = targets_for(ce.rows, ce.vocab, 5);
  fill(77, xl, 1, xb);
  for (uint32_t j = 0; j < ce.ld; ++j) {
    xb[4 * ce.ld + j] = fbits(0.75f);  // a row of equal logits
  }
  double *x = malloc(xl * sizeof(double)), *fd = malloc(xl * sizeof(double));
  double *cpu = malloc(xl * sizeof(double));
  ck_assert(x && fd && cpu);
  for (size_t i = 0; i < xl; ++i) {
    x[i] = bitsf(xb[i]);
  }
  for (uint32_t r = 0; r < ce.rows; ++r) {
    for (uint32_t j = 0; j < ce.ld; ++j) {
      size_t i = (size_t)r * ce.ld + j;
      double keep = x[i], h = GRAD_H * fmax(1.0, fabs(keep));
      x[i] = keep + h;
      double lp = sparrow_ref_cross_entropy_f64(ce.rows, ce.vocab, ce.ld, x, t);
      x[i] = keep - h;
      double lm = sparrow_ref_cross_entropy_f64(ce.rows, ce.vocab, ce.ld, x, t);
      x[i] = keep;
      fd[i] = (lp - lm) / (2 * h);
    }
  }
  uint32_t *pd = words(xl);
  ck_assert_int_eq(sparrow_ref_cross_entropy_plain(ce.rows, ce.vocab, ce.ld, xb, t, NULL, NULL, pd),
                   0);
  double d2 = 0.0, r2 = 0.0;
  for (size_t i = 0; i < xl; ++i) {
    cpu[i] = bitsf(pd[i]);
    d2 += (cpu[i] - fd[i]) * (cpu[i] - fd[i]);
    r2 += fd[i] * fd[i];
  }
  double err = sqrt(d2 / r2);
  printf(
      "  cross_entropy gradient check %ux%u (h = %g relative): CPU float backward vs central "
      "differences of the double forward: %.3g (tolerance %g)\n",
      ce.rows, ce.vocab, GRAD_H, err, GRAD_TOL);
  ck_assert_msg(err <= GRAD_TOL, "gradient check: %g", err);
  // The padding columns have no derivative: the forward ignores them.
  for (uint32_t r = 0; r < ce.rows; ++r) {
    for (uint32_t j = ce.vocab; j < ce.ld; ++j) {
      ck_assert(fd[(size_t)r * ce.ld + j] == 0.0 && pd[(size_t)r * ce.ld + j] == 0u);
    }
  }
  ce_out_t o = ce_check(cfg, &ce, xb, t, CE_BWD, "gradcheck", false);
  expect_within("device dlogits vs CPU float backward", xl, o.dlogits, pd,
                sparrow_ref_cross_entropy_tolerance(ce.vocab));
  ce_free(&o);
  free(pd);
  free(x);
  free(fd);
  free(cpu);
  free(xb);
  free(t);
}
END_TEST

START_TEST(test_ce_refused) {
  sparrow_ops_fabric_t fab = fabric_of(&kSparrowHwConfigs[0]);
  uint32_t x[8] = {0}, t[2] = {1, 4};
  sparrow_ops_exec_t exec;
  char msg[200];
  sparrow_ops_ce_t ce = {2, 4, 4};
  ck_assert_int_eq(
      sparrow_ops_cross_entropy_prepare(&fab, &ce, x, t, true, true, true, &exec, msg, sizeof(msg)),
      SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "target 4 of row 1 is outside the vocabulary of 4") != NULL, "%s", msg);
  t[1] = 3;
  ck_assert_int_eq(sparrow_ops_cross_entropy_prepare(&fab, &ce, x, t, false, false, false, &exec,
                                                     msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "no output wanted") != NULL, "%s", msg);
  sparrow_ops_ce_t narrow = {2, 4, 3};
  ck_assert_int_eq(sparrow_ops_cross_entropy_prepare(&fab, &narrow, x, t, true, true, true, &exec,
                                                     msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "bad shape") != NULL, "%s", msg);
  sparrow_ops_ce_t empty = {0, 4, 4};
  ck_assert_int_eq(sparrow_ops_cross_entropy_prepare(&fab, &empty, x, t, true, true, true, &exec,
                                                     msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  fab.lanes = 3;
  ck_assert_int_eq(
      sparrow_ops_cross_entropy_prepare(&fab, &ce, x, t, true, true, true, &exec, msg, sizeof(msg)),
      SPARROW_OPS_E_UNSUPPORTED);
  ck_assert_msg(strstr(msg, "power of two") != NULL, "%s", msg);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// The gradient norm and AdamW.

typedef struct params {
  size_t nseg, total;
  sparrow_ops_param_seg_t seg[8];
  uint32_t *p, *g, *m, *v;
} params_t;

// Tensors of the given sizes, every other one decaying, laid out with gaps between them (the gap
// words must never change); p, g, m, v random (m from [-2^-6, 2^-6), v from [0, 2^-8)).
static params_t make_params(const size_t *sizes, size_t nseg, uint64_t seed) {
  params_t P;
  memset(&P, 0, sizeof(P));
  P.nseg = nseg;
  size_t at = 3;
  for (size_t k = 0; k < nseg; ++k) {
    P.seg[k].offset = at;
    P.seg[k].count = sizes[k];
    P.seg[k].decay = k % 2 == 0;
    at += sizes[k] + 5;
  }
  P.total = at;
  P.p = words(at);
  P.g = words(at);
  P.m = words(at);
  P.v = words(at);
  fill(seed, at, 0, P.p);
  fill(seed + 1, at, -3, P.g);
  fill(seed + 2, at, -6, P.m);
  fill(seed + 3, at, -8, P.v);
  for (size_t i = 0; i < at; ++i) {
    P.v[i] &= 0x7FFFFFFFu;
  }
  return P;
}

static void params_free(params_t *P) {
  free(P->p);
  free(P->g);
  free(P->m);
  free(P->v);
}

static void seg_arrays(const params_t *P, size_t *off, size_t *cnt, size_t *max_count) {
  *max_count = 0;
  for (size_t k = 0; k < P->nseg; ++k) {
    off[k] = P->seg[k].offset;
    cnt[k] = P->seg[k].count;
    *max_count = cnt[k] > *max_count ? cnt[k] : *max_count;
  }
}

static sparrow_ops_grad_norm_t norm_check(const sparrow_hw_config_t *cfg, const params_t *P,
                                          uint32_t max_norm, const char *label, bool check_plain) {
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  sparrow_ops_exec_t exec;
  char msg[200] = "";
  ck_assert_msg(sparrow_ops_grad_norm_prepare(&fab, P->nseg, P->seg, P->g, max_norm, &exec, msg,
                                              sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  // One tile runs every row in order (max_tiles 1), whatever the device has.
  ck_assert_uint_eq(exec.job[0].plan.busy_tiles, 1);
  ck_assert_uint_eq(exec.job[0].plan.row_count[0], exec.job[0].simd.rows);
  model_run_t run = run_exec(cfg, &exec);
  sparrow_ops_grad_norm_t out;
  sparrow_ops_grad_norm_finish(&exec, &out);
  sparrow_ops_exec_free(&exec);
  size_t off[8], cnt[8], max_count;
  seg_arrays(P, off, cnt, &max_count);
  uint32_t gold[3];
  uint8_t flags = 0;
  ck_assert_int_eq(
      sparrow_ref_grad_norm_golden(cfg->lanes, P->nseg, off, cnt, P->g, max_norm, gold, &flags), 0);
  const uint32_t dev[3] = {out.sumsq, out.norm, out.clip};
  char what[96];
  snprintf(what, sizeof(what), "grad_norm %zu tensors on %s [%s]", P->nseg, cfg->name, label);
  expect_exact(what, 3, dev, gold);
  expect_flags(what, run.fp_status, flags);
  printf(
      "  %s: exact (sumsq %.9g, norm %.9g, clip %.9g), flags 0x%02x, %llu cycles (= estimate), "
      "%u launch(es) on one tile\n",
      what, (double)bitsf(out.sumsq), (double)bitsf(out.norm), (double)bitsf(out.clip), flags,
      (unsigned long long)run.cycles, run.launches);
  double plain[3];
  sparrow_ref_grad_norm_plain(P->nseg, off, cnt, P->g, max_norm, plain);
  double tol = sparrow_ref_grad_norm_tolerance(P->nseg, max_count);
  static const char *const kNames[3] = {"sumsq", "norm", "clip"};
  for (int i = 0; i < 3 && check_plain; ++i) {
    double d = (double)bitsf(dev[i]);
    double err = plain[i] == 0.0 ? fabs(d) : fabs(d - plain[i]) / fabs(plain[i]);
    printf("    %-6s vs double: relative error %.3g (tolerance %.3g)\n", kNames[i], err, tol);
    ck_assert_msg(err <= tol, "%s: %g vs %g", kNames[i], d, plain[i]);
  }
  return out;
}

static const size_t kSizes[] = {64, 1, 200, 0, 4096, 63, 17};
#define NSIZES (sizeof(kSizes) / sizeof(kSizes[0]))

START_TEST(test_grad_norm_exact) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  params_t P = make_params(kSizes, NSIZES, 40);
  // The norm of these gradients is about 9: max_norm 1 clips, max_norm 100 does not (clip 1).
  sparrow_ops_grad_norm_t a = norm_check(cfg, &P, F_ONE, "max_norm 1", true);
  ck_assert(bitsf(a.clip) < 1.0f && bitsf(a.clip) > 0.0f);
  sparrow_ops_grad_norm_t b = norm_check(cfg, &P, fbits(100.0f), "max_norm 100", true);
  ck_assert_uint_eq(b.clip, F_ONE);
  // One tensor alone.
  params_t Q = make_params(&kSizes[4], 1, 41);
  (void)norm_check(cfg, &Q, F_ONE, "one tensor", true);
  params_free(&P);
  params_free(&Q);
}
END_TEST

START_TEST(test_grad_norm_edges) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  params_t P = make_params(kSizes, NSIZES, 50);
  memset(P.g, 0, P.total * 4);  // zero gradients: norm 0, clip exactly 1
  sparrow_ops_grad_norm_t z = norm_check(cfg, &P, F_ONE, "zero gradients", true);
  ck_assert_uint_eq(z.sumsq, 0u);
  ck_assert_uint_eq(z.norm, 0u);
  ck_assert_uint_eq(z.clip, F_ONE);
  // Large gradients: the squares overflow to +inf (OF), the norm is +inf, the clip 0.
  P.g[P.seg[2].offset + 5] = fbits(3.0e30f);
  sparrow_ops_grad_norm_t big = norm_check(cfg, &P, F_ONE, "overflow", false);
  ck_assert_uint_eq(big.norm, F_INF);
  // A NaN gradient: NaN norm and clip, NV for a signalling one.
  P.g[P.seg[0].offset] = F_SNAN;
  sparrow_ops_grad_norm_t nan = norm_check(cfg, &P, F_ONE, "NaN", false);
  ck_assert(isnan(bitsf(nan.norm)) && isnan(bitsf(nan.clip)));
  params_free(&P);
}
END_TEST

static void adamw_check(const sparrow_hw_config_t *cfg, params_t *P,
                        const sparrow_ops_adamw_hp_t *hp, const char *label, bool check_plain) {
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  sparrow_ops_exec_t exec;
  char msg[200] = "";
  ck_assert_msg(sparrow_ops_adamw_prepare(&fab, hp, P->nseg, P->seg, P->p, P->g, P->m, P->v, &exec,
                                          msg, sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  model_run_t run = run_exec(cfg, &exec);
  uint32_t *dp = words(P->total), *dm = words(P->total), *dv = words(P->total);
  memcpy(dp, P->p, P->total * 4);
  memcpy(dm, P->m, P->total * 4);
  memcpy(dv, P->v, P->total * 4);
  sparrow_ops_adamw_finish(&exec, P->nseg, P->seg, dp, dm, dv);
  sparrow_ops_exec_free(&exec);
  uint32_t *gp = words(P->total), *gm = words(P->total), *gv = words(P->total);
  memcpy(gp, P->p, P->total * 4);
  memcpy(gm, P->m, P->total * 4);
  memcpy(gv, P->v, P->total * 4);
  sparrow_ref_adamw_consts_t c;
  sparrow_ref_adamw_consts(hp->lr, hp->beta1, hp->beta2, hp->eps, hp->weight_decay, hp->step,
                           hp->clip_scale, &c);
  uint8_t flags = 0;
  for (size_t k = 0; k < P->nseg; ++k) {
    size_t o = P->seg[k].offset;
    sparrow_ref_adamw_golden(&c, P->seg[k].count, P->seg[k].decay, gp + o, P->g + o, gm + o, gv + o,
                             &flags);
  }
  char what[96];
  snprintf(what, sizeof(what), "adamw step %llu, %zu tensors on %s [%s]",
           (unsigned long long)hp->step, P->nseg, cfg->name, label);
  // Every word: the tensors' exactly as the golden order, the gaps between them untouched.
  expect_exact(what, P->total, dp, gp);
  expect_exact(what, P->total, dm, gm);
  expect_exact(what, P->total, dv, gv);
  expect_flags(what, run.fp_status, flags);
  printf("  %s: exact, flags 0x%02x, %llu cycles (= estimate), %u launch(es)\n", what, flags,
         (unsigned long long)run.cycles, run.launches);
  if (check_plain) {
    uint32_t *pp = words(P->total), *pm = words(P->total), *pv = words(P->total);
    memcpy(pp, P->p, P->total * 4);
    memcpy(pm, P->m, P->total * 4);
    memcpy(pv, P->v, P->total * 4);
    for (size_t k = 0; k < P->nseg; ++k) {
      size_t o = P->seg[k].offset;
      sparrow_ref_adamw_plain(hp->lr, hp->beta1, hp->beta2, hp->eps, hp->weight_decay, hp->step,
                              hp->clip_scale, P->seg[k].count, P->seg[k].decay, pp + o, P->g + o,
                              pm + o, pv + o);
    }
    expect_within("p vs plain float", P->total, dp, pp, SPARROW_REF_ADAMW_TOL_P);
    expect_within("m vs plain float", P->total, dm, pm, SPARROW_REF_ADAMW_TOL_MV);
    expect_within("v vs plain float", P->total, dv, pv, SPARROW_REF_ADAMW_TOL_MV);
    free(pp);
    free(pm);
    free(pv);
  }
  memcpy(P->p, dp, P->total * 4);
  memcpy(P->m, dm, P->total * 4);
  memcpy(P->v, dv, P->total * 4);
  free(dp), free(dm), free(dv), free(gp), free(gm), free(gv);
}

// The trainer's hyper-parameters (host/train/adamw.c): beta1 0.9, beta2 0.95, eps 1e-8, weight
// decay 0.1 on the matrices.
static sparrow_ops_adamw_hp_t trainer_hp(uint64_t step, uint32_t clip) {
  sparrow_ops_adamw_hp_t hp = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step, clip};
  return hp;
}

START_TEST(test_adamw_exact) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  params_t P = make_params(kSizes, NSIZES, 60);
  sparrow_ops_adamw_hp_t hp = trainer_hp(1, F_ONE);
  adamw_check(cfg, &P, &hp, "step 1", true);
  hp = trainer_hp(2, fbits(0.37f));  // a clipped step, from the state step 1 left
  adamw_check(cfg, &P, &hp, "clip 0.37", true);
  hp = trainer_hp(1000, F_ONE);
  hp.lr = 3e-4f;
  adamw_check(cfg, &P, &hp, "step 1000", true);
  params_free(&P);
}
END_TEST

START_TEST(test_adamw_edges) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  params_t P = make_params(kSizes, NSIZES, 70);
  // Step 1 from m = v = 0 with zero gradients: vhat = 0 (sqrt 0, no pole), only the decay moves p.
  memset(P.g, 0, P.total * 4);
  memset(P.m, 0, P.total * 4);
  memset(P.v, 0, P.total * 4);
  // Pruned elements: everything 0, in a decaying tensor: they stay exactly 0.
  for (size_t j = 0; j < 20; ++j) {
    P.p[P.seg[2].offset + j] = 0;
  }
  uint32_t keep_nd = P.p[P.seg[1].offset];  // a non-decaying element with zero gradient
  sparrow_ops_adamw_hp_t hp = trainer_hp(1, F_ONE);
  adamw_check(cfg, &P, &hp, "zero gradients, m = v = 0", true);
  for (size_t j = 0; j < 20; ++j) {
    ck_assert_uint_eq(P.p[P.seg[2].offset + j], 0u);
    ck_assert_uint_eq(P.m[P.seg[2].offset + j], 0u);
    ck_assert_uint_eq(P.v[P.seg[2].offset + j], 0u);
  }
  ck_assert_uint_eq(P.p[P.seg[1].offset], keep_nd);  // no gradient, no decay: unchanged
  // Infinite and NaN gradients: the element becomes NaN and FP_STATUS reports NV.
  fill(71, P.total, -3, P.g);
  P.g[P.seg[0].offset + 3] = F_INF;
  P.g[P.seg[4].offset + 9] = F_QNAN;
  hp = trainer_hp(2, F_ONE);
  adamw_check(cfg, &P, &hp, "inf and NaN gradients", false);
  ck_assert(isnan(bitsf(P.p[P.seg[0].offset + 3])) && isnan(bitsf(P.p[P.seg[4].offset + 9])));
  params_free(&P);
}
END_TEST

START_TEST(test_adamw_refused) {
  sparrow_ops_fabric_t fab = fabric_of(&kSparrowHwConfigs[0]);
  uint32_t w[32] = {0};
  sparrow_ops_exec_t exec;
  char msg[200];
  sparrow_ops_adamw_hp_t hp = trainer_hp(1, F_ONE);
  sparrow_ops_param_seg_t overlap[2] = {{0, 10, true}, {8, 4, false}};
  ck_assert_int_eq(
      sparrow_ops_adamw_prepare(&fab, &hp, 2, overlap, w, w, w, w, &exec, msg, sizeof(msg)),
      SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "tensors 0 and 1 overlap") != NULL, "%s", msg);
  sparrow_ops_param_seg_t empty[2] = {{0, 0, true}, {8, 0, false}};
  ck_assert_int_eq(sparrow_ops_grad_norm_prepare(&fab, 2, empty, w, F_ONE, &exec, msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "no parameter element") != NULL, "%s", msg);
  sparrow_ops_param_seg_t one[1] = {{0, 10, true}};
  hp.step = 0;
  ck_assert_int_eq(
      sparrow_ops_adamw_prepare(&fab, &hp, 1, one, w, w, w, w, &exec, msg, sizeof(msg)),
      SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "step counts from 1") != NULL, "%s", msg);
}
END_TEST

// The runner's two additions the norm needs (simd_run.h): max_tiles keeps the rows on fewer tiles,
// out_once writes the out stream once after the last row; out_once is refused unless one tile
// runs the job and the stream has no row stride.
START_TEST(test_runner_additions) {
  sparrow_ops_fabric_t fab = fabric_of(&kSparrowHwConfigs[1]);  // M: 4 tiles
  sparrow_simd_asm_t code;
  sparrow_simd_asm_init(&code);
  sparrow_simd_seg_begin(&code, SPARROW_SIMD_SEG_EPILOGUE);
  uint32_t r = sparrow_simd_reg_alloc(&code);
  sparrow_simd_push(&code, SPARROW_SIMD_PRED_ALWAYS, r, 0);
  sparrow_simd_seg_end(&code);
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = &code;
  job.rows = 10;
  job.beats = 1;
  job.passes = 1;
  job.out.tensors = 1;
  job.out.tensor_bytes = 4u * fab.lanes;
  job.out.beats = 1;
  job.out.passes = 1;
  job.out.row_stride = 4u * fab.lanes;
  sparrow_ops_simd_plan_t plan;
  char msg[200] = "";
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &job, &plan, msg, sizeof(msg)), SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "reaches byte") != NULL, "%s", msg);  // per row: 10 beats
  job.out_once = 1;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &job, &plan, msg, sizeof(msg)), SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "needs max_tiles 1 and row_stride 0") != NULL, "%s", msg);
  job.max_tiles = 1;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &job, &plan, msg, sizeof(msg)), SPARROW_OPS_E_ARG);
  job.out.row_stride = 0;
  ck_assert_msg(sparrow_ops_simd_plan(&fab, &job, &plan, msg, sizeof(msg)) == SPARROW_OPS_OK, "%s",
                msg);
  ck_assert_uint_eq(plan.busy_tiles, 1);
  ck_assert_uint_eq(plan.row_count[0], 10);
  ck_assert_uint_eq(plan.row_count[1] + plan.row_count[2] + plan.row_count[3], 0);
  // max_tiles 2 of 4: the rows split over two tiles only.
  job.out_once = 0;
  job.out.tensor_bytes = 40u * fab.lanes;
  job.out.row_stride = 4u * fab.lanes;
  job.max_tiles = 2;
  ck_assert_msg(sparrow_ops_simd_plan(&fab, &job, &plan, msg, sizeof(msg)) == SPARROW_OPS_OK, "%s",
                msg);
  ck_assert_uint_eq(plan.busy_tiles, 2);
  ck_assert_uint_eq(plan.row_count[0], 5);
  ck_assert_uint_eq(plan.row_count[1], 5);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// Through the driver: a spawned sparrow-sim with the golden model, configuration S.

START_TEST(test_through_driver) {
  sparrow_dev_t *dev = NULL;
  char msg[400] = "";
  ck_assert_msg(sparrow_open("sim:model,config=S", &dev, msg, sizeof(msg)) == SPARROW_OK,
                "cannot open sim:model,config=S (is build/bin/sparrow-sim built?): %s", msg);
  const uint32_t lanes = 4;
  // Cross-entropy, forward and backward in one call.
  const sparrow_ops_ce_t ce = {33, 29, 32};
  const size_t xl = (size_t)ce.rows * ce.ld;
  uint32_t *x = words(xl), *t = targets_for(ce.rows, ce.vocab, 9);
  fill(91, xl, 2, x);
  uint32_t *losses = words(ce.rows), *dl = words(xl), mean = 0;
  uint32_t *gl = words(ce.rows), *gd = words(xl), gm = 0;
  sparrow_ops_simd_stats_t stats;
  ck_assert_msg(sparrow_ops_cross_entropy(dev, &ce, x, t, losses, &mean, dl, &stats, msg,
                                          sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  uint8_t flags = 0;
  ck_assert_int_eq(
      sparrow_ref_cross_entropy_golden(lanes, ce.rows, ce.vocab, ce.ld, x, t, gl, &gm, gd, &flags),
      0);
  expect_exact("driver cross_entropy losses", ce.rows, losses, gl);
  expect_exact("driver cross_entropy mean", 1, &mean, &gm);
  expect_exact("driver cross_entropy dlogits", xl, dl, gd);
  expect_flags("driver cross_entropy", stats.fp_status, flags);
  ck_assert_uint_eq(stats.cycles, stats.est_cycles);
  ck_assert_uint_eq(stats.launches, 2);
  printf("  through the driver: cross_entropy %ux%u exact, %llu cycles, %u launches\n", ce.rows,
         ce.vocab, (unsigned long long)stats.cycles, stats.launches);
  // The norm, then AdamW with its clip scale.
  params_t P = make_params(kSizes, NSIZES, 95);
  sparrow_ops_grad_norm_t norm;
  ck_assert_msg(sparrow_ops_grad_norm(dev, P.nseg, P.seg, P.g, F_ONE, &norm, &stats, msg,
                                      sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  size_t off[8], cnt[8], max_count;
  seg_arrays(&P, off, cnt, &max_count);
  uint32_t gn[3];
  flags = 0;
  ck_assert_int_eq(sparrow_ref_grad_norm_golden(lanes, P.nseg, off, cnt, P.g, F_ONE, gn, &flags),
                   0);
  const uint32_t dn[3] = {norm.sumsq, norm.norm, norm.clip};
  expect_exact("driver grad_norm", 3, dn, gn);
  expect_flags("driver grad_norm", stats.fp_status, flags);
  sparrow_ops_adamw_hp_t hp = trainer_hp(3, norm.clip);
  uint32_t *gp = words(P.total), *gmm = words(P.total), *gv = words(P.total);
  memcpy(gp, P.p, P.total * 4);
  memcpy(gmm, P.m, P.total * 4);
  memcpy(gv, P.v, P.total * 4);
  sparrow_ref_adamw_consts_t c;
  sparrow_ref_adamw_consts(hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, hp.step,
                           hp.clip_scale, &c);
  flags = 0;
  for (size_t k = 0; k < P.nseg; ++k) {
    size_t o = P.seg[k].offset;
    sparrow_ref_adamw_golden(&c, P.seg[k].count, P.seg[k].decay, gp + o, P.g + o, gmm + o, gv + o,
                             &flags);
  }
  ck_assert_msg(sparrow_ops_adamw(dev, &hp, P.nseg, P.seg, P.p, P.g, P.m, P.v, &stats, msg,
                                  sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  expect_exact("driver adamw p", P.total, P.p, gp);
  expect_exact("driver adamw m", P.total, P.m, gmm);
  expect_exact("driver adamw v", P.total, P.v, gv);
  expect_flags("driver adamw", stats.fp_status, flags);
  ck_assert_uint_eq(stats.cycles, stats.est_cycles);
  printf("  through the driver: grad_norm and adamw exact (%llu cycles for adamw)\n",
         (unsigned long long)stats.cycles);
  sparrow_close(dev);
  free(gp), free(gmm), free(gv);
  params_free(&P);
  free(x), free(t), free(losses), free(dl), free(gl), free(gd);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("loss_adamw");
  TCase *tce = tcase_create("cross_entropy");
  tcase_set_timeout(tce, 300);
  tcase_add_loop_test(tce, test_ce_exact, 0, SPARROW_HW_CONFIG_COUNT);
  tcase_add_loop_test(tce, test_ce_trainer_shapes, 0, SPARROW_HW_CONFIG_COUNT);
  tcase_add_loop_test(tce, test_ce_edges, 0, SPARROW_HW_CONFIG_COUNT);
  tcase_add_test(tce, test_ce_gradcheck);
  tcase_add_test(tce, test_ce_refused);
  suite_add_tcase(s, tce);
  TCase *topt = tcase_create("optimizer");
  tcase_set_timeout(topt, 300);
  tcase_add_loop_test(topt, test_grad_norm_exact, 0, SPARROW_HW_CONFIG_COUNT);
  tcase_add_loop_test(topt, test_grad_norm_edges, 0, SPARROW_HW_CONFIG_COUNT);
  tcase_add_loop_test(topt, test_adamw_exact, 0, SPARROW_HW_CONFIG_COUNT);
  tcase_add_loop_test(topt, test_adamw_edges, 0, SPARROW_HW_CONFIG_COUNT);
  tcase_add_test(topt, test_adamw_refused);
  tcase_add_test(topt, test_runner_additions);
  suite_add_tcase(s, topt);
  TCase *tdrv = tcase_create("driver");
  tcase_set_timeout(tdrv, 300);
  tcase_add_test(tdrv, test_through_driver);
  suite_add_tcase(s, tdrv);
  return s;
}

int main(void) {
  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    fprintf(stderr, "host arithmetic unsuitable: %s\n", why);
    return 1;
  }
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
