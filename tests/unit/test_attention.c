// SPDX-License-Identifier: Apache-2.0
//
// Check suite for softmax and causal multi-head self-attention (host/ops/op_softmax.c,
// op_attention.c; references host/ref/attention_ref.c; docs/ops.md, "Attention and softmax"):
//
//   strip     the strip-form softmax programs (forward and backward) run on the golden model
//             in-process (through its CSR window, as the firmware drives it) on S and M: bits
//             against the golden order, FP_STATUS against its flags, cycles against the runner's
//             estimate (equal), padding columns full of signalling NaNs never touched (+0 out, no
//             flag), several groups (the prologue's modulo), causal and scaled;
//   device    the operators through the driver and sparrow-sim's golden model (configuration S,
//             and M for the lane independence): attention and softmax, forward and backward, bit
//             for bit and flag for flag against the golden order, and within the documented
//             normwise tolerance of the plain double versions (every error printed); edge inputs
//             (the first causal row is exactly 1, rows of equal values, large logits, overflow to
//             infinity and NaN reported);
//   gradient  the plain backward versions against central finite differences of the double
//             forwards (every tensor's normwise error printed).

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"
#include "ops_fixture_simd.h"
#include "simd_ops.h"
#include "simd_run.h"
#include "sparrow.h"
#include "sparrow_model.h"
#include "sparrow_nn.h"
#include "sparrow_ref.h"

#define F_SNAN 0x7F800001u

// Normwise tolerances (sparrow_nn.h; docs/ops.md, "Attention and softmax"). The gradient check's:
// the plain backward rounds its outputs to binary32 and takes P rounded to binary32 (a few 2^-24
// relative), the central differences in double with step 1e-5 are good to about 1e-10.
#define TOL_SOFTMAX SPARROW_OPS_TOL_SOFTMAX
#define TOL_SOFTMAX_BWD SPARROW_OPS_TOL_SOFTMAX_BWD
#define TOL_ATTN SPARROW_OPS_TOL_ATTENTION
#define TOL_ATTN_BWD SPARROW_OPS_TOL_ATTENTION_BWD
#define TOL_GRADCHECK 1e-6

// ---------------------------------------------------------------------------------------------------
// Strip jobs on the golden model in-process.

// Rows of a group in the strip image: row i of group g is column g * colsp + i, element j on
// line j.
static void image_put(uint32_t *img, uint32_t width, uint32_t colsp, uint32_t g, uint32_t cols,
                      uint32_t len, const uint32_t *rows) {
  for (uint32_t i = 0; i < cols; ++i) {
    for (uint32_t j = 0; j < len; ++j) {
      img[(size_t)j * width + (size_t)g * colsp + i] = rows[(size_t)i * len + j];
    }
  }
}

static void image_get(const uint32_t *img, uint32_t width, uint32_t colsp, uint32_t g,
                      uint32_t cols, uint32_t len, uint32_t *rows) {
  for (uint32_t i = 0; i < cols; ++i) {
    for (uint32_t j = 0; j < len; ++j) {
      rows[(size_t)i * len + j] = img[(size_t)j * width + (size_t)g * colsp + i];
    }
  }
}

// Inputs in [-8, 8) (exponent + 3: exact), with some special values when asked.
static void make_rows(uint64_t seed, size_t count, bool special, uint32_t *x) {
  sparrow_ref_fill_uniform(seed, count, x);
  for (size_t i = 0; i < count; ++i) {
    x[i] = x[i] == 0 ? 0 : x[i] + (3u << 23);
  }
  static const uint32_t kSpecial[] = {0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x7F7FFFFFu,
                                      0x80000000u, 0x00000001u, 0xC2F00000u, 0x42F00000u};
  for (size_t k = 0; special && k < sizeof(kSpecial) / sizeof(kSpecial[0]) && count > 0; ++k) {
    x[(k * 7919u + 3u) % count] = kSpecial[k];
  }
}

// One strip case on one configuration, forward then backward (dy random, y the forward's golden
// result); both compared with the golden order.
static void check_strip(const sparrow_hw_config_t *cfg, const sparrow_ops_strip_t *s, uint64_t seed,
                        bool special) {
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  const uint32_t lanes = fab.lanes, width = sparrow_ops_strip_width(s, lanes);
  const uint32_t colsp = width / s->groups;
  const size_t rows_words = (size_t)s->cols * s->len, img_words = (size_t)s->len * width;
  uint32_t *x = malloc(4 * rows_words * s->groups), *y = malloc(4 * rows_words * s->groups);
  uint32_t *dy = malloc(4 * rows_words * s->groups), *dx = malloc(4 * rows_words * s->groups);
  uint32_t *got = malloc(4 * rows_words);
  ck_assert(x && y && dy && dx && got);
  make_rows(seed, rows_words * s->groups, special, x);
  sparrow_ref_fill_uniform(seed ^ 0x77u, rows_words * s->groups, dy);
  uint8_t fwd_flags = 0, bwd_flags = 0;
  for (uint32_t g = 0; g < s->groups; ++g) {
    size_t at = (size_t)g * rows_words;
    sparrow_ref_softmax_masked_golden(s->cols, s->len, s->causal, s->has_scale, s->scale, &x[at],
                                      &y[at], &fwd_flags);
    sparrow_ref_softmax_masked_bwd_golden(s->cols, s->len, s->causal, s->has_scale, s->scale,
                                          &y[at], &dy[at], &dx[at], &bwd_flags);
  }
  for (int backward = 0; backward < 2; ++backward) {
    sparrow_simd_asm_t code;
    sparrow_ops_simd_job_t job;
    ck_assert_int_eq(sparrow_ops_strip_job(s, backward, lanes, &code, &job), SPARROW_OPS_OK);
    sparrow_ops_simd_plan_t plan;
    char msg[200];
    ck_assert_msg(sparrow_ops_simd_plan(&fab, &job, &plan, msg, sizeof(msg)) == SPARROW_OPS_OK,
                  "%s", msg);
    // DRAM: code, in0, in1, out; the padding columns of the inputs hold signalling NaNs.
    uint64_t code_addr = 0x100, img_bytes = 4ull * img_words;
    uint64_t in_addr[2] = {code_addr + 4ull * plan.code_words + 0x40, 0};
    in_addr[1] = in_addr[0] + img_bytes + 0x40;
    uint64_t out_addr = in_addr[1] + img_bytes + 0x40, dram_bytes = out_addr + img_bytes + 0x100;
    uint8_t *dram = malloc(dram_bytes);
    ck_assert_ptr_nonnull(dram);
    memset(dram, FILL, dram_bytes);
    uint32_t *in0 = (uint32_t *)(dram + in_addr[0]), *in1 = (uint32_t *)(dram + in_addr[1]);
    for (size_t e = 0; e < img_words; ++e) {
      in0[e] = in1[e] = F_SNAN;
    }
    for (uint32_t g = 0; g < s->groups; ++g) {
      size_t at = (size_t)g * rows_words;
      image_put(in0, width, colsp, g, s->cols, s->len, backward ? &y[at] : &x[at]);
      if (backward) {
        image_put(in1, width, colsp, g, s->cols, s->len, &dy[at]);
      }
    }
    model_run_t r =
        run_simd_job(cfg, &fab, &plan, &job, dram, dram_bytes, code_addr, in_addr, out_addr);
    const uint32_t *out = (const uint32_t *)(dram + out_addr);
    size_t mismatches = 0;
    for (uint32_t g = 0; g < s->groups; ++g) {
      image_get(out, width, colsp, g, s->cols, s->len, got);
      mismatches += sparrow_ref_count_mismatches(
          rows_words, got, backward ? &dx[(size_t)g * rows_words] : &y[(size_t)g * rows_words]);
      for (uint32_t c = s->cols; c < colsp; ++c) {  // padding: +0, never computed on
        for (uint32_t j = 0; j < s->len; ++j) {
          ck_assert_uint_eq(out[(size_t)j * width + (size_t)g * colsp + c], 0);
        }
      }
    }
    uint8_t want = backward ? bwd_flags : fwd_flags;
    printf(
        "strip %s %s: %u groups of %u rows of %u%s%s%s: %zu mismatches, flags 0x%02x "
        "(golden 0x%02x), %llu cycles (estimate %llu), %u insns\n",
        backward ? "backward" : "forward", cfg->name, s->groups, s->cols, s->len,
        s->causal ? ", causal" : "", s->has_scale ? ", scaled" : "",
        special ? ", special values" : "", mismatches, r.fp_status, want,
        (unsigned long long)r.cycles, (unsigned long long)r.est_cycles, plan.insns);
    ck_assert_uint_eq(mismatches, 0);
    if (host_flags_observable()) {
      ck_assert_uint_eq(r.fp_status, want);
    }
    ck_assert_uint_eq(r.cycles, r.est_cycles);
    // Nothing outside the output buffer changed; the inputs are read once per pass.
    for (uint64_t i = out_addr + img_bytes; i < dram_bytes; ++i) {
      ck_assert_uint_eq(dram[i], FILL);
    }
    uint64_t beats = (uint64_t)plan.busy_tiles * plan.code_beats +
                     (uint64_t)(backward ? 2u : 1u) * job.passes * s->len * (width / lanes);
    ck_assert_uint_eq(r.dram_rd, beats * 4u * lanes);
    ck_assert_uint_eq(r.dram_wr, img_bytes);
    free(dram);
  }
  free(x);
  free(y);
  free(dy);
  free(dx);
  free(got);
}

START_TEST(test_strip_shapes) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  const uint32_t quarter = 0x3E800000u, third = sparrow_ref_attention_scale(9);
  const sparrow_ops_strip_t cases[] = {
      {1, 1, 1, false, false, 0},         // one element: y = 1
      {45, 37, 1, false, false, 0},       // the standalone form, padded columns
      {13, 13, 3, true, true, quarter},   // attention: causal, scaled, three groups
      {9, 9, 5, true, true, third},       // five groups (a three-bit modulo), scale 1/3
      {16, 16, 2, true, false, 0},        // cols a multiple of the lanes
      {7, 3, 1, true, true, third},       // causal with len > cols
      {20, 6, 11, false, true, quarter},  // eleven groups of 6 (padding in every group)
  };
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
    check_strip(cfg, &cases[c], 100 + c, false);
  }
}
END_TEST

// Infinities, NaNs, FLT_MAX, subnormals and large logits among the inputs: the same bits and
// exactly the golden flags (NaN rows give NV, the maximum's overflow under the scale OF).
START_TEST(test_strip_specials) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  const sparrow_ops_strip_t cases[] = {
      {45, 37, 1, false, false, 0},
      {13, 13, 3, true, true, 0x40000000u},  // scale 2: FLT_MAX overflows
  };
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
    check_strip(cfg, &cases[c], 200 + c, true);
  }
}
END_TEST

START_TEST(test_strip_refused) {
  sparrow_simd_asm_t code;
  sparrow_ops_simd_job_t job;
  sparrow_ops_strip_t ok = {4, 4, 1, false, false, 0};
  sparrow_ops_strip_t zero_len = {0, 4, 1, false, false, 0};
  sparrow_ops_strip_t zero_cols = {4, 0, 1, false, false, 0};
  sparrow_ops_strip_t zero_groups = {4, 4, 0, false, false, 0};
  sparrow_ops_strip_t huge = {65536, 65536, 4, false, false, 0};
  ck_assert_int_eq(sparrow_ops_strip_job(&ok, false, 4, &code, &job), SPARROW_OPS_OK);
  ck_assert_int_eq(sparrow_ops_strip_job(&zero_len, false, 4, &code, &job), SPARROW_OPS_E_ARG);
  ck_assert_int_eq(sparrow_ops_strip_job(&zero_cols, false, 4, &code, &job), SPARROW_OPS_E_ARG);
  ck_assert_int_eq(sparrow_ops_strip_job(&zero_groups, true, 4, &code, &job), SPARROW_OPS_E_ARG);
  ck_assert_int_eq(sparrow_ops_strip_job(&ok, false, 6, &code, &job), SPARROW_OPS_E_UNSUPPORTED);
  ck_assert_int_eq(sparrow_ops_strip_job(&huge, false, 4, &code, &job), SPARROW_OPS_E_UNSUPPORTED);
  ck_assert_int_eq(sparrow_ops_strip_job(NULL, false, 4, &code, &job), SPARROW_OPS_E_ARG);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// Through the driver and sparrow-sim's golden model.

static sparrow_dev_t *open_device(const char *uri) {
  sparrow_dev_t *dev = NULL;
  char msg[300] = "";
  sparrow_status_t st = sparrow_open(uri, &dev, msg, sizeof(msg));
  ck_assert_msg(st == SPARROW_OK, "open %s: %s: %s", uri, sparrow_status_name(st), msg);
  return dev;
}

static const char *const kDevices[] = {"sim:model,config=S", "sim:model,config=M"};

typedef struct attn_run {
  uint32_t B, T, C, NH;
  uint32_t *qkv, *dout;
  uint32_t *out, *att, *dqkv;     // device
  uint32_t *gout, *gatt, *gdqkv;  // golden
  uint32_t *pout, *patt, *pdqkv;  // plain
  uint8_t fwd_flags, bwd_flags;
  sparrow_ops_attn_stats_t fwd, bwd;
  double err_out, err_dq, err_dk, err_dv;
  size_t nonfinite_out, nonfinite_dqkv;
} attn_run_t;

static void attn_free(attn_run_t *r) {
  uint32_t *p[] = {r->qkv,  r->dout,  r->out,  r->att,  r->dqkv, r->gout,
                   r->gatt, r->gdqkv, r->pout, r->patt, r->pdqkv};
  for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); ++i) {
    free(p[i]);
  }
}

static void attn_alloc(attn_run_t *r, uint32_t B, uint32_t T, uint32_t C, uint32_t NH) {
  memset(r, 0, sizeof(*r));
  r->B = B, r->T = T, r->C = C, r->NH = NH;
  size_t n_qkv = (size_t)B * T * 3 * C, n_out = (size_t)B * T * C;
  size_t n_att = sparrow_ops_attention_att_elems(B, T, NH);
  r->qkv = malloc(4 * n_qkv);
  r->dout = malloc(4 * n_out);
  r->out = malloc(4 * n_out);
  r->gout = malloc(4 * n_out);
  r->pout = malloc(4 * n_out);
  r->att = malloc(4 * n_att);
  r->gatt = malloc(4 * n_att);
  r->patt = malloc(4 * n_att);
  r->dqkv = malloc(4 * n_qkv);
  r->gdqkv = malloc(4 * n_qkv);
  r->pdqkv = malloc(4 * n_qkv);
  ck_assert(r->qkv && r->dout && r->out && r->gout && r->pout && r->att && r->gatt && r->patt &&
            r->dqkv && r->gdqkv && r->pdqkv);
  sparrow_ref_fill_uniform(0x1234u + T, n_qkv, r->qkv);
  sparrow_ref_fill_uniform(0x4321u + T, n_out, r->dout);
}

// The normwise error of one third (q, k or v: `part`) of a B*T x 3C tensor.
static double part_err(const attn_run_t *r, const uint32_t *x, const uint32_t *ref, uint32_t part,
                       size_t *nonfinite) {
  size_t rows = (size_t)r->B * r->T;
  uint32_t *a = malloc(4 * rows * r->C), *b = malloc(4 * rows * r->C);
  ck_assert(a && b);
  for (size_t t = 0; t < rows; ++t) {
    memcpy(&a[t * r->C], &x[t * 3 * r->C + (size_t)part * r->C], 4u * r->C);
    memcpy(&b[t * r->C], &ref[t * 3 * r->C + (size_t)part * r->C], 4u * r->C);
  }
  size_t bad = 0;
  double e = sparrow_ref_norm_rel_err(rows * r->C, a, b, &bad);
  if (nonfinite != NULL) {
    *nonfinite += bad;
  }
  free(a);
  free(b);
  return e;
}

// Forward and backward on the device, golden and plain; the bits compared here, the errors
// measured for the caller.
static void attn_run(sparrow_dev_t *dev, attn_run_t *r, const char *label) {
  const uint32_t B = r->B, T = r->T, C = r->C, NH = r->NH;
  size_t n_qkv = (size_t)B * T * 3 * C, n_out = (size_t)B * T * C;
  size_t n_att = sparrow_ops_attention_att_elems(B, T, NH);
  char msg[400] = "";
  ck_assert_msg(sparrow_ops_attention(dev, B, T, C, NH, r->qkv, r->out, r->att, &r->fwd, msg,
                                      sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  ck_assert_int_eq(
      sparrow_ref_attention_golden(B, T, C, NH, r->qkv, r->gout, r->gatt, &r->fwd_flags), 0);
  ck_assert_int_eq(sparrow_ref_attention_plain(B, T, C, NH, r->qkv, r->pout, r->patt), 0);
  // The backward from the device's att (the same bits as the golden one, checked below).
  ck_assert_msg(sparrow_ops_attention_bwd(dev, B, T, C, NH, r->qkv, r->att, r->dout, r->dqkv,
                                          &r->bwd, msg, sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  ck_assert_int_eq(sparrow_ref_attention_bwd_golden(B, T, C, NH, r->qkv, r->att, r->dout, r->gdqkv,
                                                    &r->bwd_flags),
                   0);
  ck_assert_int_eq(sparrow_ref_attention_bwd_plain(B, T, C, NH, r->qkv, r->att, r->dout, r->pdqkv),
                   0);
  size_t mm_out = sparrow_ref_count_mismatches(n_out, r->out, r->gout);
  size_t mm_att = sparrow_ref_count_mismatches(n_att, r->att, r->gatt);
  size_t mm_d = sparrow_ref_count_mismatches(n_qkv, r->dqkv, r->gdqkv);
  r->err_out = sparrow_ref_norm_rel_err(n_out, r->out, r->pout, &r->nonfinite_out);
  r->err_dq = part_err(r, r->dqkv, r->pdqkv, 0, &r->nonfinite_dqkv);
  r->err_dk = part_err(r, r->dqkv, r->pdqkv, 1, &r->nonfinite_dqkv);
  r->err_dv = part_err(r, r->dqkv, r->pdqkv, 2, &r->nonfinite_dqkv);
  printf(
      "attention %s B %u T %u C %u heads %u: mismatches out %zu att %zu dqkv %zu; flags fwd 0x%02x "
      "(golden 0x%02x) bwd 0x%02x (golden 0x%02x); errors out %.3g dq %.3g dk %.3g dv %.3g "
      "(tolerances %.3g, %.3g); cycles fwd %llu (%u GEMMs) bwd %llu (%u GEMMs)\n",
      label, B, T, C, NH, mm_out, mm_att, mm_d, r->fwd.fp_status, r->fwd_flags, r->bwd.fp_status,
      r->bwd_flags, r->err_out, r->err_dq, r->err_dk, r->err_dv, TOL_ATTN, TOL_ATTN_BWD,
      (unsigned long long)r->fwd.cycles, r->fwd.gemms, (unsigned long long)r->bwd.cycles,
      r->bwd.gemms);
  ck_assert_uint_eq(mm_out, 0);
  ck_assert_uint_eq(mm_att, 0);
  ck_assert_uint_eq(mm_d, 0);
  if (host_flags_observable()) {
    ck_assert_uint_eq(r->fwd.fp_status, r->fwd_flags);
    ck_assert_uint_eq(r->bwd.fp_status, r->bwd_flags);
  }
  ck_assert_uint_eq(r->fwd.gemms, 2u * B * NH);
  ck_assert_uint_eq(r->bwd.gemms, 4u * B * NH);
  ck_assert_uint_eq(r->fwd.simd_jobs, 1);
  ck_assert_uint_eq(r->bwd.simd_jobs, 1);
  ck_assert_uint_eq(r->fwd.cycles, r->fwd.gemm_cycles + r->fwd.simd_cycles);
  ck_assert_uint_eq(r->fwd.simd_cycles, r->fwd.simd_est_cycles);  // the model's count
  ck_assert_uint_eq(r->bwd.simd_cycles, r->bwd.simd_est_cycles);
}

static void attn_within(const attn_run_t *r) {
  ck_assert_uint_eq(r->nonfinite_out, 0);
  ck_assert_uint_eq(r->nonfinite_dqkv, 0);
  ck_assert_msg(r->err_out <= TOL_ATTN, "out error %g", r->err_out);
  ck_assert_msg(r->err_dq <= TOL_ATTN_BWD, "dq error %g", r->err_dq);
  ck_assert_msg(r->err_dk <= TOL_ATTN_BWD, "dk error %g", r->err_dk);
  ck_assert_msg(r->err_dv <= TOL_ATTN_BWD, "dv error %g", r->err_dv);
}

// ||mag||_2 for dQ: mag[t][d] = sum over j of |G[t][j]| |K[j][d]|, G = P (dP - dot) scale in
// double from the run's att, qkv and dout.
static double dq_rounding_bound(const attn_run_t *r) {
  const uint32_t T = r->T, C = r->C, NH = r->NH, hs = C / NH, C3 = 3 * C;
  const double scale = 1.0 / sqrt((double)hs);
  double sum2 = 0;
  double *g = malloc(sizeof(double) * T);
  ck_assert_ptr_nonnull(g);
  for (uint32_t b = 0; b < r->B; ++b) {
    for (uint32_t h = 0; h < NH; ++h) {
      const uint32_t *p = &r->att[((size_t)b * NH + h) * T * T];
      for (uint32_t i = 0; i < T; ++i) {
        double dot = 0;
        for (uint32_t j = 0; j <= i; ++j) {
          double dp = 0;
          for (uint32_t d = 0; d < hs; ++d) {
            float fo, fv;
            memcpy(&fo, &r->dout[((size_t)b * T + i) * C + h * hs + d], 4);
            memcpy(&fv, &r->qkv[((size_t)b * T + j) * C3 + 2 * C + h * hs + d], 4);
            dp += (double)fo * fv;
          }
          float fp;
          memcpy(&fp, &p[(size_t)i * T + j], 4);
          g[j] = dp;
          dot += fp * dp;
        }
        for (uint32_t j = 0; j <= i; ++j) {
          float fp;
          memcpy(&fp, &p[(size_t)i * T + j], 4);
          g[j] = fabs(fp * (g[j] - dot) * scale);
        }
        for (uint32_t d = 0; d < hs; ++d) {
          double mag = 0;
          for (uint32_t j = 0; j <= i; ++j) {
            float fk;
            memcpy(&fk, &r->qkv[((size_t)b * T + j) * C3 + C + h * hs + d], 4);
            mag += g[j] * fabs(fk);
          }
          sum2 += mag * mag;
        }
      }
    }
  }
  free(g);
  return sqrt(sum2);
}

// ||dq (device) - dq (plain)||_2.
static double dq_abs_diff(const attn_run_t *r) {
  double sum2 = 0;
  for (size_t t = 0; t < (size_t)r->B * r->T; ++t) {
    for (uint32_t c = 0; c < r->C; ++c) {
      float a, b;
      memcpy(&a, &r->dqkv[t * 3 * r->C + c], 4);
      memcpy(&b, &r->pdqkv[t * 3 * r->C + c], 4);
      sum2 += ((double)a - b) * ((double)a - b);
    }
  }
  return sqrt(sum2);
}

// Shapes: one token; odd sizes with head sizes whose scale is not a power of two; the trainer's
// micro preset (4 x 64 tokens, C 64 in 4 heads of 16).
START_TEST(test_attention_shapes) {
  sparrow_dev_t *dev = open_device(kDevices[0]);
  static const uint32_t kShapes[][4] = {
      {1, 1, 4, 1}, {2, 13, 12, 2}, {1, 37, 24, 3}, {3, 5, 8, 8}, {4, 64, 64, 4},
  };
  for (size_t c = 0; c < sizeof(kShapes) / sizeof(kShapes[0]); ++c) {
    attn_run_t r;
    attn_alloc(&r, kShapes[c][0], kShapes[c][1], kShapes[c][2], kShapes[c][3]);
    attn_run(dev, &r, "S");
    attn_within(&r);
    attn_free(&r);
  }
  sparrow_close(dev);
}
END_TEST

// No result depends on the lanes or the tiling: M gives S's bits.
START_TEST(test_attention_lanes) {
  attn_run_t r[2];
  for (int d = 0; d < 2; ++d) {
    sparrow_dev_t *dev = open_device(kDevices[d]);
    attn_alloc(&r[d], 2, 21, 20, 2);
    attn_run(dev, &r[d], d == 0 ? "S" : "M");
    sparrow_close(dev);
  }
  size_t n_out = (size_t)2 * 21 * 20, n_qkv = 3 * n_out;
  ck_assert_uint_eq(sparrow_ref_count_mismatches(n_out, r[0].out, r[1].out), 0);
  ck_assert_uint_eq(sparrow_ref_count_mismatches(n_qkv, r[0].dqkv, r[1].dqkv), 0);
  attn_free(&r[0]);
  attn_free(&r[1]);
}
END_TEST

// Edge inputs, each checked bit for bit against the golden order as well as below:
//  - the first row of the causal mask: a softmax of one element, exactly 1.0 (P[0][0]), so
//    O[0] = V[0] exactly;
//  - rows of equal values (every key the same): P[i][j] = recip(i + 1) exactly for j <= i;
//  - large logits (S up to 2^30, computed exactly): no overflow thanks to the maximum, finite
//    outputs, no OF or NV;
//  - overflow: scores beyond FLT_MAX become infinities (OF) and their rows NaN (inf - inf: NV),
//    reported in the FP status.
START_TEST(test_attention_edges) {
  sparrow_dev_t *dev = open_device(kDevices[0]);
  const uint32_t B = 2, T = 9, C = 8, NH = 2, hs = 4, C3 = 24;
  // Equal keys: k rows identical within each batch.
  {
    attn_run_t r;
    attn_alloc(&r, B, T, C, NH);
    for (uint32_t b = 0; b < B; ++b) {
      for (uint32_t t = 1; t < T; ++t) {
        memcpy(&r.qkv[((size_t)b * T + t) * C3 + C], &r.qkv[(size_t)b * T * C3 + C], 4u * C);
      }
    }
    attn_run(dev, &r, "S, equal keys");
    // dQ is exactly 0 here (shifting a row's scores equally changes nothing), so its computed
    // value is all rounding: it is held to the dot products' error bound instead, normwise,
    // (T + 2) 2^-24 ||mag|| with mag[i][d] = sum over j of |G[i][j]| |K[j][d]| (G from the plain
    // backward's formula in double).
    double dq_bound = dq_rounding_bound(&r) * (T + 2) * 0x1p-24;
    double dq_diff = dq_abs_diff(&r);
    printf("equal keys: ||dq - plain|| = %.3g, bound %.3g\n", dq_diff, dq_bound);
    ck_assert(dq_diff <= dq_bound);
    r.err_dq = 0;
    attn_within(&r);
    for (uint32_t p = 0; p < B * NH; ++p) {
      for (uint32_t i = 0; i < T; ++i) {
        uint8_t f = 0;
        uint32_t want = sparrow_fp_recip(fbits((float)(i + 1)), &f);
        for (uint32_t j = 0; j < T; ++j) {
          ck_assert_uint_eq(r.att[((size_t)p * T + i) * T + j], j <= i ? want : 0u);
        }
      }
    }
    // The first row: P[0][0] = 1 and O[0] = V[0], bit for bit.
    for (uint32_t b = 0; b < B; ++b) {
      for (uint32_t c = 0; c < C; ++c) {
        ck_assert_uint_eq(r.out[(size_t)b * T * C + c], r.qkv[(size_t)b * T * C3 + 2 * C + c]);
      }
    }
    ck_assert_uint_eq(r.att[0], F_ONE);
    attn_free(&r);
  }
  // Large logits: q and k small integers times 2^13 (S = 2^26 * an integer below 2^4, exact;
  // scaled by 1/2: up to about 2^29).
  {
    attn_run_t r;
    attn_alloc(&r, B, T, C, NH);
    for (size_t e = 0; e < (size_t)B * T * C3; ++e) {
      uint32_t col = (uint32_t)(e % C3);
      int v = (int)(r.qkv[e] % 5u) - 2;  // -2 .. 2
      float f = col < 2 * C ? (float)v * 8192.0f : (float)v;
      r.qkv[e] = fbits(f);
    }
    attn_run(dev, &r, "S, large logits");
    attn_within(&r);
    ck_assert_uint_eq(r.fwd.fp_status & (SPARROW_FP_OF | SPARROW_FP_NV), 0);
    size_t nonfinite = 0;
    for (size_t e = 0; e < (size_t)B * T * C; ++e) {
      nonfinite += (r.out[e] & 0x7F800000u) == 0x7F800000u;
    }
    ck_assert_uint_eq(nonfinite, 0);
    attn_free(&r);
  }
  // Overflow: one query of huge values, so its scores overflow to infinities.
  {
    attn_run_t r;
    attn_alloc(&r, B, T, C, NH);
    for (uint32_t d = 0; d < hs; ++d) {
      r.qkv[(size_t)3 * C3 + d] = 0x7E000000u;      // q of token 3, head 0: 2^125
      r.qkv[(size_t)3 * C3 + C + d] = 0x7E000000u;  // and its key
    }
    attn_run(dev, &r, "S, overflow");
    ck_assert(r.fwd.fp_status & SPARROW_FP_OF);
    ck_assert(r.fwd.fp_status & SPARROW_FP_NV);
    // Row 3 of head 0 is NaN, and so are the gradients that depend on it; the rows before it are
    // finite (the mask keeps the future out), and so is head 1.
    for (uint32_t d = 0; d < hs; ++d) {
      ck_assert_uint_eq(r.out[(size_t)3 * C + d], 0x7FC00000u);
      ck_assert_uint_eq(r.dqkv[(size_t)3 * C3 + d], 0x7FC00000u);
    }
    for (uint32_t t = 0; t < T; ++t) {
      for (uint32_t c = 0; c < C; ++c) {
        bool nan_row = t == 3 && c < hs;
        ck_assert(nan_row || (r.out[(size_t)t * C + c] & 0x7F800000u) != 0x7F800000u);
      }
    }
    attn_free(&r);
  }
  sparrow_close(dev);
}
END_TEST

START_TEST(test_attention_refused) {
  sparrow_dev_t *dev = open_device(kDevices[0]);
  uint32_t buf[64] = {0};
  char msg[200];
  ck_assert_int_eq(sparrow_ops_attention(dev, 1, 2, 6, 4, buf, buf, buf, NULL, msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "not a multiple") != NULL, "%s", msg);
  ck_assert_int_eq(sparrow_ops_attention(dev, 0, 2, 4, 1, buf, buf, buf, NULL, msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  ck_assert_int_eq(
      sparrow_ops_attention_bwd(dev, 1, 2, 4, 1, buf, NULL, buf, buf, NULL, msg, sizeof(msg)),
      SPARROW_OPS_E_ARG);
  ck_assert_int_eq(sparrow_ops_softmax(dev, 0, 3, buf, buf, NULL, msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  sparrow_close(dev);
}
END_TEST

// Standalone softmax, forward and backward: shapes, equal rows (exactly recip(n)), one column
// (exactly 1), large logits and an infinite one (NaN row, NV).
START_TEST(test_softmax_device) {
  sparrow_dev_t *dev = open_device(kDevices[_i]);
  static const uint32_t kShapes[][2] = {{1, 1}, {37, 45}, {256, 72}, {5, 1}};
  for (size_t c = 0; c < sizeof(kShapes) / sizeof(kShapes[0]) + 1; ++c) {
    bool special = c == sizeof(kShapes) / sizeof(kShapes[0]);
    uint32_t m = special ? 12 : kShapes[c][0], n = special ? 40 : kShapes[c][1];
    size_t mn = (size_t)m * n;
    uint32_t *x = malloc(4 * mn), *y = malloc(4 * mn), *gy = malloc(4 * mn), *py = malloc(4 * mn);
    uint32_t *dy = malloc(4 * mn), *dx = malloc(4 * mn), *gdx = malloc(4 * mn);
    uint32_t *pdx = malloc(4 * mn);
    ck_assert(x && y && gy && py && dy && dx && gdx && pdx);
    make_rows(500 + c, mn, false, x);
    sparrow_ref_fill_uniform(600 + c, mn, dy);
    if (special) {
      for (uint32_t j = 0; j < n; ++j) {
        x[0 * n + j] = fbits(3.5f);                        // equal values
        x[1 * n + j] = fbits(j % 2 ? 1e30f : -1e30f);      // large logits
        x[2 * n + j] = fbits(j == 7 ? INFINITY : 0.25f);   // +inf: a NaN row
        x[3 * n + j] = fbits((float)j * 65536.0f - 3e6f);  // a wide spread
      }
    }
    char msg[300] = "";
    sparrow_ops_attn_stats_t st, stb;
    ck_assert_msg(sparrow_ops_softmax(dev, m, n, x, y, &st, msg, sizeof(msg)) == SPARROW_OPS_OK,
                  "%s", msg);
    uint8_t gf = 0, gbf = 0;
    sparrow_ref_softmax_golden(m, n, x, gy, &gf);
    sparrow_ref_softmax_plain(m, n, x, py);
    // The backward from the forward's y (the device's).
    ck_assert_msg(
        sparrow_ops_softmax_bwd(dev, m, n, y, dy, dx, &stb, msg, sizeof(msg)) == SPARROW_OPS_OK,
        "%s", msg);
    sparrow_ref_softmax_bwd_golden(m, n, y, dy, gdx, &gbf);
    sparrow_ref_softmax_bwd_plain(m, n, y, dy, pdx);
    size_t bad_f = 0, bad_b = 0;
    double ef = sparrow_ref_norm_rel_err(mn, y, py, &bad_f);
    double eb = sparrow_ref_norm_rel_err(mn, dx, pdx, &bad_b);
    printf(
        "softmax %s %ux%u%s: mismatches %zu / %zu, flags 0x%02x (golden 0x%02x) / 0x%02x (golden "
        "0x%02x), errors %.3g (tolerance %.3g) / %.3g (tolerance %.3g), cycles %llu / %llu\n",
        kDevices[_i], m, n, special ? " (edge rows)" : "", sparrow_ref_count_mismatches(mn, y, gy),
        sparrow_ref_count_mismatches(mn, dx, gdx), st.fp_status, gf, stb.fp_status, gbf, ef,
        TOL_SOFTMAX, eb, TOL_SOFTMAX_BWD, (unsigned long long)st.cycles,
        (unsigned long long)stb.cycles);
    ck_assert_uint_eq(sparrow_ref_count_mismatches(mn, y, gy), 0);
    ck_assert_uint_eq(sparrow_ref_count_mismatches(mn, dx, gdx), 0);
    if (host_flags_observable()) {
      ck_assert_uint_eq(st.fp_status, gf);
      ck_assert_uint_eq(stb.fp_status, gbf);
    }
    ck_assert_uint_eq(bad_f, 0);
    ck_assert_uint_eq(bad_b, 0);
    ck_assert_msg(ef <= TOL_SOFTMAX, "softmax error %g", ef);
    ck_assert_msg(eb <= TOL_SOFTMAX_BWD, "softmax_bwd error %g", eb);
    ck_assert_uint_eq(st.simd_cycles, st.simd_est_cycles);
    if (n == 1) {
      for (uint32_t i = 0; i < m; ++i) {
        ck_assert_uint_eq(y[i], F_ONE);
      }
    }
    if (special) {
      uint8_t f = 0;
      uint32_t want = sparrow_fp_recip(fbits((float)n), &f);
      for (uint32_t j = 0; j < n; ++j) {
        ck_assert_uint_eq(y[j], want);                           // equal values
        ck_assert((y[1 * n + j] & 0x7F800000u) != 0x7F800000u);  // large: finite
        ck_assert_uint_eq(y[2 * n + j], 0x7FC00000u);            // the +inf row
      }
      ck_assert(st.fp_status & SPARROW_FP_NV);
      ck_assert((st.fp_status & SPARROW_FP_OF) == 0);
    }
    free(x), free(y), free(gy), free(py), free(dy), free(dx), free(gdx), free(pdx);
  }
  sparrow_close(dev);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// Gradient checks: the plain backward against central differences of the double forward.

// Central difference of L(x) = sum(f(x) * w) at every element of x, step h * max(1, |x|).
typedef void (*fwd_f64_t)(const double *x, double *y, const void *ctx);

static void finite_diff(fwd_f64_t f, const void *ctx, size_t nx, size_t ny, const double *x,
                        const double *w, double *grad) {
  double *xp = malloc(sizeof(double) * nx), *y = malloc(sizeof(double) * ny);
  ck_assert(xp && y);
  memcpy(xp, x, sizeof(double) * nx);
  for (size_t k = 0; k < nx; ++k) {
    double h = 1e-5 * fmax(1.0, fabs(x[k]));
    double l[2];
    for (int s = 0; s < 2; ++s) {
      xp[k] = x[k] + (s == 0 ? h : -h);
      f(xp, y, ctx);
      l[s] = 0.0;
      for (size_t i = 0; i < ny; ++i) {
        l[s] += y[i] * w[i];
      }
    }
    xp[k] = x[k];
    grad[k] = (l[0] - l[1]) / (2.0 * h);
  }
  free(xp);
  free(y);
}

static double norm_err_d(size_t n, const uint32_t *x, const double *ref, size_t stride,
                         size_t width, size_t offset) {
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t e = (i / width) * stride + offset + i % width;
    float f;
    memcpy(&f, &x[e], 4);
    d2 += ((double)f - ref[e]) * ((double)f - ref[e]);
    r2 += ref[e] * ref[e];
  }
  return sqrt(d2) / sqrt(r2);
}

typedef struct attn_shape {
  uint32_t B, T, C, NH;
} attn_shape_t;

static void attn_f64(const double *x, double *y, const void *ctx) {
  const attn_shape_t *s = ctx;
  ck_assert_int_eq(sparrow_ref_attention_f64(s->B, s->T, s->C, s->NH, x, y), 0);
}

static void softmax_f64(const double *x, double *y, const void *ctx) {
  const uint32_t *mn = ctx;
  sparrow_ref_softmax_f64(mn[0], mn[1], x, y);
}

START_TEST(test_gradcheck_attention) {
  const attn_shape_t s = {2, 6, 8, 2};
  const size_t nq = (size_t)s.B * s.T * 3 * s.C, no = (size_t)s.B * s.T * s.C;
  uint32_t *qkv = malloc(4 * nq), *dout = malloc(4 * no), *out = malloc(4 * no);
  uint32_t *att = malloc(4 * sparrow_ops_attention_att_elems(s.B, s.T, s.NH));
  uint32_t *dqkv = malloc(4 * nq);
  double *x = malloc(8 * nq), *w = malloc(8 * no), *grad = malloc(8 * nq);
  ck_assert(qkv && dout && out && att && dqkv && x && w && grad);
  make_rows(900, nq, false, qkv);  // [-8, 8): softmax rows far from uniform
  sparrow_ref_fill_uniform(901, no, dout);
  for (size_t e = 0; e < nq; ++e) {
    float f;
    memcpy(&f, &qkv[e], 4);
    x[e] = f * 0.25;  // exact: [-2, 2)
    qkv[e] = fbits((float)x[e]);
  }
  for (size_t e = 0; e < no; ++e) {
    float f;
    memcpy(&f, &dout[e], 4);
    w[e] = f;
  }
  ck_assert_int_eq(sparrow_ref_attention_plain(s.B, s.T, s.C, s.NH, qkv, out, att), 0);
  ck_assert_int_eq(sparrow_ref_attention_bwd_plain(s.B, s.T, s.C, s.NH, qkv, att, dout, dqkv), 0);
  finite_diff(attn_f64, &s, nq, no, x, w, grad);
  const char *names[] = {"dq", "dk", "dv"};
  for (uint32_t part = 0; part < 3; ++part) {
    double e = norm_err_d(no, dqkv, grad, 3 * s.C, s.C, (size_t)part * s.C);
    printf("gradient check attention %s: plain vs central differences %.3g (tolerance %.3g)\n",
           names[part], e, TOL_GRADCHECK);
    ck_assert_msg(e <= TOL_GRADCHECK, "%s: %g", names[part], e);
  }
  free(qkv), free(dout), free(out), free(att), free(dqkv), free(x), free(w), free(grad);
}
END_TEST

START_TEST(test_gradcheck_softmax) {
  const uint32_t mn[2] = {5, 11};
  const size_t n = (size_t)mn[0] * mn[1];
  uint32_t *xb = malloc(4 * n), *y = malloc(4 * n), *dy = malloc(4 * n), *dx = malloc(4 * n);
  double *x = malloc(8 * n), *w = malloc(8 * n), *grad = malloc(8 * n);
  ck_assert(xb && y && dy && dx && x && w && grad);
  make_rows(910, n, false, xb);
  sparrow_ref_fill_uniform(911, n, dy);
  for (size_t e = 0; e < n; ++e) {
    float f;
    memcpy(&f, &xb[e], 4);
    x[e] = f;
    memcpy(&f, &dy[e], 4);
    w[e] = f;
  }
  sparrow_ref_softmax_plain(mn[0], mn[1], xb, y);
  sparrow_ref_softmax_bwd_plain(mn[0], mn[1], y, dy, dx);
  finite_diff(softmax_f64, mn, n, n, x, w, grad);
  double e = norm_err_d(n, dx, grad, n, n, 0);
  printf("gradient check softmax dx: plain vs central differences %.3g (tolerance %.3g)\n", e,
         TOL_GRADCHECK);
  ck_assert_msg(e <= TOL_GRADCHECK, "%g", e);
  free(xb), free(y), free(dy), free(dx), free(x), free(w), free(grad);
}
END_TEST

// A SIMD launch leaves no route behind it: a GEMM right after an operator that streams both AGCU
// read channels into the PCU (bias_add: read 1 -> PCU b) runs and is exact. (A GEMM's phase A
// streams AGCU read 1 into PMU write 1 and leaves PCU b's route alone; a leftover PCU b <- AGCU
// read 1 route stalled it until the watchdog, before the runner un-routed at the end.)
START_TEST(test_simd_then_gemm) {
  sparrow_dev_t *dev = open_device(kDevices[_i]);
  enum { M = 9, N = 10, K = 11 };
  uint32_t x[M * N], bias[N], y[M * N], a[M * K], b[K * N], c[M * N], g[M * N];
  sparrow_ref_fill_uniform(1, M * N, x);
  sparrow_ref_fill_uniform(2, N, bias);
  sparrow_ref_fill_uniform(3, M * K, a);
  sparrow_ref_fill_uniform(4, K * N, b);
  char msg[300] = "";
  const uint32_t *in[2] = {x, bias};
  uint32_t *out[2] = {y, NULL};
  ck_assert_msg(sparrow_ops_simd(dev, SPARROW_OPS_BIAS_ADD, M, N, in, out, NULL, msg,
                                 sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  ck_assert_msg(sparrow_ops_gemm(dev, M, N, K, a, b, c, NULL, msg, sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  sparrow_ref_gemm_golden(M, N, K, a, b, g, NULL);
  ck_assert_uint_eq(sparrow_ref_count_mismatches(M * N, c, g), 0);
  sparrow_close(dev);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("attention");
  TCase *tstrip = tcase_create("strip");
  tcase_set_timeout(tstrip, 300);
  tcase_add_loop_test(tstrip, test_strip_shapes, 0, SPARROW_HW_CONFIG_COUNT);
  tcase_add_loop_test(tstrip, test_strip_specials, 0, SPARROW_HW_CONFIG_COUNT);
  tcase_add_test(tstrip, test_strip_refused);
  suite_add_tcase(s, tstrip);
  TCase *tdev = tcase_create("device");
  tcase_set_timeout(tdev, 600);
  tcase_add_test(tdev, test_attention_shapes);
  tcase_add_test(tdev, test_attention_lanes);
  tcase_add_test(tdev, test_attention_edges);
  tcase_add_test(tdev, test_attention_refused);
  tcase_add_loop_test(tdev, test_softmax_device, 0, 2);
  tcase_add_loop_test(tdev, test_simd_then_gemm, 0, 2);
  suite_add_tcase(s, tdev);
  TCase *tgrad = tcase_create("gradient");
  tcase_set_timeout(tgrad, 120);
  tcase_add_test(tgrad, test_gradcheck_attention);
  tcase_add_test(tgrad, test_gradcheck_softmax);
  suite_add_tcase(s, tgrad);
  return s;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);  // the lines of a failing (forked) test are kept
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
