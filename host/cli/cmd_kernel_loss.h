// SPDX-License-Identifier: Apache-2.0
//
// `sparrow kernel OP` for the softmax cross-entropy, AdamW and the global gradient norm
// (cmd_kernel_loss.c; docs/ops.md, "Loss and optimizer"): the hook through which cmd_kernel.c
// reaches them.

#ifndef SPARROW_HOST_CLI_CMD_KERNEL_LOSS_H_
#define SPARROW_HOST_CLI_CMD_KERNEL_LOSS_H_

#include <stdbool.h>
#include <stdio.h>

// Whether name is one of these operators.
bool sparrow_cli_kernel_loss_has(const char *name);
// Runs `sparrow kernel NAME ARGS...` (argv: the arguments after the operator's name); returns the
// exit code.
int sparrow_cli_kernel_loss(const char *name, int argc, char **argv);
// Their names, one a line.
void sparrow_cli_kernel_loss_list(FILE *out);

#endif  // SPARROW_HOST_CLI_CMD_KERNEL_LOSS_H_
