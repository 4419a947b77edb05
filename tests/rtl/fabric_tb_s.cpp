// SPDX-License-Identifier: Apache-2.0
//
// The fabric checks on configuration S (2 tiles, 4 lanes).

#include "Vsparrow_fabric_S.h"
#include "fabric_tb_configs.h"
#include "fabric_tb_simd.h"
#include "fabric_tb_sparse.h"
#include "fabric_tb_tests.h"

using namespace fabric_tb;

void fabric_tb_run_s(Results &res) {
  const sparrow_hw_config_t &cfg = kSparrowHwConfigs[0];
  Bench<Vsparrow_fabric_S> tb(cfg, kDramBytes);
  const uint32_t lanes = cfg.lanes;
  test_csr(tb, res);
  test_errors(tb, res);
  test_copy_dram(tb, res, DramConfig{}, "ideal");
  test_copy_dram(tb, res, DramConfig{37, 1, 25, 2}, "slow-jitter");
  test_copy_via_pmu(tb, res);
  test_pmu_double_buffer(tb, res);
  test_multicast(tb, res);
  test_gemm(tb, res, Gemm{4 * lanes, 4 * lanes, 24, 2, 0x10000, 0x20000, 0x30000}, DramConfig{},
            "ideal");
  test_gemm(tb, res, Gemm{4 * lanes, 4 * lanes, 24, 2, 0x10000, 0x20000, 0x30000},
            DramConfig{100, 2, 30, 4}, "slow-jitter");
  test_gemm(tb, res, Gemm{lanes, 2 * lanes, 5, 1, 0x11000, 0x21000, 0x31000}, DramConfig{},
            "one-tile");
  test_gemm_overflow(tb, res);
  test_gemm_acc_init(tb, res);
  test_gather_pattern(tb, res);
  test_gather_rate(tb, res);
  test_gather_sync(tb, res, DramConfig{}, "ideal", 0x71);
  test_gather_sync(tb, res, DramConfig{60, 1, 9, 13}, "slow-jitter", 0x72);
  test_pcu_k_tables(tb, res);
  test_spmm(tb, res);
  test_simd_all(tb, res);
  test_watchdog(tb, res);
  test_bad_address(tb, res);
  // After the aborts (reads discarded on their return), the fabric still computes exactly.
  test_copy_dram(tb, res, DramConfig{}, "after-abort");
  test_gemm(tb, res, Gemm{2 * lanes, 2 * lanes, 16, 2, 0x12000, 0x22000, 0x32000}, DramConfig{},
            "after-abort");
}
