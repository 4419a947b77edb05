// SPDX-License-Identifier: Apache-2.0
//
// The kernel commands' shared harness (see kernel_common.h).

#include "kernel_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "cli.h"
#include "sparrow_ref.h"

int sparrow_cli_kc_find(const char *const *names, unsigned count, const char *name) {
  for (unsigned i = 0; name != NULL && i < count; ++i) {
    if (strcmp(names[i], name) == 0) {
      return (int)i;
    }
  }
  return -1;
}

void sparrow_cli_kc_list(FILE *out, const char *const *names, unsigned count) {
  for (unsigned i = 0; i < count; ++i) {
    fprintf(out, "%s\n", names[i]);
  }
}

// ---------------------------------------------------------------------------------------------------
// Options.

void sparrow_cli_kc_opts_init(sparrow_cli_kc_opts_t *opts, bool special_ok) {
  memset(opts, 0, sizeof(*opts));
  opts->device = SPARROW_CLI_DEFAULT_DEVICE;
  opts->seed = 1;
  opts->special_ok = special_ok;
}

bool sparrow_cli_kc_common_opt(int argc, char **argv, int *i, sparrow_cli_kc_opts_t *opts,
                               int *rc) {
  const char *value = NULL;
  if (strcmp(argv[*i], "--json") == 0) {
    opts->json = true;
    return true;
  }
  if (opts->special_ok && strcmp(argv[*i], "--special") == 0) {
    opts->special = true;
    return true;
  }
  if (sparrow_cli_opt(argc, argv, i, "--device", &value)) {
    if (value == NULL || value[0] == '\0') {
      sparrow_cli_error("--device needs a URI");
      *rc = SPARROW_CLI_EXIT_USAGE;
      return true;
    }
    opts->device = value;
    return true;
  }
  if (sparrow_cli_opt(argc, argv, i, "--seed", &value)) {
    uint64_t v = 0;
    if (!sparrow_cli_parse_u64("--seed", value, 0, UINT64_MAX, &v)) {
      *rc = SPARROW_CLI_EXIT_USAGE;
      return true;
    }
    opts->seed = v;
    return true;
  }
  return false;
}

bool sparrow_cli_kc_dim_opt(int argc, char **argv, int *i, const char *name, uint64_t hi,
                            uint32_t *out, int *rc) {
  const char *value = NULL;
  if (!sparrow_cli_opt(argc, argv, i, name, &value)) {
    return false;
  }
  uint64_t v = 0;
  if (!sparrow_cli_parse_u64(name, value, 1, hi, &v)) {
    *rc = SPARROW_CLI_EXIT_USAGE;
    return true;
  }
  *out = (uint32_t)v;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Inputs.

uint32_t sparrow_cli_kc_fbits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

float sparrow_cli_kc_bitsf(uint32_t bits) {
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

void sparrow_cli_kc_fill(uint64_t seed, size_t count, int e, uint32_t *words) {
  sparrow_ref_fill_uniform(seed, count, words);
  for (size_t i = 0; e != 0 && i < count; ++i) {
    words[i] = sparrow_cli_kc_fbits(ldexpf(sparrow_cli_kc_bitsf(words[i]), e));
  }
}

// ---------------------------------------------------------------------------------------------------
// The device.

int sparrow_cli_kc_open(const char *uri, sparrow_cli_kc_dev_t *kd) {
  memset(kd, 0, sizeof(*kd));
  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    sparrow_cli_error("this host's binary32 arithmetic is unsuitable for the golden check: %s",
                      why);
    return SPARROW_CLI_EXIT_FAIL;
  }
  char msg[400] = "";
  sparrow_status_t st = sparrow_open(uri, &kd->dev, msg, sizeof(msg));
  if (st != SPARROW_OK) {
    kd->dev = NULL;
    sparrow_cli_error("cannot open device '%s': %s: %s", uri, sparrow_status_name(st), msg);
    return st == SPARROW_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  st = sparrow_info(kd->dev, &kd->info);
  if (st != SPARROW_OK) {
    sparrow_cli_error("info: %s: %s", sparrow_status_name(st), sparrow_last_error(kd->dev));
    sparrow_cli_kc_close(kd);
    return SPARROW_CLI_EXIT_FAIL;
  }
  memcpy(kd->config, kd->info.config, sizeof(kd->info.config));
  kd->config[sizeof(kd->info.config)] = '\0';
  kd->fabric = kd->info.fabric != NULL ? kd->info.fabric : "?";
  return SPARROW_CLI_EXIT_OK;
}

void sparrow_cli_kc_close(sparrow_cli_kc_dev_t *kd) {
  if (kd->dev != NULL) {
    sparrow_close(kd->dev);
    kd->dev = NULL;
  }
}

bool sparrow_cli_kc_fits(sparrow_cli_kc_dev_t *kd, const char *what, uint64_t need, bool at_least) {
  if (need <= kd->info.dram_bytes) {
    return true;
  }
  sparrow_cli_error("%s needs %s%llu bytes of device memory; the device has %llu", what,
                    at_least ? "at least " : "", (unsigned long long)need,
                    (unsigned long long)kd->info.dram_bytes);
  sparrow_cli_kc_close(kd);
  return false;
}

void sparrow_cli_kc_log_device(const sparrow_cli_kc_dev_t *kd, const char *what, const char *uri) {
  sparrow_cli_log("%s on %s (configuration %s, %s fabric, %u tiles x %u lanes)", what, uri,
                  kd->config, kd->fabric, kd->info.tiles, kd->info.lanes);
}

// ---------------------------------------------------------------------------------------------------
// Checks.

void sparrow_cli_kc_check_init(sparrow_cli_kc_check_t *c) {
  memset(c, 0, sizeof(*c));
  c->worst_ratio = -1.0;
  c->within = true;
}

void sparrow_cli_kc_check_bits(sparrow_cli_kc_check_t *c, size_t count, const uint32_t *dev,
                               const uint32_t *golden) {
  c->mismatches += sparrow_ref_count_mismatches(count, dev, golden);
  for (size_t i = 0; i < count; ++i) {
    if ((dev[i] & 0x7F800000u) == 0x7F800000u) {
      c->nonfinite++;
      c->nans += (dev[i] & 0x007FFFFFu) != 0;
    }
  }
  c->elements += count;
}

void sparrow_cli_kc_check_norm(sparrow_cli_kc_check_t *c, const char *name, size_t count,
                               const uint32_t *dev, const uint32_t *plain, double tol) {
  if (c->tensors >= SPARROW_CLI_KC_MAX_TENSORS) {
    return;  // a programming error: the commands check at most a handful of tensors
  }
  uint32_t k = c->tensors++;
  size_t bad = 0;
  double e = sparrow_ref_norm_rel_err(count, dev, plain, &bad);
  c->name[k] = name;
  c->err[k] = e;
  c->tol[k] = tol;
  c->nonfinite_mismatches += bad;
  c->within &= e <= tol && bad == 0;
  // A NaN error sticks, in the largest error as in the worst tensor.
  c->err_max = e > c->err_max || isnan(e) ? e : c->err_max;
  double ratio = tol > 0 ? e / tol : (e > 0 ? INFINITY : 0.0);
  if (ratio > c->worst_ratio || isnan(ratio)) {
    c->worst_ratio = ratio;
    c->worst = k;
  }
}

bool sparrow_cli_kc_checksums(sparrow_cli_kc_check_t *c, const char *name, uint32_t outputs,
                              const size_t *count, uint32_t *const *dev, uint32_t *const *golden) {
  size_t total = 0;
  for (uint32_t j = 0; j < outputs; ++j) {
    total += count[j];
  }
  uint32_t *all = malloc(total * 4 + 4), *gall = malloc(total * 4 + 4);
  if (all == NULL || gall == NULL) {
    free(all), free(gall);
    sparrow_cli_error("%s: host out of memory", name);
    return false;
  }
  size_t at = 0;
  for (uint32_t j = 0; j < outputs; ++j) {
    memcpy(all + at, dev[j], count[j] * 4);
    memcpy(gall + at, golden[j], count[j] * 4);
    at += count[j];
  }
  c->checksum = sparrow_ref_fnv1a64(total, all);
  c->golden_checksum = sparrow_ref_fnv1a64(total, gall);
  free(all), free(gall);
  return true;
}

void sparrow_cli_kc_flags_text(uint32_t flags, char *out, size_t len) {
  snprintf(out, len, "%s%s%s%s%s%s", flags == 0 ? "none" : "", flags & SPARROW_FP_NV ? "NV " : "",
           flags & SPARROW_FP_DZ ? "DZ " : "", flags & SPARROW_FP_OF ? "OF " : "",
           flags & SPARROW_FP_UF ? "UF " : "", flags & SPARROW_FP_NX ? "NX" : "");
  size_t end = strlen(out);
  if (end > 0 && out[end - 1] == ' ') {
    out[end - 1] = '\0';
  }
}

void sparrow_cli_kc_hex64(uint64_t v, char out[19]) {
  snprintf(out, 19, "%016llx", (unsigned long long)v);
}

void sparrow_cli_kc_check_finish(sparrow_cli_kc_check_t *c, uint32_t fp_status,
                                 uint8_t golden_flags) {
  c->exact = c->mismatches == 0;
  c->fp_status = fp_status;
  c->golden_flags = golden_flags;
  c->flags_exact = fp_status == golden_flags;
  sparrow_cli_kc_flags_text(fp_status, c->flags, sizeof(c->flags));
  sparrow_cli_kc_flags_text(golden_flags, c->golden_flags_text, sizeof(c->golden_flags_text));
  sparrow_cli_kc_hex64(c->checksum, c->checksum_hex);
  sparrow_cli_kc_hex64(c->golden_checksum, c->golden_hex);
}

// ---------------------------------------------------------------------------------------------------
// The report.

void sparrow_cli_kc_print_title(const sparrow_cli_kc_opts_t *opts, const sparrow_cli_kc_dev_t *kd,
                                const char *what, const char *suffix1, const char *suffix2) {
  printf("%s on %s (configuration %s, %s fabric), seed %llu%s%s\n", what, opts->device, kd->config,
         kd->fabric, (unsigned long long)opts->seed, suffix1 != NULL ? suffix1 : "",
         suffix2 != NULL ? suffix2 : "");
}

void sparrow_cli_kc_print_bits(const sparrow_cli_kc_check_t *c) {
  printf("  golden check   %s: %zu of %zu elements differ (bit-exact required)\n",
         c->exact ? "exact" : "FAILED", c->mismatches, c->elements);
  printf("  fp status      %s (golden: %s)%s\n", c->flags, c->golden_flags_text,
         c->flags_exact ? "" : " FAILED");
}

void sparrow_cli_kc_print_tail(const sparrow_cli_kc_check_t *c, uint64_t rd, uint64_t wr,
                               double wall_s, const char *of) {
  printf("  DRAM           %llu bytes read, %llu bytes written\n", (unsigned long long)rd,
         (unsigned long long)wr);
  printf("  wall time      %.3f s\n", wall_s);
  printf("  checksum       %s (FNV-1a 64 of the %s)\n", c->checksum_hex, of);
}

int sparrow_cli_kc_verdict(const sparrow_cli_kc_check_t *c, const char *name, const char *shape,
                           bool extra_ok, const char *extra_why) {
  if (c->nonfinite != 0) {
    sparrow_cli_log(
        "warning: %s: the result holds %zu non-finite element(s) (%zu NaN); the "
        "device's FP status: %s",
        name, c->nonfinite, c->nans, c->flags);
  }
  if (!c->exact || !c->flags_exact || !c->within || !extra_ok) {
    sparrow_cli_error("%s %s: %s", name, shape,
                      !c->exact         ? "result differs from the golden arithmetic"
                      : !c->flags_exact ? "FP status differs from the golden arithmetic's flags"
                      : !c->within      ? "result outside the float tolerance"
                                        : extra_why);
    return SPARROW_CLI_EXIT_FAIL;
  }
  return SPARROW_CLI_EXIT_OK;
}

void sparrow_cli_kc_json_run(sparrow_json_t *j, const sparrow_cli_kc_opts_t *opts,
                             const sparrow_cli_kc_dev_t *kd) {
  sparrow_json_str(j, "device", opts->device);
  sparrow_json_str(j, "config", kd->config);
  sparrow_json_str(j, "fabric", kd->fabric);
  sparrow_json_u64(j, "seed", opts->seed);
  if (opts->special_ok) {
    sparrow_json_bool(j, "special", opts->special);
  }
}

void sparrow_cli_kc_json_bits(sparrow_json_t *j, const sparrow_cli_kc_check_t *c) {
  sparrow_json_bool(j, "exact", c->exact);
  sparrow_json_u64(j, "mismatches", c->mismatches);
  sparrow_json_u64(j, "elements", c->elements);
  sparrow_json_u64(j, "fp_status", c->fp_status);
  sparrow_json_str(j, "fp_flags", c->flags);
  sparrow_json_u64(j, "golden_fp_status", c->golden_flags);
  sparrow_json_bool(j, "flags_exact", c->flags_exact);
  sparrow_json_u64(j, "nonfinite", c->nonfinite);
  sparrow_json_u64(j, "nans", c->nans);
}

void sparrow_cli_kc_json_errs(sparrow_json_t *j, const sparrow_cli_kc_check_t *c, bool with_tol) {
  for (uint32_t k = 0; k < c->tensors; ++k) {
    char key[48];
    snprintf(key, sizeof(key), "err_%s", c->name[k]);
    sparrow_json_f64(j, key, c->err[k]);
    if (with_tol) {
      snprintf(key, sizeof(key), "tol_%s", c->name[k]);
      sparrow_json_f64(j, key, c->tol[k]);
    }
  }
}

void sparrow_cli_kc_json_within(sparrow_json_t *j, const sparrow_cli_kc_check_t *c) {
  sparrow_json_u64(j, "nonfinite_mismatches", c->nonfinite_mismatches);
  sparrow_json_bool(j, "within", c->within);
}

void sparrow_cli_kc_json_end(sparrow_json_t *j, const sparrow_cli_kc_check_t *c, double wall_s) {
  sparrow_json_f64(j, "wall_s", wall_s);
  sparrow_json_str(j, "checksum", c->checksum_hex);
  sparrow_json_str(j, "golden_checksum", c->golden_hex);
  sparrow_json_end(j);
}
