// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the CPU reference's arithmetic (host/train/layers.c, gpt.c, adamw.c): every
// layer's backward pass, and the whole model's, against central finite differences of a forward
// pass written again here in double precision (so the fp32 forward is checked too: it must agree
// with the double one). For each gradient tensor the test prints the normwise relative error
// ||analytic - fd|| / ||fd|| over the elements it perturbs, with its tolerance (docs/training.md,
// "Tolerances"). Exact properties are asserted exactly: absent blocks of a sparse weight get a zero
// gradient and do not reach the output, the future does not reach the past through attention, an
// all-ones mask computes the dense result bit for bit. Then AdamW and the schedule against
// hand-computed values.

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "gpt.h"
#include "layers.h"
#include "rng.h"
#include "sparrow_mask.h"

// Central differences in double with step H: truncation error ~H^2, rounding ~1e-16/H; both far
// below the fp32 analytic gradients' own error (~1e-6 relative).
#define H 1e-5
// Tolerances on the normwise relative error (docs/training.md). Measured: a single layer's fp32
// backward 2e-8 .. 3e-7, the whole model's 2e-7 .. 9e-7; the tolerances leave a factor ~30-100.
#define TOL_LAYER 1e-5
#define TOL_MODEL 1e-4
// Elements perturbed per tensor (all of them when the tensor is smaller).
#define SAMPLES 24

static uint64_t g_rng = 12345;

static float frand(double scale) {
  return (float)(scale * (2.0 * sparrow_train_rng_uniform(&g_rng) - 1.0));
}

static float *frandom(size_t n, double scale) {
  float *p = malloc(n * sizeof(float));
  ck_assert_ptr_nonnull(p);
  for (size_t i = 0; i < n; i++) {
    p[i] = frand(scale);
  }
  return p;
}

static double *to_double(const float *p, size_t n) {
  double *d = malloc((n > 0 ? n : 1) * sizeof(double));
  ck_assert_ptr_nonnull(d);
  for (size_t i = 0; i < n; i++) {
    d[i] = p[i];
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// The forward passes again, in double.

static void d_matmul(double *out, const double *inp, const double *W, const double *bias,
                     const uint8_t *mask, size_t block, size_t N, size_t IC, size_t OC) {
  for (size_t n = 0; n < N; n++) {
    for (size_t oc = 0; oc < OC; oc++) {
      double s = bias != NULL ? bias[oc] : 0.0;
      for (size_t ic = 0; ic < IC; ic++) {
        if (mask != NULL && mask[(ic / block) * (OC / block) + oc / block] == 0) {
          continue;
        }
        s += inp[n * IC + ic] * W[ic * OC + oc];
      }
      out[n * OC + oc] = s;
    }
  }
}

static void d_layernorm(double *out, const double *inp, const double *w, const double *b, size_t N,
                        size_t C) {
  for (size_t n = 0; n < N; n++) {
    const double *x = inp + n * C;
    double m = 0, v = 0;
    for (size_t c = 0; c < C; c++) {
      m += x[c];
    }
    m /= (double)C;
    for (size_t c = 0; c < C; c++) {
      v += (x[c] - m) * (x[c] - m);
    }
    v /= (double)C;
    double s = 1.0 / sqrt(v + (double)SPARROW_TRAIN_LN_EPS);
    for (size_t c = 0; c < C; c++) {
      out[n * C + c] = (x[c] - m) * s * w[c] + b[c];
    }
  }
}

static void d_attention(double *out, const double *qkv, size_t B, size_t T, size_t C, size_t NH) {
  size_t hs = C / NH;
  double scale = 1.0 / sqrt((double)hs);
  double *e = malloc(T * sizeof(double));
  for (size_t b = 0; b < B; b++) {
    for (size_t t = 0; t < T; t++) {
      for (size_t h = 0; h < NH; h++) {
        const double *q = qkv + (b * T + t) * 3 * C + h * hs;
        double maxv = -INFINITY, sum = 0;
        for (size_t t2 = 0; t2 <= t; t2++) {
          const double *k = qkv + (b * T + t2) * 3 * C + C + h * hs;
          double s = 0;
          for (size_t i = 0; i < hs; i++) {
            s += q[i] * k[i];
          }
          e[t2] = s * scale;
          maxv = fmax(maxv, e[t2]);
        }
        for (size_t t2 = 0; t2 <= t; t2++) {
          e[t2] = exp(e[t2] - maxv);
          sum += e[t2];
        }
        for (size_t i = 0; i < hs; i++) {
          double o = 0;
          for (size_t t2 = 0; t2 <= t; t2++) {
            o += e[t2] / sum * qkv[(b * T + t2) * 3 * C + 2 * C + h * hs + i];
          }
          out[(b * T + t) * C + h * hs + i] = o;
        }
      }
    }
  }
  free(e);
}

static void d_gelu(double *out, const double *inp, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double x = inp[i];
    out[i] =
        0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
  }
}

static double d_softmax_ce(const double *logits, const uint32_t *targets, size_t N, size_t V,
                           size_t Vp) {
  double total = 0;
  for (size_t n = 0; n < N; n++) {
    const double *z = logits + n * Vp;
    double maxv = -INFINITY, sum = 0;
    for (size_t v = 0; v < V; v++) {
      maxv = fmax(maxv, z[v]);
    }
    for (size_t v = 0; v < V; v++) {
      sum += exp(z[v] - maxv);
    }
    total += log(sum) + maxv - z[targets[n]];
  }
  return total / (double)N;
}

static void d_lmhead(double *logits, const double *inp, const double *wte, size_t N, size_t C,
                     size_t Vp) {
  for (size_t n = 0; n < N; n++) {
    for (size_t v = 0; v < Vp; v++) {
      double s = 0;
      for (size_t c = 0; c < C; c++) {
        s += inp[n * C + c] * wte[v * C + c];
      }
      logits[n * Vp + v] = s;
    }
  }
}

static double dot(const double *a, const float *r, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) {
    s += a[i] * r[i];
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Finite differences.

typedef double (*loss_fn)(void *ctx);

// Perturbs SAMPLES elements of x (a double tensor that loss reads) and compares the central
// differences with analytic; prints and returns the normwise relative error.
static double fd_check(const char *name, double *x, size_t n, const float *analytic, loss_fn loss,
                       void *ctx, double tol) {
  double num = 0, den = 0;
  size_t count = n < SAMPLES ? n : SAMPLES;
  for (size_t s = 0; s < count; s++) {
    size_t i = n <= SAMPLES ? s : (size_t)sparrow_train_rng_below(&g_rng, n);
    double xi = x[i];
    x[i] = xi + H;
    double lp = loss(ctx);
    x[i] = xi - H;
    double lm = loss(ctx);
    x[i] = xi;
    double g = (lp - lm) / (2 * H);
    double d = (double)analytic[i] - g;
    num += d * d;
    den += g * g;
  }
  double err = den > 0 ? sqrt(num / den) : sqrt(num);
  printf("  %-22s normwise relative error %.3e  (tolerance %.0e; %zu of %zu elements)\n", name, err,
         tol, count, n);
  return err;
}

// ---------------------------------------------------------------------------------------------
// Linear layer (dense and block-sparse).

typedef struct mm_ctx {
  double *inp, *W, *bias;
  const uint8_t *mask;
  size_t block, N, IC, OC;
  const float *R;
  double *out;
} mm_ctx_t;

static double mm_loss(void *p) {
  mm_ctx_t *c = p;
  d_matmul(c->out, c->inp, c->W, c->bias, c->mask, c->block, c->N, c->IC, c->OC);
  return dot(c->out, c->R, c->N * c->OC);
}

static void check_matmul(const uint8_t *mask) {
  size_t N = 5, IC = 16, OC = 24, block = 8;
  float *inp = frandom(N * IC, 1.0), *W = frandom(IC * OC, 0.5), *bias = frandom(OC, 0.5);
  float *R = frandom(N * OC, 1.0);
  float *out = calloc(N * OC, sizeof(float)), *dinp = calloc(N * IC, sizeof(float));
  float *dW = calloc(IC * OC, sizeof(float)), *dbias = calloc(OC, sizeof(float));
  sparrow_train_matmul_forward(out, inp, W, bias, mask, block, N, IC, OC);
  sparrow_train_matmul_backward(dinp, dW, dbias, R, inp, W, mask, block, N, IC, OC);
  mm_ctx_t c = {to_double(inp, N * IC),
                to_double(W, IC * OC),
                to_double(bias, OC),
                mask,
                block,
                N,
                IC,
                OC,
                R,
                calloc(N * OC, sizeof(double))};
  // The fp32 forward agrees with the double one.
  mm_loss(&c);
  double num = 0, den = 0;
  for (size_t i = 0; i < N * OC; i++) {
    num += (out[i] - c.out[i]) * (out[i] - c.out[i]);
    den += c.out[i] * c.out[i];
  }
  printf("  %-22s normwise relative error %.3e  (tolerance %.0e)\n", "forward", sqrt(num / den),
         TOL_LAYER);
  ck_assert(sqrt(num / den) <= TOL_LAYER);
  ck_assert(fd_check("dinp", c.inp, N * IC, dinp, mm_loss, &c, TOL_LAYER) <= TOL_LAYER);
  ck_assert(fd_check("dW", c.W, IC * OC, dW, mm_loss, &c, TOL_LAYER) <= TOL_LAYER);
  ck_assert(fd_check("dbias", c.bias, OC, dbias, mm_loss, &c, TOL_LAYER) <= TOL_LAYER);
  if (mask != NULL) {
    // The weight gradient is masked: exactly zero in every absent block, non-zero elsewhere.
    size_t zeros = 0, live = 0;
    for (size_t ic = 0; ic < IC; ic++) {
      for (size_t oc = 0; oc < OC; oc++) {
        bool present = mask[(ic / block) * (OC / block) + oc / block] != 0;
        if (!present) {
          ck_assert_msg(dW[ic * OC + oc] == 0.0f, "dW[%zu,%zu] = %g in an absent block", ic, oc,
                        (double)dW[ic * OC + oc]);
          zeros++;
        } else {
          live += dW[ic * OC + oc] != 0.0f;
        }
      }
    }
    ck_assert_uint_gt(zeros, 0);
    ck_assert_uint_gt(live, 0);
    // Absent blocks never reach the output: garbage there changes nothing, bit for bit.
    float *W2 = malloc(IC * OC * sizeof(float)), *out2 = calloc(N * OC, sizeof(float));
    memcpy(W2, W, IC * OC * sizeof(float));
    for (size_t ic = 0; ic < IC; ic++) {
      for (size_t oc = 0; oc < OC; oc++) {
        if (mask[(ic / block) * (OC / block) + oc / block] == 0) {
          W2[ic * OC + oc] = 1e30f;
        }
      }
    }
    sparrow_train_matmul_forward(out2, inp, W2, bias, mask, block, N, IC, OC);
    ck_assert_int_eq(memcmp(out, out2, N * OC * sizeof(float)), 0);
    free(W2);
    free(out2);
  }
  free(inp), free(W), free(bias), free(R), free(out), free(dinp), free(dW), free(dbias);
  free(c.inp), free(c.W), free(c.bias), free(c.out);
}

START_TEST(test_matmul_dense) {
  printf("linear 5x16 -> 24, dense:\n");
  check_matmul(NULL);
}
END_TEST

START_TEST(test_matmul_sparse) {
  // 2 x 3 blocks of 8: half of them absent.
  static const uint8_t mask[6] = {1, 0, 1, 0, 1, 0};
  printf("linear 5x16 -> 24, block-sparse (8x8 blocks, mask 101/010):\n");
  check_matmul(mask);
}
END_TEST

START_TEST(test_matmul_all_ones_mask_is_dense) {
  size_t N = 7, IC = 24, OC = 16, block = 8;
  float *inp = frandom(N * IC, 1.0), *W = frandom(IC * OC, 1.0), *bias = frandom(OC, 1.0);
  float *R = frandom(N * OC, 1.0);
  uint8_t ones[6];
  memset(ones, 1, sizeof(ones));
  float *o1 = calloc(N * OC, 4), *o2 = calloc(N * OC, 4);
  float *di1 = calloc(N * IC, 4), *di2 = calloc(N * IC, 4), *dw1 = calloc(IC * OC, 4),
        *dw2 = calloc(IC * OC, 4), *db1 = calloc(OC, 4), *db2 = calloc(OC, 4);
  sparrow_train_matmul_forward(o1, inp, W, bias, NULL, block, N, IC, OC);
  sparrow_train_matmul_forward(o2, inp, W, bias, ones, block, N, IC, OC);
  sparrow_train_matmul_backward(di1, dw1, db1, R, inp, W, NULL, block, N, IC, OC);
  sparrow_train_matmul_backward(di2, dw2, db2, R, inp, W, ones, block, N, IC, OC);
  ck_assert_int_eq(memcmp(o1, o2, N * OC * 4), 0);
  ck_assert_int_eq(memcmp(di1, di2, N * IC * 4), 0);
  ck_assert_int_eq(memcmp(dw1, dw2, IC * OC * 4), 0);
  ck_assert_int_eq(memcmp(db1, db2, OC * 4), 0);
  free(inp), free(W), free(bias), free(R), free(o1), free(o2), free(di1), free(di2), free(dw1);
  free(dw2), free(db1), free(db2);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// LayerNorm.

typedef struct ln_ctx {
  double *inp, *w, *b, *out;
  size_t N, C;
  const float *R;
} ln_ctx_t;

static double ln_loss(void *p) {
  ln_ctx_t *c = p;
  d_layernorm(c->out, c->inp, c->w, c->b, c->N, c->C);
  return dot(c->out, c->R, c->N * c->C);
}

START_TEST(test_layernorm) {
  size_t N = 6, C = 16;
  float *inp = frandom(N * C, 2.0), *w = frandom(C, 1.0), *b = frandom(C, 1.0);
  float *R = frandom(N * C, 1.0);
  for (size_t i = 0; i < N * C; i++) {
    inp[i] += (float)(i % C) * 0.1f;  // a non-zero mean per row
  }
  float *out = calloc(N * C, 4), *mean = calloc(N, 4), *rstd = calloc(N, 4);
  float *dinp = calloc(N * C, 4), *dw = calloc(C, 4), *db = calloc(C, 4);
  sparrow_train_layernorm_forward(out, mean, rstd, inp, w, b, N, C);
  sparrow_train_layernorm_backward(dinp, dw, db, R, inp, w, mean, rstd, N, C);
  ln_ctx_t c = {to_double(inp, N * C),
                to_double(w, C),
                to_double(b, C),
                calloc(N * C, sizeof(double)),
                N,
                C,
                R};
  printf("layernorm 6x16:\n");
  ck_assert(fd_check("dinp", c.inp, N * C, dinp, ln_loss, &c, TOL_LAYER) <= TOL_LAYER);
  ck_assert(fd_check("dw", c.w, C, dw, ln_loss, &c, TOL_LAYER) <= TOL_LAYER);
  ck_assert(fd_check("db", c.b, C, db, ln_loss, &c, TOL_LAYER) <= TOL_LAYER);
  free(inp), free(w), free(b), free(R), free(out), free(mean), free(rstd), free(dinp), free(dw);
  free(db), free(c.inp), free(c.w), free(c.b), free(c.out);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// Attention (causal).

typedef struct att_ctx {
  double *qkv, *out;
  size_t B, T, C, NH;
  const float *R;
} att_ctx_t;

static double att_loss(void *p) {
  att_ctx_t *c = p;
  d_attention(c->out, c->qkv, c->B, c->T, c->C, c->NH);
  return dot(c->out, c->R, c->B * c->T * c->C);
}

START_TEST(test_attention) {
  size_t B = 2, T = 7, C = 16, NH = 2;
  float *qkv = frandom(B * T * 3 * C, 1.5), *R = frandom(B * T * C, 1.0);
  float *out = calloc(B * T * C, 4), *pre = calloc(B * NH * T * T, 4);
  float *att = calloc(B * NH * T * T, 4), *dqkv = calloc(B * T * 3 * C, 4);
  float *dpre = calloc(B * NH * T * T, 4), *datt = calloc(B * NH * T * T, 4);
  sparrow_train_attention_forward(out, pre, att, qkv, B, T, C, NH);
  sparrow_train_attention_backward(dqkv, dpre, datt, R, qkv, att, B, T, C, NH);
  att_ctx_t c = {to_double(qkv, B * T * 3 * C), calloc(B * T * C, sizeof(double)), B, T, C, NH, R};
  printf("attention B=2 T=7 C=16 NH=2 (causal):\n");
  // Sample q, k and v alike: 3C per position.
  ck_assert(fd_check("dqkv", c.qkv, B * T * 3 * C, dqkv, att_loss, &c, TOL_LAYER) <= TOL_LAYER);
  // Every element of the last position of batch 1 (its q, k, v), where all keys are visible.
  size_t last = (1 * T + T - 1) * 3 * C;
  ck_assert(fd_check("dqkv (last position)", c.qkv + last, 3 * C, dqkv + last, att_loss, &c,
                     TOL_LAYER) <= TOL_LAYER);
  // The weights of the future are exactly zero.
  for (size_t b = 0; b < B; b++) {
    for (size_t h = 0; h < NH; h++) {
      for (size_t t = 0; t < T; t++) {
        for (size_t t2 = t + 1; t2 < T; t2++) {
          ck_assert(att[((b * NH + h) * T + t) * T + t2] == 0.0f);
        }
      }
    }
  }
  // The causal mask in the backward pass: a gradient on the outputs up to position t0 only never
  // reaches the keys and values of later positions (exact zeros), but does reach earlier ones.
  size_t t0 = 3;
  float *R2 = calloc(B * T * C, 4), *dqkv2 = calloc(B * T * 3 * C, 4);
  for (size_t b = 0; b < B; b++) {
    memcpy(R2 + b * T * C, R + b * T * C, (t0 + 1) * C * 4);
  }
  sparrow_train_attention_backward(dqkv2, dpre, datt, R2, qkv, att, B, T, C, NH);
  for (size_t b = 0; b < B; b++) {
    for (size_t t = 0; t < T; t++) {
      size_t nonzero = 0;
      for (size_t i = 0; i < 3 * C; i++) {
        nonzero += dqkv2[(b * T + t) * 3 * C + i] != 0.0f;
      }
      if (t > t0) {
        ck_assert_msg(nonzero == 0, "position %zu > %zu got a gradient from the past", t, t0);
      } else {
        ck_assert_uint_gt(nonzero, 0);
      }
    }
  }
  free(qkv), free(R), free(out), free(pre), free(att), free(dqkv), free(dpre), free(datt);
  free(R2), free(dqkv2), free(c.qkv), free(c.out);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// GELU, residual, encoder, LM head, softmax-CE.

typedef struct ew_ctx {
  double *x, *out;
  size_t n;
  const float *R;
} ew_ctx_t;

static double gelu_loss(void *p) {
  ew_ctx_t *c = p;
  d_gelu(c->out, c->x, c->n);
  return dot(c->out, c->R, c->n);
}

START_TEST(test_gelu) {
  size_t n = 64;
  float *x = frandom(n, 5.0), *R = frandom(n, 1.0), *out = calloc(n, 4), *dx = calloc(n, 4);
  sparrow_train_gelu_forward(out, x, n);
  sparrow_train_gelu_backward(dx, x, R, n);
  ew_ctx_t c = {to_double(x, n), calloc(n, sizeof(double)), n, R};
  printf("gelu (tanh form), 64 values in [-5, 5]:\n");
  ck_assert(fd_check("dx", c.x, n, dx, gelu_loss, &c, TOL_LAYER) <= TOL_LAYER);
  free(x), free(R), free(out), free(dx), free(c.x), free(c.out);
}
END_TEST

typedef struct res_ctx {
  double *a, *b;
  size_t n;
  const float *R;
} res_ctx_t;

static double res_loss(void *p) {
  res_ctx_t *c = p;
  double s = 0;
  for (size_t i = 0; i < c->n; i++) {
    s += (c->a[i] + c->b[i]) * c->R[i];
  }
  return s;
}

START_TEST(test_residual) {
  size_t n = 40;
  float *a = frandom(n, 1.0), *b = frandom(n, 1.0), *R = frandom(n, 1.0);
  float *out = calloc(n, 4), *da = calloc(n, 4), *db = calloc(n, 4);
  sparrow_train_residual_forward(out, a, b, n);
  sparrow_train_residual_backward(da, db, R, n);
  res_ctx_t c = {to_double(a, n), to_double(b, n), n, R};
  printf("residual, 40 values:\n");
  ck_assert(fd_check("da", c.a, n, da, res_loss, &c, TOL_LAYER) <= TOL_LAYER);
  ck_assert(fd_check("db", c.b, n, db, res_loss, &c, TOL_LAYER) <= TOL_LAYER);
  free(a), free(b), free(R), free(out), free(da), free(db), free(c.a), free(c.b);
}
END_TEST

typedef struct enc_ctx {
  double *wte, *wpe;
  const uint32_t *inp;
  size_t B, T, C;
  const float *R;
} enc_ctx_t;

static double enc_loss(void *p) {
  enc_ctx_t *c = p;
  double s = 0;
  for (size_t b = 0; b < c->B; b++) {
    for (size_t t = 0; t < c->T; t++) {
      for (size_t k = 0; k < c->C; k++) {
        s += (c->wte[c->inp[b * c->T + t] * c->C + k] + c->wpe[t * c->C + k]) *
             c->R[(b * c->T + t) * c->C + k];
      }
    }
  }
  return s;
}

START_TEST(test_encoder) {
  size_t B = 2, T = 5, C = 8, V = 6;
  uint32_t inp[10] = {0, 3, 3, 5, 1, 2, 0, 3, 4, 4};  // repeated tokens accumulate
  float *wte = frandom(V * C, 1.0), *wpe = frandom(T * C, 1.0), *R = frandom(B * T * C, 1.0);
  float *out = calloc(B * T * C, 4), *dwte = calloc(V * C, 4), *dwpe = calloc(T * C, 4);
  sparrow_train_encoder_forward(out, inp, wte, wpe, B, T, C);
  sparrow_train_encoder_backward(dwte, dwpe, R, inp, B, T, C);
  enc_ctx_t c = {to_double(wte, V * C), to_double(wpe, T * C), inp, B, T, C, R};
  printf("encoder B=2 T=5 C=8, vocabulary 6:\n");
  ck_assert(fd_check("dwte", c.wte, V * C, dwte, enc_loss, &c, TOL_LAYER) <= TOL_LAYER);
  ck_assert(fd_check("dwpe", c.wpe, T * C, dwpe, enc_loss, &c, TOL_LAYER) <= TOL_LAYER);
  free(wte), free(wpe), free(R), free(out), free(dwte), free(dwpe), free(c.wte), free(c.wpe);
}
END_TEST

typedef struct head_ctx {
  double *inp, *wte, *logits;
  const uint32_t *targets;
  size_t N, C, V, Vp;
} head_ctx_t;

// LM head and softmax cross-entropy together, as in the model.
static double head_loss(void *p) {
  head_ctx_t *c = p;
  d_lmhead(c->logits, c->inp, c->wte, c->N, c->C, c->Vp);
  return d_softmax_ce(c->logits, c->targets, c->N, c->V, c->Vp);
}

typedef struct ce_ctx {
  double *logits;
  const uint32_t *targets;
  size_t N, V, Vp;
} ce_ctx_t;

static double ce_loss(void *p) {
  ce_ctx_t *c = p;
  return d_softmax_ce(c->logits, c->targets, c->N, c->V, c->Vp);
}

START_TEST(test_softmax_ce) {
  size_t N = 6, V = 13, Vp = 16;
  uint32_t targets[6] = {0, 12, 5, 5, 7, 1};
  float *logits = frandom(N * Vp, 3.0), *probs = calloc(N * Vp, 4), *losses = calloc(N, 4);
  float *dlogits = calloc(N * Vp, 4);
  sparrow_train_softmax_ce_forward(probs, losses, logits, targets, N, V, Vp);
  sparrow_train_softmax_ce_backward(dlogits, probs, targets, 1.0f / (float)N, N, V, Vp);
  ce_ctx_t c = {to_double(logits, N * Vp), targets, N, V, Vp};
  double mean = 0;
  for (size_t n = 0; n < N; n++) {
    mean += losses[n];
    double rowsum = 0;
    for (size_t v = 0; v < Vp; v++) {
      rowsum += probs[n * Vp + v];
      if (v >= V) {
        ck_assert(probs[n * Vp + v] == 0.0f && dlogits[n * Vp + v] == 0.0f);  // the padding
      }
    }
    ck_assert(fabs(rowsum - 1.0) < 1e-6);
  }
  double ref = ce_loss(&c);
  printf("softmax cross-entropy, 6 rows, vocabulary 13 padded to 16:\n");
  printf("  %-22s relative error %.3e  (tolerance %.0e)\n", "mean loss", fabs(mean / N - ref) / ref,
         TOL_LAYER);
  ck_assert(fabs(mean / N - ref) / ref <= TOL_LAYER);
  // All elements, the padding's included (their gradient is exactly zero both ways).
  ck_assert(fd_check("dlogits", c.logits, N * Vp, dlogits, ce_loss, &c, TOL_LAYER) <= TOL_LAYER);
  free(logits), free(probs), free(losses), free(dlogits), free(c.logits);
}
END_TEST

START_TEST(test_lmhead) {
  size_t N = 5, C = 8, V = 11, Vp = 16;
  uint32_t targets[5] = {3, 10, 0, 3, 7};
  float *inp = frandom(N * C, 2.0), *wte = frandom(Vp * C, 1.0);
  float *logits = calloc(N * Vp, 4), *probs = calloc(N * Vp, 4), *losses = calloc(N, 4);
  float *dlogits = calloc(N * Vp, 4), *dinp = calloc(N * C, 4), *dwte = calloc(Vp * C, 4);
  sparrow_train_lmhead_forward(logits, inp, wte, N, C, Vp);
  sparrow_train_softmax_ce_forward(probs, losses, logits, targets, N, V, Vp);
  sparrow_train_softmax_ce_backward(dlogits, probs, targets, 1.0f / (float)N, N, V, Vp);
  sparrow_train_lmhead_backward(dinp, dwte, dlogits, inp, wte, N, C, Vp);
  head_ctx_t c = {to_double(inp, N * C),
                  to_double(wte, Vp * C),
                  calloc(N * Vp, sizeof(double)),
                  targets,
                  N,
                  C,
                  V,
                  Vp};
  printf("tied LM head + softmax cross-entropy, 5 rows, C=8, vocabulary 11 padded to 16:\n");
  ck_assert(fd_check("dinp", c.inp, N * C, dinp, head_loss, &c, TOL_LAYER) <= TOL_LAYER);
  ck_assert(fd_check("dwte", c.wte, Vp * C, dwte, head_loss, &c, TOL_LAYER) <= TOL_LAYER);
  for (size_t i = V * C; i < Vp * C; i++) {
    ck_assert(dwte[i] == 0.0f);  // padding rows: no logit in the softmax, no gradient
  }
  free(inp), free(wte), free(logits), free(probs), free(losses), free(dlogits), free(dinp);
  free(dwte), free(c.inp), free(c.wte), free(c.logits);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// The whole model, block-sparse, in double.

typedef struct model_ctx {
  const sparrow_gpt_config_t *cfg;
  const sparrow_gpt_layout_t *lay;
  double *P;  // parameters in double, the library's layout
  const uint8_t *masks;
  const uint32_t *inp, *tgt;
  size_t B, T;
} model_ctx_t;

static double *slice(const model_ctx_t *c, sparrow_gpt_tensor_t t, size_t l) {
  size_t per = c->lay->size[t];
  bool layered = t != SPARROW_GPT_WTE && t != SPARROW_GPT_WPE && t != SPARROW_GPT_LNFW &&
                 t != SPARROW_GPT_LNFB;
  if (layered) {
    per /= c->cfg->n_layer;
  }
  return c->P + c->lay->offset[t] + (layered ? l * per : 0);
}

static double model_loss(void *p) {
  model_ctx_t *c = p;
  size_t B = c->B, T = c->T, N = B * T, C = c->cfg->n_embd, NH = c->cfg->n_head;
  size_t V = c->cfg->vocab, Vp = c->cfg->vocab_padded, blk = c->cfg->block;
  double *x = calloc(N * C, 8), *ln = calloc(N * C, 8), *qkv = calloc(N * 3 * C, 8);
  double *y = calloc(N * C, 8), *proj = calloc(N * C, 8), *fc = calloc(N * 4 * C, 8);
  double *g = calloc(N * 4 * C, 8), *logits = calloc(N * Vp, 8);
  const double *wte = slice(c, SPARROW_GPT_WTE, 0), *wpe = slice(c, SPARROW_GPT_WPE, 0);
  for (size_t n = 0; n < N; n++) {
    for (size_t k = 0; k < C; k++) {
      x[n * C + k] = wte[c->inp[n] * C + k] + wpe[(n % T) * C + k];
    }
  }
  for (size_t l = 0; l < c->cfg->n_layer; l++) {
    const uint8_t *m[4];
    for (int j = 0; j < 4; j++) {
      m[j] = c->masks + c->lay->mask_offset[l * 4 + j];
    }
    d_layernorm(ln, x, slice(c, SPARROW_GPT_LN1W, l), slice(c, SPARROW_GPT_LN1B, l), N, C);
    d_matmul(qkv, ln, slice(c, SPARROW_GPT_QKVW, l), slice(c, SPARROW_GPT_QKVB, l), m[0], blk, N, C,
             3 * C);
    d_attention(y, qkv, B, T, C, NH);
    d_matmul(proj, y, slice(c, SPARROW_GPT_ATTPROJW, l), slice(c, SPARROW_GPT_ATTPROJB, l), m[1],
             blk, N, C, C);
    for (size_t i = 0; i < N * C; i++) {
      x[i] += proj[i];
    }
    d_layernorm(ln, x, slice(c, SPARROW_GPT_LN2W, l), slice(c, SPARROW_GPT_LN2B, l), N, C);
    d_matmul(fc, ln, slice(c, SPARROW_GPT_FCW, l), slice(c, SPARROW_GPT_FCB, l), m[2], blk, N, C,
             4 * C);
    d_gelu(g, fc, N * 4 * C);
    d_matmul(proj, g, slice(c, SPARROW_GPT_FCPROJW, l), slice(c, SPARROW_GPT_FCPROJB, l), m[3], blk,
             N, 4 * C, C);
    for (size_t i = 0; i < N * C; i++) {
      x[i] += proj[i];
    }
  }
  d_layernorm(ln, x, slice(c, SPARROW_GPT_LNFW, 0), slice(c, SPARROW_GPT_LNFB, 0), N, C);
  d_lmhead(logits, ln, wte, N, C, Vp);
  double loss = d_softmax_ce(logits, c->tgt, N, V, Vp);
  free(x), free(ln), free(qkv), free(y), free(proj), free(fc), free(g), free(logits);
  return loss;
}

START_TEST(test_model_sparse) {
  sparrow_gpt_config_t cfg = {.n_layer = 2,
                              .n_head = 2,
                              .n_embd = 16,
                              .n_ctx = 8,
                              .batch = 2,
                              .vocab = 13,
                              .vocab_padded = 16,
                              .block = 8};
  char msg[256];
  sparrow_gpt_t m;
  ck_assert_int_eq(sparrow_gpt_create(&cfg, &m, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  // Larger-than-GPT-2 weights so that every path carries a visible gradient; LayerNorm weights
  // around 1.
  for (int t = 0; t < SPARROW_GPT_TENSORS; t++) {
    bool lnw = t == SPARROW_GPT_LN1W || t == SPARROW_GPT_LN2W || t == SPARROW_GPT_LNFW;
    for (size_t i = 0; i < m.layout.size[t]; i++) {
      m.params[m.layout.offset[t] + i] = lnw ? 1.0f + frand(0.3) : frand(0.4);
    }
  }
  // Balanced random masks at density 1/2 for every linear layer, in force.
  for (uint32_t l = 0; l < cfg.n_layer; l++) {
    for (int j = 0; j < SPARROW_GPT_LINEARS; j++) {
      ck_assert_int_eq(sparrow_mask_balanced_random(
                           m.layout.mask_rows[j], m.layout.mask_cols[j], 2, 77 + l * 4 + j,
                           m.masks + m.layout.mask_offset[l * 4 + j], msg, sizeof(msg)),
                       SPARROW_MASK_OK);
    }
  }
  m.masks_active = true;
  sparrow_gpt_apply_masks(&cfg, &m.layout, m.masks, m.params);
  uint32_t inp[16], tgt[16];
  for (int i = 0; i < 16; i++) {
    inp[i] = (uint32_t)sparrow_train_rng_below(&g_rng, cfg.vocab);
    tgt[i] = (uint32_t)sparrow_train_rng_below(&g_rng, cfg.vocab);
  }
  float loss = 0;
  sparrow_gpt_forward(&m, inp, tgt, 2, 8, &loss);
  sparrow_gpt_backward(&m);
  model_ctx_t c = {&cfg, &m.layout, to_double(m.params, m.layout.n_params), m.masks, inp, tgt,
                   2,    8};
  double ref = model_loss(&c);
  printf("whole model (2 layers, 2 heads, C=16, T=8, B=2, V=13/16, masks 1/2):\n");
  printf("  %-22s relative error %.3e  (tolerance %.0e): %.6f vs %.6f in double\n", "loss",
         fabs(loss - ref) / ref, TOL_LAYER, (double)loss, ref);
  ck_assert(fabs(loss - ref) / ref <= TOL_LAYER);
  for (int t = 0; t < SPARROW_GPT_TENSORS; t++) {
    double err =
        fd_check(sparrow_gpt_tensor_name((sparrow_gpt_tensor_t)t), c.P + m.layout.offset[t],
                 m.layout.size[t], m.grads + m.layout.offset[t], model_loss, &c, TOL_MODEL);
    ck_assert_msg(err <= TOL_MODEL, "%s: %g", sparrow_gpt_tensor_name((sparrow_gpt_tensor_t)t),
                  err);
  }
  // Masked weight gradients: exactly zero outside the masks.
  float *copy = malloc(m.layout.n_params * sizeof(float));
  memcpy(copy, m.grads, m.layout.n_params * sizeof(float));
  sparrow_gpt_apply_masks(&cfg, &m.layout, m.masks, copy);
  ck_assert_int_eq(memcmp(copy, m.grads, m.layout.n_params * sizeof(float)), 0);
  free(copy);
  free(c.P);
  sparrow_gpt_destroy(&m);
}
END_TEST

START_TEST(test_model_forward_shorter_window) {
  // A forward on fewer positions (sampling) gives the same probabilities as the first positions
  // of a full forward: causality, and the activations' packing for smaller shapes.
  sparrow_gpt_config_t cfg = {.n_layer = 1,
                              .n_head = 2,
                              .n_embd = 16,
                              .n_ctx = 8,
                              .batch = 2,
                              .vocab = 10,
                              .vocab_padded = 16,
                              .block = 8};
  char msg[256];
  sparrow_gpt_t m;
  ck_assert_int_eq(sparrow_gpt_create(&cfg, &m, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  sparrow_gpt_init_params(&cfg, &m.layout, 5, m.params);
  uint32_t inp[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6};
  sparrow_gpt_forward(&m, inp, NULL, 2, 8, NULL);
  float full[5][16];
  for (uint32_t t = 0; t < 5; t++) {
    memcpy(full[t], sparrow_gpt_probs(&m, 0, t), sizeof(full[t]));
  }
  sparrow_gpt_forward(&m, inp, NULL, 1, 5, NULL);
  for (uint32_t t = 0; t < 5; t++) {
    ck_assert_int_eq(memcmp(full[t], sparrow_gpt_probs(&m, 0, t), sizeof(full[t])), 0);
  }
  sparrow_gpt_destroy(&m);
}
END_TEST

START_TEST(test_config_errors) {
  char msg[256];
  sparrow_gpt_config_t c;
  ck_assert(sparrow_gpt_preset("micro", &c));
  ck_assert(c.n_layer == 2 && c.n_head == 4 && c.n_embd == 64 && c.n_ctx == 64 && c.batch == 4);
  ck_assert(sparrow_gpt_preset("small", &c));
  ck_assert(c.n_layer == 4 && c.n_head == 4 && c.n_embd == 128 && c.n_ctx == 128 && c.batch == 8);
  ck_assert(sparrow_gpt_preset("wide", &c));
  ck_assert(c.n_layer == 1 && c.n_head == 4 && c.n_embd == 256 && c.n_ctx == 64 && c.batch == 4);
  ck_assert(!sparrow_gpt_preset("huge", &c));
  c.vocab = 63;
  c.vocab_padded = 64;
  ck_assert_int_eq(sparrow_gpt_config_check(&c, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  c.n_head = 3;
  ck_assert_int_eq(sparrow_gpt_config_check(&c, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  ck_assert_ptr_nonnull(strstr(msg, "not a multiple of the number of heads"));
  c.n_head = 4;
  c.block = 12;
  ck_assert_int_eq(sparrow_gpt_config_check(&c, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  ck_assert_ptr_nonnull(strstr(msg, "block size 12"));
  c.block = 8;
  c.vocab_padded = 63;
  ck_assert_int_eq(sparrow_gpt_config_check(&c, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  ck_assert_ptr_nonnull(strstr(msg, "padded vocabulary"));
  c.vocab_padded = 64;
  c.n_embd = 260;  // 260 = 4 heads x 65, not a multiple of 8
  ck_assert_int_eq(sparrow_gpt_config_check(&c, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  ck_assert_ptr_nonnull(strstr(msg, "multiple of the block size"));
  c.n_embd = 64;
  c.n_layer = 0;
  ck_assert_int_eq(sparrow_gpt_config_check(&c, msg, sizeof(msg)), SPARROW_TRAIN_E_ARG);
  ck_assert_ptr_nonnull(strstr(msg, "layers 0 is out of range"));
}
END_TEST

// ---------------------------------------------------------------------------------------------
// AdamW and the schedule.

START_TEST(test_schedule) {
  sparrow_adamw_t hp;
  sparrow_adamw_defaults(&hp);
  ck_assert_uint_eq(sparrow_adamw_warmup(30), 3);
  ck_assert_uint_eq(sparrow_adamw_warmup(5000), 100);
  ck_assert_uint_eq(sparrow_adamw_warmup(9), 0);
  // Warm-up: lr (s + 1) / warmup.
  ck_assert(sparrow_adamw_lr(&hp, 0, 1000, 100) == (float)(1e-3f * 1.0 / 100.0));
  ck_assert(fabsf(sparrow_adamw_lr(&hp, 99, 1000, 100) - 1e-3f) < 1e-9f);
  // Cosine: the peak right after warm-up, the midpoint at the mean of peak and floor, the floor
  // (10%) approached at the end.
  ck_assert(fabsf(sparrow_adamw_lr(&hp, 100, 1000, 100) - 1e-3f) < 1e-9f);
  ck_assert(fabsf(sparrow_adamw_lr(&hp, 550, 1000, 100) - 0.55e-3f) < 1e-9f);
  ck_assert(fabsf(sparrow_adamw_lr(&hp, 999, 1000, 100) - 1e-4f) < 1e-8f);
  ck_assert(sparrow_adamw_lr(&hp, 999, 1000, 100) > 1e-4f);
  ck_assert(fabsf(sparrow_adamw_lr(&hp, 5000, 1000, 100) - 1e-4f) < 1e-9f);  // past the end
  // Decreasing after warm-up.
  for (uint64_t s = 101; s < 1000; s++) {
    ck_assert(sparrow_adamw_lr(&hp, s, 1000, 100) <= sparrow_adamw_lr(&hp, s - 1, 1000, 100));
  }
}
END_TEST

START_TEST(test_adamw_step) {
  // A model of 1 layer, width 8, vocabulary 8: every tensor kind. Three steps against the formula
  // computed here in double, element by element.
  sparrow_gpt_config_t cfg = {.n_layer = 1,
                              .n_head = 1,
                              .n_embd = 8,
                              .n_ctx = 2,
                              .batch = 1,
                              .vocab = 8,
                              .vocab_padded = 8,
                              .block = 8};
  char msg[256];
  sparrow_gpt_layout_t lay;
  ck_assert_int_eq(sparrow_gpt_layout_init(&cfg, &lay, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  size_t n = lay.n_params;
  sparrow_adamw_t hp;
  sparrow_adamw_defaults(&hp);
  float *p = frandom(n, 1.0), *m = calloc(n, 4), *v = calloc(n, 4);
  double *pd = to_double(p, n), *md = calloc(n, 8), *vd = calloc(n, 8);
  for (uint64_t t = 1; t <= 3; t++) {
    // Step 2 has a gradient norm far above the clip (1.0); the others below it.
    double gscale = t == 2 ? 10.0 : 0.01;
    float *g = frandom(n, gscale);
    float norm = 0;
    sparrow_adamw_step(&hp, &lay, p, g, m, v, 1e-2f, t, &norm);
    double sq = 0;
    for (size_t i = 0; i < n; i++) {
      sq += (double)g[i] * g[i];
    }
    ck_assert(fabs(norm - sqrt(sq)) <= 1e-6 * sqrt(sq));
    double clip = sqrt(sq) > 1.0 ? 1.0 / sqrt(sq) : 1.0;
    double err = 0;
    for (int k = 0; k < SPARROW_GPT_TENSORS; k++) {
      double wd = sparrow_gpt_tensor_decays((sparrow_gpt_tensor_t)k) ? 0.1 : 0.0;
      for (size_t i = lay.offset[k]; i < lay.offset[k] + lay.size[k]; i++) {
        double gi = g[i] * clip;
        md[i] = 0.9 * md[i] + 0.1 * gi;
        vd[i] = 0.95 * vd[i] + 0.05 * gi * gi;
        double mh = md[i] / (1 - pow(0.9, (double)t)), vh = vd[i] / (1 - pow(0.95, (double)t));
        pd[i] -= 1e-2 * (mh / (sqrt(vh) + 1e-8) + wd * pd[i]);
        err = fmax(err, fabs(pd[i] - p[i]));
      }
    }
    printf("AdamW step %llu (gradient norm %.3g): max |fp32 - double| of the weights %.2e\n",
           (unsigned long long)t, (double)norm, err);
    ck_assert(err < 1e-6);
    free(g);
  }
  // Zero gradient, moments and weight stay exactly zero (pruned blocks stay pruned).
  float zp[1] = {0}, zg[1] = {0}, zm[1] = {0}, zv[1] = {0};
  sparrow_gpt_layout_t one = {.n_params = 1};
  one.size[SPARROW_GPT_QKVW] = 1;
  one.offset[SPARROW_GPT_QKVW] = 0;
  sparrow_adamw_step(&hp, &one, zp, zg, zm, zv, 1e-2f, 5, NULL);
  ck_assert(zp[0] == 0.0f && zm[0] == 0.0f && zv[0] == 0.0f);
  free(p), free(m), free(v), free(pd), free(md), free(vd);
  sparrow_gpt_layout_free(&lay);
}
END_TEST

int main(void) {
  Suite *suite = suite_create("train_layers");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_matmul_dense);
  tcase_add_test(tc, test_matmul_sparse);
  tcase_add_test(tc, test_matmul_all_ones_mask_is_dense);
  tcase_add_test(tc, test_layernorm);
  tcase_add_test(tc, test_attention);
  tcase_add_test(tc, test_gelu);
  tcase_add_test(tc, test_residual);
  tcase_add_test(tc, test_encoder);
  tcase_add_test(tc, test_softmax_ce);
  tcase_add_test(tc, test_lmhead);
  tcase_add_test(tc, test_model_sparse);
  tcase_add_test(tc, test_model_forward_shorter_window);
  tcase_add_test(tc, test_config_errors);
  tcase_add_test(tc, test_schedule);
  tcase_add_test(tc, test_adamw_step);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? 0 : 1;
}
