// SPDX-License-Identifier: Apache-2.0
//
// The firmware core: turns one request frame into one response frame, driving the fabric through
// the HAL (firmware/hal/sparrow_hal.h). Freestanding: no allocation, no stdio; all state in
// sparrow_fw_t. The port (sim/platform/ or a board) moves the bytes.

#ifndef SPARROW_FIRMWARE_CORE_SPARROW_FW_H_
#define SPARROW_FIRMWARE_CORE_SPARROW_FW_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPARROW_FW_VERSION 1u

typedef struct sparrow_fw {
  uint32_t tiles;  // read from the fabric's CSRs at init
  uint32_t lanes;
  uint32_t pmu_words;
  uint32_t agcu_outstanding;
  uint32_t prog_entries;
  bool launched;  // a launch since the last reset
} sparrow_fw_t;

// Reads the fabric's parameters; resets the fabric.
void sparrow_fw_init(sparrow_fw_t *fw);

// Handles one complete request frame of len bytes (the port has read the header and
// 16 + length + 4 bytes). Writes the response frame to rsp (cap >= SPARROW_PROTO_MAX_FRAME) and
// returns its length (always > 0). *close_after is set when the stream can no longer be trusted
// (bad magic, oversized length): the port sends the response, then closes the connection.
size_t sparrow_fw_handle_frame(sparrow_fw_t *fw, const uint8_t *req, size_t len, uint8_t *rsp,
                               size_t cap, bool *close_after);

// Builds the response for a header that cannot be followed by a frame (bad magic, or a length
// beyond the maximum), when the port has only the 16 header bytes. Returns the response length.
size_t sparrow_fw_reject_header(const uint8_t *header, uint8_t *rsp, size_t cap);

#endif  // SPARROW_FIRMWARE_CORE_SPARROW_FW_H_
