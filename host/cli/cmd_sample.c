// SPDX-License-Identifier: Apache-2.0
//
// sparrow sample: generates text from a checkpoint (docs/training.md, "Sampling"). Each new byte
// is drawn from the model's distribution at the last position (softmax over the real vocabulary,
// divided by --temperature) given the last context bytes; the draws come from --seed, so the same
// command prints the same text.

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "cmd_train.h"
#include "rng.h"

#define SAMPLE_DEFAULT_TOKENS 200u
#define SAMPLE_MAX_TOKENS 1000000u

typedef struct sample_args {
  const char *ckpt;
  const char *prompt;
  const char *device;
  sparrow_train_mode_t mode;  // (sampling gives the same text in either mode)
  uint64_t tokens, seed;
  double temperature;
} sample_args_t;

static int parse_sample(int argc, char **argv, sample_args_t *a) {
  memset(a, 0, sizeof(*a));
  a->device = SPARROW_CLI_DEFAULT_DEVICE;
  a->mode = SPARROW_TRAIN_MODE_KBK;
  a->tokens = SAMPLE_DEFAULT_TOKENS;
  a->seed = 1;
  a->temperature = 1.0;
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    if (sparrow_cli_opt(argc, argv, &i, "--ckpt", &value)) {
      if (value == NULL || value[0] == '\0') {
        sparrow_cli_error("--ckpt needs a value");
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->ckpt = value;
    } else if (sparrow_cli_opt(argc, argv, &i, "--device", &value)) {
      if (value == NULL || value[0] == '\0') {
        sparrow_cli_error("--device needs a URI");
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->device = value;
    } else if (sparrow_cli_opt(argc, argv, &i, "--mode", &value)) {
      if (!sparrow_cli_train_parse_mode(value, &a->mode)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else if (sparrow_cli_opt(argc, argv, &i, "--prompt", &value)) {
      if (value == NULL) {
        sparrow_cli_error("--prompt needs a value");
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->prompt = value;
    } else if (sparrow_cli_opt(argc, argv, &i, "--tokens", &value)) {
      if (!sparrow_cli_parse_u64("--tokens", value, 1, SAMPLE_MAX_TOKENS, &a->tokens)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else if (sparrow_cli_opt(argc, argv, &i, "--seed", &value)) {
      if (!sparrow_cli_parse_u64("--seed", value, 0, UINT64_MAX, &a->seed)) {
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else if (sparrow_cli_opt(argc, argv, &i, "--temperature", &value)) {
      char *end = NULL;
      errno = 0;
      double t = value != NULL ? strtod(value, &end) : NAN;
      if (value == NULL || end == value || *end != '\0' || !(t >= 0.01 && t <= 100.0)) {
        sparrow_cli_error("--temperature: '%s' is not a number in [0.01, 100]", value ? value : "");
        return SPARROW_CLI_EXIT_USAGE;
      }
      a->temperature = t;
    } else {
      sparrow_cli_error("sample: unknown option '%s' (try 'sparrow help')", argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  if (a->ckpt == NULL) {
    sparrow_cli_error("sample: which checkpoint? (--ckpt FILE)");
    return SPARROW_CLI_EXIT_USAGE;
  }
  return SPARROW_CLI_EXIT_OK;
}

// Draws a token from probs (the first V of them), sharpened or flattened by temperature.
static uint32_t draw(const float *probs, uint32_t V, double temperature, uint64_t *rng) {
  double w[256], sum = 0.0;
  for (uint32_t v = 0; v < V; v++) {
    w[v] = probs[v] > 0.0f ? pow((double)probs[v], 1.0 / temperature) : 0.0;
    sum += w[v];
  }
  double u = sparrow_train_rng_uniform(rng) * sum;
  for (uint32_t v = 0; v < V; v++) {
    if (u < w[v]) {
      return v;
    }
    u -= w[v];
  }
  // Rounding left u past the end: the last token with any weight.
  for (uint32_t v = V; v-- > 0;) {
    if (w[v] > 0.0) {
      return v;
    }
  }
  return 0;
}

static int run_sample(const sample_args_t *a) {
  char msg[512] = "";
  sparrow_train_status_t dst = sparrow_train_backend_check_device(a->device, msg, sizeof(msg));
  if (dst != SPARROW_TRAIN_OK) {
    sparrow_cli_error("%s", msg);
    return dst == SPARROW_TRAIN_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_train_ckpt_t ck;
  if (sparrow_train_ckpt_read(a->ckpt, &ck, msg, sizeof(msg)) != SPARROW_TRAIN_OK) {
    sparrow_cli_error("%s", msg);
    return SPARROW_CLI_EXIT_FAIL;
  }
  const sparrow_gpt_config_t *c = &ck.run.model;
  int16_t id_of[256];
  for (int b = 0; b < 256; b++) {
    id_of[b] = -1;
  }
  for (uint32_t v = 0; v < c->vocab; v++) {
    id_of[ck.chars[v]] = (int16_t)v;
  }
  // The default prompt is a new line (a verse starts there in the default corpus) when the
  // vocabulary has one, else its first byte.
  char fallback[2] = {id_of['\n'] >= 0 ? '\n' : (char)ck.chars[0], '\0'};
  const char *prompt = a->prompt != NULL && a->prompt[0] != '\0' ? a->prompt : fallback;
  size_t plen = strlen(prompt);
  for (size_t i = 0; i < plen; i++) {
    if (id_of[(unsigned char)prompt[i]] < 0) {
      sparrow_cli_error("--prompt: byte %zu ('%c', 0x%02x) is not in the model's vocabulary", i,
                        prompt[i] >= 0x20 && prompt[i] < 0x7f ? prompt[i] : '?',
                        (unsigned char)prompt[i]);
      sparrow_train_ckpt_free(&ck);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  size_t total = plen + a->tokens;
  uint32_t *ids = malloc(total * sizeof(uint32_t));
  float *probs = malloc(c->vocab_padded * sizeof(float));
  sparrow_train_backend_t be;
  memset(&be, 0, sizeof(be));
  int rc = ids != NULL && probs != NULL ? SPARROW_CLI_EXIT_OK : SPARROW_CLI_EXIT_FAIL;
  if (rc != SPARROW_CLI_EXIT_OK) {
    sparrow_cli_error("out of memory");
  } else {
    rc = sparrow_cli_train_open_backend(a->device, c, &ck.run.adamw, a->mode, &be);
  }
  if (rc == SPARROW_CLI_EXIT_OK &&
      be.ops->load(be.impl, ck.params, NULL, NULL, ck.masks_active ? ck.masks : NULL, msg,
                   sizeof(msg)) != SPARROW_TRAIN_OK) {
    sparrow_cli_error("%s", msg);
    rc = SPARROW_CLI_EXIT_FAIL;
  }
  if (rc == SPARROW_CLI_EXIT_OK) {
    for (size_t i = 0; i < plen; i++) {
      ids[i] = (uint32_t)id_of[(unsigned char)prompt[i]];
    }
    fputs(prompt, stdout);
    uint64_t rng = a->seed;
    for (size_t n = plen; n < total; n++) {
      uint32_t T = n < c->n_ctx ? (uint32_t)n : c->n_ctx;
      const uint32_t *window = ids + (n - T);
      if (be.ops->forward(be.impl, window, NULL, 1, T, NULL, msg, sizeof(msg)) !=
              SPARROW_TRAIN_OK ||
          be.ops->probs(be.impl, 0, T - 1, probs, msg, sizeof(msg)) != SPARROW_TRAIN_OK) {
        sparrow_cli_error("%s", msg);
        rc = SPARROW_CLI_EXIT_FAIL;
        break;
      }
      ids[n] = draw(probs, c->vocab, a->temperature, &rng);
      fputc(ck.chars[ids[n]], stdout);
    }
    fputc('\n', stdout);
    fflush(stdout);
  }
  if (be.ops != NULL) {
    sparrow_train_backend_close(&be);
  }
  free(ids);
  free(probs);
  sparrow_train_ckpt_free(&ck);
  return rc;
}

int sparrow_cli_sample(int argc, char **argv) {
  sample_args_t args;
  int rc = parse_sample(argc, argv, &args);
  if (rc != SPARROW_CLI_EXIT_OK) {
    return rc;
  }
  return run_sample(&args);
}
