// SPDX-License-Identifier: Apache-2.0
//
// sparrow-sim's command line (docs/simulator.md). Plain C, unit-tested in tests/sim/.

#ifndef SPARROW_SIM_PLATFORM_SIM_OPTIONS_H_
#define SPARROW_SIM_PLATFORM_SIM_OPTIONS_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparrow_hw.h"

#ifdef __cplusplus
extern "C" {
#endif

// Same numbering as sparrow_hal_platform_t.fabric and the HELLO answer.
typedef enum sparrow_sim_fabric {
  kSparrowSimFabricRtl = 0,
  kSparrowSimFabricModel = 1,
} sparrow_sim_fabric_t;

#define SPARROW_SIM_DEFAULT_DRAM_MB 256u
#define SPARROW_SIM_DEFAULT_DRAM_BW 64u
#define SPARROW_SIM_DEFAULT_DRAM_LATENCY 100u
#define SPARROW_SIM_DEFAULT_FRAME_TIMEOUT_MS 10000u
// Fabric addresses are 32 bits wide: more DRAM than 4 GiB could not be reached.
#define SPARROW_SIM_MAX_DRAM_MB 4096u

typedef struct sparrow_sim_options {
  bool help;
  const char *listen;  // "unix:PATH" or "tcp:HOST:PORT", or NULL
  int fd;              // an already-connected socket, or -1
  sparrow_sim_fabric_t fabric;
  const sparrow_hw_config_t *config;  // an entry of kSparrowHwConfigs
  uint32_t dram_mb;
  uint32_t dram_bw;
  uint32_t dram_latency;
  const char *trace;  // FST file, or NULL
  uint64_t trace_start;
  uint64_t trace_cycles;  // UINT64_MAX: until exit
  uint32_t frame_timeout_ms;
} sparrow_sim_options_t;

// Parses argv (argv[0] is the program). On failure returns false with a one-line message in err.
// --help sets opts->help and skips the checks that need a connection option.
bool sparrow_sim_options_parse(int argc, char *const argv[], sparrow_sim_options_t *opts, char *err,
                               size_t err_cap) __attribute__((warn_unused_result));

// The --help text.
const char *sparrow_sim_usage(void);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_SIM_PLATFORM_SIM_OPTIONS_H_
