// SPDX-License-Identifier: Apache-2.0
//
// sparrow-sim: the simulated Sparrow device. Builds the platform (clock, DRAM model, fabric),
// binds the firmware HAL to it and serves frames (docs/simulator.md).

#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <systemc>

#include "dram_module.h"
#include "fabric.h"
#include "hal_sim.h"
#include "sim_dram.h"
#include "sim_options.h"
#include "sim_serve.h"

namespace {

using sparrow_sim::Fabric;

struct ServeTotals {
  uint64_t connections = 0;
  uint64_t frames = 0;
};

void LogEnd(uint64_t connection, uint64_t frames, sparrow_sim_end_t end) {
  std::fprintf(stderr, "sparrow-sim: connection %" PRIu64 ": %" PRIu64 " frame(s), %s\n",
               connection, frames, sparrow_sim_end_name(end));
}

// --fd: the driver's socketpair. Its end is the device's end of life.
void ServeFd(sparrow_fw_t *fw, const sparrow_sim_options_t &opts, ServeTotals *totals) {
  uint64_t frames = 0;
  sparrow_sim_end_t end = sparrow_sim_serve(fw, opts.fd, opts.frame_timeout_ms, &frames);
  close(opts.fd);
  totals->connections = 1;
  totals->frames = frames;
  // The driver closing its end is the normal way out; anything else is worth a line.
  if (end != kSparrowSimEndPeerClosed) {
    LogEnd(1, frames, end);
  }
}

// --listen: one connection after another until a signal. The device (DRAM, fabric state) lives
// on across connections, as a board would.
int ServeListen(sparrow_fw_t *fw, const sparrow_sim_options_t &opts, const std::string &what,
                ServeTotals *totals) {
  sparrow_sim_listener_t listener;
  char err[256];
  if (!sparrow_sim_listen(opts.listen, &listener, err, sizeof(err))) {
    std::fprintf(stderr, "sparrow-sim: %s\n", err);
    return 1;
  }
  std::fprintf(stderr, "sparrow-sim: listening on %s (%s)\n", listener.address, what.c_str());
  while (!sparrow_sim_stop_requested()) {
    int fd = sparrow_sim_accept(&listener);
    if (fd < 0) {
      break;
    }
    uint64_t frames = 0;
    sparrow_sim_end_t end = sparrow_sim_serve(fw, fd, opts.frame_timeout_ms, &frames);
    close(fd);
    totals->connections++;
    totals->frames += frames;
    LogEnd(totals->connections, frames, end);
  }
  sparrow_sim_unlisten(&listener);
  return 0;
}

std::string Describe(const sparrow_sim_options_t &opts) {
  char text[200];
  std::snprintf(text, sizeof(text),
                "fabric %s, config %s, DRAM %" PRIu32 " MiB, %" PRIu32 " B/cycle, %" PRIu32
                " cycles latency",
                opts.fabric == kSparrowSimFabricRtl ? "rtl" : "model", opts.config->name,
                opts.dram_mb, opts.dram_bw, opts.dram_latency);
  return text;
}

}  // namespace

int sc_main(int argc, char **argv) {
  sparrow_sim_options_t opts;
  char err[256];
  if (!sparrow_sim_options_parse(argc, argv, &opts, err, sizeof(err))) {
    std::fprintf(stderr, "sparrow-sim: %s (see --help)\n", err);
    return 2;
  }
  if (opts.help) {
    std::fputs(sparrow_sim_usage(), stdout);
    return 0;
  }
  if (opts.fd >= 0 && fcntl(opts.fd, F_GETFD) < 0) {
    std::fprintf(stderr, "sparrow-sim: --fd %d: no such open descriptor\n", opts.fd);
    return 2;
  }
  if (opts.trace != nullptr) {
    // Found out now rather than when the trace window opens, possibly hours in.
    FILE *probe = std::fopen(opts.trace, "wb");
    if (probe == nullptr) {
      std::fprintf(stderr, "sparrow-sim: --trace %s: cannot write the file\n", opts.trace);
      return 2;
    }
    std::fclose(probe);
  }
  sparrow_sim_install_signals();

  const sparrow_hw_config_t &config = *opts.config;
  sparrow_dram_config_t dram_config;
  dram_config.bytes = uint64_t{opts.dram_mb} << 20;
  dram_config.bw = opts.dram_bw;
  dram_config.latency = opts.dram_latency;
  dram_config.ports = config.tiles;
  dram_config.beat_bytes = config.lanes * 4;
  sparrow_dram_t *dram = sparrow_dram_create(&dram_config);
  if (dram == nullptr) {
    std::fprintf(stderr, "sparrow-sim: cannot allocate %" PRIu32 " MiB of DRAM\n", opts.dram_mb);
    return 1;
  }

  // The platform: one clock, the DRAM model on it, the fabric on both.
  sc_core::sc_clock clock("clk", sc_core::sc_time(1, sc_core::SC_NS));
  sparrow_sim::DramModule dram_module("dram", dram);
  dram_module.clk(clock);
  std::string why;
  std::unique_ptr<Fabric> fabric;
  if (opts.fabric == kSparrowSimFabricRtl) {
    sparrow_sim::TraceOptions trace;
    trace.path = opts.trace;
    trace.start = opts.trace_start;
    trace.cycles = opts.trace_cycles;
    fabric = sparrow_sim::MakeRtlFabric(config, clock, dram_module, trace, &why);
  } else {
    fabric = sparrow_sim::MakeModelFabric(config, dram, opts.dram_bw, opts.dram_latency, &why);
  }
  if (fabric == nullptr) {
    std::fprintf(stderr, "sparrow-sim: %s\n", why.c_str());
    sparrow_dram_destroy(dram);
    return 2;
  }
  fabric->PowerOn();

  sparrow_sim::HalTarget target;
  target.fabric = fabric.get();
  target.dram = dram;
  target.dram_bw = opts.dram_bw;
  target.dram_latency = opts.dram_latency;
  target.fabric_kind = static_cast<uint32_t>(opts.fabric);
  sparrow_sim::BindHal(target);
  static sparrow_fw_t fw;
  sparrow_fw_init(&fw);

  ServeTotals totals;
  int rc = 0;
  if (opts.fd >= 0) {
    ServeFd(&fw, opts, &totals);
  } else {
    rc = ServeListen(&fw, opts, Describe(opts), &totals);
  }

  fabric->Finish();
  sparrow_sim::ReportDramErrors();
  if (opts.listen != nullptr) {
    sparrow_dram_stats_t stats;
    sparrow_dram_get_stats(dram, &stats);
    std::fprintf(stderr,
                 "sparrow-sim: done: %" PRIu64 " connection(s), %" PRIu64 " frame(s), %" PRIu64
                 " fabric cycles, DRAM model %" PRIu64 " beats read, %" PRIu64 " written, %" PRIu64
                 " error(s)\n",
                 totals.connections, totals.frames, fabric->Cycle(), stats.rd_beats, stats.wr_beats,
                 stats.errors);
  }
  fabric.reset();  // before the DRAM array the golden model works on
  sparrow_dram_destroy(dram);
  return rc;
}

// SystemC's own main() prints a copyright banner on stderr before sc_main runs; sparrow-sim's
// stderr is its log (and --help's neighbour), so the banner is switched off unless asked for.
int main(int argc, char **argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
