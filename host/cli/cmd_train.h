// SPDX-License-Identifier: Apache-2.0
//
// sparrow train and sparrow sample (docs/training.md): the subcommands and the helpers they share.

#ifndef SPARROW_HOST_CLI_CMD_TRAIN_H_
#define SPARROW_HOST_CLI_CMD_TRAIN_H_

#include <stddef.h>

// host/train types, declared only: main.c includes this header without host/train on its path.
struct sparrow_gpt_config;
struct sparrow_adamw;
struct sparrow_train_backend;

int sparrow_cli_train(int argc, char **argv);
int sparrow_cli_sample(int argc, char **argv);

// The build directory the sparrow executable lives in (the parent of its bin/), or "build" when
// that cannot be found: the default corpus is cached there and runs go under it.
void sparrow_cli_train_build_dir(char *out, size_t len);

// Opens the training backend for device, printing the error; returns a CLI exit status.
int sparrow_cli_train_open_backend(const char *device, const struct sparrow_gpt_config *config,
                                   const struct sparrow_adamw *adamw,
                                   struct sparrow_train_backend *backend);

#endif  // SPARROW_HOST_CLI_CMD_TRAIN_H_
