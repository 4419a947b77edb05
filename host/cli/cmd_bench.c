// SPDX-License-Identifier: Apache-2.0
//
// sparrow bench: the block-sparse benchmark (docs/results.md). In one run on one device (default
// `sim`: the RTL fabric, configuration M) it measures the dense GEMMs a sparse linear layer
// replaces and the three sparse operators at densities 1, 1/2, 1/4, 1/8 and 1/16:
//   gemm   M=256, N=512, K=512     Y = X * W dense, the reference of spmm and spmm_t
//   gemm   M=512, N=512, K=256     X^T * dY dense, the reference of sddmm
//   spmm   X 256x512, W 512x512    spmm_t  dY 256x512, W 512x512    sddmm  X 256x512, dY 256x512
// Every run is checked (bit-exact against the golden order). It prints cycles, utilization of the
// performed work, DRAM bytes (weights and total) and the speedup over the matching dense GEMM, and
// writes sparse.csv, sparse.md and sparse.png (gnuplot) to --out (default build/bench).
// `sparrow bench --study` is another benchmark, the execution-mode study (cmd_study.c).

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "cli.h"
#include "json.h"
#include "sparrow.h"
#include "sparrow_ops.h"

#define BENCH_DEFAULT_OUT "build/bench"
#define BENCH_M 256u
#define BENCH_K 512u
#define BENCH_N 512u

typedef struct bench_args {
  const char *device;
  const char *out;
  uint64_t seed;
  bool json;
  bool quick;  // density 1/8 only (a shorter run, for tests)
} bench_args_t;

typedef struct bench_row {
  sparrow_cli_kernel_spec_t spec;
  const char *label;  // "gemm", "spmm", ...
  const char *shape;  // "256x512x512"
  int dense_ref;      // index of the matching dense row (-1 for the dense rows themselves)
  int ran;
  sparrow_cli_kernel_result_t res;
  double utilization, speedup;
} bench_row_t;

static int parse_bench(int argc, char **argv, bench_args_t *args) {
  memset(args, 0, sizeof(*args));
  args->device = SPARROW_CLI_DEFAULT_DEVICE;
  args->out = BENCH_DEFAULT_OUT;
  args->seed = 1;
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    uint64_t v = 0;
    if (strcmp(argv[i], "--json") == 0) {
      args->json = true;
    } else if (strcmp(argv[i], "--quick") == 0) {
      args->quick = true;
    } else if (sparrow_cli_opt(argc, argv, &i, "--device", &value)) {
      if (value == NULL || value[0] == '\0') {
        sparrow_cli_error("--device needs a URI");
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->device = value;
    } else if (sparrow_cli_opt(argc, argv, &i, "--out", &value)) {
      if (value == NULL || value[0] == '\0') {
        sparrow_cli_error("--out needs a directory");
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->out = value;
    } else if (sparrow_cli_opt(argc, argv, &i, "--seed", &value)) {
      if (!sparrow_cli_parse_u64("--seed", value, 0, UINT64_MAX, &v)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      args->seed = v;
    } else {
      sparrow_cli_error("bench: unknown option '%s' (try 'sparrow help')", argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  return SPARROW_CLI_EXIT_OK;
}

static FILE *open_out(const char *dir, const char *name, char *path, size_t path_len) {
  snprintf(path, path_len, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    sparrow_cli_error("bench: cannot write %s: %s", path, strerror(errno));
  }
  return f;
}

static const char *density_text(uint32_t den, char *buf, size_t len) {
  if (den == 1) {
    snprintf(buf, len, "1");
  } else {
    snprintf(buf, len, "1/%u", den);
  }
  return buf;
}

static void write_csv(FILE *f, const bench_row_t *rows, size_t n) {
  fprintf(f,
          "op,shape,density,nnz_blocks,exact,cycles,est_cycles,macs,utilization,"
          "dram_bytes_weights,dram_bytes_total,speedup_vs_dense,checksum\n");
  for (size_t i = 0; i < n; ++i) {
    const bench_row_t *r = &rows[i];
    if (!r->ran) {
      continue;
    }
    fprintf(f, "%s,%s,%.6g,%u,%s,%llu,%llu,%llu,%.4f,%llu,%llu,%.3f,%016llx\n", r->label, r->shape,
            r->res.density, r->res.nnz_blocks, r->res.exact ? "true" : "false",
            (unsigned long long)r->res.cycles, (unsigned long long)r->res.est_cycles,
            (unsigned long long)r->res.macs, r->utilization,
            (unsigned long long)r->res.weight_bytes,
            (unsigned long long)(r->res.dram_rd + r->res.dram_wr), r->speedup,
            (unsigned long long)r->res.checksum);
  }
}

static void write_markdown(FILE *f, const bench_row_t *rows, size_t n) {
  fprintf(f,
          "| op | shape (M x N x K) | density | cycles | utilization | DRAM weights (B) | DRAM "
          "total (B) | speedup vs dense | exact |\n"
          "|---|---|---|---:|---:|---:|---:|---:|---|\n");
  for (size_t i = 0; i < n; ++i) {
    const bench_row_t *r = &rows[i];
    if (!r->ran) {
      continue;
    }
    char d[16];
    fprintf(f, "| %s | %s | %s | %llu | %.3f | %llu | %llu | %.2fx | %s |\n", r->label, r->shape,
            r->spec.op == SPARROW_CLI_OP_GEMM ? "dense"
                                              : density_text(r->spec.density_den, d, sizeof(d)),
            (unsigned long long)r->res.cycles, r->utilization,
            (unsigned long long)r->res.weight_bytes,
            (unsigned long long)(r->res.dram_rd + r->res.dram_wr), r->speedup,
            r->res.exact ? "yes" : "NO");
  }
}

// The plot: speedup over dense and utilization against 1/density, one line per operator (from
// sparse_plot.dat, one gnuplot data block per operator); the ideal speedup (1/density) for
// reference.
static const char *const kPlotOps[3] = {"spmm", "spmm_t", "sddmm"};

static int write_plot(const char *dir, const char *device, const bench_row_t *rows, size_t n) {
  char script[1100], data[1100], png[1100];
  FILE *f = open_out(dir, "sparse_plot.dat", data, sizeof(data));
  if (f == NULL) {
    return -1;
  }
  for (int o = 0; o < 3; ++o) {
    fprintf(f, "# %s: 1/density speedup utilization\n", kPlotOps[o]);
    for (size_t i = 0; i < n; ++i) {
      if (rows[i].ran && strcmp(rows[i].label, kPlotOps[o]) == 0) {
        fprintf(f, "%u %.4f %.4f\n", rows[i].spec.density_den, rows[i].speedup,
                rows[i].utilization);
      }
    }
    fprintf(f, "\n\n");
  }
  fclose(f);
  snprintf(png, sizeof(png), "%s/sparse.png", dir);
  f = open_out(dir, "sparse.gp", script, sizeof(script));
  if (f == NULL) {
    return -1;
  }
  fprintf(f,
          "set terminal pngcairo size 1100,450 noenhanced\n"
          "set output '%s'\n"
          "set key top left\n"
          "set logscale x 2\n"
          "set xrange [0.9:18]\n"
          "set xlabel '1 / density'\n"
          "set grid\n"
          "set multiplot layout 1,2 title 'Sparrow block-sparse operators on %s (M=256, K=N=512)'\n"
          "set title 'speedup over the dense GEMM (cycles)'\n"
          "set logscale y 2\n"
          "plot x title 'ideal (1/density)' dt 2 lc rgb 'gray', \\\n"
          "  '%s' index 0 using 1:2 with linespoints lc 1 pt 7 title 'spmm', \\\n"
          "  '%s' index 1 using 1:2 with linespoints lc 2 pt 5 title 'spmm_t', \\\n"
          "  '%s' index 2 using 1:2 with linespoints lc 3 pt 9 title 'sddmm'\n"
          "set title 'utilization of the performed work'\n"
          "unset logscale y\n"
          "set yrange [0:1]\n"
          "set key bottom left\n"
          "plot '%s' index 0 using 1:3 with linespoints lc 1 pt 7 title 'spmm', \\\n"
          "  '%s' index 1 using 1:3 with linespoints lc 2 pt 5 title 'spmm_t', \\\n"
          "  '%s' index 2 using 1:3 with linespoints lc 3 pt 9 title 'sddmm'\n"
          "unset multiplot\n",
          png, device, data, data, data, data, data, data);
  fclose(f);
  return sparrow_cli_gnuplot(NULL, script, NULL) ? 0 : -1;
}

static void json_row(FILE *out, const bench_row_t *r, int first) {
  fprintf(out, "%s{\"op\":", first ? "" : ",");
  sparrow_json_write_string(out, r->label);
  fprintf(out, ",\"m\":%u,\"n\":%u,\"k\":%u,\"density\":%.6g,\"nnz_blocks\":%u,\"exact\":%s,",
          r->spec.m, r->spec.n, r->spec.k, r->res.density, r->res.nnz_blocks,
          r->res.exact ? "true" : "false");
  fprintf(out,
          "\"cycles\":%llu,\"est_cycles\":%llu,\"macs\":%llu,\"utilization\":%.4f,"
          "\"dram_bytes_weights\":%llu,\"dram_bytes_read\":%llu,\"dram_bytes_written\":%llu,"
          "\"speedup_vs_dense\":%.4f,\"checksum\":\"%016llx\"}",
          (unsigned long long)r->res.cycles, (unsigned long long)r->res.est_cycles,
          (unsigned long long)r->res.macs, r->utilization, (unsigned long long)r->res.weight_bytes,
          (unsigned long long)r->res.dram_rd, (unsigned long long)r->res.dram_wr, r->speedup,
          (unsigned long long)r->res.checksum);
}

// The targets (configuration M, default DRAM): speedup over dense at 1/8 and 1/4.
typedef struct target {
  const char *op;
  uint32_t den;
  double want;
} target_t;
static const target_t kTargets[] = {
    {"spmm", 8, 6.0}, {"spmm_t", 8, 6.0}, {"sddmm", 8, 5.0},
    {"spmm", 4, 3.2}, {"spmm_t", 4, 3.2}, {"sddmm", 4, 2.7},
};
#define N_TARGETS (sizeof(kTargets) / sizeof(kTargets[0]))

static const bench_row_t *find_row(const bench_row_t *rows, size_t n, const char *op,
                                   uint32_t den) {
  for (size_t i = 0; i < n; ++i) {
    if (rows[i].ran && strcmp(rows[i].label, op) == 0 && rows[i].spec.density_den == den) {
      return &rows[i];
    }
  }
  return NULL;
}

int sparrow_cli_bench(int argc, char **argv) {
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--study") == 0) {
      return sparrow_cli_study(argc, argv);  // the execution-mode study (cmd_study.c)
    }
  }
  bench_args_t args;
  int rc = parse_bench(argc, argv, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    sparrow_cli_error("this host's binary32 arithmetic is unsuitable for the golden check: %s",
                      why);
    return SPARROW_CLI_EXIT_FAIL;
  }
  if (sparrow_cli_mkdir_p(args.out) != 0) {
    sparrow_cli_error("bench: cannot create %s: %s", args.out, strerror(errno));
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_dev_t *dev = NULL;
  char msg[320] = "";
  sparrow_status_t st = sparrow_open(args.device, &dev, msg, sizeof(msg));
  if (st != SPARROW_OK) {
    sparrow_cli_error("cannot open device '%s': %s: %s", args.device, sparrow_status_name(st), msg);
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

  // The runs: the two dense GEMMs, then per density spmm, spmm_t, sddmm.
  static const uint32_t all_dens[] = {1, 2, 4, 8, 16};
  static const uint32_t quick_dens[] = {8};
  const uint32_t *dens = args.quick ? quick_dens : all_dens;
  size_t n_dens = args.quick ? 1 : 5;
  bench_row_t rows[2 + 3 * 5];
  memset(rows, 0, sizeof(rows));
  size_t n = 0;
  rows[n++] =
      (bench_row_t){{SPARROW_CLI_OP_GEMM, BENCH_M, BENCH_N, BENCH_K, 1, false, 8, args.seed},
                    "gemm",
                    "256x512x512",
                    -1,
                    0,
                    {0},
                    0,
                    0};
  rows[n++] = (bench_row_t){
      {SPARROW_CLI_OP_GEMM, 2 * BENCH_M, BENCH_N, BENCH_K / 2, 1, false, 8, args.seed},
      "gemm",
      "512x512x256",
      -1,
      0,
      {0},
      0,
      0};
  for (size_t di = 0; di < n_dens; ++di) {
    static const sparrow_cli_op_t ops[3] = {SPARROW_CLI_OP_SPMM, SPARROW_CLI_OP_SPMM_T,
                                            SPARROW_CLI_OP_SDDMM};
    for (int o = 0; o < 3; ++o) {
      bench_row_t *r = &rows[n++];
      r->spec = (sparrow_cli_kernel_spec_t){ops[o],   BENCH_M, BENCH_N, BENCH_K,
                                            dens[di], false,   8,       args.seed};
      r->label = sparrow_cli_op_name(ops[o]);
      r->shape = "256x512x512";
      r->dense_ref = ops[o] == SPARROW_CLI_OP_SDDMM ? 1 : 0;
    }
  }
  sparrow_cli_log("bench: %zu runs on %s (configuration %s, %s fabric, %u tiles x %u lanes)", n,
                  args.device, config, fabric, info.tiles, info.lanes);
  int failures = 0;
  double t_start = sparrow_cli_now();
  for (size_t i = 0; i < n; ++i) {
    bench_row_t *r = &rows[i];
    char d[16];
    sparrow_cli_log(
        "bench [%zu/%zu] %s %ux%ux%u%s%s (%.0f s so far)", i + 1, n, r->label, r->spec.m, r->spec.n,
        r->spec.k, r->spec.op == SPARROW_CLI_OP_GEMM ? "" : ", density ",
        r->spec.op == SPARROW_CLI_OP_GEMM ? "" : density_text(r->spec.density_den, d, sizeof(d)),
        sparrow_cli_now() - t_start);
    if (sparrow_cli_kernel_run(dev, &info, &r->spec, &r->res) != SPARROW_CLI_EXIT_OK) {
      failures++;
      continue;
    }
    r->ran = 1;
    if (!r->res.exact || !r->res.within) {
      sparrow_cli_error("bench: %s %s at density %.4g: %s", r->label, r->shape, r->res.density,
                        !r->res.exact ? "result differs from the golden arithmetic"
                                      : "outside the float tolerance");
      failures++;
    }
    uint64_t peak = info.peak_macs_per_cycle;
    r->utilization =
        r->res.cycles && peak ? (double)r->res.macs / ((double)r->res.cycles * peak) : 0.0;
    if (i == 1) {
      // The dense X^T * dY: its weight-shaped operand is the dW it writes (C, and its reloads
      // between chunks of K), as sddmm's is.
      sparrow_ops_fabric_t fab;
      sparrow_ops_gemm_plan_t plan;
      sparrow_ops_fabric_from_info(&info, &fab);
      if (sparrow_ops_gemm_plan(&fab, r->spec.m, r->spec.n, r->spec.k, &plan) == SPARROW_OPS_OK) {
        r->res.weight_bytes = plan.c_bytes * (2ull * plan.k_chunks - 1ull);
      }
    }
    const bench_row_t *ref = r->dense_ref >= 0 ? &rows[r->dense_ref] : r;
    r->speedup = ref->ran && r->res.cycles ? (double)ref->res.cycles / (double)r->res.cycles : 0.0;
  }
  sparrow_close(dev);

  // Files.
  char path[1100];
  FILE *f = open_out(args.out, "sparse.csv", path, sizeof(path));
  if (f != NULL) {
    write_csv(f, rows, n);
    fclose(f);
  }
  f = open_out(args.out, "sparse.md", path, sizeof(path));
  if (f != NULL) {
    fprintf(f, "Device `%s` (configuration %s, %s fabric), DRAM %u B/cycle, latency %u cycles.\n\n",
            args.device, config, fabric, info.dram_bw, info.dram_latency);
    write_markdown(f, rows, n);
    fclose(f);
  }
  int plotted = write_plot(args.out, args.device, rows, n) == 0;
  if (!plotted) {
    sparrow_cli_error("bench: gnuplot could not draw %s/sparse.png (is gnuplot installed?)",
                      args.out);
  }

  // Targets.
  int met_all = 1;
  char target_text[N_TARGETS][160];
  int target_met[N_TARGETS];
  for (size_t t = 0; t < N_TARGETS; ++t) {
    const bench_row_t *r = find_row(rows, n, kTargets[t].op, kTargets[t].den);
    target_met[t] = r != NULL && r->speedup >= kTargets[t].want;
    if (r == NULL) {
      snprintf(target_text[t], sizeof(target_text[t]), "%s at 1/%u: not measured", kTargets[t].op,
               kTargets[t].den);
    } else {
      snprintf(target_text[t], sizeof(target_text[t]), "%s at 1/%u: %.2fx (target %.1fx) %s",
               kTargets[t].op, kTargets[t].den, r->speedup, kTargets[t].want,
               target_met[t] ? "met" : "MISSED");
    }
    met_all &= target_met[t];
  }

  if (args.json) {
    printf("{\"bench\":\"sparse\",\"device\":");
    sparrow_json_write_string(stdout, args.device);
    printf(",\"config\":");
    sparrow_json_write_string(stdout, config);
    printf(",\"fabric\":");
    sparrow_json_write_string(stdout, fabric);
    printf(",\"dram_bw\":%u,\"dram_latency\":%u,\"peak_macs_per_cycle\":%llu,\"out\":",
           info.dram_bw, info.dram_latency, (unsigned long long)info.peak_macs_per_cycle);
    sparrow_json_write_string(stdout, args.out);
    printf(",\"plot\":%s,\"failures\":%d,\"rows\":[", plotted ? "true" : "false", failures);
    int first = 1;
    for (size_t i = 0; i < n; ++i) {
      if (rows[i].ran) {
        json_row(stdout, &rows[i], first);
        first = 0;
      }
    }
    printf("],\"targets\":[");
    for (size_t t = 0; t < N_TARGETS; ++t) {
      const bench_row_t *r = find_row(rows, n, kTargets[t].op, kTargets[t].den);
      printf("%s{\"op\":\"%s\",\"density\":%.6g,\"want\":%.2f,\"speedup\":%.4f,\"met\":%s}",
             t == 0 ? "" : ",", kTargets[t].op, 1.0 / kTargets[t].den, kTargets[t].want,
             r != NULL ? r->speedup : 0.0, target_met[t] ? "true" : "false");
    }
    printf("],\"targets_met\":%s}\n", met_all ? "true" : "false");
    fflush(stdout);
  } else {
    printf("sparse benchmark on %s (configuration %s, %s fabric), DRAM %u B/cycle, latency %u\n",
           args.device, config, fabric, info.dram_bw, info.dram_latency);
    printf("%-7s %-12s %-8s %9s %6s %12s %12s %8s %5s\n", "op", "MxNxK", "density", "cycles",
           "util", "DRAM weights", "DRAM total", "speedup", "exact");
    for (size_t i = 0; i < n; ++i) {
      const bench_row_t *r = &rows[i];
      if (!r->ran) {
        printf("%-7s %-12s (failed)\n", r->label, r->shape);
        continue;
      }
      char d[16];
      printf("%-7s %-12s %-8s %9llu %6.3f %12llu %12llu %7.2fx %5s\n", r->label, r->shape,
             r->spec.op == SPARROW_CLI_OP_GEMM ? "dense"
                                               : density_text(r->spec.density_den, d, sizeof(d)),
             (unsigned long long)r->res.cycles, r->utilization,
             (unsigned long long)r->res.weight_bytes,
             (unsigned long long)(r->res.dram_rd + r->res.dram_wr), r->speedup,
             r->res.exact ? "yes" : "NO");
    }
    printf("targets (configuration M, default DRAM):\n");
    for (size_t t = 0; t < N_TARGETS; ++t) {
      printf("  %s\n", target_text[t]);
    }
    printf("files: %s/sparse.csv, sparse.md%s\n", args.out, plotted ? ", sparse.png" : "");
  }
  return failures == 0 ? SPARROW_CLI_EXIT_OK : SPARROW_CLI_EXIT_FAIL;
}
