// SPDX-License-Identifier: Apache-2.0
//
// sparrow kernel OP for the softmax cross-entropy, AdamW and the global gradient norm
// (host/ops/sparrow_nn.h; docs/ops.md, "Loss and optimizer"):
//
//   cross_entropy      --m ROWS --n VOCAB [--ld LD]   per-row losses and their mean from logits
//   cross_entropy_bwd  --m ROWS --n VOCAB [--ld LD]   dlogits = (softmax - onehot) / ROWS
//   adamw              --m TENSORS --n LARGEST [--step T] [--lr LR] [--clip S]
//                                                     one AdamW step of p, m, v from g
//   grad_norm          --m TENSORS --n LARGEST [--max-norm X]
//                                                     the global gradient norm and clip scale
//
// Inputs come from --seed (uniform values with 24 random bits): logits in [-4, 4) in rows of LD
// words (default VOCAB rounded up to 8, the trainer's padded vocabulary: the padding never counts
// and its gradient is +0), targets pseudo-random below VOCAB; parameter tensors k = 0 .. TENSORS-1
// of LARGEST >> (k mod 4), plus k mod 3, elements, every even one decaying (weight decay 0.1,
// beta1 0.9, beta2 0.95, eps 1e-8: the trainer's AdamW), p in [-1, 1), g in [-1/8, 1/8), m in
// [-1/64, 1/64), v in [0, 1/256). --edges puts the edge inputs among them: rows of large logits
// (1000 + x, -30000 + x, +-3e38), of equal logits, and one whose target dominates; zero gradients
// with m = v = 0 and pruned (all-zero) elements for AdamW; an all-zero gradient for the norm.
// --special puts NaNs (quiet and signalling) and infinities among the logits or the gradients,
// so that the outputs hold non-finite values, which the device's FP status reports and this
// command reports.
//
// Checks, as for the other kernels: every output bit for bit against the golden-order reference
// (host/ref/loss_ref.c, adamw_ref.c) and the FP status against the reference's flags; every output
// against the plain float reference (the norm's in double), normwise, within its documented bound
// (the output whose error is the largest fraction of its bound is reported as `tolerance`).

#include "cmd_kernel_loss.h"

#include <errno.h>
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

#define MAX_DIM 16384u
#define MAX_TENSORS 256u
#define MAX_OUTPUTS 3u
#define VOCAB_PAD 8u  // the trainer pads its vocabulary to a multiple of 8
#define F_ONE 0x3F800000u
#define F_INF 0x7F800000u
#define F_NINF 0xFF800000u
#define F_QNAN 0x7FC00000u
#define F_SNAN 0x7FA00001u
#define SEED_TARGETS 0x7A7A7A7Aull
#define SEED_G 0x5A5A5A5Aull
#define SEED_M 0x3C3C3C3Cull
#define SEED_V 0x1E1E1E1Eull

typedef enum op {
  OP_CE = 0,
  OP_CE_BWD,
  OP_ADAMW,
  OP_GRAD_NORM,
  OP_COUNT,
} op_t;

static const char *const kNames[OP_COUNT] = {"cross_entropy", "cross_entropy_bwd", "adamw",
                                             "grad_norm"};
static const char *const kSummary[OP_COUNT] = {
    "loss_i = log(sum_j exp(x_ij - m_i)) - (x_it - m_i); mean = sum_i loss_i * (1/rows)",
    "dlogits_ij = (exp(x_ij - m_i) * recip(s_i) - [j == t_i]) * (1/rows)",
    "m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (mhat recip(sqrt(vhat) + eps) + wd p)",
    "norm = sqrt(sum of g^2: lane sums, lane tree per tensor, tensors in order); clip = min(1, "
    "max_norm / (norm + 1e-6))",
};

bool sparrow_cli_kernel_loss_has(const char *name) {
  return sparrow_cli_kc_find(kNames, OP_COUNT, name) >= 0;
}

void sparrow_cli_kernel_loss_list(FILE *out) {
  sparrow_cli_kc_list(out, kNames, OP_COUNT);
}

typedef struct args {
  op_t op;
  uint32_t m, n, ld;  // ld 0: n rounded up to VOCAB_PAD
  uint64_t step;
  float lr, clip, max_norm;
  bool edges;
  sparrow_cli_kc_opts_t o;  // --device, --seed, --special, --json
} args_t;

static bool is_ce(op_t op) {
  return op == OP_CE || op == OP_CE_BWD;
}

// A positive finite float option.
static bool parse_float(const char *opt, const char *text, float *out) {
  if (text == NULL || text[0] == '\0') {
    sparrow_cli_error("%s needs a value (a positive number)", opt);
    return false;
  }
  char *end = NULL;
  errno = 0;
  float v = strtof(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || !(v > 0.0f)) {
    sparrow_cli_error("%s needs a positive finite number, not '%s'", opt, text);
    return false;
  }
  *out = v;
  return true;
}

static int parse(int argc, char **argv, args_t *a) {
  const char *name = kNames[a->op];
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    uint64_t v = 0;
    int rc = SPARROW_CLI_EXIT_OK;
    if (sparrow_cli_kc_common_opt(argc, argv, &i, &a->o, &rc)) {
      if (rc != SPARROW_CLI_EXIT_OK) {
        return rc;
      }
    } else if (strcmp(argv[i], "--edges") == 0) {
      a->edges = true;
    } else if (sparrow_cli_opt(argc, argv, &i, "--m", &value)) {
      if (!sparrow_cli_parse_u64("--m", value, 1, is_ce(a->op) ? MAX_DIM : MAX_TENSORS, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->m = (uint32_t)v;
    } else if (sparrow_cli_opt(argc, argv, &i, "--n", &value)) {
      if (!sparrow_cli_parse_u64("--n", value, 1, is_ce(a->op) ? MAX_DIM : 1u << 22, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->n = (uint32_t)v;
    } else if (is_ce(a->op) && sparrow_cli_opt(argc, argv, &i, "--ld", &value)) {
      if (!sparrow_cli_parse_u64("--ld", value, 1, MAX_DIM, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->ld = (uint32_t)v;
    } else if (a->op == OP_ADAMW && sparrow_cli_opt(argc, argv, &i, "--step", &value)) {
      if (!sparrow_cli_parse_u64("--step", value, 1, UINT32_MAX, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->step = v;
    } else if (a->op == OP_ADAMW && sparrow_cli_opt(argc, argv, &i, "--lr", &value)) {
      if (!parse_float("--lr", value, &a->lr)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else if (a->op == OP_ADAMW && sparrow_cli_opt(argc, argv, &i, "--clip", &value)) {
      if (!parse_float("--clip", value, &a->clip)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else if (a->op == OP_GRAD_NORM && sparrow_cli_opt(argc, argv, &i, "--max-norm", &value)) {
      if (!parse_float("--max-norm", value, &a->max_norm)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else {
      static const char *const kOptions[OP_COUNT] = {
          "--m --n --ld", "--m --n --ld", "--m --n --step --lr --clip", "--m --n --max-norm"};
      sparrow_cli_error(
          "kernel %s: unknown option '%s' (options: %s --seed --special --edges --device --json)",
          name, argv[i], kOptions[a->op]);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  if (is_ce(a->op)) {
    if (a->ld == 0) {
      a->ld = (a->n + VOCAB_PAD - 1u) / VOCAB_PAD * VOCAB_PAD;
    }
    if (a->ld < a->n) {
      sparrow_cli_error("kernel %s: --ld %u is below the vocabulary --n %u", name, a->ld, a->n);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  return SPARROW_CLI_EXIT_OK;
}

// ---------------------------------------------------------------------------------------------------
// Data and references.

#define fbits sparrow_cli_kc_fbits
#define bitsf sparrow_cli_kc_bitsf
#define fill sparrow_cli_kc_fill

typedef struct data {
  // Cross-entropy.
  uint32_t *logits, *targets;
  // AdamW and the norm: the tensors one after the other.
  size_t nseg, total, max_count;
  sparrow_ops_param_seg_t seg[MAX_TENSORS];
  uint32_t *p, *g, *m, *v;
  // Outputs.
  uint32_t outputs;
  const char *out_name[MAX_OUTPUTS];
  size_t out_count[MAX_OUTPUTS];
  uint32_t *out[MAX_OUTPUTS], *gold[MAX_OUTPUTS], *plain[MAX_OUTPUTS];
  double tol[MAX_OUTPUTS];
} data_t;

static void free_data(data_t *d) {
  free(d->logits), free(d->targets), free(d->p), free(d->g), free(d->m), free(d->v);
  for (uint32_t j = 0; j < MAX_OUTPUTS; ++j) {
    free(d->out[j]), free(d->gold[j]), free(d->plain[j]);
  }
}

static bool add_output(data_t *d, const char *name, size_t count, double tol) {
  uint32_t j = d->outputs++;
  d->out_name[j] = name;
  d->out_count[j] = count;
  d->tol[j] = tol;
  d->out[j] = calloc(count + 1, 4);
  d->gold[j] = calloc(count + 1, 4);
  d->plain[j] = calloc(count + 1, 4);
  return d->out[j] != NULL && d->gold[j] != NULL && d->plain[j] != NULL;
}

static bool make_ce(const args_t *a, data_t *d) {
  const size_t xl = (size_t)a->m * a->ld;
  d->logits = malloc(xl * 4 + 4);
  d->targets = malloc((size_t)a->m * 4 + 4);
  if (d->logits == NULL || d->targets == NULL) {
    return false;
  }
  fill(a->o.seed, xl, 2, d->logits);
  uint64_t s = a->o.seed ^ SEED_TARGETS;
  for (uint32_t i = 0; i < a->m; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    d->targets[i] = (uint32_t)((s >> 33) % a->n);
  }
  for (uint32_t j = 0; a->edges && j < a->ld; ++j) {
    uint32_t *x = d->logits;
    const size_t ld = a->ld;
    if (a->m > 0) {
      x[j] = fbits(1000.0f + bitsf(x[j]));  // large: exp(1000) would overflow
    }
    if (a->m > 1) {
      x[ld + j] = fbits(-3.0e4f + bitsf(x[ld + j]));
    }
    if (a->m > 2) {
      x[2 * ld + j] = 0x40490FDBu;  // equal logits (pi)
    }
    if (a->m > 3) {
      x[3 * ld + j] = j == d->targets[3] ? fbits(50.0f) : fbits(-50.0f);  // a dominant target
    }
    if (a->m > 4) {  // huge of both signs, the target positive (x - m overflows to -inf elsewhere)
      x[4 * ld + j] = j % 2 != 0 || j == d->targets[4] ? fbits(3.0e38f) : fbits(-3.0e38f);
    }
  }
  if (a->o.special) {
    // A signalling NaN, +inf and -inf, each in its own row (spread over the rows).
    static const uint32_t kValues[3] = {F_SNAN, F_INF, F_NINF};
    for (uint32_t k = 0; k < 3; ++k) {
      uint32_t row = (uint32_t)((uint64_t)a->m * (2u * k + 1u) / 6u);
      d->logits[(size_t)row * a->ld + (k * 7u) % a->n] = kValues[k];
    }
  }
  double tol = sparrow_ref_cross_entropy_tolerance(a->n);
  if (a->op == OP_CE) {
    return add_output(d, "losses", a->m, tol) && add_output(d, "mean", 1, tol);
  }
  return add_output(d, "dlogits", xl, tol);
}

static bool make_params(const args_t *a, data_t *d) {
  d->nseg = a->m;
  d->total = 0;
  d->max_count = 0;
  for (uint32_t k = 0; k < a->m; ++k) {
    size_t count = (size_t)(a->n >> (k % 4u)) + k % 3u;
    d->seg[k].offset = d->total;
    d->seg[k].count = count;
    d->seg[k].decay = k % 2u == 0;
    d->total += count;
    d->max_count = count > d->max_count ? count : d->max_count;
  }
  size_t bytes = d->total * 4 + 4;
  d->p = malloc(bytes), d->g = malloc(bytes), d->m = malloc(bytes), d->v = malloc(bytes);
  if (d->p == NULL || d->g == NULL || d->m == NULL || d->v == NULL) {
    return false;
  }
  fill(a->o.seed, d->total, 0, d->p);
  fill(a->o.seed ^ SEED_G, d->total, -3, d->g);
  fill(a->o.seed ^ SEED_M, d->total, -6, d->m);
  fill(a->o.seed ^ SEED_V, d->total, -8, d->v);
  for (size_t i = 0; i < d->total; ++i) {
    d->v[i] &= 0x7FFFFFFFu;
  }
  if (a->edges) {
    // Zero gradients from m = v = 0 (step 1's state), and pruned elements (all zero, decaying).
    memset(d->g, 0, d->total * 4);
    memset(d->m, 0, d->total * 4);
    memset(d->v, 0, d->total * 4);
    for (size_t i = 0; i < 20 && i < d->seg[0].count; ++i) {
      d->p[i] = 0;
    }
  }
  if (a->o.special) {
    static const uint32_t kValues[3] = {F_INF, F_QNAN, F_SNAN};
    for (uint32_t k = 0; k < 3; ++k) {
      d->g[d->total * (2u * k + 1u) / 6u] = kValues[k];
    }
  }
  if (a->op == OP_ADAMW) {
    return add_output(d, "p", d->total, SPARROW_REF_ADAMW_TOL_P) &&
           add_output(d, "m", d->total, SPARROW_REF_ADAMW_TOL_MV) &&
           add_output(d, "v", d->total, SPARROW_REF_ADAMW_TOL_MV);
  }
  double tol = sparrow_ref_grad_norm_tolerance(d->nseg, d->max_count);
  return add_output(d, "sumsq", 1, tol) && add_output(d, "norm", 1, tol) &&
         add_output(d, "clip", 1, tol);
}

static sparrow_ops_adamw_hp_t adamw_hp(const args_t *a) {
  sparrow_ops_adamw_hp_t hp = {a->lr, 0.9f, 0.95f, 1e-8f, 0.1f, a->step, fbits(a->clip)};
  return hp;
}

// The golden and plain outputs; false when the reference refuses (not expected: the shapes are
// checked) or the host is out of memory.
static bool references(const args_t *a, data_t *d, uint32_t lanes, uint8_t *flags) {
  if (is_ce(a->op)) {
    bool fwd = a->op == OP_CE;
    uint32_t *losses = fwd ? d->gold[0] : NULL, *mean = fwd ? d->gold[1] : NULL;
    uint32_t *dl = fwd ? NULL : d->gold[0];
    if (sparrow_ref_cross_entropy_golden(lanes, a->m, a->n, a->ld, d->logits, d->targets, losses,
                                         mean, dl, flags) != 0) {
      return false;
    }
    return sparrow_ref_cross_entropy_plain(a->m, a->n, a->ld, d->logits, d->targets,
                                           fwd ? d->plain[0] : NULL, fwd ? d->plain[1] : NULL,
                                           fwd ? NULL : d->plain[0]) == 0;
  }
  size_t off[MAX_TENSORS], cnt[MAX_TENSORS];
  for (size_t k = 0; k < d->nseg; ++k) {
    off[k] = d->seg[k].offset;
    cnt[k] = d->seg[k].count;
  }
  if (a->op == OP_GRAD_NORM) {
    uint32_t gold[3];
    double plain[3];
    uint32_t max_norm = fbits(a->max_norm);
    if (sparrow_ref_grad_norm_golden(lanes, d->nseg, off, cnt, d->g, max_norm, gold, flags) != 0) {
      return false;
    }
    sparrow_ref_grad_norm_plain(d->nseg, off, cnt, d->g, max_norm, plain);
    for (uint32_t j = 0; j < 3; ++j) {
      d->gold[j][0] = gold[j];
      d->plain[j][0] = fbits((float)plain[j]);
    }
    return true;
  }
  sparrow_ops_adamw_hp_t hp = adamw_hp(a);
  sparrow_ref_adamw_consts_t c;
  sparrow_ref_adamw_consts(hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, hp.step,
                           hp.clip_scale, &c);
  for (int which = 0; which < 2; ++which) {
    uint32_t **dst = which == 0 ? d->gold : d->plain;
    memcpy(dst[0], d->p, d->total * 4);
    memcpy(dst[1], d->m, d->total * 4);
    memcpy(dst[2], d->v, d->total * 4);
    for (size_t k = 0; k < d->nseg; ++k) {
      size_t o = d->seg[k].offset, n = d->seg[k].count;
      if (which == 0) {
        sparrow_ref_adamw_golden(&c, n, d->seg[k].decay, dst[0] + o, d->g + o, dst[1] + o,
                                 dst[2] + o, flags);
      } else {
        sparrow_ref_adamw_plain(hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, hp.step,
                                hp.clip_scale, n, d->seg[k].decay, dst[0] + o, d->g + o, dst[1] + o,
                                dst[2] + o);
      }
    }
  }
  return true;
}

static sparrow_ops_status_t run_device(sparrow_dev_t *dev, const args_t *a, data_t *d,
                                       sparrow_ops_simd_stats_t *stats, char *msg, size_t msg_len) {
  switch (a->op) {
    case OP_CE:
    case OP_CE_BWD: {
      sparrow_ops_ce_t ce = {a->m, a->n, a->ld};
      bool fwd = a->op == OP_CE;
      return sparrow_ops_cross_entropy(dev, &ce, d->logits, d->targets, fwd ? d->out[0] : NULL,
                                       fwd ? d->out[1] : NULL, fwd ? NULL : d->out[0], stats, msg,
                                       msg_len);
    }
    case OP_GRAD_NORM: {
      sparrow_ops_grad_norm_t out;
      sparrow_ops_status_t st = sparrow_ops_grad_norm(
          dev, d->nseg, d->seg, d->g, fbits(a->max_norm), &out, stats, msg, msg_len);
      if (st == SPARROW_OPS_OK) {
        d->out[0][0] = out.sumsq;
        d->out[1][0] = out.norm;
        d->out[2][0] = out.clip;
      }
      return st;
    }
    case OP_ADAMW: {
      memcpy(d->out[0], d->p, d->total * 4);
      memcpy(d->out[1], d->m, d->total * 4);
      memcpy(d->out[2], d->v, d->total * 4);
      sparrow_ops_adamw_hp_t hp = adamw_hp(a);
      return sparrow_ops_adamw(dev, &hp, d->nseg, d->seg, d->out[0], d->g, d->out[1], d->out[2],
                               stats, msg, msg_len);
    }
    default:
      return SPARROW_OPS_E_ARG;
  }
}

// ---------------------------------------------------------------------------------------------------
// The command.

static int run(const args_t *a) {
  const char *name = kNames[a->op];
  char shape[96];
  if (is_ce(a->op)) {
    snprintf(shape, sizeof(shape), "%ux%u (row stride %u)", a->m, a->n, a->ld);
  } else {
    snprintf(shape, sizeof(shape), "%u tensors of up to %u elements", a->m, a->n + 2u);
  }
  sparrow_cli_kc_dev_t kd;
  int rc = sparrow_cli_kc_open(a->o.device, &kd);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  const sparrow_info_t info = kd.info;
  // Refuse a shape the device cannot hold before spending host memory and time on it: the bytes
  // of the operator's device images (a lower bound of what it allocates).
  const uint64_t lanes = info.lanes, vp = (a->n + lanes - 1u) / lanes * lanes;
  uint64_t need = 0;
  if (is_ce(a->op)) {
    need = 4u * (uint64_t)a->m * (vp + (a->op == OP_CE_BWD ? vp : 2u * lanes));
  } else {
    for (uint32_t k = 0; k < a->m; ++k) {
      need += 4u * ((uint64_t)(a->n >> (k % 4u)) + k % 3u) * (a->op == OP_ADAMW ? 7u : 1u);
    }
  }
  char what[160];
  snprintf(what, sizeof(what), "%s %s", name, shape);
  if (!sparrow_cli_kc_fits(&kd, what, need, true)) {
    return SPARROW_CLI_EXIT_FAIL;
  }
  char line[224];
  snprintf(line, sizeof(line), "%s%s%s", what, a->edges ? " with edge inputs" : "",
           a->o.special ? " with special values" : "");
  sparrow_cli_kc_log_device(&kd, line, a->o.device);

  data_t d;
  memset(&d, 0, sizeof(d));
  uint8_t golden_flags = 0;
  bool made = is_ce(a->op) ? make_ce(a, &d) : make_params(a, &d);
  if (!made || !references(a, &d, info.lanes, &golden_flags)) {
    sparrow_cli_error("%s %s: host out of memory", name, shape);
    free_data(&d);
    sparrow_cli_kc_close(&kd);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_ops_simd_stats_t stats;
  char msg[400] = "";
  double t0 = sparrow_cli_now();
  sparrow_ops_status_t ost = run_device(kd.dev, a, &d, &stats, msg, sizeof(msg));
  double wall_s = sparrow_cli_now() - t0;
  sparrow_cli_kc_close(&kd);
  if (ost != SPARROW_OPS_OK) {
    sparrow_cli_error("%s %s failed: %s", name, shape, msg);
    free_data(&d);
    return ost == SPARROW_OPS_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_log(
      "%s: device done in %.3f s (%u job(s), %u launch(es), %zu program entries); "
      "checking",
      name, wall_s, stats.jobs, stats.launches, stats.entries);

  sparrow_cli_kc_check_t c;
  sparrow_cli_kc_check_init(&c);
  for (uint32_t j = 0; j < d.outputs; ++j) {
    sparrow_cli_kc_check_bits(&c, d.out_count[j], d.out[j], d.gold[j]);
    sparrow_cli_kc_check_norm(&c, d.out_name[j], d.out_count[j], d.out[j], d.plain[j], d.tol[j]);
  }
  // The checksum covers the outputs in order, as one array.
  if (!sparrow_cli_kc_checksums(&c, name, d.outputs, d.out_count, d.out, d.gold)) {
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_kc_check_finish(&c, stats.fp_status, golden_flags);

  size_t work = is_ce(a->op) ? (size_t)a->m * a->n : d.total;
  double cycles_per_element = work ? (double)stats.cycles / (double)work : 0.0;

  if (a->o.json) {
    sparrow_json_t j;
    sparrow_json_begin(&j, stdout);
    sparrow_json_str(&j, "op", name);
    sparrow_json_u64(&j, "m", a->m);
    sparrow_json_u64(&j, "n", a->n);
    if (is_ce(a->op)) {
      sparrow_json_u64(&j, "ld", a->ld);
    } else {
      sparrow_json_u64(&j, "tensors", d.nseg);
      sparrow_json_u64(&j, "parameters", d.total);
    }
    sparrow_cli_kc_json_run(&j, &a->o, &kd);
    sparrow_json_bool(&j, "edges", a->edges);
    if (a->op == OP_CE) {
      sparrow_json_f64(&j, "mean_loss", (double)bitsf(d.out[1][0]));
    } else if (a->op == OP_GRAD_NORM) {
      sparrow_json_f64(&j, "max_norm", (double)a->max_norm);
      sparrow_json_f64(&j, "norm", (double)bitsf(d.out[1][0]));
      sparrow_json_f64(&j, "clip", (double)bitsf(d.out[2][0]));
    } else if (a->op == OP_ADAMW) {
      sparrow_json_u64(&j, "step", a->step);
      sparrow_json_f64(&j, "lr", (double)a->lr);
      sparrow_json_f64(&j, "clip", (double)a->clip);
    }
    sparrow_cli_kc_json_bits(&j, &c);
    sparrow_json_f64(&j, "norm_rel_err", c.err[c.worst]);
    sparrow_json_f64(&j, "tolerance", c.tol[c.worst]);
    sparrow_json_str(&j, "worst_output", c.name[c.worst]);
    sparrow_cli_kc_json_errs(&j, &c, true);
    sparrow_cli_kc_json_within(&j, &c);
    sparrow_json_u64(&j, "cycles", stats.cycles);
    sparrow_json_u64(&j, "est_cycles", stats.est_cycles);
    sparrow_json_f64(&j, "cycles_per_element", cycles_per_element);
    sparrow_json_u64(&j, "dram_bytes_read", stats.dram_rd_bytes);
    sparrow_json_u64(&j, "dram_bytes_written", stats.dram_wr_bytes);
    sparrow_json_u64(&j, "launches", stats.launches);
    sparrow_json_u64(&j, "jobs", stats.jobs);
    sparrow_json_u64(&j, "program_entries", stats.entries);
    sparrow_json_u64(&j, "simd_insns", stats.insns);
    sparrow_json_u64(&j, "body_groups", stats.body_groups);
    sparrow_json_u64(&j, "tiles_used", stats.plan.busy_tiles);
    sparrow_cli_kc_json_end(&j, &c, wall_s);
  } else {
    sparrow_cli_kc_print_title(&a->o, &kd, what, a->edges ? ", edge inputs" : "",
                               a->o.special ? ", special values among the inputs" : "");
    printf("  operator       %s\n", kSummary[a->op]);
    if (a->op == OP_CE) {
      printf("  mean loss      %.9g\n", (double)bitsf(d.out[1][0]));
    } else if (a->op == OP_GRAD_NORM) {
      printf("  norm           %.9g, clip scale %.9g (max norm %g)\n", (double)bitsf(d.out[1][0]),
             (double)bitsf(d.out[2][0]), (double)a->max_norm);
    } else if (a->op == OP_ADAMW) {
      printf("  step           %llu, lr %g, gradient scale %g, %zu parameters\n",
             (unsigned long long)a->step, (double)a->lr, (double)a->clip, d.total);
    }
    printf(
        "  program        %u job(s), %u launch(es), %u tile(s); last job %u SIMD instructions, "
        "%u issue group(s) per beat\n",
        stats.jobs, stats.launches, stats.plan.busy_tiles, stats.insns, stats.body_groups);
    sparrow_cli_kc_print_bits(&c);
    for (uint32_t k = 0; k < d.outputs; ++k) {
      printf("  float check    %-7s %s: normwise error %.3g (bound %.3g)\n", c.name[k],
             c.err[k] <= c.tol[k] ? "ok" : "FAILED", c.err[k], c.tol[k]);
    }
    printf("  non-finite     %zu element(s), %zu disagreement(s) with the float reference\n",
           c.nonfinite, c.nonfinite_mismatches);
    printf("  cycles         %llu (estimate %llu), %.3f per element\n",
           (unsigned long long)stats.cycles, (unsigned long long)stats.est_cycles,
           cycles_per_element);
    sparrow_cli_kc_print_tail(&c, stats.dram_rd_bytes, stats.dram_wr_bytes, wall_s, "outputs");
  }
  free_data(&d);
  return sparrow_cli_kc_verdict(&c, name, shape, true, NULL);
}

int sparrow_cli_kernel_loss(const char *name, int argc, char **argv) {
  args_t args;
  memset(&args, 0, sizeof(args));
  int op = sparrow_cli_kc_find(kNames, OP_COUNT, name);
  if (op < 0) {
    sparrow_cli_error("kernel: unknown operator '%s'", name);
    return SPARROW_CLI_EXIT_USAGE;
  }
  args.op = (op_t)op;
  // Defaults: the micro preset's loss (4 x 64 tokens, a vocabulary of 65 padded to 72) and a
  // dozen parameter tensors; the trainer's AdamW step 1 at lr 1e-3 without clipping.
  bool ce = is_ce(args.op);
  args.m = ce ? 256u : 12u;
  args.n = ce ? 65u : 4096u;
  args.step = 1;
  args.lr = 1e-3f;
  args.clip = 1.0f;
  args.max_norm = 1.0f;
  sparrow_cli_kc_opts_init(&args.o, true);
  int rc = parse(argc, argv, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run(&args);
}
