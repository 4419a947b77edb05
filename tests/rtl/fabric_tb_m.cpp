// SPDX-License-Identifier: Apache-2.0
//
// The fabric checks on configuration M (4 tiles, 8 lanes): CSRs, a copy, and a 64x64x64 GEMM.

#include "Vsparrow_fabric_M.h"
#include "fabric_tb_configs.h"
#include "fabric_tb_tests.h"

using namespace fabric_tb;

void fabric_tb_run_m(Results &res) {
  const sparrow_hw_config_t &cfg = kSparrowHwConfigs[1];
  Bench<Vsparrow_fabric_M> tb(cfg, kDramBytes);
  test_csr(tb, res);
  test_copy_dram(tb, res, DramConfig{}, "ideal");
  test_gemm(tb, res, Gemm{64, 64, 64, cfg.tiles, 0x10000, 0x20000, 0x30000},
            DramConfig{100, 2, 0, 1}, "dram-64B");
  test_gemm_overflow(tb, res);
  test_gemm_acc_init(tb, res);
}
