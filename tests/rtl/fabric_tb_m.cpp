// SPDX-License-Identifier: Apache-2.0
//
// The fabric checks on configuration M (4 tiles, 8 lanes): CSRs, a copy, a 64x64x64 GEMM, gather,
// the PCU k table, a block-sparse product, and the PCU's SIMD and LOAD modes.

#include "Vsparrow_fabric_M.h"
#include "fabric_tb_configs.h"
#include "fabric_tb_simd.h"
#include "fabric_tb_sparse.h"
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
  test_gather_pattern(tb, res);
  test_gather_rate(tb, res);
  test_gather_sync(tb, res, DramConfig{}, "ideal", 0x71);
  test_gather_sync(tb, res, DramConfig{60, 1, 9, 13}, "slow-jitter", 0x72);
  test_pcu_k_tables(tb, res);
  test_spmm(tb, res);
  test_simd_all(tb, res);
}
