// SPDX-License-Identifier: Apache-2.0
//
// sparrow kernel OP: runs one operator on the device and checks it.
//   gemm:   C = A * B with A, B uniform in [-1, 1) from --seed.
//   spmm:   Y = X * W, W a K x N block-sparse weight (BSR) at --density with a balanced random or a
//           magnitude mask (--mask) of --block x --block blocks;
//   spmm_t: dX = dY * W^T with the same W;
//   sddmm:  dW = (X^T * dY) on W's mask, X M x K, dY M x N, dW in W's BSR layout.
// The device result must equal the golden-order reference bit for bit (mismatches = elements whose
// bits differ) and agree with a plain C reference (double accumulator) within (r + 2) * 2^-24
// relative to the sum of the terms' magnitudes, r the reduced dimension (docs/ops.md, "Checks and
// tolerances").

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "cli.h"
#include "cmd_kernel_attn.h"
#include "cmd_kernel_ln_embed.h"
#include "cmd_kernel_loss.h"
#include "cmd_kernel_simd.h"
#include "json.h"
#include "sparrow.h"
#include "sparrow_bsr.h"
#include "sparrow_mask.h"
#include "sparrow_ops.h"
#include "sparrow_ref.h"
#include "sparrow_sparse.h"

#define KERNEL_DEFAULT_DIM 128u
#define KERNEL_MAX_DIM 16384u
#define KERNEL_MAX_BLOCK 256u
#define KERNEL_DEFAULT_DENSITY 8u

// Seeds of the operands derived from --seed (gemm's A and B as before; W's mask apart).
#define SEED_B 0x5A5A5A5Aull
#define SEED_DY 0x3C3C3C3Cull
#define SEED_MASK 0xA5A5A5A5ull

const char *sparrow_cli_op_name(sparrow_cli_op_t op) {
  switch (op) {
    case SPARROW_CLI_OP_GEMM:
      return "gemm";
    case SPARROW_CLI_OP_SPMM:
      return "spmm";
    case SPARROW_CLI_OP_SPMM_T:
      return "spmm_t";
    case SPARROW_CLI_OP_SDDMM:
      return "sddmm";
  }
  return "?";
}

typedef struct kernel_args {
  sparrow_cli_kernel_spec_t spec;
  const char *device;
  bool json;
} kernel_args_t;

static int parse_kernel(sparrow_cli_op_t op, int argc, char **argv, kernel_args_t *args) {
  const char *name = sparrow_cli_op_name(op);
  bool sparse = op != SPARROW_CLI_OP_GEMM;
  memset(args, 0, sizeof(*args));
  args->spec.op = op;
  args->spec.m = args->spec.n = args->spec.k = KERNEL_DEFAULT_DIM;
  args->spec.seed = 1;
  args->spec.density_den = KERNEL_DEFAULT_DENSITY;
  args->spec.block = SPARROW_BSR_DEFAULT_BLOCK;
  args->device = SPARROW_CLI_DEFAULT_DEVICE;
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
      if (!sparrow_cli_parse_u64("--m", value, 1, KERNEL_MAX_DIM, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->spec.m = (uint32_t)v;
    } else if (sparrow_cli_opt(argc, argv, &i, "--n", &value)) {
      if (!sparrow_cli_parse_u64("--n", value, 1, KERNEL_MAX_DIM, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->spec.n = (uint32_t)v;
    } else if (sparrow_cli_opt(argc, argv, &i, "--k", &value)) {
      if (!sparrow_cli_parse_u64("--k", value, 1, KERNEL_MAX_DIM, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->spec.k = (uint32_t)v;
    } else if (sparrow_cli_opt(argc, argv, &i, "--seed", &value)) {
      if (!sparrow_cli_parse_u64("--seed", value, 0, UINT64_MAX, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->spec.seed = v;
    } else if (sparse && sparrow_cli_opt(argc, argv, &i, "--density", &value)) {
      char why[160];
      if (value == NULL) {
        sparrow_cli_error("--density needs a value");
        return SPARROW_CLI_EXIT_USAGE;
      }
      if (sparrow_mask_parse_density(value, &args->spec.density_den, why, sizeof(why)) !=
          SPARROW_MASK_OK) {
        sparrow_cli_error("--density: %s", why);
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else if (sparse && sparrow_cli_opt(argc, argv, &i, "--mask", &value)) {
      if (value != NULL && strcmp(value, "random") == 0) {
        args->spec.magnitude = false;
      } else if (value != NULL && strcmp(value, "magnitude") == 0) {
        args->spec.magnitude = true;
      } else {
        sparrow_cli_error("--mask: '%s' is not random or magnitude", value ? value : "");
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else if (sparse && sparrow_cli_opt(argc, argv, &i, "--block", &value)) {
      if (!sparrow_cli_parse_u64("--block", value, 1, KERNEL_MAX_BLOCK, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->spec.block = (uint32_t)v;
    } else {
      sparrow_cli_error("kernel %s: unknown option '%s' (try 'sparrow help')", name, argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  // W is K x N in blocks: both must be multiples of the block size.
  if (sparse && (args->spec.k % args->spec.block != 0 || args->spec.n % args->spec.block != 0)) {
    sparrow_cli_error("kernel %s: --%s %u is not a multiple of the block size %u", name,
                      args->spec.k % args->spec.block != 0 ? "k" : "n",
                      args->spec.k % args->spec.block != 0 ? args->spec.k : args->spec.n,
                      args->spec.block);
    return SPARROW_CLI_EXIT_USAGE;
  }
  return SPARROW_CLI_EXIT_OK;
}

// ---------------------------------------------------------------------------------------------------
// Running and checking one operator.

typedef struct kernel_data {
  uint32_t *a, *b, *c, *golden, *plain;
  double *mag;
  float *w_dense;
  uint8_t *mask;
  sparrow_bsr_t w;
} kernel_data_t;

static void free_data(kernel_data_t *d) {
  free(d->a);
  free(d->b);
  free(d->c);
  free(d->golden);
  free(d->plain);
  free(d->mag);
  free(d->w_dense);
  free(d->mask);
  sparrow_bsr_free(&d->w);
}

// W (K x N): random dense values, then the mask, then the BSR.
static int make_weights(const sparrow_cli_kernel_spec_t *s, kernel_data_t *d) {
  size_t kn = (size_t)s->k * s->n;
  uint32_t br = s->k / s->block, bc = s->n / s->block;
  uint32_t *bits = malloc(kn * 4 + 4);
  d->w_dense = malloc(kn * sizeof(float) + 4);
  d->mask = malloc((size_t)br * bc + 1);
  if (bits == NULL || d->w_dense == NULL || d->mask == NULL) {
    free(bits);
    sparrow_cli_error("%s: host out of memory", sparrow_cli_op_name(s->op));
    return -1;
  }
  sparrow_ref_fill_uniform(s->seed ^ SEED_B, kn, bits);
  memcpy(d->w_dense, bits, kn * 4);
  free(bits);
  char why[200] = "";
  sparrow_mask_status_t mst =
      s->magnitude ? sparrow_mask_magnitude(d->w_dense, s->k, s->n, s->block, s->density_den,
                                            d->mask, why, sizeof(why))
                   : sparrow_mask_balanced_random(br, bc, s->density_den, s->seed ^ SEED_MASK,
                                                  d->mask, why, sizeof(why));
  if (mst != SPARROW_MASK_OK) {
    sparrow_cli_error("%s: mask: %s", sparrow_cli_op_name(s->op), why);
    return -1;
  }
  if (sparrow_bsr_from_dense(d->w_dense, s->k, s->n, s->block, d->mask, &d->w, why, sizeof(why)) !=
      SPARROW_BSR_OK) {
    sparrow_cli_error("%s: BSR: %s", sparrow_cli_op_name(s->op), why);
    return -1;
  }
  return 0;
}

static void describe_gemm(const sparrow_ops_gemm_plan_t *p, uint32_t launches, char *out,
                          size_t len) {
  snprintf(out, len,
           "%u x %u tile groups, %u column block(s) per tile, K in %u chunk(s) of <= %u, "
           "%u launch(es)",
           p->col_groups, p->row_groups, p->nb, p->k_chunks, p->kc, launches);
}

static void describe_sparse(const sparrow_ops_sparse_plan_t *p, uint32_t launches, char *out,
                            size_t len) {
  const char *red = p->op == SPARROW_OPS_SPMM ? "K" : p->op == SPARROW_OPS_SPMM_T ? "N" : "M";
  snprintf(out, len,
           "%u x %u tile groups, <= %u column lane-block(s) per tile, %u round(s), %s in %u "
           "chunk(s) of <= %u, %u-slot ring%s%s, %u launch(es)",
           p->col_groups, p->row_groups, p->nb, p->rounds, red, p->chunks, p->chunk, p->slots,
           p->multicast ? ", strips multicast" : "",
           p->segments > 1 ? ", index lists in segments" : "", launches);
}

// The weight-shaped bytes of a dense GEMM: B read (the weights of Y = X * W), every tile reading
// its columns' chunks.
static uint64_t gemm_weight_bytes(const sparrow_ops_gemm_plan_t *p) {
  uint64_t bytes = 0;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      sparrow_ops_gemm_task_t task;
      sparrow_ops_gemm_task(p, r, t, &task);
      if (task.mb > 0) {
        bytes += 4ull * task.nb * p->lanes * p->k;
      }
    }
  }
  return bytes;
}

int sparrow_cli_kernel_run(sparrow_dev_t *dev, const sparrow_info_t *info,
                           const sparrow_cli_kernel_spec_t *s, sparrow_cli_kernel_result_t *res) {
  memset(res, 0, sizeof(*res));
  const char *name = sparrow_cli_op_name(s->op);
  uint32_t m = s->m, n = s->n, k = s->k;
  kernel_data_t d;
  memset(&d, 0, sizeof(d));
  // Operand sizes: a is the streamed input (A, X, dY, X), b gemm's B or sddmm's dY; the result.
  size_t a_words = (size_t)m * (s->op == SPARROW_CLI_OP_SPMM_T ? n : k);
  size_t b_words = s->op == SPARROW_CLI_OP_GEMM || s->op == SPARROW_CLI_OP_SDDMM
                       ? (size_t)(s->op == SPARROW_CLI_OP_GEMM ? k : m) * n
                       : 1;
  if (s->op != SPARROW_CLI_OP_GEMM && make_weights(s, &d) != 0) {
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  size_t count = s->op == SPARROW_CLI_OP_GEMM || s->op == SPARROW_CLI_OP_SPMM ? (size_t)m * n
                 : s->op == SPARROW_CLI_OP_SPMM_T                             ? (size_t)m * k
                                                  : (size_t)d.w.nnz_blocks * s->block * s->block;
  d.a = malloc(a_words * 4 + 4);
  d.b = malloc(b_words * 4 + 4);
  d.c = malloc(count * 4 + 4);
  d.golden = malloc(count * 4 + 4);
  d.plain = malloc(count * 4 + 4);
  d.mag = malloc(count * sizeof(double) + 8);
  if (!d.a || !d.b || !d.c || !d.golden || !d.plain || !d.mag) {
    free_data(&d);
    sparrow_cli_error("%s %ux%ux%u: host out of memory", name, m, n, k);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_ref_fill_uniform(s->seed, a_words, d.a);
  if (s->op == SPARROW_CLI_OP_GEMM) {
    sparrow_ref_fill_uniform(s->seed ^ SEED_B, b_words, d.b);
  } else if (s->op == SPARROW_CLI_OP_SDDMM) {
    sparrow_ref_fill_uniform(s->seed ^ SEED_DY, b_words, d.b);
  }

  char msg[400] = "";
  sparrow_ops_status_t ost;
  double t0 = sparrow_cli_now();
  uint32_t red = k;
  if (s->op == SPARROW_CLI_OP_GEMM) {
    sparrow_ops_gemm_stats_t st;
    ost = sparrow_ops_gemm(dev, m, n, k, d.a, d.b, d.c, &st, msg, sizeof(msg));
    res->cycles = st.cycles;
    res->est_cycles = st.est_cycles;
    res->fabric_macs = st.macs;
    res->dram_rd = st.dram_rd_bytes;
    res->dram_wr = st.dram_wr_bytes;
    res->launches = st.launches;
    res->entries = st.entries;
    res->fp_status = st.fp_status;
    res->macs = (uint64_t)m * n * k;
    res->density = 1.0;
    if (ost == SPARROW_OPS_OK) {
      res->weight_bytes = gemm_weight_bytes(&st.plan);
      describe_gemm(&st.plan, st.launches, res->tiling, sizeof(res->tiling));
    }
  } else {
    sparrow_ops_sparse_stats_t st;
    if (s->op == SPARROW_CLI_OP_SPMM) {
      ost = sparrow_ops_spmm(dev, m, d.a, &d.w, d.c, &st, msg, sizeof(msg));
    } else if (s->op == SPARROW_CLI_OP_SPMM_T) {
      ost = sparrow_ops_spmm_t(dev, m, d.a, &d.w, d.c, &st, msg, sizeof(msg));
      red = n;
    } else {
      ost = sparrow_ops_sddmm(dev, m, d.a, d.b, &d.w, d.c, &st, msg, sizeof(msg));
      red = m;
    }
    res->cycles = st.cycles;
    res->est_cycles = st.est_cycles;
    res->fabric_macs = st.macs;
    res->dram_rd = st.dram_rd_bytes;
    res->dram_wr = st.dram_wr_bytes;
    res->weight_bytes = st.weight_bytes;
    res->launches = st.launches;
    res->entries = st.entries;
    res->fp_status = st.fp_status;
    res->nnz_blocks = d.w.nnz_blocks;
    res->density = st.density;
    res->macs = (uint64_t)d.w.nnz_blocks * s->block * s->block * m;
    if (ost == SPARROW_OPS_OK) {
      describe_sparse(&st.plan, st.launches, res->tiling, sizeof(res->tiling));
    }
  }
  res->wall_s = sparrow_cli_now() - t0;
  (void)info;
  if (ost != SPARROW_OPS_OK) {
    sparrow_cli_error("%s %ux%ux%u failed: %s", name, m, n, k, msg);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_cli_log("%s: device done in %.3f s (%u launch(es), %zu program entries); checking", name,
                  res->wall_s, res->launches, res->entries);

  int rc = 0;
  switch (s->op) {
    case SPARROW_CLI_OP_GEMM:
      sparrow_ref_gemm_golden(m, n, k, d.a, d.b, d.golden, NULL);
      sparrow_ref_gemm_plain(m, n, k, d.a, d.b, d.plain, d.mag);
      break;
    case SPARROW_CLI_OP_SPMM:
      rc = sparrow_ref_spmm_golden(m, d.a, &d.w, d.golden, NULL) |
           sparrow_ref_spmm_plain(m, d.a, &d.w, d.plain, d.mag);
      break;
    case SPARROW_CLI_OP_SPMM_T:
      rc = sparrow_ref_spmm_t_golden(m, d.a, &d.w, d.golden, NULL) |
           sparrow_ref_spmm_t_plain(m, d.a, &d.w, d.plain, d.mag);
      break;
    case SPARROW_CLI_OP_SDDMM:
      rc = sparrow_ref_sddmm_golden(m, d.a, d.b, &d.w, d.golden, NULL) |
           sparrow_ref_sddmm_plain(m, d.a, d.b, &d.w, d.plain, d.mag);
      break;
  }
  if (rc != 0) {
    sparrow_cli_error("%s: the CPU reference failed (host out of memory)", name);
    free_data(&d);
    return SPARROW_CLI_EXIT_FAIL;
  }
  res->count = count;
  res->mismatches = sparrow_ref_count_mismatches(count, d.c, d.golden);
  res->max_rel_err = sparrow_ref_max_rel_err(count, d.c, d.plain, d.mag);
  res->tolerance = sparrow_ref_gemm_tolerance(red);
  res->exact = res->mismatches == 0;
  res->within = res->max_rel_err <= res->tolerance;
  res->checksum = sparrow_ref_fnv1a64(count, d.c);
  res->golden_checksum = sparrow_ref_fnv1a64(count, d.golden);
  free_data(&d);
  return SPARROW_CLI_EXIT_OK;
}

// ---------------------------------------------------------------------------------------------------
// The command.

static int run_kernel(const kernel_args_t *args) {
  const sparrow_cli_kernel_spec_t *s = &args->spec;
  const char *name = sparrow_cli_op_name(s->op);
  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    sparrow_cli_error("this host's binary32 arithmetic is unsuitable for the golden check: %s",
                      why);
    return SPARROW_CLI_EXIT_FAIL;
  }
  uint32_t m = s->m, n = s->n, k = s->k;
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
  if (s->op == SPARROW_CLI_OP_GEMM) {
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
  }
  char config[sizeof(info.config) + 1];
  memcpy(config, info.config, sizeof(info.config));
  config[sizeof(info.config)] = '\0';
  const char *fabric = info.fabric != NULL ? info.fabric : "?";
  char density[16] = "1";
  if (s->op != SPARROW_CLI_OP_GEMM) {
    snprintf(density, sizeof(density), s->density_den == 1 ? "1" : "1/%u", s->density_den);
    sparrow_cli_log(
        "%s %ux%ux%u, density %s (%s mask, %ux%u blocks) on %s (configuration %s, %s "
        "fabric, %u tiles x %u lanes)",
        name, m, n, k, density, s->magnitude ? "magnitude" : "random", s->block, s->block,
        args->device, config, fabric, info.tiles, info.lanes);
  } else {
    sparrow_cli_log("gemm %ux%ux%u on %s (configuration %s, %s fabric, %u tiles x %u lanes)", m, n,
                    k, args->device, config, fabric, info.tiles, info.lanes);
  }

  sparrow_cli_kernel_result_t r;
  int rc = sparrow_cli_kernel_run(dev, &info, s, &r);
  sparrow_close(dev);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  uint64_t peak = info.peak_macs_per_cycle;
  double utilization = r.cycles && peak ? (double)r.macs / ((double)r.cycles * peak) : 0.0;
  double sim_rate = r.wall_s > 0 ? (double)r.macs / r.wall_s : 0.0;
  char checksum_hex[19], golden_hex[19];
  snprintf(checksum_hex, sizeof(checksum_hex), "%016llx", (unsigned long long)r.checksum);
  snprintf(golden_hex, sizeof(golden_hex), "%016llx", (unsigned long long)r.golden_checksum);

  if (args->json) {
    sparrow_json_t j;
    sparrow_json_begin(&j, stdout);
    sparrow_json_str(&j, "op", name);
    sparrow_json_u64(&j, "m", m);
    sparrow_json_u64(&j, "n", n);
    sparrow_json_u64(&j, "k", k);
    if (s->op != SPARROW_CLI_OP_GEMM) {
      sparrow_json_u64(&j, "block", s->block);
      sparrow_json_str(&j, "mask", s->magnitude ? "magnitude" : "random");
      sparrow_json_f64(&j, "density", r.density);
      sparrow_json_u64(&j, "nnz_blocks", r.nnz_blocks);
    }
    sparrow_json_str(&j, "device", args->device);
    sparrow_json_str(&j, "config", config);
    sparrow_json_str(&j, "fabric", fabric);
    sparrow_json_u64(&j, "seed", s->seed);
    sparrow_json_bool(&j, "exact", r.exact);
    sparrow_json_u64(&j, "mismatches", r.mismatches);
    sparrow_json_f64(&j, "max_rel_err", r.max_rel_err);
    sparrow_json_f64(&j, "tolerance", r.tolerance);
    sparrow_json_u64(&j, "cycles", r.cycles);
    sparrow_json_u64(&j, "est_cycles", r.est_cycles);
    sparrow_json_u64(&j, "macs", r.macs);
    sparrow_json_u64(&j, "fabric_macs", r.fabric_macs);
    sparrow_json_u64(&j, "peak_macs_per_cycle", peak);
    sparrow_json_f64(&j, "utilization", utilization);
    sparrow_json_u64(&j, "dram_bytes_read", r.dram_rd);
    sparrow_json_u64(&j, "dram_bytes_written", r.dram_wr);
    sparrow_json_u64(&j, "dram_bytes_weights", r.weight_bytes);
    sparrow_json_u64(&j, "launches", r.launches);
    sparrow_json_u64(&j, "program_entries", r.entries);
    sparrow_json_u64(&j, "fp_status", r.fp_status);
    sparrow_json_f64(&j, "wall_s", r.wall_s);
    sparrow_json_f64(&j, "sim_macs_per_s", sim_rate);
    sparrow_json_str(&j, "checksum", checksum_hex);
    sparrow_json_str(&j, "golden_checksum", golden_hex);
    sparrow_json_end(&j);
  } else {
    if (s->op == SPARROW_CLI_OP_GEMM) {
      printf("gemm %ux%ux%u on %s (configuration %s, %s fabric), seed %llu\n", m, n, k,
             args->device, config, fabric, (unsigned long long)s->seed);
    } else {
      printf("%s %ux%ux%u on %s (configuration %s, %s fabric), seed %llu\n", name, m, n, k,
             args->device, config, fabric, (unsigned long long)s->seed);
      printf("  weights        density %s (%s mask): %u of %u blocks of %ux%u stored\n", density,
             s->magnitude ? "magnitude" : "random", r.nnz_blocks, (k / s->block) * (n / s->block),
             s->block, s->block);
    }
    printf("  tiling         %s\n", r.tiling);
    printf("  golden check   %s: %zu of %zu elements differ (bit-exact required)\n",
           r.exact ? "exact" : "FAILED", r.mismatches, r.count);
    printf("  float check    %s: max relative error %.3g (tolerance %.3g)\n",
           r.within ? "ok" : "FAILED", r.max_rel_err, r.tolerance);
    printf("  cycles         %llu (planner estimate %llu)\n", (unsigned long long)r.cycles,
           (unsigned long long)r.est_cycles);
    if (s->op == SPARROW_CLI_OP_GEMM) {
      printf("  MACs           %llu (fabric, with padding: %llu)\n", (unsigned long long)r.macs,
             (unsigned long long)r.fabric_macs);
    } else {
      printf("  MACs           %llu over the stored blocks (fabric, with padding: %llu)\n",
             (unsigned long long)r.macs, (unsigned long long)r.fabric_macs);
    }
    printf("  utilization    %.3f of %llu MAC/cycle\n", utilization, (unsigned long long)peak);
    printf("  DRAM           %llu bytes read, %llu bytes written (weights: %llu)\n",
           (unsigned long long)r.dram_rd, (unsigned long long)r.dram_wr,
           (unsigned long long)r.weight_bytes);
    printf("  wall time      %.3f s, %.3g simulated MAC/s\n", r.wall_s, sim_rate);
    printf("  checksum       %s (FNV-1a 64 of the result)\n", checksum_hex);
  }
  if (!r.exact || !r.within) {
    sparrow_cli_error("%s %ux%ux%u: %s", name, m, n, k,
                      !r.exact ? "result differs from the golden arithmetic"
                               : "result outside the float tolerance");
    return SPARROW_CLI_EXIT_FAIL;
  }
  return SPARROW_CLI_EXIT_OK;
}

int sparrow_cli_kernel(int argc, char **argv) {
  static const char *const available = "gemm, spmm, spmm_t, sddmm; --list for all";
  if (argc < 1) {
    sparrow_cli_error("kernel: which operator? (available: %s)", available);
    return SPARROW_CLI_EXIT_USAGE;
  }
  // --list: every operator's name, one a line; the SIMD operators live in cmd_kernel_simd.c.
  if (strcmp(argv[0], "--list") == 0) {
    printf("gemm\nspmm\nspmm_t\nsddmm\n");
    sparrow_cli_kernel_simd_list(stdout);
    sparrow_cli_kernel_attn_list(stdout);
    sparrow_cli_kernel_ln_embed_list(stdout);
    sparrow_cli_kernel_loss_list(stdout);
    return SPARROW_CLI_EXIT_OK;
  }
  if (sparrow_cli_kernel_simd_has(argv[0])) {
    return sparrow_cli_kernel_simd(argv[0], argc - 1, argv + 1);
  }
  if (sparrow_cli_kernel_attn_has(argv[0])) {
    return sparrow_cli_kernel_attn(argv[0], argc - 1, argv + 1);
  }
  if (sparrow_cli_kernel_ln_embed_has(argv[0])) {
    return sparrow_cli_kernel_ln_embed(argv[0], argc - 1, argv + 1);
  }
  if (sparrow_cli_kernel_loss_has(argv[0])) {
    return sparrow_cli_kernel_loss(argv[0], argc - 1, argv + 1);
  }
  sparrow_cli_op_t op;
  if (strcmp(argv[0], "gemm") == 0) {
    op = SPARROW_CLI_OP_GEMM;
  } else if (strcmp(argv[0], "spmm") == 0) {
    op = SPARROW_CLI_OP_SPMM;
  } else if (strcmp(argv[0], "spmm_t") == 0) {
    op = SPARROW_CLI_OP_SPMM_T;
  } else if (strcmp(argv[0], "sddmm") == 0) {
    op = SPARROW_CLI_OP_SDDMM;
  } else {
    sparrow_cli_error("kernel: unknown operator '%s' (available: %s)", argv[0], available);
    return SPARROW_CLI_EXIT_USAGE;
  }
  kernel_args_t args;
  int rc = parse_kernel(op, argc - 1, argv + 1, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run_kernel(&args);
}
