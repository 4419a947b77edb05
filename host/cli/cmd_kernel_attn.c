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
#include "kernel_common.h"
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
#define SOFTMAX_X_EXPONENT 3  // x 8, exact

#define F_INF 0x7F800000u
#define F_QNAN 0x7FC00000u
#define F_2P70 0x62800000u

bool sparrow_cli_kernel_attn_has(const char *name) {
  return sparrow_cli_kc_find(kNames, OP_COUNT, name) >= 0;
}

void sparrow_cli_kernel_attn_list(FILE *out) {
  sparrow_cli_kc_list(out, kNames, OP_COUNT);
}

typedef struct attn_args {
  attn_op_t op;
  uint32_t B, T, C, NH;     // attention
  uint32_t m, n;            // softmax
  sparrow_cli_kc_opts_t o;  // --device, --seed, --special, --json
} attn_args_t;

static bool is_attention(attn_op_t op) {
  return op == OP_ATTENTION || op == OP_ATTENTION_BWD;
}

static int parse(int argc, char **argv, attn_args_t *a) {
  const char *name = kNames[a->op];
  for (int i = 0; i < argc; ++i) {
    int rc = SPARROW_CLI_EXIT_OK;
    bool attn = is_attention(a->op);
    bool known = sparrow_cli_kc_common_opt(argc, argv, &i, &a->o, &rc);
    known =
        known || (attn && sparrow_cli_kc_dim_opt(argc, argv, &i, "--b", MAX_ATTN_DIM, &a->B, &rc));
    known =
        known || (attn && sparrow_cli_kc_dim_opt(argc, argv, &i, "--t", MAX_ATTN_DIM, &a->T, &rc));
    known =
        known || (attn && sparrow_cli_kc_dim_opt(argc, argv, &i, "--c", MAX_ATTN_DIM, &a->C, &rc));
    known = known ||
            (attn && sparrow_cli_kc_dim_opt(argc, argv, &i, "--heads", MAX_ATTN_DIM, &a->NH, &rc));
    known = known || (!attn && sparrow_cli_kc_dim_opt(argc, argv, &i, "--m", MAX_DIM, &a->m, &rc));
    known = known || (!attn && sparrow_cli_kc_dim_opt(argc, argv, &i, "--n", MAX_DIM, &a->n, &rc));
    if (!known) {
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
  sparrow_ref_fill_uniform(a->o.seed, (size_t)B * T * C3, qkv);
  if (dout != NULL) {
    sparrow_ref_fill_uniform(a->o.seed ^ SEED_IN1, (size_t)B * T * C, dout);
  }
  if (!a->o.special) {
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
  sparrow_cli_kc_fill(a->o.seed, (size_t)m * n, SOFTMAX_X_EXPONENT, x);
  if (dy != NULL) {
    sparrow_ref_fill_uniform(a->o.seed ^ SEED_IN1, (size_t)m * n, dy);
  }
  if (!a->o.special) {
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
  sparrow_cli_kc_dev_t kd;
  int rc = sparrow_cli_kc_open(a->o.device, &kd);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  const sparrow_info_t info = kd.info;
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
  char what[160];
  snprintf(what, sizeof(what), "%s %s", name, shape);
  if (!sparrow_cli_kc_fits(&kd, what, need, false)) {
    return SPARROW_CLI_EXIT_FAIL;
  }
  char line[192];
  snprintf(line, sizeof(line), "%s%s", what, a->o.special ? " with special values" : "");
  sparrow_cli_kc_log_device(&kd, line, a->o.device);

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
    sparrow_cli_kc_close(&kd);
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
    sparrow_cli_kc_close(&kd);
    return SPARROW_CLI_EXIT_FAIL;
  }

  sparrow_ops_attn_stats_t stats;
  sparrow_dev_t *dev = kd.dev;
  char msg[400] = "";
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
  sparrow_cli_kc_close(&kd);
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
  sparrow_cli_kc_check_t c;
  sparrow_cli_kc_check_init(&c);
  for (uint32_t j = 0; j < d.outputs; ++j) {
    sparrow_cli_kc_check_bits(&c, d.out_count[j], d.out[j], d.golden[j]);
  }
  uint32_t *ta = malloc(n_qkv * 4 + mn * 4 + n_att * 4 + 4);
  uint32_t *tb = malloc(n_qkv * 4 + mn * 4 + n_att * 4 + 4);
  if (ta == NULL || tb == NULL) {
    sparrow_cli_error("%s: host out of memory", name);
    free(ta), free(tb);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  for (uint32_t k = 0; k < nchecks; ++k) {
    size_t count = gather(&checks[k], checks[k].dev, ta);
    gather(&checks[k], checks[k].plain, tb);
    sparrow_cli_kc_check_norm(&c, checks[k].name, count, ta, tb, tolerance);
  }
  free(ta), free(tb);
  // The checksums cover the outputs in order, as one array.
  bool summed = sparrow_cli_kc_checksums(&c, name, d.outputs, d.out_count, d.out, d.golden);
  free_data(&d);
  if (!summed) {
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_kc_check_finish(&c, stats.fp_status, golden_flags);

  if (a->o.json) {
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
    sparrow_cli_kc_json_run(&j, &a->o, &kd);
    sparrow_cli_kc_json_bits(&j, &c);
    sparrow_cli_kc_json_errs(&j, &c, false);
    sparrow_json_f64(&j, "norm_rel_err", c.err_max);
    sparrow_json_f64(&j, "tolerance", tolerance);
    sparrow_cli_kc_json_within(&j, &c);
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
    sparrow_cli_kc_json_end(&j, &c, wall_s);
  } else {
    sparrow_cli_kc_print_title(&a->o, &kd, what,
                               a->o.special ? ", special values among the inputs" : "", NULL);
    printf("  operator       %s\n", kSummary[a->op]);
    printf(
        "  program        %u GEMM(s), %u SIMD job(s) (%u instructions, %u issue group(s) per "
        "beat), %u launch(es)\n",
        stats.gemms, stats.simd_jobs, stats.simd_insns, stats.simd_body_groups, stats.launches);
    sparrow_cli_kc_print_bits(&c);
    printf("  float check    %s: normwise error", c.within ? "ok" : "FAILED");
    for (uint32_t k = 0; k < c.tensors; ++k) {
      printf("%s %s %.3g", k ? "," : "", c.name[k], c.err[k]);
    }
    printf(" (tolerance %.3g), %zu non-finite disagreement(s)\n", tolerance,
           c.nonfinite_mismatches);
    printf("  cycles         %llu (GEMM %llu, SIMD %llu; SIMD estimate %llu)\n",
           (unsigned long long)stats.cycles, (unsigned long long)stats.gemm_cycles,
           (unsigned long long)stats.simd_cycles, (unsigned long long)stats.simd_est_cycles);
    sparrow_cli_kc_print_tail(&c, stats.dram_rd_bytes, stats.dram_wr_bytes, wall_s, "result");
  }
  return sparrow_cli_kc_verdict(&c, name, shape, true, NULL);
}

int sparrow_cli_kernel_attn(const char *name, int argc, char **argv) {
  attn_args_t args;
  memset(&args, 0, sizeof(args));
  int op = sparrow_cli_kc_find(kNames, OP_COUNT, name);
  if (op < 0) {
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
  sparrow_cli_kc_opts_init(&args.o, true);
  int rc = parse(argc, argv, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run(&args);
}
