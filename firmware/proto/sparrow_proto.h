// SPDX-License-Identifier: Apache-2.0
//
// Sparrow wire protocol (docs/protocol.md): frame layout, command and result codes, and the codec.
// Freestanding C: shared by the firmware and the driver; no allocation, no libc beyond <stdint.h>,
// <stddef.h> and <stdbool.h>.

#ifndef SPARROW_FIRMWARE_PROTO_SPARROW_PROTO_H_
#define SPARROW_FIRMWARE_PROTO_SPARROW_PROTO_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPARROW_PROTO_MAGIC 0x57525053u
#define SPARROW_PROTO_VERSION 1u
#define SPARROW_PROTO_HEADER_BYTES 16u
#define SPARROW_PROTO_CRC_BYTES 4u
#define SPARROW_PROTO_MAX_PAYLOAD 65536u
#define SPARROW_PROTO_MAX_FRAME \
  (SPARROW_PROTO_HEADER_BYTES + SPARROW_PROTO_MAX_PAYLOAD + SPARROW_PROTO_CRC_BYTES)
#define SPARROW_PROTO_RESPONSE_BIT 0x80u
#define SPARROW_PROTO_MAX_REASON 200u
#define SPARROW_PROTO_HELLO_BYTES 64u

typedef enum sparrow_cmd {
  kSparrowCmdHello = 0x01,
  kSparrowCmdReset = 0x02,
  kSparrowCmdMemWrite = 0x03,
  kSparrowCmdMemRead = 0x04,
  kSparrowCmdProgLoad = 0x05,
  kSparrowCmdLaunch = 0x06,
  kSparrowCmdWait = 0x07,
  kSparrowCmdCounters = 0x08,
  kSparrowCmdStatus = 0x09,
} sparrow_cmd_t;

typedef enum sparrow_rc {
  kSparrowRcOk = 0,
  kSparrowRcBadMagic = 1,
  kSparrowRcBadVersion = 2,
  kSparrowRcBadCrc = 3,
  kSparrowRcBadLength = 4,
  kSparrowRcUnknownCommand = 5,
  kSparrowRcBadAddress = 6,
  kSparrowRcBadProgram = 7,
  kSparrowRcBusy = 8,
  kSparrowRcTimeout = 9,
  kSparrowRcFabricError = 10,
  kSparrowRcNotLaunched = 11,
  kSparrowRcBadArgument = 12,
} sparrow_rc_t;

typedef struct sparrow_frame_header {
  uint8_t kind;     // command opcode, | SPARROW_PROTO_RESPONSE_BIT in responses
  uint16_t status;  // sparrow_rc_t in responses, 0 in requests
  uint32_t seq;
  uint32_t length;  // payload bytes
} sparrow_frame_header_t;

// HELLO's device description (64 bytes on the wire).
typedef struct sparrow_hello {
  uint32_t proto_version;
  uint32_t hw_version;
  uint32_t fw_version;
  uint32_t fabric;  // 0 = Verilated RTL, 1 = C golden model
  char config[8];   // "S", "M", or "?"; NUL-padded
  uint32_t tiles;
  uint32_t lanes;
  uint32_t pmu_words;
  uint32_t agcu_outstanding;
  uint32_t prog_entries;
  uint32_t dram_bw;
  uint32_t dram_latency;
  uint32_t max_payload;
  uint64_t dram_bytes;
} sparrow_hello_t;

// Little-endian field access.
static inline void sparrow_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void sparrow_put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) {
    p[i] = (uint8_t)(v >> (8 * i));
  }
}
static inline void sparrow_put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    p[i] = (uint8_t)(v >> (8 * i));
  }
}
static inline uint16_t sparrow_get_u16(const uint8_t *p) {
  return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t sparrow_get_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) {
    v = (v << 8) | p[i];
  }
  return v;
}
static inline uint64_t sparrow_get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) {
    v = (v << 8) | p[i];
  }
  return v;
}

// CRC-32 (IEEE 802.3, reflected, as zlib's crc32): crc = sparrow_proto_crc32(0, data, len).
uint32_t sparrow_proto_crc32(uint32_t crc, const uint8_t *data, size_t len);

// Writes a complete frame (header, payload, CRC) into out. Returns the frame's length, or 0 when
// length exceeds SPARROW_PROTO_MAX_PAYLOAD or cap is too small. payload may alias out + 16.
size_t sparrow_proto_encode(uint8_t kind, uint16_t status, uint32_t seq, const uint8_t *payload,
                            uint32_t length, uint8_t *out, size_t cap);

// Checks the first SPARROW_PROTO_HEADER_BYTES of a frame: magic, version, length bound.
// Returns kSparrowRcOk, kSparrowRcBadMagic, kSparrowRcBadVersion or kSparrowRcBadLength; fills
// *header whenever the magic is right (so a bad version can still be answered with the right seq).
// Checked in the order magic, length bound, version: an oversized length (the stream cannot be
// followed) outranks a bad version (the frame can still be read and answered).
sparrow_rc_t sparrow_proto_parse_header(const uint8_t *bytes, sparrow_frame_header_t *header)
    __attribute__((warn_unused_result));

// Checks a whole frame of len bytes: header as above, len == 16 + length + 4, CRC, in that order
// (len < 16 is kSparrowRcBadLength). On success *payload points into frame (payload may be NULL).
sparrow_rc_t sparrow_proto_decode(const uint8_t *frame, size_t len, sparrow_frame_header_t *header,
                                  const uint8_t **payload) __attribute__((warn_unused_result));

void sparrow_proto_hello_encode(const sparrow_hello_t *hello,
                                uint8_t out[SPARROW_PROTO_HELLO_BYTES]);
// Decoding always leaves config NUL-terminated (its 8th byte is forced to 0).
void sparrow_proto_hello_decode(const uint8_t in[SPARROW_PROTO_HELLO_BYTES],
                                sparrow_hello_t *hello);

// Names for messages: "HELLO", "BAD_CRC", ...; "?" for unknown values.
const char *sparrow_proto_cmd_name(uint8_t cmd);
const char *sparrow_proto_rc_name(uint16_t rc);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SPARROW_FIRMWARE_PROTO_SPARROW_PROTO_H_
