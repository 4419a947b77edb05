// SPDX-License-Identifier: Apache-2.0
//
// sparrow: the command line. Dispatches subcommands (docs/ops.md; `sparrow help`).

#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: sparrow COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  info [--device URI] [--json]\n"
          "      the device's fabric parameters, peak MAC/cycle, DRAM settings and versions\n"
          "  kernel gemm [--m M] [--n N] [--k K] [--device URI] [--seed S] [--json]\n"
          "      C = A*B on the device (random A, B from the seed), checked bit-exact against\n"
          "      the golden arithmetic and against a plain C GEMM; cycles, utilization, DRAM\n"
          "      traffic and simulation speed\n"
          "  devices [--usb VID:PID] [--json]\n"
          "      the Sparrows on USB, one a line: URI, VID:PID, serial (default 1209:0001)\n"
          "  help | --help      this text\n"
          "  version | --version\n"
          "\n"
          "devices: sim (default: sparrow-sim, RTL fabric, configuration M), sim:model,\n"
          "  sim:rtl,config=S, sim:model,dram_bw=32,dram_latency=200, unix:PATH, tcp:HOST:PORT,\n"
          "  usb, usb:VID:PID[:SERIAL] (a board; sparrow-usb-fake -- sparrow ... simulates one)\n"
          "With --json, stdout is one JSON object on one line; logs go to stderr.\n"
          "Exit status: 0 ok, 1 device failure or failed check, 2 bad usage.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return SPARROW_CLI_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return SPARROW_CLI_EXIT_OK;
  }
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("sparrow %s\n", SPARROW_CLI_VERSION);
    return SPARROW_CLI_EXIT_OK;
  }
  if (strcmp(cmd, "info") == 0) {
    return sparrow_cli_info(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "devices") == 0) {
    return sparrow_cli_devices(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "kernel") == 0) {
    return sparrow_cli_kernel(argc - 2, argv + 2);
  }
  sparrow_cli_error("unknown command '%s' (try 'sparrow help')", cmd);
  return SPARROW_CLI_EXIT_USAGE;
}
