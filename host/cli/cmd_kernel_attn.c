// SPDX-License-Identifier: Apache-2.0
//
// sparrow kernel attention | attention_bwd | softmax | softmax_bwd (host/ops/sparrow_nn.h;
// docs/ops.md, "Attention and softmax").
//
// Inputs come from --seed (uniform in [-1, 1), 24 random bits; softmax's x times 8, so that rows
// are far from uniform); attention_bwd's att is the golden forward's P of the same qkv (what the
// device's forward gives, bit for bit) and softmax_bwd's y the golden softmax of x. --special puts
// infinities, NaNs and (forward) overflowing values among them (below). The device's results are
// checked as the other kernels' are:
//   - bit for bit against the golden-order reference (host/ref/attention_ref.c), and the FP status
//     against the flags the reference raises (equal, not just "some");
//   - against the plain double-precision reference: each output tensor's normwise error
//     ||dev - ref|| / ||ref|| over the finite elements within the operator's tolerance, and no
//     element finite in one and not in the other.
// An infinity or NaN in the result is reported, with the FP status that flagged it.

#include "cmd_kernel_attn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "cli.h"
#include "json.h"
#include "sparrow.h"
#include "sparrow_nn.h"
#include "sparrow_ops.h"
#include "sparrow_ref.h"

typedef enum attn_op {
  OP_ATTENTION = 0,
  OP_ATTENTION_BWD,
  OP_SOFTMAX,
  OP_SOFTMAX_BWD,
  OP_COUNT,
} attn_op_t;

static const char *const kNames[OP_COUNT] = {"attention", "attention_bwd", "softmax",
                                             "softmax_bwd"};
static const char *const kSummary[OP_COUNT] = {
    "out = softmax(causal(Q K^T / sqrt(hs))) V per head, att = P",
    "dqkv from qkv, att = P and dout (dQ = G K, dK = G^T Q, dV = P^T dO)",
    "y = softmax of each row of x",
    "dx = y * (dy - rowsum(y * dy))",
};

// The trainer's micro preset: 4 sequences of 64 tokens, C 64 in 4 heads of 16.
#define DEFAULT_B 4u
#define DEFAULT_T 64u
#define DEFAULT_C 64u
#define DEFAULT_HEADS 4u
// Softmax: 256 rows (micro's tokens) of 72 (a vocabulary padded to a multiple of 8).
#define DEFAULT_M 256u
#define DEFAULT_N 72u
#define MAX_DIM 16384u
#define MAX_ATTN_DIM 4096u
#define SEED_IN1 0x5A5A5A5Aull
#define SOFTMAX_X_EXPONENT_STEP (3u << 23)  // x 8, exact

#define F_INF 0x7F800000u
#define F_QNAN 0x7FC00000u
#define F_2P70 0x62800000u

bool sparrow_cli_kernel_attn_has(const char *name) {
  for (unsigned i = 0; name != NULL && i < OP_COUNT; ++i) {
    if (strcmp(name, kNames[i]) == 0) {
      return true;
    }
  }
  return false;
}

void sparrow_cli_kernel_attn_list(FILE *out) {
  for (unsigned i = 0; i < OP_COUNT; ++i) {
    fprintf(out, "%s\n", kNames[i]);
  }
}

typedef struct attn_args {
  attn_op_t op;
  uint32_t B, T, C, NH;  // attention
  uint32_t m, n;         // softmax
  uint64_t seed;
  bool special;
  const char *device;
  bool json;
} attn_args_t;

static bool is_attention(attn_op_t op) {
  return op == OP_ATTENTION || op == OP_ATTENTION_BWD;
}

static int parse_dim(const char *opt, const char *value, uint64_t hi, uint32_t *out) {
  uint64_t v = 0;
  if (!sparrow_cli_parse_u64(opt, value, 1, hi, &v)) {
    return SPARROW_CLI_EXIT_USAGE;
  }
  *out = (uint32_t)v;
  return SPARROW_CLI_EXIT_OK;
}

static int parse(int argc, char **argv, attn_args_t *a) {
  const char *name = kNames[a->op];
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    int rc = SPARROW_CLI_EXIT_OK;
    bool attn = is_attention(a->op);
    if (strcmp(argv[i], "--json") == 0) {
      a->json = true;
    } else if (strcmp(argv[i], "--special") == 0) {
      a->special = true;
    } else if (sparrow_cli_opt(argc, argv, &i, "--device", &value)) {
      if (value == NULL || value[0] == '\0') {
        sparrow_cli_error("--device needs a URI");
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->device = value;
    } else if (sparrow_cli_opt(argc, argv, &i, "--seed", &value)) {
      uint64_t v = 0;
      if (!sparrow_cli_parse_u64("--seed", value, 0, UINT64_MAX, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->seed = v;
    } else if (attn && sparrow_cli_opt(argc, argv, &i, "--b", &value)) {
      rc = parse_dim("--b", value, MAX_ATTN_DIM, &a->B);
    } else if (attn && sparrow_cli_opt(argc, argv, &i, "--t", &value)) {
      rc = parse_dim("--t", value, MAX_ATTN_DIM, &a->T);
    } else if (attn && sparrow_cli_opt(argc, argv, &i, "--c", &value)) {
      rc = parse_dim("--c", value, MAX_ATTN_DIM, &a->C);
    } else if (attn && sparrow_cli_opt(argc, argv, &i, "--heads", &value)) {
      rc = parse_dim("--heads", value, MAX_ATTN_DIM, &a->NH);
    } else if (!attn && sparrow_cli_opt(argc, argv, &i, "--m", &value)) {
      rc = parse_dim("--m", value, MAX_DIM, &a->m);
    } else if (!attn && sparrow_cli_opt(argc, argv, &i, "--n", &value)) {
      rc = parse_dim("--n", value, MAX_DIM, &a->n);
    } else {
      sparrow_cli_error(
          "kernel %s: unknown option '%s' (options: %s --seed --special --device --json)", name,
          argv[i], attn ? "--b --t --c --heads" : "--m --n");
      return SPARROW_CLI_EXIT_USAGE;
    }
    if (rc != SPARROW_CLI_EXIT_OK) {
      return rc;
    }
  }
  if (is_attention(a->op) && a->C % a->NH != 0) {
    sparrow_cli_error("kernel %s: --c %u is not a multiple of --heads %u", name, a->C, a->NH);
    return SPARROW_CLI_EXIT_USAGE;
  }
  return SPARROW_CLI_EXIT_OK;
}

// ---------------------------------------------------------------------------------------------------
// Data, references and checks.

#define MAX_TENSORS 3

typedef struct tensor_check {
  const char *name;
  size_t count;
  const uint32_t *dev, *golden, *plain;
  size_t stride, width, offset;  // a column block of rows (dq, dk, dv of dqkv); width 0: all
} tensor_check_t;

typedef struct data {
  uint32_t *in[3];
  uint32_t *out[2], *golden[2], *plain[2];
  size_t out_count[2];
  uint32_t outputs;
} data_t;

static void free_data(data_t *d) {
  for (int i = 0; i < 3; ++i) {
    free(d->in[i]);
  }
  for (int i = 0; i < 2; ++i) {
    free(d->out[i]);
    free(d->golden[i]);
    free(d->plain[i]);
  }
}

static uint32_t *alloc_words(size_t count, bool *oom) {
  uint32_t *p = malloc(count * 4 + 4);
  *oom |= p == NULL;
  return p;
}

// Row t (token), column col of a B*T x width tensor.
static void put(uint32_t *x, uint32_t width, uint32_t row, uint32_t col, uint32_t value) {
  x[(size_t)row * width + col] = value;
}

// Attention inputs: qkv; --special: +inf in one query (a NaN row: inf - inf, NV), a NaN in one
// value (it reaches every row of its column: 0 * NaN), and for the forward one query and key of
// 2^70 (their score overflows: OF, then a NaN row).
static void make_attention(const attn_args_t *a, uint32_t *qkv, uint32_t *dout) {
  const uint32_t B = a->B, T = a->T, C = a->C, C3 = 3 * C, hs = C / a->NH;
  sparrow_ref_fill_uniform(a->seed, (size_t)B * T * C3, qkv);
  if (dout != NULL) {
    sparrow_ref_fill_uniform(a->seed ^ SEED_IN1, (size_t)B * T * C, dout);
  }
  if (!a->special) {
    return;
  }
  uint32_t t1 = T > 1 ? 1u : 0u, t3 = T > 3 ? 3u : T - 1u;
  put(qkv, C3, t1, 0, F_INF);
  put(qkv, C3, (B - 1u) * T + T / 2u, 2 * C + C - hs, F_QNAN);
  if (dout == NULL) {
    for (uint32_t d = 0; d < hs; ++d) {
      put(qkv, C3, t3, d, F_2P70);
      put(qkv, C3, t3, C + d, F_2P70);
    }
  } else {
    put(dout, C, (B - 1u) * T + T - 1u, 0, F_QNAN);
  }
}

// Softmax inputs: x in [-8, 8); --special: rows of equal values, of large logits (+-1e30), with
// +inf (a NaN row), with a NaN, with -inf (its probability is exactly 0).
static void make_softmax(const attn_args_t *a, uint32_t *x, uint32_t *dy) {
  const uint32_t m = a->m, n = a->n;
  sparrow_ref_fill_uniform(a->seed, (size_t)m * n, x);
  for (size_t i = 0; i < (size_t)m * n; ++i) {
    x[i] = x[i] == 0 ? 0u : x[i] + SOFTMAX_X_EXPONENT_STEP;
  }
  if (dy != NULL) {
    sparrow_ref_fill_uniform(a->seed ^ SEED_IN1, (size_t)m * n, dy);
  }
  if (!a->special) {
    return;
  }
  const uint32_t kEqual = 0x40600000u, kBig = 0x7149F2CAu;  // 3.5, 1e30
  for (uint32_t j = 0; j < n; ++j) {
    if (m > 0) {
      put(x, n, 0, j, kEqual);
    }
    if (m > 1) {
      put(x, n, 1, j, j % 2 ? kBig : kBig | 0x80000000u);
    }
  }
  if (m > 2) {
    put(x, n, 2, n / 2u, F_INF);
  }
  if (m > 3) {
    put(x, n, 3, n - 1u, F_QNAN);
  }
  if (m > 4) {
    put(x, n, 4, 0, F_INF | 0x80000000u);
  }
  if (dy != NULL && m > 5) {
    put(dy, n, 5, 0, F_QNAN);
  }
}

static void flags_text(uint32_t flags, char *out, size_t len) {
  snprintf(out, len, "%s%s%s%s%s%s", flags == 0 ? "none" : "", flags & SPARROW_FP_NV ? "NV " : "",
           flags & SPARROW_FP_DZ ? "DZ " : "", flags & SPARROW_FP_OF ? "OF " : "",
           flags & SPARROW_FP_UF ? "UF " : "", flags & SPARROW_FP_NX ? "NX" : "");
  size_t end = strlen(out);
  if (end > 0 && out[end - 1] == ' ') {
    out[end - 1] = '\0';
  }
}

// Copies the checked elements of a tensor (all, or a column block of each row) into dst.
static size_t gather(const tensor_check_t *t, const uint32_t *src, uint32_t *dst) {
  if (t->width == 0) {
    memcpy(dst, src, t->count * 4);
    return t->count;
  }
  size_t rows = t->count / t->width;
  for (size_t r = 0; r < rows; ++r) {
    memcpy(&dst[r * t->width], &src[r * t->stride + t->offset], t->width * 4);
  }
  return t->count;
}

// ---------------------------------------------------------------------------------------------------
// The command.

static int run(const attn_args_t *a) {
  const char *name = kNames[a->op];
  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    sparrow_cli_error("this host's binary32 arithmetic is unsuitable for the golden check: %s",
                      why);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_dev_t *dev = NULL;
  char msg[400] = "";
  sparrow_status_t st = sparrow_open(a->device, &dev, msg, sizeof(msg));
  if (st != SPARROW_OK) {
    sparrow_cli_error("cannot open device '%s': %s: %s", a->device, sparrow_status_name(st), msg);
    return st == SPARROW_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_info_t info;
  st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    sparrow_cli_error("info: %s: %s", sparrow_status_name(st), sparrow_last_error(dev));
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }
  char config[sizeof(info.config) + 1];
  memcpy(config, info.config, sizeof(info.config));
  config[sizeof(info.config)] = '\0';
  const char *fabric = info.fabric != NULL ? info.fabric : "?";
  const bool attn = is_attention(a->op), bwd = a->op == OP_ATTENTION_BWD || a->op == OP_SOFTMAX_BWD;
  char shape[96];
  if (attn) {
    snprintf(shape, sizeof(shape), "B %u T %u C %u heads %u", a->B, a->T, a->C, a->NH);
  } else {
    snprintf(shape, sizeof(shape), "%ux%u", a->m, a->n);
  }
  // Refuse a shape the device cannot hold before spending host memory and time on it: the strip
  // buffers (two, three for a backward) dominate, lines of rows padded to the lanes.
  uint64_t lanes = info.lanes == 0 ? 1u : info.lanes;
  uint64_t need =
      attn ? (bwd ? 3u : 2u) * 4ull * a->T * a->B * a->NH * ((a->T + lanes - 1u) / lanes * lanes)
           : (bwd ? 3u : 2u) * 4ull * a->n * ((a->m + lanes - 1u) / lanes * lanes);
  if (need > info.dram_bytes) {
    sparrow_cli_error("%s %s needs %llu bytes of device memory; the device has %llu", name, shape,
                      (unsigned long long)need, (unsigned long long)info.dram_bytes);
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_log("%s %s%s on %s (configuration %s, %s fabric, %u tiles x %u lanes)", name, shape,
                  a->special ? " with special values" : "", a->device, config, fabric, info.tiles,
                  info.lanes);

  // Inputs and outputs.
  data_t d;
  memset(&d, 0, sizeof(d));
  bool oom = false;
  size_t n_qkv = (size_t)a->B * a->T * 3 * a->C, n_out = (size_t)a->B * a->T * a->C;
  size_t n_att = sparrow_ops_attention_att_elems(a->B, a->T, a->NH);
  size_t mn = (size_t)a->m * a->n;
  switch (a->op) {
    case OP_ATTENTION:
      d.in[0] = alloc_words(n_qkv, &oom);
      d.outputs = 2;
      d.out_count[0] = n_out;
      d.out_count[1] = n_att;
      break;
    case OP_ATTENTION_BWD:
      d.in[0] = alloc_words(n_qkv, &oom);
      d.in[1] = alloc_words(n_att, &oom);
      d.in[2] = alloc_words(n_out, &oom);
      d.outputs = 1;
      d.out_count[0] = n_qkv;
      break;
    case OP_SOFTMAX:
    case OP_SOFTMAX_BWD:
    default:
      d.in[0] = alloc_words(mn, &oom);
      d.in[1] = bwd ? alloc_words(mn, &oom) : NULL;
      d.in[2] = bwd ? alloc_words(mn, &oom) : NULL;
      d.outputs = 1;
      d.out_count[0] = mn;
      break;
  }
  for (uint32_t j = 0; j < d.outputs; ++j) {
    d.out[j] = alloc_words(d.out_count[j], &oom);
    d.golden[j] = alloc_words(d.out_count[j], &oom);
    d.plain[j] = alloc_words(d.out_count[j], &oom);
  }
  uint32_t *scratch = NULL;
  if (!oom && a->op == OP_ATTENTION_BWD) {
    scratch = alloc_words(n_out, &oom);
  }
  if (oom) {
    sparrow_cli_error("%s %s: host out of memory", name, shape);
    free(scratch);
    free_data(&d);
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }
  // The backward's forward quantities: the golden forward's (the device's, bit for bit).
  switch (a->op) {
    case OP_ATTENTION:
      make_attention(a, d.in[0], NULL);
      break;
    case OP_ATTENTION_BWD:
      make_attention(a, d.in[0], d.in[2]);
      if (sparrow_ref_attention_golden(a->B, a->T, a->C, a->NH, d.in[0], scratch, d.in[1], NULL) !=
          0) {
        oom = true;
      }
      break;
    case OP_SOFTMAX:
      make_softmax(a, d.in[0], NULL);
      break;
    case OP_SOFTMAX_BWD:
    default:
      make_softmax(a, d.in[2], d.in[1]);  // x (kept in in[2] until y is made), dy
      sparrow_ref_softmax_golden(a->m, a->n, d.in[2], d.in[0], NULL);
      break;
  }
  free(scratch);
  if (oom) {
    sparrow_cli_error("%s %s: host out of memory", name, shape);
    free_data(&d);
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }

  sparrow_ops_attn_stats_t stats;
  double t0 = sparrow_cli_now();
  sparrow_ops_status_t ost;
  switch (a->op) {
    case OP_ATTENTION:
      ost = sparrow_ops_attention(dev, a->B, a->T, a->C, a->NH, d.in[0], d.out[0], d.out[1], &stats,
                                  msg, sizeof(msg));
      break;
    case OP_ATTENTION_BWD:
      ost = sparrow_ops_attention_bwd(dev, a->B, a->T, a->C, a->NH, d.in[0], d.in[1], d.in[2],
                                      d.out[0], &stats, msg, sizeof(msg));
      break;
    case OP_SOFTMAX:
      ost = sparrow_ops_softmax(dev, a->m, a->n, d.in[0], d.out[0], &stats, msg, sizeof(msg));
      break;
    case OP_SOFTMAX_BWD:
    default:
      ost = sparrow_ops_softmax_bwd(dev, a->m, a->n, d.in[0], d.in[1], d.out[0], &stats, msg,
                                    sizeof(msg));
      break;
  }
  double wall_s = sparrow_cli_now() - t0;
  sparrow_close(dev);
  if (ost != SPARROW_OPS_OK) {
    sparrow_cli_error("%s %s failed: %s", name, shape, msg);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_log("%s: device done in %.3f s (%u GEMMs, %u SIMD job(s), %u launches); checking",
                  name, wall_s, stats.gemms, stats.simd_jobs, stats.launches);

  // References.
  uint8_t golden_flags = 0;
  double tolerance = 0;
  int ref_rc = 0;
  switch (a->op) {
    case OP_ATTENTION:
      ref_rc |= sparrow_ref_attention_golden(a->B, a->T, a->C, a->NH, d.in[0], d.golden[0],
                                             d.golden[1], &golden_flags);
      ref_rc |=
          sparrow_ref_attention_plain(a->B, a->T, a->C, a->NH, d.in[0], d.plain[0], d.plain[1]);
      tolerance = SPARROW_OPS_TOL_ATTENTION;
      break;
    case OP_ATTENTION_BWD:
      ref_rc |= sparrow_ref_attention_bwd_golden(a->B, a->T, a->C, a->NH, d.in[0], d.in[1], d.in[2],
                                                 d.golden[0], &golden_flags);
      ref_rc |= sparrow_ref_attention_bwd_plain(a->B, a->T, a->C, a->NH, d.in[0], d.in[1], d.in[2],
                                                d.plain[0]);
      tolerance = SPARROW_OPS_TOL_ATTENTION_BWD;
      break;
    case OP_SOFTMAX:
      sparrow_ref_softmax_golden(a->m, a->n, d.in[0], d.golden[0], &golden_flags);
      sparrow_ref_softmax_plain(a->m, a->n, d.in[0], d.plain[0]);
      tolerance = SPARROW_OPS_TOL_SOFTMAX;
      break;
    case OP_SOFTMAX_BWD:
    default:
      sparrow_ref_softmax_bwd_golden(a->m, a->n, d.in[0], d.in[1], d.golden[0], &golden_flags);
      sparrow_ref_softmax_bwd_plain(a->m, a->n, d.in[0], d.in[1], d.plain[0]);
      tolerance = SPARROW_OPS_TOL_SOFTMAX_BWD;
      break;
  }
  if (ref_rc != 0) {
    sparrow_cli_error("%s %s: host out of memory for the references", name, shape);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }

  // The tensors whose errors are reported: out and att; dq, dk and dv; y; dx.
  tensor_check_t checks[MAX_TENSORS];
  uint32_t nchecks = 0;
  if (a->op == OP_ATTENTION) {
    checks[nchecks++] = (tensor_check_t){"out", n_out, d.out[0], d.golden[0], d.plain[0], 0, 0, 0};
    checks[nchecks++] = (tensor_check_t){"att", n_att, d.out[1], d.golden[1], d.plain[1], 0, 0, 0};
  } else if (a->op == OP_ATTENTION_BWD) {
    static const char *const kParts[] = {"dq", "dk", "dv"};
    for (uint32_t p = 0; p < 3; ++p) {
      checks[nchecks++] = (tensor_check_t){kParts[p],  n_out,    d.out[0], d.golden[0],
                                           d.plain[0], 3 * a->C, a->C,     (size_t)p * a->C};
    }
  } else {
    checks[nchecks++] =
        (tensor_check_t){bwd ? "dx" : "y", mn, d.out[0], d.golden[0], d.plain[0], 0, 0, 0};
  }
  size_t mismatches = 0, nonfinite_mismatches = 0, nonfinite = 0, nans = 0, total_out = 0;
  double err = 0.0, errs[MAX_TENSORS];
  for (uint32_t j = 0; j < d.outputs; ++j) {
    total_out += d.out_count[j];
    mismatches += sparrow_ref_count_mismatches(d.out_count[j], d.out[j], d.golden[j]);
    for (size_t e = 0; e < d.out_count[j]; ++e) {
      if ((d.out[j][e] & F_INF) == F_INF) {
        nonfinite++;
        nans += (d.out[j][e] & 0x007FFFFFu) != 0;
      }
    }
  }
  uint32_t *ta = malloc(n_qkv * 4 + mn * 4 + n_att * 4 + 4);
  uint32_t *tb = malloc(n_qkv * 4 + mn * 4 + n_att * 4 + 4);
  uint32_t *all = malloc((total_out + 1) * 4), *all_gold = malloc((total_out + 1) * 4);
  if (ta == NULL || tb == NULL || all == NULL || all_gold == NULL) {
    sparrow_cli_error("%s: host out of memory", name);
    free(ta), free(tb), free(all), free(all_gold);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  for (uint32_t c = 0; c < nchecks; ++c) {
    size_t count = gather(&checks[c], checks[c].dev, ta);
    gather(&checks[c], checks[c].plain, tb);
    size_t bad = 0;
    errs[c] = sparrow_ref_norm_rel_err(count, ta, tb, &bad);
    err = errs[c] > err || isnan(errs[c]) ? errs[c] : err;
    nonfinite_mismatches += bad;
  }
  // The checksums cover the outputs in order, as one array.
  size_t at = 0;
  for (uint32_t j = 0; j < d.outputs; ++j) {
    memcpy(all + at, d.out[j], d.out_count[j] * 4);
    memcpy(all_gold + at, d.golden[j], d.out_count[j] * 4);
    at += d.out_count[j];
  }
  uint64_t checksum = sparrow_ref_fnv1a64(total_out, all);
  uint64_t golden_checksum = sparrow_ref_fnv1a64(total_out, all_gold);
  free(ta), free(tb), free(all), free(all_gold);
  free_data(&d);

  bool exact = mismatches == 0;
  bool flags_exact = stats.fp_status == golden_flags;
  bool within = err <= tolerance && nonfinite_mismatches == 0;
  char flags[32], gflags[32];
  flags_text(stats.fp_status, flags, sizeof(flags));
  flags_text(golden_flags, gflags, sizeof(gflags));
  char checksum_hex[19], golden_hex[19];
  snprintf(checksum_hex, sizeof(checksum_hex), "%016llx", (unsigned long long)checksum);
  snprintf(golden_hex, sizeof(golden_hex), "%016llx", (unsigned long long)golden_checksum);

  if (a->json) {
    sparrow_json_t j;
    sparrow_json_begin(&j, stdout);
    sparrow_json_str(&j, "op", name);
    if (attn) {
      sparrow_json_u64(&j, "b", a->B);
      sparrow_json_u64(&j, "t", a->T);
      sparrow_json_u64(&j, "c", a->C);
      sparrow_json_u64(&j, "heads", a->NH);
    } else {
      sparrow_json_u64(&j, "m", a->m);
      sparrow_json_u64(&j, "n", a->n);
    }
    sparrow_json_str(&j, "device", a->device);
    sparrow_json_str(&j, "config", config);
    sparrow_json_str(&j, "fabric", fabric);
    sparrow_json_u64(&j, "seed", a->seed);
    sparrow_json_bool(&j, "special", a->special);
    sparrow_json_bool(&j, "exact", exact);
    sparrow_json_u64(&j, "mismatches", mismatches);
    sparrow_json_u64(&j, "elements", total_out);
    sparrow_json_u64(&j, "fp_status", stats.fp_status);
    sparrow_json_str(&j, "fp_flags", flags);
    sparrow_json_u64(&j, "golden_fp_status", golden_flags);
    sparrow_json_bool(&j, "flags_exact", flags_exact);
    sparrow_json_u64(&j, "nonfinite", nonfinite);
    sparrow_json_u64(&j, "nans", nans);
    for (uint32_t c = 0; c < nchecks; ++c) {
      char key[32];
      snprintf(key, sizeof(key), "err_%s", checks[c].name);
      sparrow_json_f64(&j, key, errs[c]);
    }
    sparrow_json_f64(&j, "norm_rel_err", err);
    sparrow_json_f64(&j, "tolerance", tolerance);
    sparrow_json_u64(&j, "nonfinite_mismatches", nonfinite_mismatches);
    sparrow_json_bool(&j, "within", within);
    sparrow_json_u64(&j, "cycles", stats.cycles);
    sparrow_json_u64(&j, "gemm_cycles", stats.gemm_cycles);
    sparrow_json_u64(&j, "simd_cycles", stats.simd_cycles);
    sparrow_json_u64(&j, "simd_est_cycles", stats.simd_est_cycles);
    sparrow_json_u64(&j, "macs", stats.macs);
    sparrow_json_u64(&j, "dram_bytes_read", stats.dram_rd_bytes);
    sparrow_json_u64(&j, "dram_bytes_written", stats.dram_wr_bytes);
    sparrow_json_u64(&j, "gemms", stats.gemms);
    sparrow_json_u64(&j, "simd_jobs", stats.simd_jobs);
    sparrow_json_u64(&j, "launches", stats.launches);
    sparrow_json_u64(&j, "program_entries", stats.entries);
    sparrow_json_u64(&j, "simd_insns", stats.simd_insns);
    sparrow_json_u64(&j, "body_groups", stats.simd_body_groups);
    sparrow_json_f64(&j, "wall_s", wall_s);
    sparrow_json_str(&j, "checksum", checksum_hex);
    sparrow_json_str(&j, "golden_checksum", golden_hex);
    sparrow_json_end(&j);
  } else {
    printf("%s %s on %s (configuration %s, %s fabric), seed %llu%s\n", name, shape, a->device,
           config, fabric, (unsigned long long)a->seed,
           a->special ? ", special values among the inputs" : "");
    printf("  operator       %s\n", kSummary[a->op]);
    printf(
        "  program        %u GEMM(s), %u SIMD job(s) (%u instructions, %u issue group(s) per "
        "beat), %u launch(es)\n",
        stats.gemms, stats.simd_jobs, stats.simd_insns, stats.simd_body_groups, stats.launches);
    printf("  golden check   %s: %zu of %zu elements differ (bit-exact required)\n",
           exact ? "exact" : "FAILED", mismatches, total_out);
    printf("  fp status      %s (golden: %s)%s\n", flags, gflags, flags_exact ? "" : " FAILED");
    printf("  float check    %s: normwise error", within ? "ok" : "FAILED");
    for (uint32_t c = 0; c < nchecks; ++c) {
      printf("%s %s %.3g", c ? "," : "", checks[c].name, errs[c]);
    }
    printf(" (tolerance %.3g), %zu non-finite disagreement(s)\n", tolerance, nonfinite_mismatches);
    printf("  cycles         %llu (GEMM %llu, SIMD %llu; SIMD estimate %llu)\n",
           (unsigned long long)stats.cycles, (unsigned long long)stats.gemm_cycles,
           (unsigned long long)stats.simd_cycles, (unsigned long long)stats.simd_est_cycles);
    printf("  DRAM           %llu bytes read, %llu bytes written\n",
           (unsigned long long)stats.dram_rd_bytes, (unsigned long long)stats.dram_wr_bytes);
    printf("  wall time      %.3f s\n", wall_s);
    printf("  checksum       %s (FNV-1a 64 of the result)\n", checksum_hex);
  }
  if (nonfinite != 0) {
    sparrow_cli_log(
        "warning: %s: the result holds %zu non-finite element(s) (%zu NaN); the device's FP "
        "status: %s",
        name, nonfinite, nans, flags);
  }
  if (!exact || !flags_exact || !within) {
    sparrow_cli_error("%s %s: %s", name, shape,
                      !exact         ? "result differs from the golden arithmetic"
                      : !flags_exact ? "FP status differs from the golden arithmetic's flags"
                                     : "result outside the float tolerance");
    return SPARROW_CLI_EXIT_FAIL;
  }
  return SPARROW_CLI_EXIT_OK;
}

int sparrow_cli_kernel_attn(const char *name, int argc, char **argv) {
  attn_args_t args;
  memset(&args, 0, sizeof(args));
  unsigned op = 0;
  while (op < OP_COUNT && strcmp(kNames[op], name) != 0) {
    op++;
  }
  if (op == OP_COUNT) {
    sparrow_cli_error("kernel: unknown operator '%s'", name);
    return SPARROW_CLI_EXIT_USAGE;
  }
  args.op = (attn_op_t)op;
  args.B = DEFAULT_B;
  args.T = DEFAULT_T;
  args.C = DEFAULT_C;
  args.NH = DEFAULT_HEADS;
  args.m = DEFAULT_M;
  args.n = DEFAULT_N;
  args.seed = 1;
  args.device = SPARROW_CLI_DEFAULT_DEVICE;
  int rc = parse(argc, argv, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run(&args);
}
