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
#include "simd_ops.h"
#include "sparrow.h"
#include "sparrow_ops.h"
#include "sparrow_ref.h"

#define SIMD_DEFAULT_DIM 128u
#define SIMD_MAX_DIM 16384u
// Seeds of the second input and of the GELU scaling, derived from --seed as gemm's B is.
#define SEED_IN1 0x5A5A5A5Aull
// GELU's x: the uniform value times 8 (exponent + 3: exact).
#define GELU_X_EXPONENT_STEP (3u << 23)

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
  uint64_t seed;
  bool special;
  const char *device;
  bool json;
} simd_args_t;

static int parse(const char *name, int argc, char **argv, simd_args_t *args) {
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    uint64_t v = 0;
    if (strcmp(argv[i], "--json") == 0) {
      args->json = true;
    } else if (strcmp(argv[i], "--special") == 0) {
      args->special = true;
    } else if (sparrow_cli_opt(argc, argv, &i, "--device", &value)) {
      if (value == NULL || value[0] == '\0') {
        sparrow_cli_error("--device needs a URI");
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->device = value;
    } else if (sparrow_cli_opt(argc, argv, &i, "--m", &value)) {
      if (!sparrow_cli_parse_u64("--m", value, 1, SIMD_MAX_DIM, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->m = (uint32_t)v;
    } else if (sparrow_cli_opt(argc, argv, &i, "--n", &value)) {
      if (!sparrow_cli_parse_u64("--n", value, 1, SIMD_MAX_DIM, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->n = (uint32_t)v;
    } else if (sparrow_cli_opt(argc, argv, &i, "--seed", &value)) {
      if (!sparrow_cli_parse_u64("--seed", value, 0, UINT64_MAX, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->seed = v;
    } else {
      sparrow_cli_error(
          "kernel %s: unknown option '%s' (options: --m --n --seed --special "
          "--device --json)",
          name, argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
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
  sparrow_ref_fill_uniform(which == 0 ? a->seed : a->seed ^ SEED_IN1, count, x);
  bool gelu_x = (a->op == SPARROW_OPS_GELU || a->op == SPARROW_OPS_GELU_BWD) && which == 0;
  for (size_t i = 0; gelu_x && i < count; ++i) {
    x[i] = x[i] == 0 ? 0u : x[i] + GELU_X_EXPONENT_STEP;
  }
  // Spread over the first input (the same positions for every seed); the second input's value
  // goes to the same element, or for a vector to that element's column.
  size_t elements = (size_t)a->m * a->n;
  for (size_t k = 0; a->special && k < SPECIALS && k < elements; ++k) {
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

static void flags_text(uint32_t flags, char *out, size_t len) {
  snprintf(out, len, "%s%s%s%s%s%s", flags == 0 ? "none" : "", flags & SPARROW_FP_NV ? "NV " : "",
           flags & SPARROW_FP_DZ ? "DZ " : "", flags & SPARROW_FP_OF ? "OF " : "",
           flags & SPARROW_FP_UF ? "UF " : "", flags & SPARROW_FP_NX ? "NX" : "");
  size_t end = strlen(out);
  if (end > 0 && out[end - 1] == ' ') {
    out[end - 1] = '\0';
  }
}

static size_t count_nonfinite(size_t count, const uint32_t *x, size_t *nans) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    if ((x[i] & 0x7F800000u) == 0x7F800000u) {
      total++;
      *nans += (x[i] & 0x007FFFFFu) != 0;
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------
// The command.

static int run(const simd_args_t *a) {
  const sparrow_ops_simd_op_info_t *info = sparrow_ops_simd_info(a->op);
  const char *name = info->name;
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
  sparrow_info_t info_dev;
  st = sparrow_info(dev, &info_dev);
  if (st != SPARROW_OK) {
    sparrow_cli_error("info: %s: %s", sparrow_status_name(st), sparrow_last_error(dev));
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }
  char config[sizeof(info_dev.config) + 1];
  memcpy(config, info_dev.config, sizeof(info_dev.config));
  config[sizeof(info_dev.config)] = '\0';
  const char *fabric = info_dev.fabric != NULL ? info_dev.fabric : "?";
  // Refuse a shape the device cannot hold before spending host memory and time on it.
  uint64_t need = 0;
  for (uint32_t i = 0; i < info->inputs; ++i) {
    need += sparrow_ops_simd_image_bytes(info->in_shape[i], info_dev.lanes, a->m, a->n);
  }
  for (uint32_t j = 0; j < info->outputs; ++j) {
    need += sparrow_ops_simd_image_bytes(info->out_shape[j], info_dev.lanes, a->m, a->n);
  }
  if (need > info_dev.dram_bytes) {
    sparrow_cli_error("%s %ux%u needs %llu bytes of device memory; the device has %llu", name, a->m,
                      a->n, (unsigned long long)need, (unsigned long long)info_dev.dram_bytes);
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_log("%s %ux%u%s on %s (configuration %s, %s fabric, %u tiles x %u lanes)", name, a->m,
                  a->n, a->special ? " with special values" : "", a->device, config, fabric,
                  info_dev.tiles, info_dev.lanes);

  simd_data_t d;
  memset(&d, 0, sizeof(d));
  size_t total_out = 0;
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
    size_t count = sparrow_ops_simd_elems(info->out_shape[j], a->m, a->n);
    total_out += count;
    d.out[j] = malloc(count * 4 + 4);
    d.golden[j] = malloc(count * 4 + 4);
    d.plain[j] = malloc(count * 4 + 4);
    oom |= d.out[j] == NULL || d.golden[j] == NULL || d.plain[j] == NULL;
  }
  d.mag = malloc((size_t)a->n * sizeof(double) + 8);
  if (oom || d.mag == NULL) {
    sparrow_cli_error("%s %ux%u: host out of memory", name, a->m, a->n);
    free_data(&d);
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }

  sparrow_ops_simd_stats_t stats;
  double t0 = sparrow_cli_now();
  sparrow_ops_status_t ost = sparrow_ops_simd(dev, a->op, a->m, a->n, (const uint32_t *const *)d.in,
                                              d.out, &stats, msg, sizeof(msg));
  double wall_s = sparrow_cli_now() - t0;
  sparrow_close(dev);
  if (ost != SPARROW_OPS_OK) {
    sparrow_cli_error("%s %ux%u failed: %s", name, a->m, a->n, msg);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_log("%s: device done in %.3f s (%u launch(es), %zu program entries); checking", name,
                  wall_s, stats.launches, stats.entries);

  uint8_t golden_flags = 0;
  double tolerance = references(a, &d, &golden_flags);
  size_t mismatches = 0, nonfinite_mismatches = 0, nonfinite = 0, nans = 0;
  double err = 0.0;
  // The checksums cover the outputs in order, as one array.
  uint32_t *all_out = malloc(total_out * 4 + 4), *all_gold = malloc(total_out * 4 + 4);
  if (all_out == NULL || all_gold == NULL) {
    sparrow_cli_error("%s: host out of memory", name);
    free(all_out);
    free(all_gold);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  size_t at = 0;
  for (uint32_t j = 0; j < info->outputs; ++j) {
    size_t count = sparrow_ops_simd_elems(info->out_shape[j], a->m, a->n);
    mismatches += sparrow_ref_count_mismatches(count, d.out[j], d.golden[j]);
    size_t bad = 0;
    double e = sparrow_ref_norm_rel_err(count, d.out[j], d.plain[j], &bad);
    err = e > err || isnan(e) ? e : err;
    nonfinite_mismatches += bad;
    nonfinite += count_nonfinite(count, d.out[j], &nans);
    memcpy(all_out + at, d.out[j], count * 4);
    memcpy(all_gold + at, d.golden[j], count * 4);
    at += count;
  }
  uint64_t checksum = sparrow_ref_fnv1a64(total_out, all_out);
  uint64_t golden_checksum = sparrow_ref_fnv1a64(total_out, all_gold);
  free(all_out);
  free(all_gold);
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
  size_t elements = (size_t)a->m * a->n;
  double cycles_per_element = elements ? (double)stats.cycles / (double)elements : 0.0;

  if (a->json) {
    sparrow_json_t j;
    sparrow_json_begin(&j, stdout);
    sparrow_json_str(&j, "op", name);
    sparrow_json_u64(&j, "m", a->m);
    sparrow_json_u64(&j, "n", a->n);
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
    sparrow_json_f64(&j, "norm_rel_err", err);
    sparrow_json_f64(&j, "tolerance", tolerance);
    sparrow_json_u64(&j, "nonfinite_mismatches", nonfinite_mismatches);
    sparrow_json_bool(&j, "within", within);
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
    sparrow_json_f64(&j, "wall_s", wall_s);
    sparrow_json_str(&j, "checksum", checksum_hex);
    sparrow_json_str(&j, "golden_checksum", golden_hex);
    sparrow_json_end(&j);
  } else {
    printf("%s %ux%u on %s (configuration %s, %s fabric), seed %llu%s\n", name, a->m, a->n,
           a->device, config, fabric, (unsigned long long)a->seed,
           a->special ? ", special values among the inputs" : "");
    printf("  operator       %s\n", info->summary);
    printf(
        "  program        %u SIMD instructions, %u issue group(s) per beat, %u tile(s), "
        "%u launch(es)\n",
        stats.insns, stats.body_groups, stats.plan.busy_tiles, stats.launches);
    printf("  golden check   %s: %zu of %zu elements differ (bit-exact required)\n",
           exact ? "exact" : "FAILED", mismatches, total_out);
    printf("  fp status      %s (golden: %s)%s\n", flags, gflags, flags_exact ? "" : " FAILED");
    printf(
        "  float check    %s: normwise error %.3g (tolerance %.3g), %zu non-finite "
        "disagreement(s)\n",
        within ? "ok" : "FAILED", err, tolerance, nonfinite_mismatches);
    printf("  cycles         %llu (estimate %llu), %.3f per element\n",
           (unsigned long long)stats.cycles, (unsigned long long)stats.est_cycles,
           cycles_per_element);
    printf("  DRAM           %llu bytes read, %llu bytes written\n",
           (unsigned long long)stats.dram_rd_bytes, (unsigned long long)stats.dram_wr_bytes);
    printf("  wall time      %.3f s\n", wall_s);
    printf("  checksum       %s (FNV-1a 64 of the result)\n", checksum_hex);
  }
  if (nonfinite != 0) {
    sparrow_cli_log(
        "warning: %s: the result holds %zu non-finite element(s) (%zu NaN); the "
        "device's FP status: %s",
        name, nonfinite, nans, flags);
  }
  if (!exact || !flags_exact || !within) {
    sparrow_cli_error("%s %ux%u: %s", name, a->m, a->n,
                      !exact         ? "result differs from the golden arithmetic"
                      : !flags_exact ? "FP status differs from the golden arithmetic's flags"
                                     : "result outside the float tolerance");
    return SPARROW_CLI_EXIT_FAIL;
  }
  return SPARROW_CLI_EXIT_OK;
}

int sparrow_cli_kernel_simd(const char *name, int argc, char **argv) {
  simd_args_t args;
  memset(&args, 0, sizeof(args));
  if (!sparrow_ops_simd_find(name, &args.op)) {
    sparrow_cli_error("kernel: unknown operator '%s'", name);
    return SPARROW_CLI_EXIT_USAGE;
  }
  args.m = args.n = SIMD_DEFAULT_DIM;
  args.seed = 1;
  args.device = SPARROW_CLI_DEFAULT_DEVICE;
  int rc = parse(name, argc, argv, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run(&args);
}
