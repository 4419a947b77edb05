// SPDX-License-Identifier: Apache-2.0
//
// sparrow train, sparrow sample and sparrow bench --study (docs/training.md, docs/results.md): the
// helpers they share, so that a study's run is built exactly as `sparrow train` builds one (the
// model from a preset and its overrides, the data, the backend). Included only by the commands
// compiled with host/train on their path (mk/train.mk); main.c sees the commands through cli.h.

#ifndef SPARROW_HOST_CLI_CMD_TRAIN_H_
#define SPARROW_HOST_CLI_CMD_TRAIN_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "data.h"
#include "gpt.h"

#define SPARROW_CLI_PATH_LEN 4096

// The build directory the sparrow executable lives in (the parent of its bin/), or "build" when
// that cannot be found: the default corpus is cached there and runs go under it.
void sparrow_cli_train_build_dir(char *out, size_t len);

// Opens the training backend for device in mode, printing the error; returns a CLI exit status.
int sparrow_cli_train_open_backend(const char *device, const sparrow_gpt_config_t *config,
                                   const sparrow_adamw_t *adamw, sparrow_train_mode_t mode,
                                   sparrow_train_backend_t *backend);

// Parses --mode's value; prints the error and returns false when it is not kbk or df.
bool sparrow_cli_train_parse_mode(const char *value, sparrow_train_mode_t *mode);

// A model as the options give it: a preset and the dimensions overridden on the command line.
enum {
  SPARROW_CLI_DIM_LAYERS,
  SPARROW_CLI_DIM_HEADS,
  SPARROW_CLI_DIM_WIDTH,
  SPARROW_CLI_DIM_CONTEXT,
  SPARROW_CLI_DIM_BATCH,
  SPARROW_CLI_DIM_BLOCK,
  SPARROW_CLI_DIMS
};
typedef struct sparrow_cli_model_opts {
  const char *preset;
  uint64_t dims[SPARROW_CLI_DIMS];
  bool dims_set[SPARROW_CLI_DIMS];
} sparrow_cli_model_opts_t;

// When argv[*i] is a dimension option (--layers, --heads, --width, --context, --batch, --block),
// takes it (and its value) into opts and sets *matched; returns false after printing the error
// when its value is bad.
bool sparrow_cli_train_dim_opt(int argc, char **argv, int *i, sparrow_cli_model_opts_t *opts,
                               bool *matched);

// The model of opts, with data's vocabulary (data NULL: a vocabulary of 1, to check the dimensions
// before any data is read). Prints the error; returns a CLI exit status (2 for a bad preset or
// dimension).
int sparrow_cli_train_model(const sparrow_cli_model_opts_t *opts, const sparrow_train_data_t *data,
                            sparrow_gpt_config_t *model);

// The preset a model matches, or "custom".
const char *sparrow_cli_train_preset_of(const sparrow_gpt_config_t *c);

// Loads the training text for context: path, or when NULL the default corpus (generated once
// under the build directory's data/). used (len bytes) gets the path read. Prints the error;
// returns a CLI exit status.
int sparrow_cli_train_load_data(const char *path, uint32_t context, sparrow_train_data_t *data,
                                char *used, size_t len);

#endif  // SPARROW_HOST_CLI_CMD_TRAIN_H_
