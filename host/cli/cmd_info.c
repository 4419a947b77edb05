// SPDX-License-Identifier: Apache-2.0
//
// sparrow info: what the device is (fabric parameters, peak, DRAM settings, versions).

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "sparrow.h"

int sparrow_cli_info(int argc, char **argv) {
  const char *device = SPARROW_CLI_DEFAULT_DEVICE;
  bool json = false;
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (sparrow_cli_opt(argc, argv, &i, "--device", &value)) {
      if (value == NULL || value[0] == '\0') {
        sparrow_cli_error("--device needs a URI");
        return SPARROW_CLI_EXIT_USAGE;
      }
      device = value;
    } else {
      sparrow_cli_error("info: unknown option '%s' (try 'sparrow help')", argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }

  sparrow_dev_t *dev = NULL;
  char msg[256] = "";
  sparrow_status_t st = sparrow_open(device, &dev, msg, sizeof(msg));
  if (st != SPARROW_OK) {
    sparrow_cli_error("cannot open device '%s': %s: %s", device, sparrow_status_name(st), msg);
    // A malformed URI is bad usage; anything else is the device's (or the transport's) failure.
    return st == SPARROW_E_ARG ? SPARROW_CLI_EXIT_USAGE : SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_info_t info;
  st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    sparrow_cli_error("info: %s: %s", sparrow_status_name(st), sparrow_last_error(dev));
    sparrow_close(dev);
    return SPARROW_CLI_EXIT_FAIL;
  }
  sparrow_close(dev);

  char config[sizeof(info.config) + 1];
  memcpy(config, info.config, sizeof(info.config));
  config[sizeof(info.config)] = '\0';
  const char *fabric = info.fabric != NULL ? info.fabric : "?";
  uint64_t pmu_lines = info.lanes ? info.pmu_words / info.lanes : 0;
  // Machine balance: FLOP (2 per MAC) the fabric can do per DRAM byte it can move.
  double balance = info.dram_bw ? 2.0 * (double)info.peak_macs_per_cycle / info.dram_bw : 0.0;

  if (json) {
    sparrow_json_t j;
    sparrow_json_begin(&j, stdout);
    sparrow_json_str(&j, "device", device);
    sparrow_json_str(&j, "config", config);
    sparrow_json_str(&j, "fabric", fabric);
    sparrow_json_u64(&j, "tiles", info.tiles);
    sparrow_json_u64(&j, "lanes", info.lanes);
    sparrow_json_u64(&j, "pmu_words", info.pmu_words);
    sparrow_json_u64(&j, "pmu_lines", pmu_lines);
    sparrow_json_u64(&j, "pmu_bytes", 4ull * info.pmu_words);
    sparrow_json_u64(&j, "agcu_outstanding", info.agcu_outstanding);
    sparrow_json_u64(&j, "prog_entries", info.prog_entries);
    sparrow_json_u64(&j, "peak_macs_per_cycle", info.peak_macs_per_cycle);
    sparrow_json_u64(&j, "dram_bw", info.dram_bw);
    sparrow_json_u64(&j, "dram_latency", info.dram_latency);
    sparrow_json_u64(&j, "dram_bytes", info.dram_bytes);
    sparrow_json_f64(&j, "machine_balance_flop_per_byte", balance);
    sparrow_json_u64(&j, "max_payload", info.max_payload);
    sparrow_json_u64(&j, "hw_version", info.hw_version);
    sparrow_json_u64(&j, "fw_version", info.fw_version);
    sparrow_json_u64(&j, "proto_version", info.proto_version);
    sparrow_json_str(&j, "host_version", SPARROW_CLI_VERSION);
    sparrow_json_end(&j);
    return SPARROW_CLI_EXIT_OK;
  }
  printf("device          %s\n", device);
  printf("configuration   %s (%s fabric)\n", config, fabric);
  printf("tiles           %u (one PCU, PMU and AGCU each)\n", info.tiles);
  printf("lanes           %u\n", info.lanes);
  printf("PMU             %u words = %llu lines = %u KiB per tile\n", info.pmu_words,
         (unsigned long long)pmu_lines, info.pmu_words * 4u / 1024u);
  printf("AGCU            %u beats in flight per channel\n", info.agcu_outstanding);
  printf("program memory  %u entries\n", info.prog_entries);
  printf("peak            %llu MAC/cycle\n", (unsigned long long)info.peak_macs_per_cycle);
  printf("DRAM            %llu MiB, %u bytes/cycle, %u cycles latency\n",
         (unsigned long long)(info.dram_bytes >> 20), info.dram_bw, info.dram_latency);
  printf("machine balance %.2f FLOP per DRAM byte (kernels below it are memory-bound)\n", balance);
  printf("versions        hardware %u, firmware %u, protocol %u, host %s\n", info.hw_version,
         info.fw_version, info.proto_version, SPARROW_CLI_VERSION);
  printf("max payload     %u bytes per frame\n", info.max_payload);
  return SPARROW_CLI_EXIT_OK;
}
