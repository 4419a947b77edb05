// SPDX-License-Identifier: Apache-2.0
//
// sparrow kernel OP: runs one operator on the device and checks it.
//   gemm: C = A * B with A, B uniform in [-1, 1) from --seed. The device result must equal the
//   golden-order GEMM bit for bit (mismatches = elements whose bits differ) and agree with a plain
//   C GEMM (double accumulator) within (k + 2) * 2^-24 relative to sum_k |a_ik b_kj|
//   (docs/ops.md, "Checks and tolerances").

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "cli.h"
#include "json.h"
#include "sparrow.h"
#include "sparrow_ops.h"
#include "sparrow_ref.h"

#define GEMM_DEFAULT_DIM 128u
#define GEMM_MAX_DIM 16384u

typedef struct gemm_args {
  uint32_t m, n, k;
  uint64_t seed;
  const char *device;
  bool json;
} gemm_args_t;

static int parse_gemm(int argc, char **argv, gemm_args_t *args) {
  args->m = args->n = args->k = GEMM_DEFAULT_DIM;
  args->seed = 1;
  args->device = SPARROW_CLI_DEFAULT_DEVICE;
  args->json = false;
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    uint64_t v = 0;
    if (strcmp(argv[i], "--json") == 0) {
      args->json = true;
    } else if (sparrow_cli_opt(argc, argv, &i, "--device", &value)) {
      if (value == NULL || value[0] == '\0') {
        sparrow_cli_error("--device needs a URI");
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->device = value;
    } else if (sparrow_cli_opt(argc, argv, &i, "--m", &value)) {
      if (!sparrow_cli_parse_u64("--m", value, 1, GEMM_MAX_DIM, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->m = (uint32_t)v;
    } else if (sparrow_cli_opt(argc, argv, &i, "--n", &value)) {
      if (!sparrow_cli_parse_u64("--n", value, 1, GEMM_MAX_DIM, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->n = (uint32_t)v;
    } else if (sparrow_cli_opt(argc, argv, &i, "--k", &value)) {
      if (!sparrow_cli_parse_u64("--k", value, 1, GEMM_MAX_DIM, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->k = (uint32_t)v;
    } else if (sparrow_cli_opt(argc, argv, &i, "--seed", &value)) {
      if (!sparrow_cli_parse_u64("--seed", value, 0, UINT64_MAX, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->seed = v;
    } else {
      sparrow_cli_error("kernel gemm: unknown option '%s' (try 'sparrow help')", argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  return SPARROW_CLI_EXIT_OK;
}

typedef struct gemm_data {
  uint32_t *a, *b, *c, *golden, *plain;
  double *mag;
} gemm_data_t;

static void free_data(gemm_data_t *d) {
  free(d->a);
  free(d->b);
  free(d->c);
  free(d->golden);
  free(d->plain);
  free(d->mag);
}

static int run_gemm(const gemm_args_t *args) {
  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    sparrow_cli_error("this host's binary32 arithmetic is unsuitable for the golden check: %s",
                      why);
    return SPARROW_CLI_EXIT_FAIL;
  }
  uint32_t m = args->m, n = args->n, k = args->k;
  sparrow_dev_t *dev = NULL;
  char msg[320] = "";
  sparrow_status_t st = sparrow_open(args->device, &dev, msg, sizeof(msg));
  if (st != SPARROW_OK) {
    sparrow_cli_error("cannot open device '%s': %s: %s", args->device, sparrow_status_name(st),
                      msg);
    // A malformed URI is bad usage; anything else is the device's (or the transport's) failure.
    return st == SPARROW_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_info_t info;
  st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    sparrow_cli_error("info: %s: %s", sparrow_status_name(st), sparrow_last_error(dev));
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }
  // Refuse a shape the device cannot hold before spending host memory and time on it.
  sparrow_ops_fabric_t fabric_params;
  sparrow_ops_fabric_from_info(&info, &fabric_params);
  sparrow_ops_gemm_plan_t plan;
  sparrow_ops_status_t ost = sparrow_ops_gemm_plan(&fabric_params, m, n, k, &plan);
  uint64_t need = ost == SPARROW_OPS_OK ? plan.a_bytes + plan.b_bytes + plan.c_bytes : 0;
  if (ost != SPARROW_OPS_OK || need > info.dram_bytes) {
    if (ost != SPARROW_OPS_OK) {
      sparrow_cli_error("gemm %ux%ux%u: no program for this device (%s)", m, n, k,
                        sparrow_ops_status_name(ost));
    } else {
      sparrow_cli_error("gemm %ux%ux%u needs %llu bytes of device memory; the device has %llu", m,
                        n, k, (unsigned long long)need, (unsigned long long)info.dram_bytes);
    }
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }
  char config[sizeof(info.config) + 1];
  memcpy(config, info.config, sizeof(info.config));
  config[sizeof(info.config)] = '\0';
  const char *fabric = info.fabric != NULL ? info.fabric : "?";

  gemm_data_t d;
  memset(&d, 0, sizeof(d));
  size_t mk = (size_t)m * k, kn = (size_t)k * n, mn = (size_t)m * n;
  d.a = malloc(mk * 4);
  d.b = malloc(kn * 4);
  d.c = malloc(mn * 4);
  d.golden = malloc(mn * 4);
  d.plain = malloc(mn * 4);
  d.mag = malloc(mn * sizeof(double));
  if (!d.a || !d.b || !d.c || !d.golden || !d.plain || !d.mag) {
    free_data(&d);
    sparrow_close(dev);
    sparrow_cli_error("gemm %ux%ux%u: host out of memory", m, n, k);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_ref_fill_uniform(args->seed, mk, d.a);
  sparrow_ref_fill_uniform(args->seed ^ 0x5A5A5A5Aull, kn, d.b);
  sparrow_cli_log("gemm %ux%ux%u on %s (configuration %s, %s fabric, %u tiles x %u lanes)", m, n, k,
                  args->device, config, fabric, info.tiles, info.lanes);

  sparrow_ops_gemm_stats_t stats;
  double t0 = sparrow_cli_now();
  ost = sparrow_ops_gemm(dev, m, n, k, d.a, d.b, d.c, &stats, msg, sizeof(msg));
  double wall = sparrow_cli_now() - t0;
  sparrow_close(dev);
  if (ost != SPARROW_OPS_OK) {
    sparrow_cli_error("gemm %ux%ux%u failed: %s", m, n, k, msg);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_log("device done in %.3f s (%u launch(es), %zu program entries); checking", wall,
                  stats.launches, stats.entries);

  sparrow_ref_gemm_golden(m, n, k, d.a, d.b, d.golden, NULL);
  sparrow_ref_gemm_plain(m, n, k, d.a, d.b, d.plain, d.mag);
  size_t mismatches = sparrow_ref_count_mismatches(mn, d.c, d.golden);
  double max_rel_err = sparrow_ref_max_rel_err(mn, d.c, d.plain, d.mag);
  double tolerance = sparrow_ref_gemm_tolerance(k);
  bool exact = mismatches == 0;
  bool within = max_rel_err <= tolerance;
  uint64_t checksum = sparrow_ref_fnv1a64(mn, d.c);
  uint64_t golden_checksum = sparrow_ref_fnv1a64(mn, d.golden);
  uint64_t macs = (uint64_t)m * n * k;
  uint64_t peak = info.peak_macs_per_cycle;
  double utilization = stats.cycles && peak ? (double)macs / ((double)stats.cycles * peak) : 0.0;
  double sim_rate = wall > 0 ? (double)macs / wall : 0.0;
  char checksum_hex[19], golden_hex[19];
  snprintf(checksum_hex, sizeof(checksum_hex), "%016llx", (unsigned long long)checksum);
  snprintf(golden_hex, sizeof(golden_hex), "%016llx", (unsigned long long)golden_checksum);
  free_data(&d);

  if (args->json) {
    sparrow_json_t j;
    sparrow_json_begin(&j, stdout);
    sparrow_json_str(&j, "op", "gemm");
    sparrow_json_u64(&j, "m", m);
    sparrow_json_u64(&j, "n", n);
    sparrow_json_u64(&j, "k", k);
    sparrow_json_str(&j, "device", args->device);
    sparrow_json_str(&j, "config", config);
    sparrow_json_str(&j, "fabric", fabric);
    sparrow_json_u64(&j, "seed", args->seed);
    sparrow_json_bool(&j, "exact", exact);
    sparrow_json_u64(&j, "mismatches", mismatches);
    sparrow_json_f64(&j, "max_rel_err", max_rel_err);
    sparrow_json_f64(&j, "tolerance", tolerance);
    sparrow_json_u64(&j, "cycles", stats.cycles);
    sparrow_json_u64(&j, "est_cycles", stats.est_cycles);
    sparrow_json_u64(&j, "macs", macs);
    sparrow_json_u64(&j, "fabric_macs", stats.macs);
    sparrow_json_u64(&j, "peak_macs_per_cycle", peak);
    sparrow_json_f64(&j, "utilization", utilization);
    sparrow_json_u64(&j, "dram_bytes_read", stats.dram_rd_bytes);
    sparrow_json_u64(&j, "dram_bytes_written", stats.dram_wr_bytes);
    sparrow_json_u64(&j, "launches", stats.launches);
    sparrow_json_u64(&j, "program_entries", stats.entries);
    sparrow_json_u64(&j, "fp_status", stats.fp_status);
    sparrow_json_f64(&j, "wall_s", wall);
    sparrow_json_f64(&j, "sim_macs_per_s", sim_rate);
    sparrow_json_str(&j, "checksum", checksum_hex);
    sparrow_json_str(&j, "golden_checksum", golden_hex);
    sparrow_json_end(&j);
  } else {
    const sparrow_ops_gemm_plan_t *p = &stats.plan;
    printf("gemm %ux%ux%u on %s (configuration %s, %s fabric), seed %llu\n", m, n, k, args->device,
           config, fabric, (unsigned long long)args->seed);
    printf(
        "  tiling         %u x %u tile groups, %u column block(s) per tile, K in %u chunk(s) "
        "of <= %u, %u launch(es)\n",
        p->col_groups, p->row_groups, p->nb, p->k_chunks, p->kc, stats.launches);
    printf("  golden check   %s: %zu of %zu elements differ (bit-exact required)\n",
           exact ? "exact" : "FAILED", mismatches, mn);
    printf("  float check    %s: max relative error %.3g (tolerance %.3g)\n",
           within ? "ok" : "FAILED", max_rel_err, tolerance);
    printf("  cycles         %llu (planner estimate %llu)\n", (unsigned long long)stats.cycles,
           (unsigned long long)stats.est_cycles);
    printf("  MACs           %llu (fabric, with padding: %llu)\n", (unsigned long long)macs,
           (unsigned long long)stats.macs);
    printf("  utilization    %.3f of %llu MAC/cycle\n", utilization, (unsigned long long)peak);
    printf("  DRAM           %llu bytes read, %llu bytes written\n",
           (unsigned long long)stats.dram_rd_bytes, (unsigned long long)stats.dram_wr_bytes);
    printf("  wall time      %.3f s, %.3g simulated MAC/s\n", wall, sim_rate);
    printf("  checksum       %s (FNV-1a 64 of C)\n", checksum_hex);
  }
  if (!exact || !within) {
    sparrow_cli_error("gemm %ux%ux%u: %s", m, n, k,
                      !exact ? "result differs from the golden arithmetic"
                             : "result outside the float tolerance");
    return SPARROW_CLI_EXIT_FAIL;
  }
  return SPARROW_CLI_EXIT_OK;
}

int sparrow_cli_kernel(int argc, char **argv) {
  if (argc < 1) {
    sparrow_cli_error("kernel: which operator? (available: gemm)");
    return SPARROW_CLI_EXIT_USAGE;
  }
  if (strcmp(argv[0], "gemm") != 0) {
    sparrow_cli_error("kernel: unknown operator '%s' (available: gemm)", argv[0]);
    return SPARROW_CLI_EXIT_USAGE;
  }
  gemm_args_t args;
  int rc = parse_gemm(argc - 1, argv + 1, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run_gemm(&args);
}
