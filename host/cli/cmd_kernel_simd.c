// SPDX-License-Identifier: Apache-2.0
//
// sparrow kernel OP for the SIMD operators (host/ops/simd_ops.h; docs/ops.md, "SIMD operators"):
// residual_add, residual_add_bwd, bias_add, bias_add_bwd, gelu, gelu_bwd on m x n tensors.
//
// Inputs come from --seed (uniform in [-1, 1), 24 random bits; GELU's x in [-8, 8), so that
// every branch of tanh is taken); --special puts infinities, NaNs (quiet and signalling), huge
// values, -0 and subnormals among them (below). The device's result is checked as gemm's:
//   - bit for bit against the golden-order reference (host/ref/simd_ref.c), and its FP_STATUS
//     against the flags the reference raises (equal, not just "some");
//   - against a plain double-precision reference: the normwise error ||dev - ref|| / ||ref|| over
//     the finite elements within the operator's tolerance, and no element finite in one and not in
//     the other.
// An infinity or NaN in the result is reported, with the FP status that flagged it.

#include "cmd_kernel_simd.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "cli.h"
#include "json.h"
#include "kernel_common.h"
#include "simd_ops.h"
#include "sparrow.h"
#include "sparrow_ops.h"
#include "sparrow_ref.h"

#define SIMD_DEFAULT_DIM 128u
#define SIMD_MAX_DIM 16384u
// Seeds of the second input and of the GELU scaling, derived from --seed as gemm's B is.
#define SEED_IN1 0x5A5A5A5Aull
// GELU's x: the uniform value times 8 (exact).
#define GELU_X_EXPONENT 3

// The operators' float tolerances (docs/ops.md): one rounding per element for the additions (the
// plain reference rounds the exact sum once, as IEEE addition does: measured 0); none for the
// copies; for GELU 16 units of 2^-24, normwise (measured 0.3 to 3 units: tanh's few ulps and the
// roundings around it).
#define TOL_ONE_ROUNDING 0x1p-24
#define TOL_GELU 0x1p-20

// --special: values put among the inputs at SPECIALS spread positions, pairwise between the first
// and the second input (the same element, or the bias of its column), chosen so that the result
// holds infinities and NaNs that the operator produces (inf - inf, FLT_MAX + FLT_MAX, -inf * 0 in
// GELU) as well as ones it passes on, and the plain reference agrees on which elements are not
// finite. BIG is FLT_MAX, except for gelu_bwd, whose binary32 sequence overflows x^2 (and gives a
// NaN where the derivative is 1) above about 1.8e19: there 2^40.
#define SPECIALS 8u
#define BIG_MARK 0xFFFFFFFFu  // placeholder in the tables: +BIG (its negation: -BIG)
#define F_MAX_BITS 0x7F7FFFFFu
#define F_2P40_BITS 0x53800000u
static const uint32_t kSpecialFirst[SPECIALS] = {
    0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x7FA00001u,  // +inf, -inf, quiet and signalling NaN
    0x80000000u, 0x00000001u, BIG_MARK,    BIG_MARK ^ 0x80000000u,  // -0, subnormal, +-BIG
};
static const uint32_t kSpecialSecond[SPECIALS] = {
    0xFF800000u, 0x3F800000u, 0x40000000u, 0x3F800000u,  // -inf, 1, 2, 1
    0x80000000u, 0x00000001u, BIG_MARK,    BIG_MARK ^ 0x80000000u,
};

bool sparrow_cli_kernel_simd_has(const char *name) {
  sparrow_ops_simd_op_t op;
  return sparrow_ops_simd_find(name, &op);
}

void sparrow_cli_kernel_simd_list(FILE *out) {
  for (unsigned op = 0; op < SPARROW_OPS_SIMD_OP_COUNT; ++op) {
    fprintf(out, "%s\n", sparrow_ops_simd_info((sparrow_ops_simd_op_t)op)->name);
  }
}

typedef struct simd_args {
  sparrow_ops_simd_op_t op;
  uint32_t m, n;
  sparrow_cli_kc_opts_t o;  // --device, --seed, --special, --json
} simd_args_t;

static int parse(const char *name, int argc, char **argv, simd_args_t *args) {
  for (int i = 0; i < argc; ++i) {
    int rc = SPARROW_CLI_EXIT_OK;
    if (!sparrow_cli_kc_common_opt(argc, argv, &i, &args->o, &rc) &&
        !sparrow_cli_kc_dim_opt(argc, argv, &i, "--m", SIMD_MAX_DIM, &args->m, &rc) &&
        !sparrow_cli_kc_dim_opt(argc, argv, &i, "--n", SIMD_MAX_DIM, &args->n, &rc)) {
      sparrow_cli_error(
          "kernel %s: unknown option '%s' (options: --m --n --seed --special "
          "--device --json)",
          name, argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
    }
    if (rc != SPARROW_CLI_EXIT_OK) {
      return rc;
    }
  }
  return SPARROW_CLI_EXIT_OK;
}

// ---------------------------------------------------------------------------------------------------
// Data and references.

typedef struct simd_data {
  uint32_t *in[SPARROW_OPS_SIMD_MAX_TENSORS];
  uint32_t *out[SPARROW_OPS_SIMD_MAX_TENSORS];
  uint32_t *golden[SPARROW_OPS_SIMD_MAX_TENSORS];
  uint32_t *plain[SPARROW_OPS_SIMD_MAX_TENSORS];
  double *mag;
} simd_data_t;

static void free_data(simd_data_t *d) {
  for (uint32_t i = 0; i < SPARROW_OPS_SIMD_MAX_TENSORS; ++i) {
    free(d->in[i]);
    free(d->out[i]);
    free(d->golden[i]);
    free(d->plain[i]);
  }
  free(d->mag);
}

static uint32_t special_value(const simd_args_t *a, uint32_t v) {
  uint32_t big = a->op == SPARROW_OPS_GELU_BWD ? F_2P40_BITS : F_MAX_BITS;
  return (v & 0x7FFFFFFFu) == (BIG_MARK & 0x7FFFFFFFu) ? (v & 0x80000000u) | big : v;
}

static void make_input(const simd_args_t *a, uint32_t which, sparrow_ops_simd_shape_t shape,
                       size_t count, uint32_t *x) {
  bool gelu_x = (a->op == SPARROW_OPS_GELU || a->op == SPARROW_OPS_GELU_BWD) && which == 0;
  sparrow_cli_kc_fill(which == 0 ? a->o.seed : a->o.seed ^ SEED_IN1, count,
                      gelu_x ? GELU_X_EXPONENT : 0, x);
  // Spread over the first input (the same positions for every seed); the second input's value
  // goes to the same element, or for a vector to that element's column.
  size_t elements = (size_t)a->m * a->n;
  for (size_t k = 0; a->o.special && k < SPECIALS && k < elements; ++k) {
    size_t at = (k * elements) / SPECIALS;
    size_t index = shape == SPARROW_OPS_SIMD_VECTOR ? at % a->n : at;
    if (index < count) {
      x[index] = special_value(a, which == 0 ? kSpecialFirst[k] : kSpecialSecond[k]);
    }
  }
}

// The golden-order and plain results of the operator, and its float tolerance.
static double references(const simd_args_t *a, simd_data_t *d, uint8_t *flags) {
  uint32_t m = a->m, n = a->n;
  size_t mn = (size_t)m * n;
  switch (a->op) {
    case SPARROW_OPS_RESIDUAL_ADD:
      sparrow_ref_residual_add_golden(mn, d->in[0], d->in[1], d->golden[0], flags);
      sparrow_ref_residual_add_plain(mn, d->in[0], d->in[1], d->plain[0]);
      return TOL_ONE_ROUNDING;
    case SPARROW_OPS_RESIDUAL_ADD_BWD:
      for (uint32_t j = 0; j < 2; ++j) {
        memcpy(d->golden[j], d->in[0], mn * 4);
        memcpy(d->plain[j], d->in[0], mn * 4);
      }
      return 0.0;
    case SPARROW_OPS_BIAS_ADD:
      sparrow_ref_bias_add_golden(m, n, d->in[0], d->in[1], d->golden[0], flags);
      sparrow_ref_bias_add_plain(m, n, d->in[0], d->in[1], d->plain[0]);
      return TOL_ONE_ROUNDING;
    case SPARROW_OPS_BIAS_ADD_BWD:
      sparrow_ref_bias_add_bwd_golden(m, n, d->in[0], d->golden[0], flags);
      sparrow_ref_bias_add_bwd_plain(m, n, d->in[0], d->plain[0], d->mag);
      return sparrow_ref_sum_norm_tolerance(m, n, d->mag, d->plain[0]);
    case SPARROW_OPS_GELU:
      sparrow_ref_gelu_golden(mn, d->in[0], d->golden[0], flags);
      sparrow_ref_gelu_plain(mn, d->in[0], d->plain[0]);
      return TOL_GELU;
    case SPARROW_OPS_GELU_BWD:
      sparrow_ref_gelu_bwd_golden(mn, d->in[0], d->in[1], d->golden[0], flags);
      sparrow_ref_gelu_bwd_plain(mn, d->in[0], d->in[1], d->plain[0]);
      return TOL_GELU;
    default:
      return 0.0;
  }
}

// ---------------------------------------------------------------------------------------------------
// The command.

static int run(const simd_args_t *a) {
  const sparrow_ops_simd_op_info_t *info = sparrow_ops_simd_info(a->op);
  const char *name = info->name;
  char shape[48];
  snprintf(shape, sizeof(shape), "%ux%u", a->m, a->n);
  sparrow_cli_kc_dev_t kd;
  int rc = sparrow_cli_kc_open(a->o.device, &kd);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  // Refuse a shape the device cannot hold before spending host memory and time on it.
  uint64_t need = 0;
  for (uint32_t i = 0; i < info->inputs; ++i) {
    need += sparrow_ops_simd_image_bytes(info->in_shape[i], kd.info.lanes, a->m, a->n);
  }
  for (uint32_t j = 0; j < info->outputs; ++j) {
    need += sparrow_ops_simd_image_bytes(info->out_shape[j], kd.info.lanes, a->m, a->n);
  }
  char what[128];
  snprintf(what, sizeof(what), "%s %s", name, shape);
  if (!sparrow_cli_kc_fits(&kd, what, need, false)) {
    return SPARROW_CLI_EXIT_FAIL;
  }
  char line[160];
  snprintf(line, sizeof(line), "%s%s", what, a->o.special ? " with special values" : "");
  sparrow_cli_kc_log_device(&kd, line, a->o.device);

  simd_data_t d;
  memset(&d, 0, sizeof(d));
  size_t out_count[SPARROW_OPS_SIMD_MAX_TENSORS] = {0};
  bool oom = false;
  for (uint32_t i = 0; i < info->inputs; ++i) {
    size_t count = sparrow_ops_simd_elems(info->in_shape[i], a->m, a->n);
    d.in[i] = malloc(count * 4 + 4);
    oom |= d.in[i] == NULL;
    if (d.in[i] != NULL) {
      make_input(a, i, info->in_shape[i], count, d.in[i]);
    }
  }
  for (uint32_t j = 0; j < info->outputs; ++j) {
    size_t count = out_count[j] = sparrow_ops_simd_elems(info->out_shape[j], a->m, a->n);
    d.out[j] = malloc(count * 4 + 4);
    d.golden[j] = malloc(count * 4 + 4);
    d.plain[j] = malloc(count * 4 + 4);
    oom |= d.out[j] == NULL || d.golden[j] == NULL || d.plain[j] == NULL;
  }
  d.mag = malloc((size_t)a->n * sizeof(double) + 8);
  if (oom || d.mag == NULL) {
    sparrow_cli_error("%s %s: host out of memory", name, shape);
    free_data(&d);
    sparrow_cli_kc_close(&kd);
    return SPARROW_CLI_EXIT_FAIL;
  }

  sparrow_ops_simd_stats_t stats;
  char msg[400] = "";
  double t0 = sparrow_cli_now();
  sparrow_ops_status_t ost = sparrow_ops_simd(
      kd.dev, a->op, a->m, a->n, (const uint32_t *const *)d.in, d.out, &stats, msg, sizeof(msg));
  double wall_s = sparrow_cli_now() - t0;
  sparrow_cli_kc_close(&kd);
  if (ost != SPARROW_OPS_OK) {
    sparrow_cli_error("%s %s failed: %s", name, shape, msg);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_log("%s: device done in %.3f s (%u launch(es), %zu program entries); checking", name,
                  wall_s, stats.launches, stats.entries);

  uint8_t golden_flags = 0;
  double tolerance = references(a, &d, &golden_flags);
  sparrow_cli_kc_check_t c;
  sparrow_cli_kc_check_init(&c);
  for (uint32_t j = 0; j < info->outputs; ++j) {
    sparrow_cli_kc_check_bits(&c, out_count[j], d.out[j], d.golden[j]);
    sparrow_cli_kc_check_norm(&c, "out", out_count[j], d.out[j], d.plain[j], tolerance);
  }
  // The checksums cover the outputs in order, as one array.
  bool summed = sparrow_cli_kc_checksums(&c, name, info->outputs, out_count, d.out, d.golden);
  free_data(&d);
  if (!summed) {
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_kc_check_finish(&c, stats.fp_status, golden_flags);
  size_t elements = (size_t)a->m * a->n;
  double cycles_per_element = elements ? (double)stats.cycles / (double)elements : 0.0;

  if (a->o.json) {
    sparrow_json_t j;
    sparrow_json_begin(&j, stdout);
    sparrow_json_str(&j, "op", name);
    sparrow_json_u64(&j, "m", a->m);
    sparrow_json_u64(&j, "n", a->n);
    sparrow_cli_kc_json_run(&j, &a->o, &kd);
    sparrow_cli_kc_json_bits(&j, &c);
    sparrow_json_f64(&j, "norm_rel_err", c.err_max);
    sparrow_json_f64(&j, "tolerance", tolerance);
    sparrow_cli_kc_json_within(&j, &c);
    sparrow_json_u64(&j, "cycles", stats.cycles);
    sparrow_json_u64(&j, "est_cycles", stats.est_cycles);
    sparrow_json_f64(&j, "cycles_per_element", cycles_per_element);
    sparrow_json_u64(&j, "dram_bytes_read", stats.dram_rd_bytes);
    sparrow_json_u64(&j, "dram_bytes_written", stats.dram_wr_bytes);
    sparrow_json_u64(&j, "launches", stats.launches);
    sparrow_json_u64(&j, "program_entries", stats.entries);
    sparrow_json_u64(&j, "simd_insns", stats.insns);
    sparrow_json_u64(&j, "body_groups", stats.body_groups);
    sparrow_json_u64(&j, "tiles_used", stats.plan.busy_tiles);
    sparrow_cli_kc_json_end(&j, &c, wall_s);
  } else {
    sparrow_cli_kc_print_title(&a->o, &kd, what,
                               a->o.special ? ", special values among the inputs" : "", NULL);
    printf("  operator       %s\n", info->summary);
    printf(
        "  program        %u SIMD instructions, %u issue group(s) per beat, %u tile(s), "
        "%u launch(es)\n",
        stats.insns, stats.body_groups, stats.plan.busy_tiles, stats.launches);
    sparrow_cli_kc_print_bits(&c);
    printf(
        "  float check    %s: normwise error %.3g (tolerance %.3g), %zu non-finite "
        "disagreement(s)\n",
        c.within ? "ok" : "FAILED", c.err_max, tolerance, c.nonfinite_mismatches);
    printf("  cycles         %llu (estimate %llu), %.3f per element\n",
           (unsigned long long)stats.cycles, (unsigned long long)stats.est_cycles,
           cycles_per_element);
    sparrow_cli_kc_print_tail(&c, stats.dram_rd_bytes, stats.dram_wr_bytes, wall_s, "result");
  }
  return sparrow_cli_kc_verdict(&c, name, shape, true, NULL);
}

int sparrow_cli_kernel_simd(const char *name, int argc, char **argv) {
  simd_args_t args;
  memset(&args, 0, sizeof(args));
  if (!sparrow_ops_simd_find(name, &args.op)) {
    sparrow_cli_error("kernel: unknown operator '%s'", name);
    return SPARROW_CLI_EXIT_USAGE;
  }
  args.m = args.n = SIMD_DEFAULT_DIM;
  sparrow_cli_kc_opts_init(&args.o, true);
  int rc = parse(name, argc, argv, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run(&args);
}
