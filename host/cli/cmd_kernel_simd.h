// SPDX-License-Identifier: Apache-2.0
//
// `sparrow kernel OP` for the SIMD operators (cmd_kernel_simd.c; docs/ops.md, "SIMD operators"):
// the hook through which cmd_kernel.c reaches them.

#ifndef SPARROW_HOST_CLI_CMD_KERNEL_SIMD_H_
#define SPARROW_HOST_CLI_CMD_KERNEL_SIMD_H_

#include <stdbool.h>
#include <stdio.h>

// Whether name is a SIMD operator.
bool sparrow_cli_kernel_simd_has(const char *name);
// Runs `sparrow kernel NAME ARGS...` (argv: the arguments after the operator's name); returns the
// exit code.
int sparrow_cli_kernel_simd(const char *name, int argc, char **argv);
// The SIMD operators' names, one a line.
void sparrow_cli_kernel_simd_list(FILE *out);

#endif  // SPARROW_HOST_CLI_CMD_KERNEL_SIMD_H_
