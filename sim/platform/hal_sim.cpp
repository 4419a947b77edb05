// SPDX-License-Identifier: Apache-2.0
//
// The firmware HAL over the SystemC platform (hal_sim.h).

#include "hal_sim.h"

#include <cinttypes>
#include <cstdio>

#include "../../firmware/hal/sparrow_hal.h"

namespace sparrow_sim {
namespace {

HalTarget g_target;
uint64_t g_reported_errors = 0;

// Time passed on the fabric: the RTL's DRAM traffic may have reached beyond the array.
void AfterCycles() {
  sparrow_dram_stats_t stats;
  sparrow_dram_get_stats(g_target.dram, &stats);
  if (stats.errors != g_reported_errors) {
    ReportDramErrors();
  }
}

}  // namespace

void BindHal(const HalTarget &target) {
  g_target = target;
  g_reported_errors = 0;
}

void ReportDramErrors() {
  if (g_target.dram == nullptr) {
    return;
  }
  sparrow_dram_stats_t stats;
  sparrow_dram_get_stats(g_target.dram, &stats);
  if (stats.errors == g_reported_errors) {
    return;
  }
  std::fprintf(stderr,
               "sparrow-sim: DRAM error: %" PRIu64
               " fabric access(es) beyond the end of DRAM "
               "(%" PRIu64 " bytes), %" PRIu64 " in all, the first a %s at 0x%08" PRIx64
               "; reads returned zeros, writes were dropped\n",
               stats.errors - g_reported_errors, sparrow_dram_bytes(g_target.dram), stats.errors,
               stats.first_error_write ? "write" : "read", stats.first_error_addr);
  g_reported_errors = stats.errors;
}

}  // namespace sparrow_sim

using sparrow_sim::g_target;

extern "C" uint32_t sparrow_hal_csr_read(uint32_t addr) {
  uint32_t value = g_target.fabric->CsrRead(addr);
  sparrow_sim::AfterCycles();
  return value;
}

extern "C" void sparrow_hal_csr_write(uint32_t addr, uint32_t value) {
  g_target.fabric->CsrWrite(addr, value);
  sparrow_sim::AfterCycles();
}

// The backdoor checks the range again: the firmware already did, but the platform must never
// copy outside the array whatever its caller believes.
extern "C" bool sparrow_hal_dram_write(uint64_t addr, const uint8_t *src, uint32_t len) {
  return sparrow_dram_backdoor_write(g_target.dram, addr, src, len);
}

extern "C" bool sparrow_hal_dram_read(uint64_t addr, uint8_t *dst, uint32_t len) {
  return sparrow_dram_backdoor_read(g_target.dram, addr, dst, len);
}

extern "C" void sparrow_hal_platform_info(sparrow_hal_platform_t *info) {
  info->dram_bytes = sparrow_dram_bytes(g_target.dram);
  info->dram_bw = g_target.dram_bw;
  info->dram_latency = g_target.dram_latency;
  info->fabric = g_target.fabric_kind;
}

extern "C" void sparrow_hal_wait_cycles(uint32_t cycles) {
  g_target.fabric->Run(cycles);
  sparrow_sim::AfterCycles();
}
