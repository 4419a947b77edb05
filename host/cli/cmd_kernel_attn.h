// SPDX-License-Identifier: Apache-2.0
//
// `sparrow kernel OP` for attention and softmax (cmd_kernel_attn.c; docs/ops.md, "Attention and
// softmax"): the hook through which cmd_kernel.c reaches them.

#ifndef SPARROW_HOST_CLI_CMD_KERNEL_ATTN_H_
#define SPARROW_HOST_CLI_CMD_KERNEL_ATTN_H_

#include <stdbool.h>
#include <stdio.h>

// Whether name is one of these operators (attention, attention_bwd, softmax, softmax_bwd).
bool sparrow_cli_kernel_attn_has(const char *name);
// Runs `sparrow kernel NAME ARGS...` (argv: the arguments after the operator's name); returns the
// exit code.
int sparrow_cli_kernel_attn(const char *name, int argc, char **argv);
// Their names, one a line.
void sparrow_cli_kernel_attn_list(FILE *out);

#endif  // SPARROW_HOST_CLI_CMD_KERNEL_ATTN_H_
