// SPDX-License-Identifier: Apache-2.0
//
// sparrow kernel OP for layernorm and the token + position embedding (host/ops/sparrow_nn.h;
// docs/ops.md, "Layernorm and embedding"):
//
//   layernorm      --m ROWS --n C            y, mean, rstd from x, gamma, beta
//   layernorm_bwd  --m ROWS --n C            dx, dgamma, dbeta from x, gamma, mean, rstd, dy
//   embedding      --b B --t T --v V --c C   x from token ids, wte, wpe
//   embedding_bwd  --b B --t T --v V --c C   dwte, dwpe from token ids and dx
//
// Inputs come from --seed (uniform values with 24 random bits). The layernorm backward takes the
// mean and rstd of the plain double forward, rounded to binary32 (inputs, so that S and M see the
// same ones). Token ids repeat (the first seven are one id) and, for V > 4, leave vocabulary rows
// unused (every id that is 3 mod 5, and the last): the backward's gradient of those rows must be
// +0.0. --edges puts rows of equal values (0, 0.75, 0.1) and rows of large (2^60) and tiny
// (2^-60) values among the layernorm's; --special puts infinities and NaNs among the inputs
// (and, for the embedding, FLT_MAX + FLT_MAX), so that the outputs hold non-finite values, which
// the device's FP status reports and this command reports.
//
// Checks, as for the other kernels: every output bit for bit against the golden-order reference
// (host/ref) and the FP status against the reference's flags; every output against the plain
// double reference, normwise, within its documented bound (the bound of the output whose error
// is the largest fraction of its own is the one reported as `tolerance`).

#include "cmd_kernel_ln_embed.h"

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
#define MAX_OUTPUTS 3u
#define TOL_ONE_ROUNDING 0x1p-24
#define F_INF 0x7F800000u
#define F_NINF 0xFF800000u
#define F_QNAN 0x7FC00000u
#define F_SNAN 0x7FA00001u
#define F_MAX 0x7F7FFFFFu

typedef enum op {
  OP_LAYERNORM = 0,
  OP_LAYERNORM_BWD,
  OP_EMBEDDING,
  OP_EMBEDDING_BWD,
  OP_COUNT,
} op_t;

static const char *const kNames[OP_COUNT] = {"layernorm", "layernorm_bwd", "embedding",
                                             "embedding_bwd"};
static const char *const kSummary[OP_COUNT] = {
    "y = ((x - mean) * rstd) * gamma + beta per row, rstd = rsqrt(var + 1e-5)",
    "dx, dgamma, dbeta of layernorm from x, gamma, mean, rstd, dy",
    "x[b,t] = wte[token[b,t]] + wpe[t] (PMU gather)",
    "dwte[v] = sum of dx over the tokens v, dwpe[t] = sum over b (PMU gather, ascending rows)",
};

bool sparrow_cli_kernel_ln_embed_has(const char *name) {
  return sparrow_cli_kc_find(kNames, OP_COUNT, name) >= 0;
}

void sparrow_cli_kernel_ln_embed_list(FILE *out) {
  sparrow_cli_kc_list(out, kNames, OP_COUNT);
}

typedef struct args {
  op_t op;
  uint32_t m, n;          // layernorm
  sparrow_ops_embed_t e;  // embedding
  bool edges;
  sparrow_cli_kc_opts_t o;  // --device, --seed, --special, --json
} args_t;

static bool is_layernorm(op_t op) {
  return op == OP_LAYERNORM || op == OP_LAYERNORM_BWD;
}

static int parse(int argc, char **argv, args_t *a) {
  const char *name = kNames[a->op];
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    uint64_t v = 0;
    uint32_t *dim = NULL;
    const char *dim_name = NULL;
    int rc = SPARROW_CLI_EXIT_OK;
    if (sparrow_cli_kc_common_opt(argc, argv, &i, &a->o, &rc)) {
      if (rc != SPARROW_CLI_EXIT_OK) {
        return rc;
      }
      continue;
    }
    if (strcmp(argv[i], "--edges") == 0 && is_layernorm(a->op)) {
      a->edges = true;
      continue;
    }
    static const char *const kLnDims[] = {"--m", "--n"};
    static const char *const kEmbDims[] = {"--b", "--t", "--v", "--c"};
    uint32_t *ln_dims[] = {&a->m, &a->n};
    uint32_t *emb_dims[] = {&a->e.batch, &a->e.seq, &a->e.vocab, &a->e.channels};
    size_t count = is_layernorm(a->op) ? 2 : 4;
    for (size_t d = 0; d < count && dim == NULL; ++d) {
      const char *opt = is_layernorm(a->op) ? kLnDims[d] : kEmbDims[d];
      if (sparrow_cli_opt(argc, argv, &i, opt, &value)) {
        dim = is_layernorm(a->op) ? ln_dims[d] : emb_dims[d];
        dim_name = opt;
      }
    }
    if (dim == NULL) {
      sparrow_cli_error(
          "kernel %s: unknown option '%s' (options: %s --seed --special%s --device "
          "--json)",
          name, argv[i], is_layernorm(a->op) ? "--m --n" : "--b --t --v --c",
          is_layernorm(a->op) ? " --edges" : "");
      return SPARROW_CLI_EXIT_USAGE;
    }
    if (!sparrow_cli_parse_u64(dim_name, value, 1, MAX_DIM, &v)) {
      return SPARROW_CLI_EXIT_USAGE;
    }
    *dim = (uint32_t)v;
  }
  return SPARROW_CLI_EXIT_OK;
}

// ---------------------------------------------------------------------------------------------------
// Data.

#define fbits sparrow_cli_kc_fbits
#define bitsf sparrow_cli_kc_bitsf
#define fill sparrow_cli_kc_fill

static bool token_used(uint32_t v, uint32_t vocab) {
  return vocab <= 4 || (v % 5 != 3 && v != vocab - 1);
}

static void make_tokens(const args_t *a, uint32_t *tok) {
  size_t n = (size_t)a->e.batch * a->e.seq;
  uint64_t s = a->o.seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    uint32_t v;
    do {
      s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
      v = (uint32_t)((s * 0x2545F4914F6CDD1Dull) >> 33) % a->e.vocab;
    } while (!token_used(v, a->e.vocab));
    tok[i] = i < 7 ? (a->e.vocab > 2 ? 1u : 0u) : v;
  }
}

typedef struct data {
  uint32_t *in[5];
  uint32_t *tok;
  uint32_t *out[MAX_OUTPUTS], *gold[MAX_OUTPUTS], *plain[MAX_OUTPUTS];
  size_t out_count[MAX_OUTPUTS];
  const char *out_name[MAX_OUTPUTS];
  uint32_t outputs;
} data_t;

static void free_data(data_t *d) {
  for (int i = 0; i < 5; ++i) {
    free(d->in[i]);
  }
  free(d->tok);
  for (uint32_t j = 0; j < MAX_OUTPUTS; ++j) {
    free(d->out[j]), free(d->gold[j]), free(d->plain[j]);
  }
}

static uint32_t *alloc_words(size_t count, bool *oom) {
  uint32_t *w = calloc(count + 1, sizeof(uint32_t));
  *oom |= w == NULL;
  return w;
}

// Layernorm's inputs: x, gamma, beta, dy, and in[4] the mean (m words) then rstd (m words) of
// the plain forward, rounded to binary32, for the backward.
static bool make_layernorm(const args_t *a, data_t *d) {
  const uint32_t m = a->m, c = a->n;
  const size_t mc = (size_t)m * c;
  bool oom = false;
  uint32_t *x = d->in[0] = alloc_words(mc, &oom);
  uint32_t *g = d->in[1] = alloc_words(c, &oom);
  uint32_t *b = d->in[2] = alloc_words(c, &oom);
  uint32_t *dy = d->in[3] = alloc_words(mc, &oom);
  uint32_t *stats = d->in[4] = alloc_words(2u * m, &oom);
  if (oom) {
    return false;
  }
  fill(a->o.seed, mc, 1, x);
  fill(a->o.seed ^ 0x1111u, c, 0, g);
  fill(a->o.seed ^ 0x2222u, c, -1, b);
  fill(a->o.seed ^ 0x3333u, mc, 0, dy);
  for (uint32_t r = 0; a->edges && r < m; ++r) {
    for (uint32_t j = 0; j < c; ++j) {
      uint32_t *v = &x[(size_t)r * c + j];
      switch (r % 8) {
        case 1:
          *v = 0;
          break;
        case 2:  // 0.75: an exact mean, so y = beta exactly
          *v = 0x3F400000u;
          break;
        case 3:  // 0.1: a mean that rounds
          *v = fbits(0.1f);
          break;
        case 4:
          *v = fbits(ldexpf(bitsf(*v), 60));
          break;
        case 5:
          *v = fbits(ldexpf(bitsf(*v), -60));
          break;
        default:
          break;
      }
    }
  }
  if (a->o.special) {
    x[(size_t)(0 % m) * c + 0] = F_INF;
    x[(size_t)(1 % m) * c + (c - 1)] = F_QNAN;
    x[(size_t)(2 % m) * c + c / 2] = F_NINF;
    x[(size_t)(3 % m) * c + c / 3] = F_SNAN;
    dy[(size_t)(4 % m) * c + c / 4] = F_INF;
  }
  if (a->op == OP_LAYERNORM_BWD) {
    uint32_t *y = malloc(mc * 4 + 4);
    if (y == NULL || sparrow_ref_layernorm_plain(m, c, x, g, b, y, stats, stats + m, NULL) != 0) {
      free(y);
      return false;
    }
    free(y);
  }
  return true;
}

static bool make_embedding(const args_t *a, data_t *d) {
  const sparrow_ops_embed_t *e = &a->e;
  const size_t n = (size_t)e->batch * e->seq, C = e->channels;
  bool oom = false;
  d->tok = alloc_words(n, &oom);
  uint32_t *wte = d->in[0] = alloc_words((size_t)e->vocab * C, &oom);
  uint32_t *wpe = d->in[1] = alloc_words((size_t)e->seq * C, &oom);
  uint32_t *dx = d->in[2] = alloc_words(n * C, &oom);
  if (oom) {
    return false;
  }
  make_tokens(a, d->tok);
  fill(a->o.seed ^ 0x1111u, (size_t)e->vocab * C, 0, wte);
  fill(a->o.seed ^ 0x2222u, (size_t)e->seq * C, -2, wpe);
  fill(a->o.seed ^ 0x3333u, n * C, 0, dx);
  if (a->o.special) {
    // x[0][0] = inf + -inf; x[1][C-1] = FLT_MAX + FLT_MAX when token 1's row and position 1 meet.
    wte[(size_t)d->tok[0] * C] = F_INF;
    wpe[0] = F_NINF;
    wte[(size_t)d->tok[n > 1 ? 1 : 0] * C + (C - 1)] = F_MAX;
    wpe[(size_t)(1 % e->seq) * C + (C - 1)] = F_MAX;
    wte[(size_t)d->tok[n / 2] * C + C / 2] = F_SNAN;
    // dwte of the first token: inf + -inf (its first two rows); dwpe[0]: FLT_MAX twice.
    dx[0] = F_INF;
    dx[n > 1 ? C : 0] = F_NINF;
    dx[C - 1] = F_MAX;
    dx[(size_t)(e->batch > 1 ? e->seq : 0) * C + (C - 1)] = F_MAX;
  }
  return true;
}

// The outputs' sizes and names, the golden and plain results, and each output's bound.
static bool references(const args_t *a, data_t *d, uint8_t *flags, uint32_t lanes, double *tol) {
  const uint32_t m = a->m, c = a->n;
  const sparrow_ops_embed_t *e = &a->e;
  bool oom = false;
  switch (a->op) {
    case OP_LAYERNORM:
    case OP_LAYERNORM_BWD: {
      bool fwd = a->op == OP_LAYERNORM;
      static const char *const kFwd[] = {"y", "mean", "rstd"}, *const kBwd[] = {"dx", "dgamma",
                                                                                "dbeta"};
      size_t counts[3] = {(size_t)m * c, fwd ? m : c, fwd ? m : c};
      d->outputs = 3;
      for (uint32_t j = 0; j < 3; ++j) {
        d->out_count[j] = counts[j];
        d->out_name[j] = fwd ? kFwd[j] : kBwd[j];
        d->out[j] = alloc_words(counts[j], &oom);
        d->gold[j] = alloc_words(counts[j], &oom);
        d->plain[j] = alloc_words(counts[j], &oom);
      }
      if (oom) {
        return false;
      }
      const uint32_t *mean = d->in[4], *rstd = d->in[4] + m;
      if (fwd) {
        return sparrow_ref_layernorm_golden(lanes, m, c, d->in[0], d->in[1], d->in[2], d->gold[0],
                                            d->gold[1], d->gold[2], flags) == 0 &&
               sparrow_ref_layernorm_plain(m, c, d->in[0], d->in[1], d->in[2], d->plain[0],
                                           d->plain[1], d->plain[2], tol) == 0;
      }
      return sparrow_ref_layernorm_bwd_golden(lanes, m, c, d->in[0], d->in[1], mean, rstd, d->in[3],
                                              d->gold[0], d->gold[1], d->gold[2], flags) == 0 &&
             sparrow_ref_layernorm_bwd_plain(m, c, d->in[0], d->in[1], mean, rstd, d->in[3],
                                             d->plain[0], d->plain[1], d->plain[2], tol) == 0;
    }
    case OP_EMBEDDING:
      d->outputs = 1;
      d->out_count[0] = (size_t)e->batch * e->seq * e->channels;
      d->out_name[0] = "x";
      d->out[0] = alloc_words(d->out_count[0], &oom);
      d->gold[0] = alloc_words(d->out_count[0], &oom);
      d->plain[0] = alloc_words(d->out_count[0], &oom);
      tol[0] = TOL_ONE_ROUNDING;
      return !oom &&
             sparrow_ref_embedding_golden(e->batch, e->seq, e->vocab, e->channels, d->tok, d->in[0],
                                          d->in[1], d->gold[0], flags) == 0 &&
             sparrow_ref_embedding_plain(e->batch, e->seq, e->vocab, e->channels, d->tok, d->in[0],
                                         d->in[1], d->plain[0]) == 0;
    case OP_EMBEDDING_BWD:
      d->outputs = 2;
      d->out_count[0] = (size_t)e->vocab * e->channels;
      d->out_count[1] = (size_t)e->seq * e->channels;
      d->out_name[0] = "dwte";
      d->out_name[1] = "dwpe";
      for (uint32_t j = 0; j < 2; ++j) {
        d->out[j] = alloc_words(d->out_count[j], &oom);
        d->gold[j] = alloc_words(d->out_count[j], &oom);
        d->plain[j] = alloc_words(d->out_count[j], &oom);
      }
      return !oom &&
             sparrow_ref_embedding_bwd_golden(e->batch, e->seq, e->vocab, e->channels, d->tok,
                                              d->in[2], d->gold[0], d->gold[1], flags) == 0 &&
             sparrow_ref_embedding_bwd_plain(e->batch, e->seq, e->vocab, e->channels, d->tok,
                                             d->in[2], d->plain[0], d->plain[1], tol) == 0;
    default:
      return false;
  }
}

static sparrow_ops_status_t run_device(sparrow_dev_t *dev, const args_t *a, data_t *d,
                                       sparrow_ops_simd_stats_t *stats, char *msg, size_t msg_len) {
  switch (a->op) {
    case OP_LAYERNORM:
      return sparrow_ops_layernorm(dev, a->m, a->n, d->in[0], d->in[1], d->in[2], d->out[0],
                                   d->out[1], d->out[2], stats, msg, msg_len);
    case OP_LAYERNORM_BWD:
      return sparrow_ops_layernorm_bwd(dev, a->m, a->n, d->in[0], d->in[1], d->in[4],
                                       d->in[4] + a->m, d->in[3], d->out[0], d->out[1], d->out[2],
                                       stats, msg, msg_len);
    case OP_EMBEDDING:
      return sparrow_ops_embedding(dev, &a->e, d->tok, d->in[0], d->in[1], d->out[0], stats, msg,
                                   msg_len);
    case OP_EMBEDDING_BWD:
      return sparrow_ops_embedding_bwd(dev, &a->e, d->tok, d->in[2], d->out[0], d->out[1], stats,
                                       msg, msg_len);
    default:
      return SPARROW_OPS_E_ARG;
  }
}

// ---------------------------------------------------------------------------------------------------
// The command.

static int run(const args_t *a) {
  const char *name = kNames[a->op];
  char shape[96];
  if (is_layernorm(a->op)) {
    snprintf(shape, sizeof(shape), "%ux%u", a->m, a->n);
  } else {
    snprintf(shape, sizeof(shape), "B %u T %u V %u C %u", a->e.batch, a->e.seq, a->e.vocab,
             a->e.channels);
  }
  sparrow_cli_kc_dev_t kd;
  int rc = sparrow_cli_kc_open(a->o.device, &kd);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  const sparrow_info_t info = kd.info;
  // Refuse a shape the device cannot hold before spending host memory and time on it: the bytes
  // of the operator's big device images (a lower bound of what it allocates).
  const uint64_t L = info.lanes, np = (is_layernorm(a->op) ? a->n : a->e.channels) + L - 1u;
  const uint64_t pitch = 4u * (np - np % L);
  const uint64_t tokens = (uint64_t)a->e.batch * a->e.seq;
  uint64_t need = a->op == OP_LAYERNORM       ? 2u * a->m * (pitch + 4u * L)
                  : a->op == OP_LAYERNORM_BWD ? 3u * a->m * (pitch + 4u * L)
                                              : (tokens * 2u + a->e.vocab + a->e.seq) * pitch;
  char what[160];
  snprintf(what, sizeof(what), "%s %s", name, shape);
  if (!sparrow_cli_kc_fits(&kd, what, need, true)) {
    return SPARROW_CLI_EXIT_FAIL;
  }
  char line[192];
  snprintf(line, sizeof(line), "%s%s", what, a->o.special ? " with special values" : "");
  sparrow_cli_kc_log_device(&kd, line, a->o.device);

  data_t d;
  memset(&d, 0, sizeof(d));
  bool made = is_layernorm(a->op) ? make_layernorm(a, &d) : make_embedding(a, &d);
  uint8_t golden_flags = 0;
  double tol[MAX_OUTPUTS] = {0, 0, 0};
  if (!made || !references(a, &d, &golden_flags, info.lanes, tol)) {
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
  sparrow_cli_log("%s: device done in %.3f s (%u launch(es), %zu program entries); checking", name,
                  wall_s, stats.launches, stats.entries);

  sparrow_cli_kc_check_t c;
  sparrow_cli_kc_check_init(&c);
  for (uint32_t j = 0; j < d.outputs; ++j) {
    sparrow_cli_kc_check_bits(&c, d.out_count[j], d.out[j], d.gold[j]);
    sparrow_cli_kc_check_norm(&c, d.out_name[j], d.out_count[j], d.out[j], d.plain[j], tol[j]);
  }
  // The checksum covers the outputs in order, as one array.
  if (!sparrow_cli_kc_checksums(&c, name, d.outputs, d.out_count, d.out, d.gold)) {
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  // The vocabulary rows no token uses: their gradient must be +0.0 (bits 0).
  uint32_t unused = 0;
  bool unused_zero = true;
  if (a->op == OP_EMBEDDING_BWD) {
    size_t n = (size_t)a->e.batch * a->e.seq;
    for (uint32_t v = 0; v < a->e.vocab; ++v) {
      bool used = false;
      for (size_t i = 0; i < n && !used; ++i) {
        used = d.tok[i] == v;
      }
      for (uint32_t j = 0; !used && j < a->e.channels; ++j) {
        unused_zero &= d.out[0][(size_t)v * a->e.channels + j] == 0;
      }
      unused += !used;
    }
  }
  sparrow_cli_kc_check_finish(&c, stats.fp_status, golden_flags);
  size_t total = c.elements;
  double cycles_per_element = total ? (double)stats.cycles / (double)total : 0.0;

  if (a->o.json) {
    sparrow_json_t j;
    sparrow_json_begin(&j, stdout);
    sparrow_json_str(&j, "op", name);
    if (is_layernorm(a->op)) {
      sparrow_json_u64(&j, "m", a->m);
      sparrow_json_u64(&j, "n", a->n);
      sparrow_json_bool(&j, "edges", a->edges);
    } else {
      sparrow_json_u64(&j, "batch", a->e.batch);
      sparrow_json_u64(&j, "seq", a->e.seq);
      sparrow_json_u64(&j, "vocab", a->e.vocab);
      sparrow_json_u64(&j, "channels", a->e.channels);
    }
    sparrow_cli_kc_json_run(&j, &a->o, &kd);
    sparrow_cli_kc_json_bits(&j, &c);
    sparrow_json_f64(&j, "norm_rel_err", c.err[c.worst]);
    sparrow_json_f64(&j, "tolerance", c.tol[c.worst]);
    sparrow_json_str(&j, "worst_output", c.name[c.worst]);
    sparrow_cli_kc_json_errs(&j, &c, true);
    sparrow_cli_kc_json_within(&j, &c);
    if (a->op == OP_EMBEDDING_BWD) {
      sparrow_json_u64(&j, "unused_rows", unused);
      sparrow_json_bool(&j, "unused_rows_zero", unused_zero);
    }
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
    sparrow_cli_kc_print_title(&a->o, &kd, what,
                               a->o.special ? ", special values among the inputs" : "",
                               a->edges ? ", edge rows among the inputs" : "");
    printf("  operator       %s\n", kSummary[a->op]);
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
    if (a->op == OP_EMBEDDING_BWD) {
      printf("  unused rows    %u vocabulary row(s) no token uses, gradient %s\n", unused,
             unused_zero ? "+0.0 (ok)" : "NOT +0.0 (FAILED)");
    }
    printf("  cycles         %llu (estimate %llu), %.3f per element\n",
           (unsigned long long)stats.cycles, (unsigned long long)stats.est_cycles,
           cycles_per_element);
    sparrow_cli_kc_print_tail(&c, stats.dram_rd_bytes, stats.dram_wr_bytes, wall_s, "outputs");
  }
  free_data(&d);
  return sparrow_cli_kc_verdict(&c, name, shape, unused_zero,
                                "an unused vocabulary row's gradient is not +0.0");
}

int sparrow_cli_kernel_ln_embed(const char *name, int argc, char **argv) {
  args_t args;
  memset(&args, 0, sizeof(args));
  int op = sparrow_cli_kc_find(kNames, OP_COUNT, name);
  if (op < 0) {
    sparrow_cli_error("kernel: unknown operator '%s'", name);
    return SPARROW_CLI_EXIT_USAGE;
  }
  args.op = (op_t)op;
  // Default shapes: the micro preset (4 x 64 tokens, C = 64, a vocabulary of 72 rows).
  args.m = 256;
  args.n = 64;
  args.e.batch = 4;
  args.e.seq = 64;
  args.e.vocab = 72;
  args.e.channels = 64;
  sparrow_cli_kc_opts_init(&args.o, true);
  int rc = parse(argc, argv, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run(&args);
}
