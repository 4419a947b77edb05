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

#ifdef __cplusplus
extern "C" {
#endif

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
// (bad magic, oversized length, fewer than 16 bytes): the port sends the response, then closes the
// connection. req and rsp must not overlap. With a cap below SPARROW_PROTO_MAX_FRAME a response
// that does not fit becomes a BAD_ARGUMENT error (reason shortened to fit); only a cap below 20
// (no room for any frame) returns 0.
// LAUNCH writes WATCHDOG, then CTRL.clear, then CTRL.launch: each launch starts with status,
// fp_status and counters cleared, so WAIT never sees the previous launch's done bit.
size_t sparrow_fw_handle_frame(sparrow_fw_t *fw, const uint8_t *req, size_t len, uint8_t *rsp,
                               size_t cap, bool *close_after);

// Builds the response for a header that cannot be followed by a frame (bad magic, or a length
// beyond the maximum), when the port has only the 16 header bytes. Returns the response length;
// the port sends it and closes the connection. Returns 0 when the header needs no such answer (the
// magic is right and the length within bounds: read the rest of the frame and call
// sparrow_fw_handle_frame, which also answers a bad version) or when cap < 20.
size_t sparrow_fw_reject_header(const uint8_t *header, uint8_t *rsp, size_t cap);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SPARROW_FIRMWARE_CORE_SPARROW_FW_H_
