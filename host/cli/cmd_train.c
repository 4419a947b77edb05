// SPDX-License-Identifier: Apache-2.0
//
// sparrow train: trains a GPT (docs/training.md). The loop is host/train's (trainer.h); this file
// turns options into a run, and the run into outputs: a progress bar or plain lines on stderr,
// metrics.csv, loss.png (gnuplot), summary.json and checkpoint.bin in the output directory, and
// with --json one JSON object on stdout. It also holds the helpers of cmd_train.h that sparrow
// sample and sparrow bench --study share with it (model, data, backend).

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "cli.h"
#include "cmd_train.h"
#include "json.h"
#include "trainer.h"

#define TRAIN_DEFAULT_PRESET "micro"
#define TRAIN_DEFAULT_STEPS 1000u
#define TRAIN_MAX_STEPS 100000000u
#define CKPT_NAME "checkpoint.bin"
#define PATH_LEN SPARROW_CLI_PATH_LEN

// Dimension overrides, in the order of cmd_train.h's SPARROW_CLI_DIM_*, and their ranges.
static const struct {
  const char *name;
  uint64_t lo, hi;
} kDimOpts[SPARROW_CLI_DIMS] = {
    {"--layers", 1, 64},    {"--heads", 1, 64},  {"--width", 1, 4096},
    {"--context", 1, 2048}, {"--batch", 1, 512}, {"--block", 1, 4096},
};

typedef struct train_args {
  sparrow_cli_model_opts_t model;  // --preset and the dimension overrides
  sparrow_train_mode_t mode;
  const char *device;
  const char *data;
  const char *out;
  const char *resume;
  uint64_t steps, check, seed, eval_every, ckpt_every, val_batches, dense_steps;
  bool steps_set, seed_set, eval_set, ckpt_set, val_set, dense_set, lr_set, sparsity_set, mask_set;
  double lr;
  double check_tol;  // the gradients' tolerance of --check (0: the documented one)
  uint32_t density_den;
  sparrow_train_mask_kind_t mask_kind;
  bool json;
} train_args_t;

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

void sparrow_cli_train_build_dir(char *out, size_t len) {
  char exe[PATH_LEN];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL) {
      *slash = '\0';  // .../build/bin
      slash = strrchr(exe, '/');
      if (slash != NULL && strcmp(slash, "/bin") == 0) {
        *slash = '\0';  // .../build
        snprintf(out, len, "%s", exe);
        return;
      }
    }
  }
  snprintf(out, len, "build");
}

int sparrow_cli_train_open_backend(const char *device, const sparrow_gpt_config_t *config,
                                   const sparrow_adamw_t *adamw, sparrow_train_mode_t mode,
                                   sparrow_train_backend_t *backend) {
  char msg[512] = "";
  sparrow_train_status_t st =
      sparrow_train_backend_open(device, config, adamw, mode, backend, msg, sizeof(msg));
  if (st != SPARROW_TRAIN_OK) {
    sparrow_cli_error("%s", msg);
    return SPARROW_CLI_EXIT_FAIL;
  }
  return SPARROW_CLI_EXIT_OK;
}

bool sparrow_cli_train_parse_mode(const char *value, sparrow_train_mode_t *mode) {
  char msg[256] = "";
  if (value == NULL) {
    sparrow_cli_error("--mode needs a value (kbk or df)");
    return false;
  }
  if (sparrow_train_mode_parse(value, mode, msg, sizeof(msg)) != SPARROW_TRAIN_OK) {
    sparrow_cli_error("--mode: %s", msg);
    return false;
  }
  return true;
}

bool sparrow_cli_train_dim_opt(int argc, char **argv, int *i, sparrow_cli_model_opts_t *opts,
                               bool *matched) {
  *matched = false;
  for (int d = 0; d < SPARROW_CLI_DIMS; d++) {
    const char *value = NULL;
    if (sparrow_cli_opt(argc, argv, i, kDimOpts[d].name, &value)) {
      *matched = true;
      if (!sparrow_cli_parse_u64(kDimOpts[d].name, value, kDimOpts[d].lo, kDimOpts[d].hi,
                                 &opts->dims[d])) {
        return false;
      }
      opts->dims_set[d] = true;
      return true;
    }
  }
  return true;
}

int sparrow_cli_train_model(const sparrow_cli_model_opts_t *opts, const sparrow_train_data_t *data,
                            sparrow_gpt_config_t *model) {
  if (!sparrow_gpt_preset(opts->preset, model)) {
    sparrow_cli_error("--preset: unknown preset '%s' (micro, small, wide)", opts->preset);
    return SPARROW_CLI_EXIT_USAGE;
  }
  uint32_t *dims[SPARROW_CLI_DIMS] = {&model->n_layer, &model->n_head, &model->n_embd,
                                      &model->n_ctx,   &model->batch,  &model->block};
  for (int d = 0; d < SPARROW_CLI_DIMS; d++) {
    if (opts->dims_set[d]) {
      *dims[d] = (uint32_t)opts->dims[d];
    }
  }
  model->vocab = data != NULL ? data->vocab : 1;
  if (model->block > 0) {
    model->vocab_padded = (model->vocab + model->block - 1) / model->block * model->block;
  }
  char msg[512] = "";
  if (sparrow_gpt_config_check(model, msg, sizeof(msg)) != SPARROW_TRAIN_OK) {
    sparrow_cli_error("model: %s", msg);
    return SPARROW_CLI_EXIT_USAGE;
  }
  return SPARROW_CLI_EXIT_OK;
}

int sparrow_cli_train_load_data(const char *path, uint32_t context, sparrow_train_data_t *data,
                                char *used, size_t len) {
  char msg[768] = "";
  if (path == NULL) {
    char build[PATH_LEN];
    sparrow_cli_train_build_dir(build, sizeof(build));
    if (snprintf(used, len, "%s/data/kjv.txt", build) >= (int)len) {
      sparrow_cli_error("the default corpus's path under '%s' is too long", build);
      return SPARROW_CLI_EXIT_FAIL;
    }
    if (sparrow_train_data_default_corpus(used, msg, sizeof(msg)) != SPARROW_TRAIN_OK) {
      sparrow_cli_error("%s", msg);
      return SPARROW_CLI_EXIT_FAIL;
    }
  } else if (snprintf(used, len, "%s", path) >= (int)len) {
    sparrow_cli_error("--data: the path is too long");
    return SPARROW_CLI_EXIT_USAGE;
  }
  if (sparrow_train_data_load(used, context, data, msg, sizeof(msg)) != SPARROW_TRAIN_OK) {
    sparrow_cli_error("%s", msg);
    return SPARROW_CLI_EXIT_FAIL;
  }
  return SPARROW_CLI_EXIT_OK;
}

static bool parse_f64(const char *opt, const char *text, double lo, double hi, double *out) {
  if (text == NULL) {
    sparrow_cli_error("%s needs a value", opt);
    return false;
  }
  errno = 0;
  char *end = NULL;
  double v = strtod(text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v)) {
    sparrow_cli_error("%s: '%s' is not a number", opt, text);
    return false;
  }
  if (v < lo || v > hi) {
    sparrow_cli_error("%s: %s is out of range [%g, %g]", opt, text, lo, hi);
    return false;
  }
  *out = v;
  return true;
}

static bool parse_sparsity(const char *text, uint32_t *den) {
  double s = 0.0;
  if (!parse_f64("--sparsity", text, 0.0, 1.0, &s)) {
    return false;
  }
  // 0.5, 0.75 and 0.875 are exact in binary, so exact comparison is right here.
  static const struct {
    double sparsity;
    uint32_t den;
  } kLevels[] = {{0.0, 1}, {0.5, 2}, {0.75, 4}, {0.875, 8}};
  for (size_t i = 0; i < sizeof(kLevels) / sizeof(kLevels[0]); i++) {
    if (s == kLevels[i].sparsity) {
      *den = kLevels[i].den;
      return true;
    }
  }
  sparrow_cli_error("--sparsity: %s is not one of 0, 0.5, 0.75, 0.875", text);
  return false;
}

static int parse_train(int argc, char **argv, train_args_t *a) {
  memset(a, 0, sizeof(*a));
  a->model.preset = TRAIN_DEFAULT_PRESET;
  a->mode = SPARROW_TRAIN_MODE_KBK;
  a->device = SPARROW_CLI_DEFAULT_DEVICE;
  a->steps = TRAIN_DEFAULT_STEPS;
  a->seed = 1;
  a->eval_every = SPARROW_TRAIN_DEFAULT_EVAL_EVERY;
  a->val_batches = SPARROW_TRAIN_DEFAULT_VAL_BATCHES;
  a->density_den = 1;
  struct {
    const char *name;
    uint64_t lo, hi;
    uint64_t *value;
    bool *set;
  } u64_opts[] = {
      {"--steps", 1, TRAIN_MAX_STEPS, &a->steps, &a->steps_set},
      {"--check", 0, TRAIN_MAX_STEPS, &a->check, NULL},
      {"--seed", 0, UINT64_MAX, &a->seed, &a->seed_set},
      {"--eval-every", 1, UINT32_MAX, &a->eval_every, &a->eval_set},
      {"--ckpt-every", 1, UINT32_MAX, &a->ckpt_every, &a->ckpt_set},
      {"--val-batches", 1, 100000, &a->val_batches, &a->val_set},
      {"--dense-steps", 0, TRAIN_MAX_STEPS, &a->dense_steps, &a->dense_set},
  };
  struct {
    const char *name;
    const char **value;
  } str_opts[] = {
      {"--preset", &a->model.preset}, {"--device", &a->device},
      {"--data", &a->data},           {"--out", &a->out},
      {"--resume", &a->resume},
  };
  bool preset_set = false;
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    bool matched = false;
    if (strcmp(argv[i], "--json") == 0) {
      a->json = true;
      continue;
    }
    if (!sparrow_cli_train_dim_opt(argc, argv, &i, &a->model, &matched)) {
      return SPARROW_CLI_EXIT_USAGE;
    }
    for (size_t k = 0; k < sizeof(u64_opts) / sizeof(u64_opts[0]) && !matched; k++) {
      if (sparrow_cli_opt(argc, argv, &i, u64_opts[k].name, &value)) {
        matched = true;
        if (!sparrow_cli_parse_u64(u64_opts[k].name, value, u64_opts[k].lo, u64_opts[k].hi,
                                   u64_opts[k].value)) {
          return SPARROW_CLI_EXIT_USAGE;
        }
        if (u64_opts[k].set != NULL) {
          *u64_opts[k].set = true;
        }
      }
    }
    for (size_t k = 0; k < sizeof(str_opts) / sizeof(str_opts[0]) && !matched; k++) {
      if (sparrow_cli_opt(argc, argv, &i, str_opts[k].name, &value)) {
        matched = true;
        if (value == NULL || value[0] == '\0') {
          sparrow_cli_error("%s needs a value", str_opts[k].name);
          return SPARROW_CLI_EXIT_USAGE;
        }
        *str_opts[k].value = value;
        preset_set = preset_set || strcmp(str_opts[k].name, "--preset") == 0;
      }
    }
    if (matched) {
      continue;
    }
    if (sparrow_cli_opt(argc, argv, &i, "--lr", &value)) {
      if (!parse_f64("--lr", value, 1e-9, 1.0, &a->lr)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->lr_set = true;
    } else if (sparrow_cli_opt(argc, argv, &i, "--check-tol", &value)) {
      if (!parse_f64("--check-tol", value, 1e-12, 1.0, &a->check_tol)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else if (sparrow_cli_opt(argc, argv, &i, "--mode", &value)) {
      if (!sparrow_cli_train_parse_mode(value, &a->mode)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else if (sparrow_cli_opt(argc, argv, &i, "--sparsity", &value)) {
      if (!parse_sparsity(value, &a->density_den)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->sparsity_set = true;
    } else if (sparrow_cli_opt(argc, argv, &i, "--mask", &value)) {
      if (value != NULL && strcmp(value, "random") == 0) {
        a->mask_kind = SPARROW_TRAIN_MASK_RANDOM;
      } else if (value != NULL && strcmp(value, "magnitude") == 0) {
        a->mask_kind = SPARROW_TRAIN_MASK_MAGNITUDE;
      } else {
        sparrow_cli_error("--mask: '%s' is not random or magnitude", value ? value : "");
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->mask_set = true;
    } else {
      sparrow_cli_error("train: unknown option '%s' (try 'sparrow help')", argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  if (a->resume != NULL) {
    // A resumed run is the checkpoint's run: only what does not change its arithmetic may be given
    // (--mode may: kbk and df compute the same bits).
    const char *fixed = preset_set        ? "--preset"
                        : a->seed_set     ? "--seed"
                        : a->lr_set       ? "--lr"
                        : a->sparsity_set ? "--sparsity"
                        : a->mask_set     ? "--mask"
                        : a->dense_set    ? "--dense-steps"
                        : a->val_set      ? "--val-batches"
                                          : NULL;
    for (int d = 0; d < SPARROW_CLI_DIMS && fixed == NULL; d++) {
      if (a->model.dims_set[d]) {
        fixed = kDimOpts[d].name;
      }
    }
    if (fixed != NULL) {
      sparrow_cli_error("%s cannot be given with --resume: the checkpoint defines the run", fixed);
      return SPARROW_CLI_EXIT_USAGE;
    }
    return SPARROW_CLI_EXIT_OK;
  }
  if (a->density_den == 1 && (a->dense_set || a->mask_set)) {
    sparrow_cli_error("%s needs --sparsity 0.5, 0.75 or 0.875",
                      a->dense_set ? "--dense-steps" : "--mask");
    return SPARROW_CLI_EXIT_USAGE;
  }
  if (a->density_den > 1 && a->dense_steps >= a->steps) {
    sparrow_cli_error("--dense-steps %llu leaves no sparse step in a run of %llu steps",
                      (unsigned long long)a->dense_steps, (unsigned long long)a->steps);
    return SPARROW_CLI_EXIT_USAGE;
  }
  if (!a->mask_set && a->dense_steps > 0) {
    a->mask_kind = SPARROW_TRAIN_MASK_MAGNITUDE;  // pruning after a dense warm-up keeps the largest
  }
  return SPARROW_CLI_EXIT_OK;
}

const char *sparrow_cli_train_preset_of(const sparrow_gpt_config_t *c) {
  static const char *const kNames[] = {"micro", "small", "wide"};
  for (size_t i = 0; i < sizeof(kNames) / sizeof(kNames[0]); i++) {
    sparrow_gpt_config_t p;
    if (sparrow_gpt_preset(kNames[i], &p) && p.n_layer == c->n_layer && p.n_head == c->n_head &&
        p.n_embd == c->n_embd && p.n_ctx == c->n_ctx && p.batch == c->batch &&
        p.block == c->block) {
      return kNames[i];
    }
  }
  return "custom";
}

// build/train/<preset>-<date>-<time>, with -2, -3 ... when that exists already.
static bool make_run_dir(const char *build, const char *preset, char *out, size_t len) {
  char parent[PATH_LEN + 16];
  snprintf(parent, sizeof(parent), "%s/train", build);
  if (sparrow_cli_mkdir_p(parent) != 0) {
    sparrow_cli_error("cannot create '%s': %s", parent, strerror(errno));
    return false;
  }
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
  for (int n = 1; n < 1000; n++) {
    int w = n == 1 ? snprintf(out, len, "%s/%s-%s", parent, preset, stamp)
                   : snprintf(out, len, "%s/%s-%s-%d", parent, preset, stamp, n);
    if (w < 0 || (size_t)w >= len) {
      sparrow_cli_error("the run directory's path under '%s' is too long", parent);
      return false;
    }
    if (mkdir(out, 0777) == 0) {
      return true;
    }
    if (errno != EEXIST) {
      break;
    }
  }
  sparrow_cli_error("cannot create a run directory under '%s': %s", parent, strerror(errno));
  return false;
}

// A resumed run continues its metrics.csv: the rows after the checkpoint's step (written by the
// interrupted run after its last checkpoint) are dropped, the rest kept.
static FILE *open_metrics(const char *path, uint64_t keep_through, bool resume) {
  static const char kHeader[] = "step,train_loss,val_loss,lr,cycles,dram_bytes,wall_s\n";
  char *kept = NULL;
  size_t kept_len = 0;
  if (resume) {
    FILE *old = fopen(path, "r");
    if (old != NULL) {
      FILE *mem = open_memstream(&kept, &kept_len);
      char line[512];
      bool header = true;
      while (mem != NULL && fgets(line, sizeof(line), old) != NULL) {
        if (header) {
          header = false;
          continue;
        }
        char *end = NULL;
        unsigned long long step = strtoull(line, &end, 10);
        if (end != line && *end == ',' && step >= 1 && step <= keep_through) {
          fputs(line, mem);
        }
      }
      fclose(old);
      if (mem != NULL) {
        fclose(mem);
      }
    }
  }
  FILE *f = fopen(path, "w");
  if (f != NULL) {
    fputs(kHeader, f);
    if (kept != NULL) {
      fwrite(kept, 1, kept_len, f);
    }
    fflush(f);
  }
  free(kept);
  return f;
}

// Runs gnuplot on <dir>/loss.gp (written here) to draw <dir>/loss.png. A missing gnuplot is a
// warning: the run itself is done and its CSV holds the curve.
static void plot_losses(const char *dir, const char *title) {
  char gp[PATH_LEN + 16];
  snprintf(gp, sizeof(gp), "%s/loss.gp", dir);
  FILE *f = fopen(gp, "w");
  if (f == NULL) {
    sparrow_cli_log("warning: cannot write '%s': %s (no loss plot)", gp, strerror(errno));
    return;
  }
  fprintf(f,
          "# The loss curves of a sparrow train run (gnuplot loss.gp, in this directory).\n"
          "set terminal pngcairo size 900,540\n"
          "set output 'loss.png'\n"
          "set datafile separator ','\n"
          "set title '%s'\n"
          "set xlabel 'step'\n"
          "set xrange [0:*]\n"  // from 0: a one-step run still has an x range
          "set ylabel 'loss (nats/char)'\n"
          "set grid\n"
          "plot 'metrics.csv' using 1:2 every ::1 with lines title 'train', \\\n"
          "     '' using 1:3 every ::1 with linespoints pt 7 ps 0.6 title 'validation'\n",
          title);
  fclose(f);
  if (!sparrow_cli_gnuplot(dir, "loss.gp", NULL)) {
    sparrow_cli_log(
        "warning: gnuplot failed or is missing (Debian's gnuplot-nox; 'sudo make "
        "deps'): no loss.png; the curve is in metrics.csv");
  }
}

typedef struct progress {
  bool tty;
  double start, last_draw;
  uint64_t first_step, total;
  uint64_t tokens_per_step;
  uint64_t log_every;
} progress_t;

static void fmt_duration(double s, char *out, size_t len) {
  if (!isfinite(s) || s < 0) {
    snprintf(out, len, "?");
  } else if (s < 60) {
    snprintf(out, len, "%.0fs", s);
  } else if (s < 3600) {
    snprintf(out, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  } else {
    snprintf(out, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
  }
}

static void progress_show(progress_t *p, uint64_t step, float loss, float val, bool evaluated) {
  double now = sparrow_cli_now();
  double elapsed = now - p->start;
  uint64_t done = step - p->first_step + 1;
  double tok_s = elapsed > 0 ? (double)(done * p->tokens_per_step) / elapsed : 0.0;
  double eta = done > 0 ? elapsed / (double)done * (double)(p->total - step) : NAN;
  char eta_s[32];
  fmt_duration(eta, eta_s, sizeof(eta_s));
  char val_s[32] = "";
  if (isfinite(val)) {
    snprintf(val_s, sizeof(val_s), "  val %.4f", (double)val);
  }
  if (p->tty) {
    bool last = step == p->total;
    if (!last && !evaluated && now - p->last_draw < 0.1) {
      return;  // at most ten redraws a second
    }
    p->last_draw = now;
    enum { kWidth = 24 };
    char bar[kWidth + 1];
    int fill = (int)((double)step / (double)p->total * kWidth);
    for (int i = 0; i < kWidth; i++) {
      bar[i] = i < fill ? '#' : '.';
    }
    bar[kWidth] = '\0';
    fprintf(stderr, "\r[%s] %llu/%llu  loss %.4f%s  %.0f tok/s  ETA %s\033[K", bar,
            (unsigned long long)step, (unsigned long long)p->total, (double)loss, val_s, tok_s,
            eta_s);
    if (last) {
      fputc('\n', stderr);
    }
    fflush(stderr);
    return;
  }
  if (evaluated || step % p->log_every == 0 || step == p->total || step == p->first_step) {
    fprintf(stderr, "sparrow: step %llu/%llu loss %.4f%s %.0f tok/s ETA %s\n",
            (unsigned long long)step, (unsigned long long)p->total, (double)loss, val_s, tok_s,
            eta_s);
  }
}

typedef struct run_out {
  const char *preset;
  const char *device;
  sparrow_train_mode_t mode;
  const char *dir;
  const char *ckpt;
  const sparrow_train_run_t *run;
  uint64_t n_params;
  uint64_t first_step, last_step;
  const float *losses;  // last_step - first_step + 1 of them
  float val_loss;
  uint64_t checks, checks_failed;
  sparrow_train_counters_t counters;
  // Over this invocation's launches (the backend's counters; a resumed run's earlier part is not
  // in them): average PCU utilization and the fraction of cycles the DRAM port was busy.
  double pcu_util, dram_busy;
  double wall_s;
  uint64_t tokens;
} run_out_t;

static void write_float_array(sparrow_json_t *json, const char *name, const float *v, size_t n) {
  // json.h writes scalars only; an array is written here the same way (one key, then the value).
  if (json->fields++ > 0) {
    fputc(',', json->out);
  }
  sparrow_json_write_string(json->out, name);
  fputs(":[", json->out);
  for (size_t i = 0; i < n; i++) {
    if (isfinite(v[i])) {
      fprintf(json->out, "%s%.9g", i > 0 ? "," : "", (double)v[i]);
    } else {
      fprintf(json->out, "%snull", i > 0 ? "," : "");
    }
  }
  fputc(']', json->out);
}

// {"embedding":N,...}: one counter per kind of operator (backend.h).
static void write_kind_object(sparrow_json_t *json, const char *name, const uint64_t *v) {
  if (json->fields++ > 0) {
    fputc(',', json->out);
  }
  sparrow_json_write_string(json->out, name);
  fputs(":{", json->out);
  for (int k = 0; k < SPARROW_TRAIN_OP_KINDS; k++) {
    if (k > 0) {
      fputc(',', json->out);
    }
    sparrow_json_write_string(json->out, sparrow_train_op_kind_name((sparrow_train_op_kind_t)k));
    fprintf(json->out, ":%llu", (unsigned long long)v[k]);
  }
  fputc('}', json->out);
}

static void write_summary(FILE *out, const run_out_t *r) {
  const sparrow_train_run_t *run = r->run;
  sparrow_json_t json;
  sparrow_json_begin(&json, out);
  sparrow_json_str(&json, "preset", r->preset);
  sparrow_json_str(&json, "device", r->device);
  sparrow_json_str(&json, "mode", sparrow_train_mode_name(r->mode));
  sparrow_json_u64(&json, "steps", r->last_step);
  sparrow_json_u64(&json, "first_step", r->first_step);
  sparrow_json_u64(&json, "total_steps", run->steps);
  sparrow_json_f64(&json, "sparsity", 1.0 - 1.0 / (double)run->density_den);
  sparrow_json_u64(&json, "block", run->model.block);
  sparrow_json_str(&json, "mask",
                   run->density_den == 1                         ? "dense"
                   : run->mask_kind == SPARROW_TRAIN_MASK_RANDOM ? "random"
                                                                 : "magnitude");
  sparrow_json_u64(&json, "dense_steps", run->density_den == 1 ? 0 : run->dense_steps);
  sparrow_json_u64(&json, "layers", run->model.n_layer);
  sparrow_json_u64(&json, "heads", run->model.n_head);
  sparrow_json_u64(&json, "width", run->model.n_embd);
  sparrow_json_u64(&json, "context", run->model.n_ctx);
  sparrow_json_u64(&json, "batch", run->model.batch);
  sparrow_json_u64(&json, "vocab", run->model.vocab);
  sparrow_json_u64(&json, "vocab_padded", run->model.vocab_padded);
  sparrow_json_u64(&json, "params", r->n_params);
  sparrow_json_u64(&json, "seed", run->seed);
  sparrow_json_f64(&json, "lr", run->adamw.lr);
  size_t n = r->last_step >= r->first_step ? (size_t)(r->last_step - r->first_step + 1) : 0;
  write_float_array(&json, "train_loss", r->losses, n);
  sparrow_json_f64(&json, "val_loss", r->val_loss);
  sparrow_json_u64(&json, "checks", r->checks);
  sparrow_json_u64(&json, "checks_failed", r->checks_failed);
  sparrow_json_u64(&json, "cycles", r->counters.cycles);
  sparrow_json_u64(&json, "dram_bytes", r->counters.dram_bytes);
  sparrow_json_f64(&json, "pcu_util", r->pcu_util);
  sparrow_json_f64(&json, "dram_busy", r->dram_busy);
  write_kind_object(&json, "cycles_by_op", r->counters.kind_cycles);
  write_kind_object(&json, "dram_bytes_by_op", r->counters.kind_dram_bytes);
  sparrow_json_f64(&json, "wall_s", r->wall_s);
  sparrow_json_f64(&json, "tokens_per_s", r->wall_s > 0 ? (double)r->tokens / r->wall_s : 0.0);
  sparrow_json_str(&json, "out", r->dir);
  sparrow_json_str(&json, "checkpoint", r->ckpt);
  sparrow_json_end(&json);
}

static void check_report(void *ctx, const char *what, double err, double tol) {
  (void)ctx;
  sparrow_cli_log("check %-12s %s error %.3e (tolerance %.1e)%s", what,
                  strcmp(what, "loss") == 0 ? "relative" : "normwise relative", err, tol,
                  err <= tol ? "" : "  FAILED");
}

typedef struct train_state {
  sparrow_train_ckpt_t ckpt;
  bool have_ckpt;
  sparrow_train_data_t data;
  bool have_data;
  sparrow_train_backend_t backend, ref;
  bool have_backend, have_ref;
  sparrow_trainer_t tr;
  bool have_tr;
  FILE *metrics;
  float *losses;
} train_state_t;

static void free_state(train_state_t *s) {
  if (s->metrics != NULL) {
    fclose(s->metrics);
  }
  free(s->losses);
  if (s->have_tr) {
    sparrow_trainer_free(&s->tr);
  }
  if (s->have_backend) {
    sparrow_train_backend_close(&s->backend);
  }
  if (s->have_ref) {
    sparrow_train_backend_close(&s->ref);
  }
  if (s->have_data) {
    sparrow_train_data_free(&s->data);
  }
  if (s->have_ckpt) {
    sparrow_train_ckpt_free(&s->ckpt);
  }
}

// The model and run of a fresh start from the options and the data's vocabulary.
static int build_run(const train_args_t *a, const sparrow_train_data_t *data,
                     sparrow_train_run_t *run) {
  sparrow_train_run_defaults(run);
  int rc = sparrow_cli_train_model(&a->model, data, &run->model);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  run->seed = a->seed;
  run->steps = a->steps;
  run->warmup = sparrow_adamw_warmup(a->steps);
  if (a->lr_set) {
    run->adamw.lr = (float)a->lr;
  }
  run->density_den = a->density_den;
  run->mask_kind = a->mask_kind;
  run->dense_steps = a->density_den > 1 ? a->dense_steps : 0;
  run->val_batches = (uint32_t)a->val_batches;
  run->eval_every = (uint32_t)a->eval_every;
  run->ckpt_every = (uint32_t)(a->ckpt_set ? a->ckpt_every : a->eval_every);
  return SPARROW_CLI_EXIT_OK;
}

static int run_train(train_args_t *a) {
  char msg[768] = "";
  char build[PATH_LEN];
  sparrow_cli_train_build_dir(build, sizeof(build));
  sparrow_train_status_t dst = sparrow_train_backend_check_device(a->device, msg, sizeof(msg));
  if (dst != SPARROW_TRAIN_OK) {
    sparrow_cli_error("%s", msg);
    return dst == SPARROW_TRAIN_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  train_state_t s;
  memset(&s, 0, sizeof(s));
  int rc = SPARROW_CLI_EXIT_FAIL;
  sparrow_train_status_t st;

  // 1. The checkpoint (when resuming) tells the context the data must serve.
  if (a->resume != NULL) {
    st = sparrow_train_ckpt_read(a->resume, &s.ckpt, msg, sizeof(msg));
    if (st != SPARROW_TRAIN_OK) {
      sparrow_cli_error("%s", msg);
      return SPARROW_CLI_EXIT_FAIL;
    }
    s.have_ckpt = true;
  }
  // 2. The dimensions, checked before reading any data; then the data: --data, or the default
  // corpus (generated once under build/data).
  sparrow_train_run_t run;
  if (s.have_ckpt) {
    run = s.ckpt.run;
  } else {
    rc = build_run(a, NULL, &run);
    if (rc != SPARROW_CLI_EXIT_OK) {
      free_state(&s);
      return rc;
    }
  }
  char data_path[PATH_LEN + 16];
  rc = sparrow_cli_train_load_data(a->data, run.model.n_ctx, &s.data, data_path, sizeof(data_path));
  if (rc != SPARROW_CLI_EXIT_OK) {
    free_state(&s);
    return rc;
  }
  s.have_data = true;
  if (!s.have_ckpt) {
    rc = build_run(a, &s.data, &run);
    if (rc != SPARROW_CLI_EXIT_OK) {
      free_state(&s);
      return rc;
    }
  } else {
    // The cadence may change on resume (it does not touch the arithmetic).
    if (a->eval_set) {
      s.ckpt.run.eval_every = run.eval_every = (uint32_t)a->eval_every;
    }
    if (a->ckpt_set) {
      s.ckpt.run.ckpt_every = run.ckpt_every = (uint32_t)a->ckpt_every;
    }
  }
  if (s.have_ckpt && a->steps_set) {
    if (a->steps < s.ckpt.step) {
      sparrow_cli_error("--steps %llu: the checkpoint is at step %llu already",
                        (unsigned long long)a->steps, (unsigned long long)s.ckpt.step);
      free_state(&s);
      return SPARROW_CLI_EXIT_USAGE;
    }
    if (a->steps != run.steps) {
      sparrow_cli_log(
          "note: --steps %llu replaces the run's %llu: the learning-rate schedule "
          "changes, so the steps from here differ from the original run's",
          (unsigned long long)a->steps, (unsigned long long)run.steps);
      s.ckpt.run.steps = run.steps = a->steps;
    }
  }
  // 3. Backend and trainer.
  if (sparrow_cli_train_open_backend(a->device, &run.model, &run.adamw, a->mode, &s.backend) !=
      SPARROW_CLI_EXIT_OK) {
    free_state(&s);
    return SPARROW_CLI_EXIT_FAIL;
  }
  s.have_backend = true;
  st = s.have_ckpt ? sparrow_trainer_resume(&s.tr, &s.ckpt, &s.data, &s.backend, msg, sizeof(msg))
                   : sparrow_trainer_init(&s.tr, &run, &s.data, &s.backend, msg, sizeof(msg));
  if (st != SPARROW_TRAIN_OK) {
    sparrow_cli_error("%s%s", s.have_ckpt ? "cannot resume: " : "", msg);
    free_state(&s);
    return st == SPARROW_TRAIN_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  s.have_tr = true;
  bool checking = a->check > 0 && strcmp(a->device, "ref") != 0;
  if (a->check > 0 && !checking) {
    sparrow_cli_log(
        "note: --check compares a device with the CPU reference; on --device ref "
        "there is nothing to compare (0 checks)");
  }
  if (checking) {
    if (sparrow_cli_train_open_backend("ref", &run.model, &run.adamw, SPARROW_TRAIN_MODE_KBK,
                                       &s.ref) != SPARROW_CLI_EXIT_OK) {
      free_state(&s);
      return SPARROW_CLI_EXIT_FAIL;
    }
    s.have_ref = true;
  }
  // 4. Outputs.
  const char *preset = sparrow_cli_train_preset_of(&run.model);
  char dir[PATH_LEN];
  if (a->out != NULL) {
    if (snprintf(dir, sizeof(dir), "%s", a->out) >= (int)sizeof(dir)) {
      sparrow_cli_error("--out: the path is too long");
      free_state(&s);
      return SPARROW_CLI_EXIT_USAGE;
    }
    if (sparrow_cli_mkdir_p(dir) != 0) {
      sparrow_cli_error("cannot create output directory '%s': %s", dir, strerror(errno));
      free_state(&s);
      return SPARROW_CLI_EXIT_FAIL;
    }
  } else if (s.have_ckpt) {
    // A resumed run continues in its checkpoint's directory.
    snprintf(dir, sizeof(dir), "%.*s", (int)sizeof(dir) - 1, a->resume);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
      *slash = '\0';
    } else {
      snprintf(dir, sizeof(dir), ".");
    }
  } else if (!make_run_dir(build, preset, dir, sizeof(dir))) {
    free_state(&s);
    return SPARROW_CLI_EXIT_FAIL;
  }
  char metrics_path[PATH_LEN + 16], ckpt_path[PATH_LEN + 16], summary_path[PATH_LEN + 16];
  snprintf(metrics_path, sizeof(metrics_path), "%s/metrics.csv", dir);
  snprintf(ckpt_path, sizeof(ckpt_path), "%s/" CKPT_NAME, dir);
  snprintf(summary_path, sizeof(summary_path), "%s/summary.json", dir);
  s.metrics = open_metrics(metrics_path, s.tr.step, s.have_ckpt);
  if (s.metrics == NULL) {
    sparrow_cli_error("cannot write '%s': %s", metrics_path, strerror(errno));
    free_state(&s);
    return SPARROW_CLI_EXIT_FAIL;
  }
  uint64_t first = s.tr.step + 1, total = run.steps;
  s.losses = calloc(total - s.tr.step + 1, sizeof(float));
  if (s.losses == NULL) {
    sparrow_cli_error("out of memory for %llu losses", (unsigned long long)total);
    free_state(&s);
    return SPARROW_CLI_EXIT_FAIL;
  }
  uint64_t eval_every = run.eval_every, ckpt_every = run.ckpt_every;
  uint64_t tokens_per_step = (uint64_t)run.model.batch * run.model.n_ctx;
  sparrow_cli_log(
      "train: %s (%u layers, %u heads, width %u, context %u, batch %u), %zu "
      "parameters, vocabulary %u (padded %u), sparsity %g%s, steps %llu..%llu of "
      "%llu, device %s (mode %s), data %s (%llu bytes), out %s",
      preset, run.model.n_layer, run.model.n_head, run.model.n_embd, run.model.n_ctx,
      run.model.batch, s.tr.layout.n_params, run.model.vocab, run.model.vocab_padded,
      1.0 - 1.0 / run.density_den,
      run.density_den == 1                         ? ""
      : run.mask_kind == SPARROW_TRAIN_MASK_RANDOM ? " (random masks)"
                                                   : " (magnitude masks)",
      (unsigned long long)first, (unsigned long long)total, (unsigned long long)total, a->device,
      sparrow_train_mode_name(a->mode), data_path, (unsigned long long)s.data.n, dir);

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  progress_t prog = {.tty = isatty(2) != 0,
                     .start = sparrow_cli_now(),
                     .first_step = first,
                     .total = total,
                     .tokens_per_step = tokens_per_step,
                     .log_every = total <= 100 ? 1 : total / 100};
  float val_loss = NAN;
  uint64_t checks = 0, checks_failed = 0;
  sparrow_train_check_tol_t tol = {
      .loss = SPARROW_TRAIN_CHECK_TOL_LOSS,
      .grad = a->check_tol > 0.0 ? a->check_tol : SPARROW_TRAIN_CHECK_TOL_GRAD};
  bool interrupted = false;
  rc = SPARROW_CLI_EXIT_OK;
  while (s.tr.step < total) {
    if (g_stop) {
      interrupted = true;
      break;
    }
    if (checking && s.tr.step % a->check == 0) {
      checks++;
      st = sparrow_trainer_check(&s.tr, &s.ref, &tol, check_report, NULL, msg, sizeof(msg));
      if (st != SPARROW_TRAIN_OK) {
        checks_failed += st == SPARROW_TRAIN_E_CHECK;
        sparrow_cli_error("%s", msg);
        rc = SPARROW_CLI_EXIT_FAIL;
        break;
      }
    }
    sparrow_train_step_result_t res;
    st = sparrow_trainer_step(&s.tr, &res, msg, sizeof(msg));
    if (st != SPARROW_TRAIN_OK) {
      if (prog.tty) {
        fputc('\n', stderr);
      }
      sparrow_cli_error("%s", msg);
      rc = SPARROW_CLI_EXIT_FAIL;
      break;
    }
    if (res.masks_applied && !prog.tty) {
      sparrow_cli_log("step %llu: masks in force (sparsity %g)", (unsigned long long)res.step,
                      1.0 - 1.0 / run.density_den);
    }
    s.losses[res.step - first] = res.loss;
    bool evaluate = res.step % eval_every == 0 || res.step == total;
    float val = NAN;
    if (evaluate) {
      st = sparrow_trainer_eval(&s.tr, &val, msg, sizeof(msg));
      if (st != SPARROW_TRAIN_OK) {
        sparrow_cli_error("validation: %s", msg);
        rc = SPARROW_CLI_EXIT_FAIL;
        break;
      }
      val_loss = val;
    }
    sparrow_train_counters_t cnt;
    sparrow_trainer_counters(&s.tr, &cnt);
    double wall = sparrow_cli_now() - prog.start;
    fprintf(s.metrics, "%llu,%.9g,", (unsigned long long)res.step, (double)res.loss);
    if (evaluate) {
      fprintf(s.metrics, "%.9g", (double)val);
    }
    fprintf(s.metrics, ",%.9g,%llu,%llu,%.3f\n", (double)res.lr, (unsigned long long)cnt.cycles,
            (unsigned long long)cnt.dram_bytes, wall);
    fflush(s.metrics);
    progress_show(&prog, res.step, res.loss, val, evaluate);
    if (res.step % ckpt_every == 0 || res.step == total) {
      st = sparrow_trainer_save(&s.tr, ckpt_path, msg, sizeof(msg));
      if (st != SPARROW_TRAIN_OK) {
        sparrow_cli_error("%s", msg);
        rc = SPARROW_CLI_EXIT_FAIL;
        break;
      }
    }
  }
  if (interrupted) {
    if (prog.tty) {
      fputc('\n', stderr);
    }
    st = sparrow_trainer_save(&s.tr, ckpt_path, msg, sizeof(msg));
    if (st != SPARROW_TRAIN_OK) {
      sparrow_cli_error("interrupted, and the checkpoint failed: %s", msg);
    } else {
      sparrow_cli_error("interrupted after step %llu; continue with: sparrow train --resume %s",
                        (unsigned long long)s.tr.step, ckpt_path);
    }
    rc = SPARROW_CLI_EXIT_FAIL;
  }
  double wall_s = sparrow_cli_now() - prog.start;
  run_out_t out = {.preset = preset,
                   .device = a->device,
                   .mode = a->mode,
                   .dir = dir,
                   .ckpt = ckpt_path,
                   .run = &s.tr.run,
                   .n_params = s.tr.layout.n_params,
                   .first_step = first,
                   .last_step = s.tr.step,
                   .losses = s.losses,
                   .val_loss = val_loss,
                   .checks = checks,
                   .checks_failed = checks_failed,
                   .wall_s = wall_s,
                   .tokens = (s.tr.step + 1 - first) * tokens_per_step};
  sparrow_trainer_counters(&s.tr, &out.counters);
  sparrow_train_counters_t own;
  s.backend.ops->counters(s.backend.impl, &own);
  if (own.cycles > 0 && own.tiles > 0) {
    out.pcu_util = (double)own.pcu_busy / ((double)own.tiles * (double)own.cycles);
    out.dram_busy = (double)own.dram_busy / (double)own.cycles;
  }
  fclose(s.metrics);
  s.metrics = NULL;
  // A failed check stops the run (exit 1) but still reports it: summary.json and the JSON line
  // carry checks_failed and the losses up to there.
  if (rc == SPARROW_CLI_EXIT_OK || checks_failed > 0) {
    FILE *sf = fopen(summary_path, "w");
    if (sf == NULL) {
      sparrow_cli_error("cannot write '%s': %s", summary_path, strerror(errno));
      rc = SPARROW_CLI_EXIT_FAIL;
    } else {
      write_summary(sf, &out);
      fclose(sf);
    }
    char title[256];
    snprintf(title, sizeof(title), "%s, sparsity %g, %s, steps %llu", preset,
             1.0 - 1.0 / run.density_den, a->device, (unsigned long long)total);
    if (s.tr.step >= first) {
      plot_losses(dir, title);  // (a check may stop a run before its first step: nothing to plot)
    }
    float first_loss = s.losses[0],
          last_loss = s.tr.step >= first ? s.losses[s.tr.step - first] : NAN;
    if (checks_failed > 0) {
      sparrow_cli_log("stopped by a failed check after step %llu; outputs in %s",
                      (unsigned long long)s.tr.step, dir);
    } else {
      sparrow_cli_log(
          "done: steps %llu..%llu, train loss %.4f -> %.4f, validation loss %.4f, "
          "%.1f s (%.0f tokens/s); outputs in %s (metrics.csv, loss.png, summary.json, "
          "%s)",
          (unsigned long long)first, (unsigned long long)s.tr.step, (double)first_loss,
          (double)last_loss, (double)val_loss, wall_s,
          wall_s > 0 ? (double)out.tokens / wall_s : 0.0, dir, CKPT_NAME);
    }
    if (a->json) {
      write_summary(stdout, &out);
    }
  }
  free_state(&s);
  return rc;
}

int sparrow_cli_train(int argc, char **argv) {
  train_args_t args;
  int rc = parse_train(argc, argv, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run_train(&args);
}
