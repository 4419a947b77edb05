// SPDX-License-Identifier: Apache-2.0
//
// The wire codec (docs/protocol.md). Freestanding: it calls nothing outside this file, so the same
// object serves the firmware (host-compiled into sparrow-sim, or bare-metal RISC-V) and the driver.

#include "sparrow_proto.h"

// CRC-32 with the reflected IEEE polynomial 0xEDB88320, four bits at a time: a 16-entry table keeps
// the code small for the bare-metal build while costing two lookups per byte.
static const uint32_t kCrcNibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t sparrow_proto_crc32(uint32_t crc, const uint8_t *data, size_t len) {
  crc = ~crc;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    crc = (crc >> 4) ^ kCrcNibble[crc & 0xFu];
    crc = (crc >> 4) ^ kCrcNibble[crc & 0xFu];
  }
  return ~crc;
}

// Overlap-safe byte copy (the payload may already sit inside the output buffer).
static void move_bytes(uint8_t *dst, const uint8_t *src, size_t n) {
  if (dst == src || n == 0) {
    return;
  }
  if (dst < src) {
    for (size_t i = 0; i < n; i++) {
      dst[i] = src[i];
    }
    return;
  }
  for (size_t i = n; i > 0; i--) {
    dst[i - 1] = src[i - 1];
  }
}

size_t sparrow_proto_encode(uint8_t kind, uint16_t status, uint32_t seq, const uint8_t *payload,
                            uint32_t length, uint8_t *out, size_t cap) {
  if (out == NULL || length > SPARROW_PROTO_MAX_PAYLOAD) {
    return 0;
  }
  if (length > 0 && payload == NULL) {
    return 0;
  }
  size_t total = (size_t)SPARROW_PROTO_HEADER_BYTES + length + SPARROW_PROTO_CRC_BYTES;
  if (cap < total) {
    return 0;
  }
  // Payload first: it may alias the header bytes' destination only at out + 16, which the header
  // writes below do not touch.
  if (length > 0) {
    move_bytes(out + SPARROW_PROTO_HEADER_BYTES, payload, length);
  }
  sparrow_put_u32(out, SPARROW_PROTO_MAGIC);
  out[4] = (uint8_t)SPARROW_PROTO_VERSION;
  out[5] = kind;
  sparrow_put_u16(out + 6, status);
  sparrow_put_u32(out + 8, seq);
  sparrow_put_u32(out + 12, length);
  size_t body = SPARROW_PROTO_HEADER_BYTES + length;
  sparrow_put_u32(out + body, sparrow_proto_crc32(0, out, body));
  return total;
}

// Checks the length bound before the version: an oversized length means the byte stream cannot be
// followed to the next frame (the connection closes), which matters more than the version.
sparrow_rc_t sparrow_proto_parse_header(const uint8_t *bytes, sparrow_frame_header_t *header) {
  if (sparrow_get_u32(bytes) != SPARROW_PROTO_MAGIC) {
    return kSparrowRcBadMagic;
  }
  header->kind = bytes[5];
  header->status = sparrow_get_u16(bytes + 6);
  header->seq = sparrow_get_u32(bytes + 8);
  header->length = sparrow_get_u32(bytes + 12);
  if (header->length > SPARROW_PROTO_MAX_PAYLOAD) {
    return kSparrowRcBadLength;
  }
  if (bytes[4] != SPARROW_PROTO_VERSION) {
    return kSparrowRcBadVersion;
  }
  return kSparrowRcOk;
}

sparrow_rc_t sparrow_proto_decode(const uint8_t *frame, size_t len, sparrow_frame_header_t *header,
                                  const uint8_t **payload) {
  if (len < SPARROW_PROTO_HEADER_BYTES) {
    return kSparrowRcBadLength;
  }
  sparrow_rc_t rc = sparrow_proto_parse_header(frame, header);
  if (rc != kSparrowRcOk) {
    return rc;
  }
  size_t body = SPARROW_PROTO_HEADER_BYTES + (size_t)header->length;
  if (len != body + SPARROW_PROTO_CRC_BYTES) {
    return kSparrowRcBadLength;
  }
  if (sparrow_get_u32(frame + body) != sparrow_proto_crc32(0, frame, body)) {
    return kSparrowRcBadCrc;
  }
  if (payload != NULL) {
    *payload = frame + SPARROW_PROTO_HEADER_BYTES;
  }
  return kSparrowRcOk;
}

void sparrow_proto_hello_encode(const sparrow_hello_t *hello,
                                uint8_t out[SPARROW_PROTO_HELLO_BYTES]) {
  sparrow_put_u32(out + 0, hello->proto_version);
  sparrow_put_u32(out + 4, hello->hw_version);
  sparrow_put_u32(out + 8, hello->fw_version);
  sparrow_put_u32(out + 12, hello->fabric);
  for (int i = 0; i < 8; i++) {
    out[16 + i] = (uint8_t)hello->config[i];
  }
  sparrow_put_u32(out + 24, hello->tiles);
  sparrow_put_u32(out + 28, hello->lanes);
  sparrow_put_u32(out + 32, hello->pmu_words);
  sparrow_put_u32(out + 36, hello->agcu_outstanding);
  sparrow_put_u32(out + 40, hello->prog_entries);
  sparrow_put_u32(out + 44, hello->dram_bw);
  sparrow_put_u32(out + 48, hello->dram_latency);
  sparrow_put_u32(out + 52, hello->max_payload);
  sparrow_put_u64(out + 56, hello->dram_bytes);
}

void sparrow_proto_hello_decode(const uint8_t in[SPARROW_PROTO_HELLO_BYTES],
                                sparrow_hello_t *hello) {
  hello->proto_version = sparrow_get_u32(in + 0);
  hello->hw_version = sparrow_get_u32(in + 4);
  hello->fw_version = sparrow_get_u32(in + 8);
  hello->fabric = sparrow_get_u32(in + 12);
  for (int i = 0; i < 8; i++) {
    hello->config[i] = (char)in[16 + i];
  }
  // The name is used as a C string by callers: a device that filled all 8 bytes still yields one.
  hello->config[7] = '\0';
  hello->tiles = sparrow_get_u32(in + 24);
  hello->lanes = sparrow_get_u32(in + 28);
  hello->pmu_words = sparrow_get_u32(in + 32);
  hello->agcu_outstanding = sparrow_get_u32(in + 36);
  hello->prog_entries = sparrow_get_u32(in + 40);
  hello->dram_bw = sparrow_get_u32(in + 44);
  hello->dram_latency = sparrow_get_u32(in + 48);
  hello->max_payload = sparrow_get_u32(in + 52);
  hello->dram_bytes = sparrow_get_u64(in + 56);
}

const char *sparrow_proto_cmd_name(uint8_t cmd) {
  switch (cmd) {
    case kSparrowCmdHello:
      return "HELLO";
    case kSparrowCmdReset:
      return "RESET";
    case kSparrowCmdMemWrite:
      return "MEM_WRITE";
    case kSparrowCmdMemRead:
      return "MEM_READ";
    case kSparrowCmdProgLoad:
      return "PROG_LOAD";
    case kSparrowCmdLaunch:
      return "LAUNCH";
    case kSparrowCmdWait:
      return "WAIT";
    case kSparrowCmdCounters:
      return "COUNTERS";
    case kSparrowCmdStatus:
      return "STATUS";
    default:
      return "?";
  }
}

const char *sparrow_proto_rc_name(uint16_t rc) {
  switch (rc) {
    case kSparrowRcOk:
      return "OK";
    case kSparrowRcBadMagic:
      return "BAD_MAGIC";
    case kSparrowRcBadVersion:
      return "BAD_VERSION";
    case kSparrowRcBadCrc:
      return "BAD_CRC";
    case kSparrowRcBadLength:
      return "BAD_LENGTH";
    case kSparrowRcUnknownCommand:
      return "UNKNOWN_COMMAND";
    case kSparrowRcBadAddress:
      return "BAD_ADDRESS";
    case kSparrowRcBadProgram:
      return "BAD_PROGRAM";
    case kSparrowRcBusy:
      return "BUSY";
    case kSparrowRcTimeout:
      return "TIMEOUT";
    case kSparrowRcFabricError:
      return "FABRIC_ERROR";
    case kSparrowRcNotLaunched:
      return "NOT_LAUNCHED";
    case kSparrowRcBadArgument:
      return "BAD_ARGUMENT";
    default:
      return "?";
  }
}
