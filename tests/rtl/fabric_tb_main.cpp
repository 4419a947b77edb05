// SPDX-License-Identifier: Apache-2.0
//
// test_rtl_fabric [S|M|all]: the fabric bench. Ends with "N passed, N failed"; exits 0 when all
// pass.

#include <cstdio>
#include <cstring>

#include "fabric_tb_configs.h"
#include "sparrow_fp.h"

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "all";
  if (argc > 2 || (std::strcmp(which, "S") != 0 && std::strcmp(which, "M") != 0 &&
                   std::strcmp(which, "all") != 0)) {
    std::fprintf(stderr, "usage: %s [S|M|all]\n", argv[0]);
    return 2;
  }
  const char *why = nullptr;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    std::fprintf(stderr, "host arithmetic unfit for reference values: %s\n", why);
    return 1;
  }
  fabric_tb::Results res;
  if (std::strcmp(which, "M") != 0)
    fabric_tb_run_s(res);
  if (std::strcmp(which, "S") != 0)
    fabric_tb_run_m(res);
  std::printf("%d passed, %d failed\n", res.passed, res.failed);
  return res.failed == 0 ? 0 : 1;
}
