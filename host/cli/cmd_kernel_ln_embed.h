// SPDX-License-Identifier: Apache-2.0
//
// `sparrow kernel OP` for layernorm, layernorm_bwd, embedding and embedding_bwd
// (cmd_kernel_ln_embed.c; docs/ops.md, "Layernorm and embedding"): the hook through which
// cmd_kernel.c reaches them.

#ifndef SPARROW_HOST_CLI_CMD_KERNEL_LN_EMBED_H_
#define SPARROW_HOST_CLI_CMD_KERNEL_LN_EMBED_H_

#include <stdbool.h>
#include <stdio.h>

// Whether name is one of these operators.
bool sparrow_cli_kernel_ln_embed_has(const char *name);
// Runs `sparrow kernel NAME ARGS...` (argv: the arguments after the operator's name); returns the
// exit code.
int sparrow_cli_kernel_ln_embed(const char *name, int argc, char **argv);
// Their names, one a line.
void sparrow_cli_kernel_ln_embed_list(FILE *out);

#endif  // SPARROW_HOST_CLI_CMD_KERNEL_LN_EMBED_H_
