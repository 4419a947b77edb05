// SPDX-License-Identifier: Apache-2.0
//
// sparrow bench --study: the execution-mode study of issue 7 (docs/results.md, "Execution-mode
// study"). For sparsity {0, 0.75, 0.875} x mode {kbk, df} it opens the training backend on the
// device in that mode, starts a run of the preset exactly as `sparrow train` would (same model,
// default corpus, seed, random masks in force from step 0), runs ONE training step (forward,
// backward, AdamW; no validation, no check) and reads the counters' deltas across it: cycles, DRAM
// bytes, PCU utilization, the fraction of cycles the DRAM port is busy, and the cycles per kind of
// operator. From them: the speedup over dense KBK, the Amdahl bound of the preset's dense parts,
// and the three targets. KBK and DF must be bit-identical: per sparsity the two rows' loss,
// gradient norm and parameters after the step are compared bit for bit (exit 1 if they differ).
// Outputs: a line per configuration on stderr, a table on stdout (or one JSON line with --json),
// and study.csv, study.md, study.png (+ study.dat, study.gp, the plot's data and script) in --out,
// each written to a temporary name and renamed, none at all when a configuration fails.

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_train.h"
#include "df_plan.h"
#include "json.h"
#include "sparrow.h"
#include "trainer.h"

#define STUDY_DEFAULT_PRESET "wide"
#define STUDY_PATH_LEN SPARROW_CLI_PATH_LEN
#define STUDY_LEVELS 3
#define STUDY_MODES 2
#define STUDY_ROWS (STUDY_LEVELS * STUDY_MODES)

// The targets (defined for the wide preset on configuration M with the default DRAM).
#define STUDY_TARGET_SPEEDUP 3.0     // sparse 0.875 DF needs >= 3x fewer cycles than dense KBK
#define STUDY_TARGET_DRAM_RATIO 0.5  // DF moves at most half of KBK's DRAM bytes, same sparsity
// The study's definition of memory-bound: the DRAM port is busy in more than half of the step's
// cycles (its occupancy at full bandwidth, dram_busy, then exceeds everything else the step does
// while the port is idle).
#define STUDY_MEMORY_BOUND 0.5

static const struct {
  double sparsity;  // of the linear layers (exact in binary)
  uint32_t den;     // density 1/den
  const char *key;  // the JSON key of the identity check
} kLevels[STUDY_LEVELS] = {{0.0, 1, "0"}, {0.75, 4, "0.75"}, {0.875, 8, "0.875"}};
static const sparrow_train_mode_t kModes[STUDY_MODES] = {SPARROW_TRAIN_MODE_KBK,
                                                         SPARROW_TRAIN_MODE_DF};

typedef struct study_args {
  sparrow_cli_model_opts_t model;  // --preset and dimension overrides
  const char *device;
  const char *out;  // NULL: build/bench/study-PRESET
  uint64_t seed;
  bool json;
} study_args_t;

typedef struct study_row {
  int level;  // index into kLevels
  sparrow_train_mode_t mode;
  sparrow_train_counters_t c;  // the step's deltas (tiles: the device's)
  float loss, grad_norm;
  double pcu_util, dram_busy, speedup, amdahl_at_density;
  double wall_s;
} study_row_t;

typedef struct study {
  study_args_t args;
  char out[STUDY_PATH_LEN];
  sparrow_gpt_config_t model;
  size_t n_params;
  char config[sizeof(((sparrow_info_t *)0)->config) + 1];
  const char *fabric;
  sparrow_info_t info;
  study_row_t rows[STUDY_ROWS];  // level-major: (0, kbk), (0, df), (0.75, kbk), ...
  bool identical[STUDY_LEVELS];
  double amdahl_bound;  // +inf when the dense step is all linear layers
} study_t;

static int parse_study(int argc, char **argv, study_args_t *a) {
  memset(a, 0, sizeof(*a));
  a->model.preset = STUDY_DEFAULT_PRESET;
  a->device = SPARROW_CLI_DEFAULT_DEVICE;
  a->seed = 1;
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    bool matched = false;
    if (strcmp(argv[i], "--study") == 0) {
      continue;
    }
    if (strcmp(argv[i], "--json") == 0) {
      a->json = true;
      continue;
    }
    if (!sparrow_cli_train_dim_opt(argc, argv, &i, &a->model, &matched)) {
      return SPARROW_CLI_EXIT_USAGE;
    }
    if (matched) {
      continue;
    }
    struct {
      const char *name;
      const char **value;
    } str_opts[] = {{"--preset", &a->model.preset}, {"--device", &a->device}, {"--out", &a->out}};
    for (size_t k = 0; k < sizeof(str_opts) / sizeof(str_opts[0]) && !matched; k++) {
      if (sparrow_cli_opt(argc, argv, &i, str_opts[k].name, &value)) {
        matched = true;
        if (value == NULL || value[0] == '\0') {
          sparrow_cli_error("%s needs a value", str_opts[k].name);
          return SPARROW_CLI_EXIT_USAGE;
        }
        *str_opts[k].value = value;
      }
    }
    if (matched) {
      continue;
    }
    if (sparrow_cli_opt(argc, argv, &i, "--seed", &value)) {
      if (!sparrow_cli_parse_u64("--seed", value, 0, UINT64_MAX, &a->seed)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else {
      sparrow_cli_error("bench --study: unknown option '%s' (try 'sparrow help')", argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  return SPARROW_CLI_EXIT_OK;
}

// The device's description (and a clear error before any data is read or file written).
static int probe_device(study_t *s) {
  char msg[512] = "";
  if (sparrow_train_backend_check_device(s->args.device, msg, sizeof(msg)) != SPARROW_TRAIN_OK) {
    sparrow_cli_error("%s", msg);
    return SPARROW_CLI_EXIT_USAGE;
  }
  if (strcmp(s->args.device, "ref") == 0) {
    sparrow_cli_error(
        "bench --study measures the fabric's counters; the CPU reference (--device ref) has "
        "none: give a device URI (default sim)");
    return SPARROW_CLI_EXIT_USAGE;
  }
  sparrow_dev_t *dev = NULL;
  sparrow_status_t st = sparrow_open(s->args.device, &dev, msg, sizeof(msg));
  if (st != SPARROW_OK) {
    sparrow_cli_error("cannot open device '%s': %s: %s", s->args.device, sparrow_status_name(st),
                      msg);
    return st == SPARROW_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  st = sparrow_info(dev, &s->info);
  if (st != SPARROW_OK) {
    sparrow_cli_error("device '%s': info: %s: %s", s->args.device, sparrow_status_name(st),
                      sparrow_last_error(dev));
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_close(dev);
  memcpy(s->config, s->info.config, sizeof(s->info.config));
  s->config[sizeof(s->info.config)] = '\0';
  s->fabric = s->info.fabric != NULL ? s->info.fabric : "?";
  return SPARROW_CLI_EXIT_OK;
}

// The output folder exists (made) and takes files: checked before the (long) runs.
static int prepare_out(study_t *s) {
  if (s->args.out != NULL) {
    if (snprintf(s->out, sizeof(s->out), "%s", s->args.out) >= (int)sizeof(s->out)) {
      sparrow_cli_error("--out: the path is too long");
      return SPARROW_CLI_EXIT_USAGE;
    }
  } else {
    snprintf(s->out, sizeof(s->out), "build/bench/study-%.64s", s->args.model.preset);
  }
  if (sparrow_cli_mkdir_p(s->out) != 0) {
    sparrow_cli_error("bench --study: cannot create the output folder '%s': %s", s->out,
                      strerror(errno));
    return SPARROW_CLI_EXIT_FAIL;
  }
  char probe[STUDY_PATH_LEN + 64];
  snprintf(probe, sizeof(probe), "%s/.study-probe.%ld", s->out, (long)getpid());
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    sparrow_cli_error("bench --study: cannot write in the output folder '%s': %s", s->out,
                      strerror(errno));
    return SPARROW_CLI_EXIT_FAIL;
  }
  close(fd);
  unlink(probe);
  return SPARROW_CLI_EXIT_OK;
}

static void counters_delta(const sparrow_train_counters_t *a, const sparrow_train_counters_t *b,
                           sparrow_train_counters_t *d) {
  memset(d, 0, sizeof(*d));
  d->cycles = b->cycles - a->cycles;
  d->dram_bytes = b->dram_bytes - a->dram_bytes;
  for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
    d->kind_cycles[k] = b->kind_cycles[k] - a->kind_cycles[k];
    d->kind_dram_bytes[k] = b->kind_dram_bytes[k] - a->kind_dram_bytes[k];
  }
  d->pcu_busy = b->pcu_busy - a->pcu_busy;
  d->dram_busy = b->dram_busy - a->dram_busy;
  d->tiles = b->tiles;
}

// One configuration: a fresh backend and trainer, one step; params gets the parameters after it.
static int run_row(const study_t *s, const sparrow_train_data_t *data, study_row_t *row,
                   float *params) {
  sparrow_train_run_t run;
  sparrow_train_run_defaults(&run);
  run.model = s->model;
  run.seed = s->args.seed;
  run.steps = 1;
  run.warmup = sparrow_adamw_warmup(1);
  run.density_den = kLevels[row->level].den;
  run.mask_kind = SPARROW_TRAIN_MASK_RANDOM;
  run.dense_steps = 0;
  double t0 = sparrow_cli_now();
  sparrow_train_backend_t be;
  memset(&be, 0, sizeof(be));
  if (sparrow_cli_train_open_backend(s->args.device, &run.model, &run.adamw, row->mode, &be) !=
      SPARROW_CLI_EXIT_OK) {
    return SPARROW_CLI_EXIT_FAIL;
  }
  char msg[768] = "";
  sparrow_trainer_t tr;
  sparrow_train_status_t st = sparrow_trainer_init(&tr, &run, data, &be, msg, sizeof(msg));
  if (st != SPARROW_TRAIN_OK) {
    sparrow_cli_error("%s", msg);
    sparrow_train_backend_close(&be);
    return st == SPARROW_TRAIN_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_train_counters_t before, after;
  be.ops->counters(be.impl, &before);
  sparrow_train_step_result_t res;
  memset(&res, 0, sizeof(res));
  st = sparrow_trainer_step(&tr, &res, msg, sizeof(msg));
  if (st == SPARROW_TRAIN_OK) {
    be.ops->counters(be.impl, &after);
    st = be.ops->save(be.impl, params, NULL, NULL, msg, sizeof(msg));
  }
  sparrow_trainer_free(&tr);
  sparrow_train_backend_close(&be);
  if (st != SPARROW_TRAIN_OK) {
    sparrow_cli_error("sparsity %g, mode %s: %s", kLevels[row->level].sparsity,
                      sparrow_train_mode_name(row->mode), msg);
    return SPARROW_CLI_EXIT_FAIL;
  }
  counters_delta(&before, &after, &row->c);
  row->loss = res.loss;
  row->grad_norm = res.grad_norm;
  row->wall_s = sparrow_cli_now() - t0;
  if (row->c.cycles > 0 && row->c.tiles > 0) {
    row->pcu_util = (double)row->c.pcu_busy / ((double)row->c.tiles * (double)row->c.cycles);
    row->dram_busy = (double)row->c.dram_busy / (double)row->c.cycles;
  }
  return SPARROW_CLI_EXIT_OK;
}

// Speedups and the Amdahl figures, from the measured rows.
static void derive(study_t *s) {
  const study_row_t *dense = &s->rows[0];  // sparsity 0, kbk
  double total = (double)dense->c.cycles;
  double linear = (double)dense->c.kind_cycles[SPARROW_TRAIN_OP_LINEAR];
  s->amdahl_bound = total > linear ? total / (total - linear) : INFINITY;
  for (int i = 0; i < STUDY_ROWS; i++) {
    study_row_t *r = &s->rows[i];
    double keep = 1.0 - kLevels[r->level].sparsity;
    r->speedup = r->c.cycles > 0 ? total / (double)r->c.cycles : 0.0;
    double rest = total - linear + linear * keep;
    r->amdahl_at_density = rest > 0.0 ? total / rest : INFINITY;
  }
}

static const study_row_t *row_of(const study_t *s, int level, sparrow_train_mode_t mode) {
  return &s->rows[level * STUDY_MODES + (mode == SPARROW_TRAIN_MODE_DF ? 1 : 0)];
}

// ---------------------------------------------------------------------------------------------
// The targets, stated as measured.

typedef struct target {
  const char *name;
  const char *status;  // "met" or "missed"
  char text[512];
} target_t;

enum { kTargets = 3 };

static void judge_targets(const study_t *s, target_t t[kTargets]) {
  // 1. Sparse 0.875 DF against dense KBK.
  const study_row_t *df8 = row_of(s, 2, SPARROW_TRAIN_MODE_DF);
  t[0].name = "sparse_df_speedup";
  t[0].status = df8->speedup >= STUDY_TARGET_SPEEDUP ? "met" : "missed";
  snprintf(t[0].text, sizeof(t[0].text),
           "Sparse 0.875 DF against dense KBK: %.2fx fewer cycles per step (%llu against %llu; "
           "target at least %.0fx; the Amdahl figure at density 1/8 is %.2fx): %s.",
           df8->speedup, (unsigned long long)df8->c.cycles, (unsigned long long)s->rows[0].c.cycles,
           STUDY_TARGET_SPEEDUP, df8->amdahl_at_density, t[0].status);
  // 2. DF's DRAM bytes against KBK's at each sparsity.
  t[1].name = "df_dram_half";
  bool all = true;
  char parts[3][96];
  for (int l = 0; l < STUDY_LEVELS; l++) {
    const study_row_t *k = row_of(s, l, SPARROW_TRAIN_MODE_KBK);
    const study_row_t *d = row_of(s, l, SPARROW_TRAIN_MODE_DF);
    double ratio = k->c.dram_bytes > 0 ? (double)d->c.dram_bytes / (double)k->c.dram_bytes : 0.0;
    all = all && ratio <= STUDY_TARGET_DRAM_RATIO;
    snprintf(parts[l], sizeof(parts[l]), "%g: %llu / %llu = %.3f", kLevels[l].sparsity,
             (unsigned long long)d->c.dram_bytes, (unsigned long long)k->c.dram_bytes, ratio);
  }
  t[1].status = all ? "met" : "missed";
  snprintf(t[1].text, sizeof(t[1].text),
           "DF's DRAM bytes against KBK's at the same sparsity (target at most %.1f): %s; %s; "
           "%s: %s.",
           STUDY_TARGET_DRAM_RATIO, parts[0], parts[1], parts[2], t[1].status);
  // 3. Sparse KBK memory-bound, sparse DF not.
  t[2].name = "kbk_memory_bound_df_not";
  bool kbk_bound = true, df_free = true;
  for (int l = 1; l < STUDY_LEVELS; l++) {
    kbk_bound = kbk_bound && row_of(s, l, SPARROW_TRAIN_MODE_KBK)->dram_busy > STUDY_MEMORY_BOUND;
    df_free = df_free && row_of(s, l, SPARROW_TRAIN_MODE_DF)->dram_busy <= STUDY_MEMORY_BOUND;
  }
  t[2].status = kbk_bound && df_free ? "met" : "missed";
  snprintf(t[2].text, sizeof(t[2].text),
           "Sparse KBK memory-bound and sparse DF not (memory-bound: the DRAM port busy in more "
           "than %.0f%% of the cycles): DRAM busy KBK %.3f (0.75), %.3f (0.875), with PCU "
           "utilization %.3f, %.3f; DF %.3f (0.75), %.3f (0.875): sparse KBK %s memory-bound, "
           "sparse DF %s: %s.",
           STUDY_MEMORY_BOUND * 100, row_of(s, 1, SPARROW_TRAIN_MODE_KBK)->dram_busy,
           row_of(s, 2, SPARROW_TRAIN_MODE_KBK)->dram_busy,
           row_of(s, 1, SPARROW_TRAIN_MODE_KBK)->pcu_util,
           row_of(s, 2, SPARROW_TRAIN_MODE_KBK)->pcu_util,
           row_of(s, 1, SPARROW_TRAIN_MODE_DF)->dram_busy,
           row_of(s, 2, SPARROW_TRAIN_MODE_DF)->dram_busy, kbk_bound ? "is" : "is not",
           df_free ? "is not" : "is", t[2].status);
}

// ---------------------------------------------------------------------------------------------
// Outputs.

static void model_text(const study_t *s, char *out, size_t len) {
  const sparrow_gpt_config_t *m = &s->model;
  snprintf(out, len,
           "%s (%u layers, %u heads, width %u, context %u, batch %u, blocks of %u; %zu "
           "parameters)",
           s->args.model.preset, m->n_layer, m->n_head, m->n_embd, m->n_ctx, m->batch, m->block,
           s->n_params);
}

static void device_text(const study_t *s, char *out, size_t len) {
  snprintf(out, len,
           "%s (configuration %s, %s fabric, %u tiles x %u lanes, DRAM %u B/cycle, latency %u "
           "cycles)",
           s->args.device, s->config, s->fabric, s->info.tiles, s->info.lanes, s->info.dram_bw,
           s->info.dram_latency);
}

// The Amdahl bound in words. It counts the linear layers' GEMMs only (SPARROW_TRAIN_OP_LINEAR; the
// LM head stays dense); the optimizer's cycles shrink with the density too (AdamW updates only the
// stored weights), so a sparse step can beat it, and the text says so when one does.
static void amdahl_text(const study_t *s, char *out, size_t len) {
  const study_row_t *dense = &s->rows[0];
  uint64_t linear = dense->c.kind_cycles[SPARROW_TRAIN_OP_LINEAR];
  int n = 0;
  if (isfinite(s->amdahl_bound)) {
    n = snprintf(out, len,
                 "Amdahl bound: the linear layers take %llu of the dense KBK step's %llu cycles; "
                 "were they free, the step would be %.2fx faster.",
                 (unsigned long long)linear, (unsigned long long)dense->c.cycles, s->amdahl_bound);
  } else {
    n = snprintf(out, len, "Amdahl bound: none (the dense KBK step is all linear layers).");
  }
  const study_row_t *best = NULL;
  for (int i = 0; i < STUDY_ROWS; i++) {
    if (s->rows[i].speedup > s->amdahl_bound &&
        (best == NULL || s->rows[i].speedup > best->speedup)) {
      best = &s->rows[i];
    }
  }
  if (best != NULL && n > 0 && (size_t)n < len) {
    snprintf(out + n, len - (size_t)n,
             " A sparse step beats it (%.2fx at sparsity %g, %s): the optimizer's work shrinks "
             "with the density as well (AdamW updates only the stored weights), %llu cycles "
             "there against %llu dense.",
             best->speedup, kLevels[best->level].sparsity, sparrow_train_mode_name(best->mode),
             (unsigned long long)best->c.kind_cycles[SPARROW_TRAIN_OP_OPTIMIZER],
             (unsigned long long)dense->c.kind_cycles[SPARROW_TRAIN_OP_OPTIMIZER]);
  }
}

static void write_csv(FILE *f, const study_t *s) {
  fprintf(f,
          "sparsity,mode,cycles,dram_bytes,pcu_util,dram_busy,speedup,amdahl_at_density,loss,"
          "grad_norm,pcu_busy_cycles,dram_busy_cycles");
  for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
    fprintf(f, ",cycles_%s", sparrow_train_op_kind_name((sparrow_train_op_kind_t)k));
  }
  for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
    fprintf(f, ",dram_bytes_%s", sparrow_train_op_kind_name((sparrow_train_op_kind_t)k));
  }
  fputc('\n', f);
  for (int i = 0; i < STUDY_ROWS; i++) {
    const study_row_t *r = &s->rows[i];
    fprintf(f, "%g,%s,%llu,%llu,%.6f,%.6f,%.6f,%.6f,%.9g,%.9g,%llu,%llu",
            kLevels[r->level].sparsity, sparrow_train_mode_name(r->mode),
            (unsigned long long)r->c.cycles, (unsigned long long)r->c.dram_bytes, r->pcu_util,
            r->dram_busy, r->speedup, r->amdahl_at_density, (double)r->loss, (double)r->grad_norm,
            (unsigned long long)r->c.pcu_busy, (unsigned long long)r->c.dram_busy);
    for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
      fprintf(f, ",%llu", (unsigned long long)r->c.kind_cycles[k]);
    }
    for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
      fprintf(f, ",%llu", (unsigned long long)r->c.kind_dram_bytes[k]);
    }
    fputc('\n', f);
  }
}

// The DF plan of the model's first block on this device (docs/dataflow.md): which operators the
// DF rows fused. The chip backend builds the same plan for the same shape and fabric.
static void write_plan(FILE *f, const study_t *s) {
  sparrow_ops_fabric_t fabric;
  sparrow_ops_fabric_from_info(&s->info, &fabric);
  const sparrow_gpt_config_t *m = &s->model;
  sparrow_df_shape_t shape = {m->batch, m->n_ctx, m->n_embd, m->n_head, true, m->n_layer == 1};
  sparrow_df_plan_t plan;
  char why[200] = "", text[4096];
  if (sparrow_df_plan_block(&shape, &fabric, SPARROW_DF_MODE_DF, &plan, why, sizeof(why)) !=
      SPARROW_OPS_OK) {
    fprintf(f, "\nNo DF plan: %s\n", why);
    return;
  }
  sparrow_df_plan_describe(&plan, text, sizeof(text));
  fprintf(f,
          "\n## The DF plan of the first block\n\n`[t]`: kept in the PMUs; `*`: also written to "
          "DRAM (docs/dataflow.md).\n\n```\n%s```\n",
          text);
}

static void write_markdown(FILE *f, const study_t *s, const target_t t[kTargets]) {
  char model[256], device[256];
  model_text(s, model, sizeof(model));
  device_text(s, device, sizeof(device));
  fprintf(f,
          "# Execution-mode study: %s\n\n"
          "Model %s; device %s. One training step (forward, backward, AdamW) per configuration, "
          "seed %llu, random balanced masks in force from the start; the counters are the step's "
          "(`sparrow bench --study`, docs/results.md).\n\n",
          s->args.model.preset, model, device, (unsigned long long)s->args.seed);
  fprintf(f,
          "| sparsity | mode | cycles | DRAM bytes | PCU utilization | DRAM busy | speedup vs "
          "dense KBK | Amdahl at this density | loss |\n"
          "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int i = 0; i < STUDY_ROWS; i++) {
    const study_row_t *r = &s->rows[i];
    fprintf(f, "| %g | %s | %llu | %llu | %.3f | %.3f | %.2fx | %.2fx | %.6f |\n",
            kLevels[r->level].sparsity, sparrow_train_mode_name(r->mode),
            (unsigned long long)r->c.cycles, (unsigned long long)r->c.dram_bytes, r->pcu_util,
            r->dram_busy, r->speedup, r->amdahl_at_density, (double)r->loss);
  }
  fprintf(f, "\nCycles per kind of operator:\n\n| kind |");
  for (int i = 0; i < STUDY_ROWS; i++) {
    fprintf(f, " %g %s |", kLevels[s->rows[i].level].sparsity,
            sparrow_train_mode_name(s->rows[i].mode));
  }
  fprintf(f, "\n|---|");
  for (int i = 0; i < STUDY_ROWS; i++) {
    fprintf(f, "---:|");
  }
  fputc('\n', f);
  for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
    fprintf(f, "| %s |", sparrow_train_op_kind_name((sparrow_train_op_kind_t)k));
    for (int i = 0; i < STUDY_ROWS; i++) {
      fprintf(f, " %llu |", (unsigned long long)s->rows[i].c.kind_cycles[k]);
    }
    fputc('\n', f);
  }
  char amdahl[768];
  amdahl_text(s, amdahl, sizeof(amdahl));
  fprintf(f, "\n%s\n\n", amdahl);
  fprintf(f, "Bit identity of KBK and DF (loss, gradient norm and parameters after the step):");
  for (int l = 0; l < STUDY_LEVELS; l++) {
    fprintf(f, "%s sparsity %g %s (loss %.9g)", l > 0 ? ";" : "", kLevels[l].sparsity,
            s->identical[l] ? "identical" : "DIFFERENT",
            (double)row_of(s, l, SPARROW_TRAIN_MODE_KBK)->loss);
  }
  fprintf(
      f, ".\n\n## Targets (issue 7; set for the wide preset on configuration M, default DRAM)\n\n");
  for (int i = 0; i < kTargets; i++) {
    fprintf(f, "- %s\n", t[i].text);
  }
  write_plan(f, s);
}

// The bar chart's data: one line per sparsity, KBK and DF cycles per step.
static void write_plot_data(FILE *f, const study_t *s) {
  fprintf(f, "# sparsity kbk_cycles df_cycles kbk_speedup df_speedup (sparrow bench --study)\n");
  for (int l = 0; l < STUDY_LEVELS; l++) {
    const study_row_t *k = row_of(s, l, SPARROW_TRAIN_MODE_KBK);
    const study_row_t *d = row_of(s, l, SPARROW_TRAIN_MODE_DF);
    fprintf(f, "%g %llu %llu %.4f %.4f\n", kLevels[l].sparsity, (unsigned long long)k->c.cycles,
            (unsigned long long)d->c.cycles, k->speedup, d->speedup);
  }
}

static void write_plot_script(FILE *f, const study_t *s) {
  fprintf(
      f,
      "# Cycles per training step, KBK and DF side by side per sparsity (sparrow bench "
      "--study).\n"
      "# gnuplot study.gp, in this folder.\n"
      "if (!exists('datafile')) datafile = 'study.dat'\n"
      "if (!exists('outfile')) outfile = 'study.png'\n"
      "set terminal pngcairo size 900,540 noenhanced\n"
      "set output outfile\n"
      "set title 'Cycles per training step: %s on %s (configuration %s, %s fabric)'\n"
      "set style data histogram\n"
      "set style histogram cluster gap 1\n"
      "set style fill solid 0.85 border -1\n"
      "set boxwidth 0.9\n"
      "set xlabel 'sparsity of the linear layers'\n"
      "set ylabel 'cycles per step'\n"
      "set yrange [0:*]\n"
      "set format y '%%.1s%%c'\n"
      "set grid ytics\n"
      "set key top right\n"
      "# Two bars per cluster, a third of a unit wide each: centres at x -/+ 1/6. Above each\n"
      "# bar, its speedup over dense KBK.\n"
      "plot datafile using 2:xtic(1) title 'KBK (kernel by kernel)' lc rgb '#4477aa', \\\n"
      "     '' using 3 title 'DF (dataflow)' lc rgb '#ee6677', \\\n"
      "     '' using ($0 - 1.0/6):2:(sprintf('%%.2fx', $4)) with labels offset 0,0.8 notitle, \\\n"
      "     '' using ($0 + 1.0/6):3:(sprintf('%%.2fx', $5)) with labels offset 0,0.8 notitle\n",
      s->args.model.preset, s->args.device, s->config, s->fabric);
}

static void write_json(FILE *f, const study_t *s, const target_t t[kTargets], bool plotted) {
  fprintf(f, "{\"study\":\"execution_modes\",\"preset\":");
  sparrow_json_write_string(f, s->args.model.preset);
  fprintf(f, ",\"device\":");
  sparrow_json_write_string(f, s->args.device);
  fprintf(f, ",\"config\":");
  sparrow_json_write_string(f, s->config);
  fprintf(f, ",\"fabric\":");
  sparrow_json_write_string(f, s->fabric);
  const sparrow_gpt_config_t *m = &s->model;
  fprintf(f,
          ",\"tiles\":%u,\"lanes\":%u,\"dram_bw\":%u,\"dram_latency\":%u,\"model\":{\"layers\":%u,"
          "\"heads\":%u,\"width\":%u,\"context\":%u,\"batch\":%u,\"block\":%u,\"vocab\":%u,"
          "\"params\":%zu},\"seed\":%llu,\"steps\":1,\"out\":",
          s->info.tiles, s->info.lanes, s->info.dram_bw, s->info.dram_latency, m->n_layer,
          m->n_head, m->n_embd, m->n_ctx, m->batch, m->block, m->vocab, s->n_params,
          (unsigned long long)s->args.seed);
  sparrow_json_write_string(f, s->out);
  fprintf(f, ",\"plot\":%s,\"rows\":[", plotted ? "true" : "false");
  for (int i = 0; i < STUDY_ROWS; i++) {
    const study_row_t *r = &s->rows[i];
    fprintf(f,
            "%s{\"sparsity\":%g,\"mode\":\"%s\",\"cycles\":%llu,\"dram_bytes\":%llu,"
            "\"pcu_util\":%.6f,\"dram_busy\":%.6f,\"speedup\":%.6f,\"amdahl_at_density\":",
            i > 0 ? "," : "", kLevels[r->level].sparsity, sparrow_train_mode_name(r->mode),
            (unsigned long long)r->c.cycles, (unsigned long long)r->c.dram_bytes, r->pcu_util,
            r->dram_busy, r->speedup);
    if (isfinite(r->amdahl_at_density)) {
      fprintf(f, "%.6f", r->amdahl_at_density);
    } else {
      fputs("null", f);
    }
    fprintf(f,
            ",\"loss\":%.9g,\"grad_norm\":%.9g,\"pcu_busy_cycles\":%llu,\"dram_busy_cycles\":%llu,"
            "\"wall_s\":%.3f",
            (double)r->loss, (double)r->grad_norm, (unsigned long long)r->c.pcu_busy,
            (unsigned long long)r->c.dram_busy, r->wall_s);
    const char *names[2] = {"cycles_by_op", "dram_bytes_by_op"};
    const uint64_t *vals[2] = {r->c.kind_cycles, r->c.kind_dram_bytes};
    for (int o = 0; o < 2; o++) {
      fprintf(f, ",\"%s\":{", names[o]);
      for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
        fprintf(f, "%s\"%s\":%llu", k > 0 ? "," : "",
                sparrow_train_op_kind_name((sparrow_train_op_kind_t)k),
                (unsigned long long)vals[o][k]);
      }
      fputc('}', f);
    }
    fputc('}', f);
  }
  fprintf(f, "],\"amdahl_bound\":");
  if (isfinite(s->amdahl_bound)) {
    fprintf(f, "%.6f", s->amdahl_bound);
  } else {
    fputs("null", f);
  }
  fprintf(f, ",\"identical\":{");
  for (int l = 0; l < STUDY_LEVELS; l++) {
    fprintf(f, "%s\"%s\":%s", l > 0 ? "," : "", kLevels[l].key, s->identical[l] ? "true" : "false");
  }
  fprintf(f, "},\"targets\":[");
  for (int i = 0; i < kTargets; i++) {
    fprintf(f, "%s{\"name\":\"%s\",\"status\":\"%s\",\"text\":", i > 0 ? "," : "", t[i].name,
            t[i].status);
    sparrow_json_write_string(f, t[i].text);
    fputc('}', f);
  }
  fprintf(f, "]}\n");
  fflush(f);
}

static void write_table(FILE *f, const study_t *s, const target_t t[kTargets], bool plotted) {
  char model[256], device[256];
  model_text(s, model, sizeof(model));
  device_text(s, device, sizeof(device));
  fprintf(f, "execution-mode study: %s\n  on %s, one training step per configuration, seed %llu\n",
          model, device, (unsigned long long)s->args.seed);
  fprintf(f, "%-8s %-4s %12s %12s %8s %9s %8s %9s %11s\n", "sparsity", "mode", "cycles",
          "DRAM bytes", "PCU util", "DRAM busy", "speedup", "Amdahl@s", "loss");
  for (int i = 0; i < STUDY_ROWS; i++) {
    const study_row_t *r = &s->rows[i];
    fprintf(f, "%-8g %-4s %12llu %12llu %8.3f %9.3f %7.2fx %8.2fx %11.6f\n",
            kLevels[r->level].sparsity, sparrow_train_mode_name(r->mode),
            (unsigned long long)r->c.cycles, (unsigned long long)r->c.dram_bytes, r->pcu_util,
            r->dram_busy, r->speedup, r->amdahl_at_density, (double)r->loss);
  }
  fprintf(f, "cycles per kind of operator:\n%-10s", "kind");
  for (int i = 0; i < STUDY_ROWS; i++) {
    char head[32];
    snprintf(head, sizeof(head), "%g/%s", kLevels[s->rows[i].level].sparsity,
             sparrow_train_mode_name(s->rows[i].mode));
    fprintf(f, " %10s", head);
  }
  fputc('\n', f);
  for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
    fprintf(f, "%-10s", sparrow_train_op_kind_name((sparrow_train_op_kind_t)k));
    for (int i = 0; i < STUDY_ROWS; i++) {
      fprintf(f, " %10llu", (unsigned long long)s->rows[i].c.kind_cycles[k]);
    }
    fputc('\n', f);
  }
  char amdahl[768];
  amdahl_text(s, amdahl, sizeof(amdahl));
  fprintf(f, "%s\n", amdahl);
  fprintf(f, "bit identity kbk = df:");
  for (int l = 0; l < STUDY_LEVELS; l++) {
    fprintf(f, "%s sparsity %g %s", l > 0 ? "," : "", kLevels[l].sparsity,
            s->identical[l] ? "identical" : "DIFFERENT");
  }
  fprintf(f, "\ntargets (issue 7; set for wide on configuration M, default DRAM):\n");
  for (int i = 0; i < kTargets; i++) {
    fprintf(f, "  - %s\n", t[i].text);
  }
  fprintf(f, "files: %s/study.csv, study.md%s\n", s->out, plotted ? ", study.png" : "");
}

// A result file written under a temporary name in the output folder and renamed at the end.
typedef struct out_file {
  const char *name;
  char tmp[STUDY_PATH_LEN + 64];
  char path[STUDY_PATH_LEN + 64];
  bool ready;
} out_file_t;

enum { kCsv, kMd, kDat, kGp, kPng, kFiles };

static FILE *open_tmp(const study_t *s, out_file_t *o) {
  snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.tmp.%ld", s->out, o->name, (long)getpid());
  snprintf(o->path, sizeof(o->path), "%s/%s", s->out, o->name);
  FILE *f = fopen(o->tmp, "w");
  if (f == NULL) {
    sparrow_cli_error("bench --study: cannot write '%s': %s", o->tmp, strerror(errno));
  }
  return f;
}

static bool close_tmp(out_file_t *o, FILE *f) {
  bool ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  if (!ok) {
    sparrow_cli_error("bench --study: writing '%s' failed: %s", o->tmp, strerror(errno));
    return false;
  }
  o->ready = true;
  return true;
}

static void discard(out_file_t *files) {
  for (int i = 0; i < kFiles; i++) {
    if (files[i].tmp[0] != '\0') {
      unlink(files[i].tmp);
    }
  }
}

// Writes every file to its temporary name, draws the plot, then renames them all: either the
// result files appear, or (exit 1) none. A plot gnuplot cannot draw is a warning.
static int write_files(const study_t *s, const target_t t[kTargets], bool *plotted) {
  out_file_t files[kFiles] = {{.name = "study.csv"},
                              {.name = "study.md"},
                              {.name = "study.dat"},
                              {.name = "study.gp"},
                              {.name = "study.png"}};
  *plotted = false;
  for (int i = kCsv; i <= kGp; i++) {
    FILE *f = open_tmp(s, &files[i]);
    if (f == NULL) {
      discard(files);
      return SPARROW_CLI_EXIT_FAIL;
    }
    switch (i) {
      case kCsv:
        write_csv(f, s);
        break;
      case kMd:
        write_markdown(f, s, t);
        break;
      case kDat:
        write_plot_data(f, s);
        break;
      default:
        write_plot_script(f, s);
        break;
    }
    if (!close_tmp(&files[i], f)) {
      discard(files);
      return SPARROW_CLI_EXIT_FAIL;
    }
  }
  snprintf(files[kPng].tmp, sizeof(files[kPng].tmp), "%s/.study.png.tmp.%ld", s->out,
           (long)getpid());
  snprintf(files[kPng].path, sizeof(files[kPng].path), "%s/study.png", s->out);
  char defs[STUDY_PATH_LEN + 128];
  const char *dat = strrchr(files[kDat].tmp, '/') + 1, *png = strrchr(files[kPng].tmp, '/') + 1;
  snprintf(defs, sizeof(defs), "datafile='%s'; outfile='%s'", dat, png);
  if (sparrow_cli_gnuplot(s->out, strrchr(files[kGp].tmp, '/') + 1, defs)) {
    files[kPng].ready = true;
  } else {
    sparrow_cli_log(
        "warning: gnuplot failed or is missing (Debian's gnuplot-nox; 'sudo make deps'): no "
        "study.png; the figures are in study.csv");
    unlink(files[kPng].tmp);
  }
  for (int i = 0; i < kFiles; i++) {
    if (files[i].ready && rename(files[i].tmp, files[i].path) != 0) {
      sparrow_cli_error("bench --study: cannot rename '%s' to '%s': %s", files[i].tmp,
                        files[i].path, strerror(errno));
      discard(files);
      return SPARROW_CLI_EXIT_FAIL;
    }
  }
  *plotted = files[kPng].ready;
  return SPARROW_CLI_EXIT_OK;
}

int sparrow_cli_study(int argc, char **argv) {
  study_t *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    sparrow_cli_error("out of memory");
    return SPARROW_CLI_EXIT_FAIL;
  }
  int rc = parse_study(argc, argv, &s->args);
  // The model's dimensions, then the device, then the output folder: clear errors before any
  // data is read or file written.
  if (rc == SPARROW_CLI_EXIT_OK) {
    rc = sparrow_cli_train_model(&s->args.model, NULL, &s->model);
  }
  if (rc == SPARROW_CLI_EXIT_OK) {
    rc = probe_device(s);
  }
  sparrow_train_data_t data;
  memset(&data, 0, sizeof(data));
  bool have_data = false;
  char data_path[STUDY_PATH_LEN + 16];
  if (rc == SPARROW_CLI_EXIT_OK) {
    rc = sparrow_cli_train_load_data(NULL, s->model.n_ctx, &data, data_path, sizeof(data_path));
    have_data = rc == SPARROW_CLI_EXIT_OK;
  }
  if (rc == SPARROW_CLI_EXIT_OK) {
    rc = sparrow_cli_train_model(&s->args.model, &data, &s->model);
  }
  sparrow_gpt_layout_t layout;
  memset(&layout, 0, sizeof(layout));
  char msg[512] = "";
  if (rc == SPARROW_CLI_EXIT_OK &&
      sparrow_gpt_layout_init(&s->model, &layout, msg, sizeof(msg)) != SPARROW_TRAIN_OK) {
    sparrow_cli_error("model: %s", msg);
    rc = SPARROW_CLI_EXIT_USAGE;
  }
  s->n_params = layout.n_params;
  sparrow_gpt_layout_free(&layout);
  if (rc == SPARROW_CLI_EXIT_OK) {
    rc = prepare_out(s);
  }
  float *kbk_params = NULL, *params = NULL;
  if (rc == SPARROW_CLI_EXIT_OK) {
    kbk_params = malloc(s->n_params * sizeof(float));
    params = malloc(s->n_params * sizeof(float));
    if (kbk_params == NULL || params == NULL) {
      sparrow_cli_error("out of memory for %zu parameters", s->n_params);
      rc = SPARROW_CLI_EXIT_FAIL;
    }
  }
  if (rc == SPARROW_CLI_EXIT_OK) {
    char model[256], device[256];
    model_text(s, model, sizeof(model));
    device_text(s, device, sizeof(device));
    sparrow_cli_log("bench --study: %d configurations of %s on %s, data %s, out %s", STUDY_ROWS,
                    model, device, data_path, s->out);
  }
  double start = sparrow_cli_now();
  for (int i = 0; i < STUDY_ROWS && rc == SPARROW_CLI_EXIT_OK; i++) {
    study_row_t *r = &s->rows[i];
    r->level = i / STUDY_MODES;
    r->mode = kModes[i % STUDY_MODES];
    rc = run_row(s, &data, r, r->mode == SPARROW_TRAIN_MODE_KBK ? kbk_params : params);
    if (rc != SPARROW_CLI_EXIT_OK) {
      break;
    }
    if (r->mode == SPARROW_TRAIN_MODE_DF) {
      // The same run in the other mode: the same bits, or the modes disagree.
      const study_row_t *k = r - 1;
      s->identical[r->level] = memcmp(&k->loss, &r->loss, sizeof(float)) == 0 &&
                               memcmp(&k->grad_norm, &r->grad_norm, sizeof(float)) == 0 &&
                               memcmp(kbk_params, params, s->n_params * sizeof(float)) == 0;
    }
    sparrow_cli_log(
        "study [%d/%d] sparsity %g %s: %llu cycles, %llu DRAM bytes, PCU utilization %.3f, "
        "DRAM busy %.3f, loss %.6f%s (%.1f s; %.0f s so far)",
        i + 1, STUDY_ROWS, kLevels[r->level].sparsity, sparrow_train_mode_name(r->mode),
        (unsigned long long)r->c.cycles, (unsigned long long)r->c.dram_bytes, r->pcu_util,
        r->dram_busy, (double)r->loss,
        r->mode == SPARROW_TRAIN_MODE_KBK ? ""
        : s->identical[r->level]          ? ", bit-identical to kbk"
                                          : ", DIFFERENT from kbk",
        r->wall_s, sparrow_cli_now() - start);
  }
  free(kbk_params);
  free(params);
  if (have_data) {
    sparrow_train_data_free(&data);
  }
  if (rc != SPARROW_CLI_EXIT_OK) {
    free(s);
    return rc;
  }
  derive(s);
  target_t targets[kTargets];
  memset(targets, 0, sizeof(targets));
  judge_targets(s, targets);
  bool plotted = false;
  rc = write_files(s, targets, &plotted);
  if (rc == SPARROW_CLI_EXIT_OK) {
    if (s->args.json) {
      write_json(stdout, s, targets, plotted);
    } else {
      write_table(stdout, s, targets, plotted);
      fflush(stdout);
    }
    for (int l = 0; l < STUDY_LEVELS; l++) {
      if (!s->identical[l]) {
        sparrow_cli_error(
            "bench --study: at sparsity %g the df step is not bit-identical to the kbk step "
            "(loss %.9g against %.9g)",
            kLevels[l].sparsity, (double)row_of(s, l, SPARROW_TRAIN_MODE_DF)->loss,
            (double)row_of(s, l, SPARROW_TRAIN_MODE_KBK)->loss);
        rc = SPARROW_CLI_EXIT_FAIL;
      }
    }
  }
  free(s);
  return rc;
}
