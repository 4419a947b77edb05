// SPDX-License-Identifier: Apache-2.0
//
// Device URIs (docs/driver.md): parsing only, no side effects, so it is unit-testable.

#ifndef SPARROW_DRIVER_SRC_URI_H_
#define SPARROW_DRIVER_SRC_URI_H_

#include <stddef.h>
#include <stdint.h>

#include "../include/sparrow.h"
#include "transport.h"

typedef enum sparrow_uri_kind {
  kSparrowUriSim,
  kSparrowUriUnix,
  kSparrowUriTcp,
  kSparrowUriUsb,
} sparrow_uri_kind_t;

typedef struct sparrow_uri {
  sparrow_uri_kind_t kind;
  sparrow_sim_params_t sim;  // kSparrowUriSim
  char path[108];            // kSparrowUriUnix (sizeof sockaddr_un.sun_path)
  char host[256];            // kSparrowUriTcp (brackets of an IPv6 literal removed)
  char port[8];
  uint16_t usb_vid;  // kSparrowUriUsb (defaults 1209:0001)
  uint16_t usb_pid;
  char usb_serial[128];  // "" = any
} sparrow_uri_t;

// Limits on the sim options (the simulator checks them again).
#define SPARROW_URI_MAX_DRAM_BW 65536u
#define SPARROW_URI_MAX_DRAM_LATENCY 1000000u
#define SPARROW_URI_MAX_DRAM_MB 4096u

// Parses uri into *out. Malformed URIs, unknown options and bad values are SPARROW_E_ARG with a
// one-line reason in msg.
sparrow_status_t sparrow_uri_parse(const char *uri, sparrow_uri_t *out, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

#endif  // SPARROW_DRIVER_SRC_URI_H_
