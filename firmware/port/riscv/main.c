// SPDX-License-Identifier: Apache-2.0
//
// The bare-metal device loop: read a frame from the host link FIFO, answer it with the firmware
// core, repeat. The stream rules of docs/protocol.md: a header that cannot be followed (bad magic,
// oversized length) is answered and the connection dropped; a peer that stalls mid-frame is
// dropped.

#include "../../core/sparrow_fw.h"
#include "../../proto/sparrow_proto.h"
#include "sparrow_rv_map.h"

// Longest silence tolerated inside a frame (or while the host drains a response), in fabric cycles.
#define SPARROW_RV_LINK_TIMEOUT_CYCLES 100000000u

static uint8_t g_request[SPARROW_PROTO_MAX_FRAME];
static uint8_t g_response[SPARROW_PROTO_MAX_FRAME];

static void link_drop(void) {
  sparrow_rv_write(SPARROW_RV_LINK_BASE + SPARROW_RV_LINK_CTRL, SPARROW_RV_LINK_DROP);
}

// Reads n bytes. Waits without limit for the first byte when idle_ok (between frames the host may
// stay silent forever); otherwise every byte must come within the link timeout.
static bool link_read(uint8_t *dst, uint32_t n, bool idle_ok) {
  for (uint32_t i = 0; i < n; i++) {
    uint64_t deadline = sparrow_rv_cycles() + SPARROW_RV_LINK_TIMEOUT_CYCLES;
    uint32_t word;
    while (((word = sparrow_rv_read(SPARROW_RV_LINK_BASE + SPARROW_RV_LINK_RX)) &
            SPARROW_RV_LINK_RX_VALID) == 0) {
      if (!(idle_ok && i == 0) && sparrow_rv_cycles() > deadline) {
        return false;
      }
    }
    dst[i] = (uint8_t)word;
  }
  return true;
}

static bool link_write(const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint64_t deadline = sparrow_rv_cycles() + SPARROW_RV_LINK_TIMEOUT_CYCLES;
    while (sparrow_rv_read(SPARROW_RV_LINK_BASE + SPARROW_RV_LINK_STATUS) &
           SPARROW_RV_LINK_TX_FULL) {
      if (sparrow_rv_cycles() > deadline) {
        return false;
      }
    }
    sparrow_rv_write(SPARROW_RV_LINK_BASE + SPARROW_RV_LINK_TX, src[i]);
  }
  return true;
}

int main(void) {
  static sparrow_fw_t fw;
  sparrow_fw_init(&fw);
  for (;;) {
    if (!link_read(g_request, SPARROW_PROTO_HEADER_BYTES, true)) {
      link_drop();
      continue;
    }
    size_t n = sparrow_fw_reject_header(g_request, g_response, sizeof g_response);
    if (n > 0) {
      (void)link_write(g_response, n);
      link_drop();
      continue;
    }
    // reject_header passed: the magic is right and the length within SPARROW_PROTO_MAX_PAYLOAD.
    uint32_t rest = sparrow_get_u32(g_request + 12) + SPARROW_PROTO_CRC_BYTES;
    if (!link_read(g_request + SPARROW_PROTO_HEADER_BYTES, rest, false)) {
      link_drop();
      continue;
    }
    bool close_after = false;
    n = sparrow_fw_handle_frame(&fw, g_request, SPARROW_PROTO_HEADER_BYTES + rest, g_response,
                                sizeof g_response, &close_after);
    if (!link_write(g_response, n) || close_after) {
      link_drop();
    }
  }
}
