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
          "  kernel spmm|spmm_t|sddmm [--m M] [--n N] [--k K] [--density D]\n"
          "         [--mask random|magnitude] [--block B] [--device URI] [--seed S] [--json]\n"
          "      the block-sparse operators of a sparse linear layer, W K x N in BSR at density\n"
          "      D (1, 1/2, 1/4, 1/8, 1/16; default 1/8, blocks of 8): Y = X*W, dX = dY*W^T,\n"
          "      dW = (X^T*dY) on W's mask; checked like gemm\n"
          "  bench [--device URI] [--out DIR] [--seed S] [--quick] [--json]\n"
          "      dense GEMMs against spmm, spmm_t and sddmm (M=256, K=N=512) at every density:\n"
          "      cycles, utilization, DRAM bytes, speedup; CSV, Markdown and PNG in DIR\n"
          "      (default build/bench); --quick: density 1/8 only\n"
          "  bench --study [--preset micro|small|wide] [--device URI] [--out DIR] [--seed S]\n"
          "        [--json] [--layers L] [--heads H] [--width C] [--context T] [--batch B]\n"
          "        [--block B]\n"
          "      the execution-mode study: one training step of the preset (default wide) at\n"
          "      sparsity 0, 0.75, 0.875 in modes kbk and df: cycles, DRAM bytes, PCU\n"
          "      utilization, DRAM-busy fraction, speedup, Amdahl bound, KBK = DF bit identity;\n"
          "      study.csv, study.md, study.png in DIR (default build/bench/study-PRESET)\n"
          "  devices [--usb VID:PID] [--json]\n"
          "      the Sparrows on USB, one a line: URI, VID:PID, serial (default 1209:0001)\n"
          "  train [--preset micro|small|wide] [--steps N] [--device URI] [--data FILE]\n"
          "        [--sparsity 0|0.5|0.75|0.875] [--block B] [--mask random|magnitude]\n"
          "        [--dense-steps N] [--lr X] [--seed S] [--eval-every N] [--val-batches N]\n"
          "        [--ckpt-every N] [--check N] [--check-tol X] [--out DIR] [--resume CKPT]\n"
          "        [--mode kbk|df] [--json] [--layers L] [--heads H] [--width C] [--context T]\n"
          "        [--batch B]\n"
          "      trains a GPT on the text (default: the King James Bible); outputs in DIR:\n"
          "      metrics.csv, loss.png, summary.json, checkpoint.bin (docs/training.md).\n"
          "      Every operator runs on the device; --device ref is the CPU reference, and\n"
          "      --check N compares the device with it every N steps; --mode: kernel by kernel\n"
          "      (default) or dataflow, the same results either way\n"
          "  sample --ckpt FILE [--prompt TEXT] [--tokens N] [--temperature X] [--seed S]\n"
          "         [--device URI] [--mode kbk|df]\n"
          "      generates text from a checkpoint\n"
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
  if (strcmp(cmd, "bench") == 0) {
    return sparrow_cli_bench(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "train") == 0) {
    return sparrow_cli_train(argc - 2, argv + 2);
  }
  if (strcmp(cmd, "sample") == 0) {
    return sparrow_cli_sample(argc - 2, argv + 2);
  }
  sparrow_cli_error("unknown command '%s' (try 'sparrow help')", cmd);
  return SPARROW_CLI_EXIT_USAGE;
}
