// SPDX-License-Identifier: Apache-2.0
//
// libsparrow: device API over the wire protocol (docs/driver.md, docs/protocol.md).
//
// Each call is one or more request/response exchanges. An exchange sends a frame with a fresh
// sequence number and reads exactly one response: the 16-byte header, then payload and CRC, all
// before one deadline (the device's timeout). A response that is not a well-formed answer to that
// request (bad header or CRC, wrong kind or sequence number, wrong payload size), and any transport
// failure or timeout, leave the byte stream in an unknown state: the connection is then marked
// broken and every later call fails at once with the first failure's status and message.

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/proto/sparrow_proto.h"
#include "../include/sparrow.h"
#include "devmem.h"
#include "sparrow_internal.h"
#include "transport.h"
#include "uri.h"

enum {
  kDefaultTimeoutMs = 30000,
  kDevmemAlign = 64,
  kMemWriteHeader = 8,  // u64 address before the bytes
  kProgLoadHeader = 8,  // u32 first entry, u32 0
  kCountersFixed = 40,  // cycles, dram_rd, dram_wr, macs, units, 0
  kWaitPayload = 16,
  kStatusPayload = 16,
};

struct sparrow_dev {
  sparrow_transport_t *transport;
  uint32_t timeout_ms;
  uint32_t seq;
  sparrow_status_t broken;  // SPARROW_OK while the connection is usable
  sparrow_info_t info;
  sparrow_devmem_t *mem;
  uint8_t *tx;  // SPARROW_PROTO_MAX_FRAME bytes each
  uint8_t *rx;
  char error[SPARROW_MSG_BYTES];
  char broken_msg[SPARROW_MSG_BYTES];
  // The field-by-field sum of the counters of every launch sparrow_run completed since
  // sparrow_open (sparrow_totals): host-side, so RESET and the device's own clearing at each
  // launch do not touch it.
  sparrow_counters_t totals;
};

static sparrow_status_t fail(sparrow_dev_t *dev, sparrow_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sparrow_status_t fail(sparrow_dev_t *dev, sparrow_status_t status, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(dev->error, sizeof dev->error, fmt, args);
  va_end(args);
  return status;
}

// Marks the connection unusable; later calls report this failure.
static sparrow_status_t break_connection(sparrow_dev_t *dev, sparrow_status_t status) {
  if (dev->broken == SPARROW_OK) {
    dev->broken = status;
    snprintf(dev->broken_msg, sizeof dev->broken_msg, "%s", dev->error);
  }
  return status;
}

static sparrow_status_t check_usable(sparrow_dev_t *dev) {
  if (dev->broken == SPARROW_OK) {
    return SPARROW_OK;
  }
  return fail(dev, dev->broken, "connection unusable after an earlier error: %s", dev->broken_msg);
}

const char *sparrow_status_name(sparrow_status_t status) {
  switch (status) {
    case SPARROW_OK:
      return "SPARROW_OK";
    case SPARROW_E_ARG:
      return "SPARROW_E_ARG";
    case SPARROW_E_NOMEM:
      return "SPARROW_E_NOMEM";
    case SPARROW_E_DEVMEM:
      return "SPARROW_E_DEVMEM";
    case SPARROW_E_CONNECT:
      return "SPARROW_E_CONNECT";
    case SPARROW_E_IO:
      return "SPARROW_E_IO";
    case SPARROW_E_CLOSED:
      return "SPARROW_E_CLOSED";
    case SPARROW_E_TIMEOUT:
      return "SPARROW_E_TIMEOUT";
    case SPARROW_E_PROTOCOL:
      return "SPARROW_E_PROTOCOL";
    case SPARROW_E_DEVICE:
      return "SPARROW_E_DEVICE";
    case SPARROW_E_FABRIC:
      return "SPARROW_E_FABRIC";
    case SPARROW_E_FP:
      return "SPARROW_E_FP";
  }
  return "SPARROW_E_?";
}

const char *sparrow_last_error(const sparrow_dev_t *dev) {
  if (dev == NULL) {
    return "no device";
  }
  return dev->error;
}

const char *sparrow_describe(const sparrow_dev_t *dev) {
  if (dev == NULL) {
    return "no device";
  }
  return dev->transport->describe(dev->transport);
}

void sparrow_set_timeout(sparrow_dev_t *dev, uint32_t timeout_ms) {
  if (dev == NULL) {
    return;
  }
  dev->timeout_ms = timeout_ms == 0 ? 1 : timeout_ms;
}

// The status a device's nonzero result code maps to (docs/driver.md).
static sparrow_status_t status_of_rc(uint16_t rc) {
  switch (rc) {
    case kSparrowRcBadAddress:
      return SPARROW_E_DEVMEM;
    case kSparrowRcTimeout:
      return SPARROW_E_TIMEOUT;
    case kSparrowRcFabricError:
      return SPARROW_E_FABRIC;
    default:
      return SPARROW_E_DEVICE;
  }
}

// Turns a device's error response into "<CMD>: <RC_NAME>: <reason>".
static sparrow_status_t device_error(sparrow_dev_t *dev, uint8_t cmd, uint16_t rc,
                                     const uint8_t *reason, uint32_t len) {
  char text[SPARROW_PROTO_MAX_REASON + 1];
  for (uint32_t i = 0; i < len; i++) {
    // One line, printable: the reason is untrusted bytes.
    text[i] = reason[i] < 0x20 || reason[i] == 0x7f ? '?' : (char)reason[i];
  }
  text[len] = '\0';
  sparrow_status_t status = fail(dev, status_of_rc(rc), "%s: %s: %s", sparrow_proto_cmd_name(cmd),
                                 sparrow_proto_rc_name(rc), len > 0 ? text : "(no reason given)");
  if (rc == kSparrowRcBadMagic) {
    // The device closes the connection after this one (docs/protocol.md). (Its other closing
    // answer, BAD_LENGTH for an oversized payload, cannot happen: the encoder refuses those.)
    break_connection(dev, SPARROW_E_CLOSED);
  }
  return status;
}

// Sends the request whose payload (len bytes) is already at dev->tx + 16 and reads its response.
// Returns SPARROW_OK when a well-formed response arrived, whatever its result code (*rc); the
// response payload is then at *rsp (*rsp_len bytes, inside dev->rx).
static sparrow_status_t exchange(sparrow_dev_t *dev, uint8_t cmd, uint32_t len, uint16_t *rc,
                                 const uint8_t **rsp, uint32_t *rsp_len) {
  sparrow_status_t status = check_usable(dev);
  if (status != SPARROW_OK) {
    return status;
  }
  const char *name = sparrow_proto_cmd_name(cmd);
  uint32_t seq = dev->seq++;
  if (dev->seq == 0) {
    dev->seq = 1;  // 0 is what a device uses when it could not read a sequence number
  }
  size_t frame_len = sparrow_proto_encode(cmd, 0, seq, dev->tx + SPARROW_PROTO_HEADER_BYTES, len,
                                          dev->tx, SPARROW_PROTO_MAX_FRAME);
  if (frame_len == 0) {
    return fail(dev, SPARROW_E_ARG, "%s: request payload of %" PRIu32 " bytes too long", name, len);
  }
  int64_t deadline = sparrow_now_ms() + dev->timeout_ms;
  char why[SPARROW_MSG_BYTES] = "";
  size_t moved = 0;
  status = dev->transport->send_all(dev->transport, dev->tx, frame_len, deadline, &moved, why,
                                    sizeof why);
  if (status == SPARROW_E_TIMEOUT) {
    fail(dev, status, "%s: request not accepted within %" PRIu32 " ms (%zu of %zu bytes sent)",
         name, dev->timeout_ms, moved, frame_len);
    return break_connection(dev, status);
  }
  if (status != SPARROW_OK) {
    fail(dev, status, "%s: sending the request (%zu of %zu bytes): %s", name, moved, frame_len,
         why);
    return break_connection(dev, status);
  }

  status = dev->transport->recv_exact(dev->transport, dev->rx, SPARROW_PROTO_HEADER_BYTES, deadline,
                                      &moved, why, sizeof why);
  if (status == SPARROW_E_TIMEOUT) {
    fail(dev, status, "%s: no response within %" PRIu32 " ms (%zu of %u header bytes)", name,
         dev->timeout_ms, moved, SPARROW_PROTO_HEADER_BYTES);
    return break_connection(dev, status);
  }
  if (status != SPARROW_OK) {
    fail(dev, status, "%s: reading the response header (%zu of %u bytes): %s", name, moved,
         SPARROW_PROTO_HEADER_BYTES, why);
    return break_connection(dev, status);
  }
  sparrow_frame_header_t header;
  sparrow_rc_t hrc = sparrow_proto_parse_header(dev->rx, &header);
  if (hrc != kSparrowRcOk) {
    fail(dev, SPARROW_E_PROTOCOL, "%s: malformed response header (%s)", name,
         sparrow_proto_rc_name(hrc));
    return break_connection(dev, SPARROW_E_PROTOCOL);
  }
  size_t rest = (size_t)header.length + SPARROW_PROTO_CRC_BYTES;
  status = dev->transport->recv_exact(dev->transport, dev->rx + SPARROW_PROTO_HEADER_BYTES, rest,
                                      deadline, &moved, why, sizeof why);
  if (status == SPARROW_E_TIMEOUT) {
    fail(dev, status,
         "%s: response incomplete after %" PRIu32
         " ms (%zu of %zu bytes after the "
         "header)",
         name, dev->timeout_ms, moved, rest);
    return break_connection(dev, status);
  }
  if (status != SPARROW_OK) {
    fail(dev, status, "%s: reading the response payload (%zu of %zu bytes): %s", name, moved, rest,
         why);
    return break_connection(dev, status);
  }
  const uint8_t *payload = NULL;
  hrc = sparrow_proto_decode(dev->rx, SPARROW_PROTO_HEADER_BYTES + rest, &header, &payload);
  if (hrc != kSparrowRcOk) {
    fail(dev, SPARROW_E_PROTOCOL, "%s: malformed response (%s)", name, sparrow_proto_rc_name(hrc));
    return break_connection(dev, SPARROW_E_PROTOCOL);
  }
  if (header.kind != (cmd | SPARROW_PROTO_RESPONSE_BIT)) {
    fail(dev, SPARROW_E_PROTOCOL, "%s: response kind 0x%02x, expected 0x%02x", name, header.kind,
         (unsigned)(cmd | SPARROW_PROTO_RESPONSE_BIT));
    return break_connection(dev, SPARROW_E_PROTOCOL);
  }
  if (header.seq != seq) {
    fail(dev, SPARROW_E_PROTOCOL, "%s: response sequence number %" PRIu32 ", expected %" PRIu32,
         name, header.seq, seq);
    return break_connection(dev, SPARROW_E_PROTOCOL);
  }
  if (header.status != kSparrowRcOk && header.length > SPARROW_PROTO_MAX_REASON) {
    fail(dev, SPARROW_E_PROTOCOL, "%s: error response (%s) with a %" PRIu32 "-byte reason (max %u)",
         name, sparrow_proto_rc_name(header.status), header.length, SPARROW_PROTO_MAX_REASON);
    return break_connection(dev, SPARROW_E_PROTOCOL);
  }
  *rc = header.status;
  *rsp = payload;
  *rsp_len = header.length;
  return SPARROW_OK;
}

// An exchange whose only acceptable answer is OK with exactly want bytes of payload.
static sparrow_status_t command(sparrow_dev_t *dev, uint8_t cmd, uint32_t len, uint32_t want,
                                const uint8_t **rsp) {
  uint16_t rc = 0;
  const uint8_t *payload = NULL;
  uint32_t got = 0;
  sparrow_status_t status = exchange(dev, cmd, len, &rc, &payload, &got);
  if (status != SPARROW_OK) {
    return status;
  }
  if (rc != kSparrowRcOk) {
    return device_error(dev, cmd, rc, payload, got);
  }
  if (got != want) {
    fail(dev, SPARROW_E_PROTOCOL, "%s: response payload of %" PRIu32 " bytes, expected %" PRIu32,
         sparrow_proto_cmd_name(cmd), got, want);
    return break_connection(dev, SPARROW_E_PROTOCOL);
  }
  if (rsp != NULL) {
    *rsp = payload;
  }
  return SPARROW_OK;
}

static uint8_t *request_payload(sparrow_dev_t *dev) {
  return dev->tx + SPARROW_PROTO_HEADER_BYTES;
}

static sparrow_status_t hello(sparrow_dev_t *dev) {
  const uint8_t *rsp = NULL;
  sparrow_status_t status = command(dev, kSparrowCmdHello, 0, SPARROW_PROTO_HELLO_BYTES, &rsp);
  if (status != SPARROW_OK) {
    return status;
  }
  sparrow_hello_t h;
  sparrow_proto_hello_decode(rsp, &h);
  if (h.proto_version != SPARROW_PROTO_VERSION) {
    fail(dev, SPARROW_E_PROTOCOL,
         "HELLO: device speaks protocol version %" PRIu32 ", this driver %u", h.proto_version,
         SPARROW_PROTO_VERSION);
    return break_connection(dev, SPARROW_E_PROTOCOL);
  }
  if (h.max_payload < SPARROW_PROTO_HELLO_BYTES || h.max_payload > SPARROW_PROTO_MAX_PAYLOAD ||
      h.dram_bytes == 0 || h.tiles == 0 || h.lanes == 0) {
    fail(dev, SPARROW_E_PROTOCOL,
         "HELLO: implausible device description (max_payload %" PRIu32 ", dram_bytes %" PRIu64
         ", tiles %" PRIu32 ", lanes %" PRIu32 ")",
         h.max_payload, h.dram_bytes, h.tiles, h.lanes);
    return break_connection(dev, SPARROW_E_PROTOCOL);
  }
  sparrow_info_t *info = &dev->info;
  memset(info, 0, sizeof *info);
  memcpy(info->config, h.config, sizeof info->config);
  info->config[sizeof info->config - 1] = '\0';
  info->fabric = h.fabric == 0 ? "rtl" : h.fabric == 1 ? "model" : "?";
  info->hw_version = h.hw_version;
  info->fw_version = h.fw_version;
  info->proto_version = h.proto_version;
  info->tiles = h.tiles;
  info->lanes = h.lanes;
  info->pmu_words = h.pmu_words;
  info->agcu_outstanding = h.agcu_outstanding;
  info->prog_entries = h.prog_entries;
  info->dram_bw = h.dram_bw;
  info->dram_latency = h.dram_latency;
  info->max_payload = h.max_payload;
  info->dram_bytes = h.dram_bytes;
  info->peak_macs_per_cycle = (uint64_t)h.tiles * h.lanes * h.lanes;
  return SPARROW_OK;
}

void sparrow_close(sparrow_dev_t *dev) {
  if (dev == NULL) {
    return;
  }
  if (dev->transport != NULL) {
    dev->transport->close(dev->transport);
  }
  sparrow_devmem_destroy(dev->mem);
  free(dev->tx);
  free(dev->rx);
  free(dev);
}

sparrow_status_t sparrow_open_transport(sparrow_transport_t *transport, uint32_t timeout_ms,
                                        sparrow_dev_t **out, char *msg, size_t msg_len) {
  *out = NULL;
  sparrow_dev_t *dev = calloc(1, sizeof *dev);
  if (dev == NULL) {
    transport->close(transport);
    return sparrow_msgf(SPARROW_E_NOMEM, msg, msg_len, "out of host memory");
  }
  dev->transport = transport;
  dev->seq = 1;
  sparrow_set_timeout(dev, timeout_ms);
  dev->tx = malloc(SPARROW_PROTO_MAX_FRAME);
  dev->rx = malloc(SPARROW_PROTO_MAX_FRAME);
  if (dev->tx == NULL || dev->rx == NULL) {
    sparrow_close(dev);
    return sparrow_msgf(SPARROW_E_NOMEM, msg, msg_len, "out of host memory");
  }
  sparrow_status_t status = hello(dev);
  if (status == SPARROW_OK) {
    status = sparrow_devmem_create(dev->info.dram_bytes, kDevmemAlign, &dev->mem);
    if (status != SPARROW_OK) {
      fail(dev, status, "out of host memory");
    }
  }
  if (status != SPARROW_OK) {
    sparrow_msgf(status, msg, msg_len, "%s: %s", transport->describe(transport), dev->error);
    sparrow_close(dev);
    return status;
  }
  *out = dev;
  return SPARROW_OK;
}

sparrow_status_t sparrow_open(const char *uri, sparrow_dev_t **dev, char *msg, size_t msg_len) {
  if (dev == NULL) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "sparrow_open: dev is NULL");
  }
  *dev = NULL;
  sparrow_uri_t parsed;
  sparrow_status_t status = sparrow_uri_parse(uri, &parsed, msg, msg_len);
  if (status != SPARROW_OK) {
    return status;
  }
  int64_t deadline = sparrow_now_ms() + kDefaultTimeoutMs;
  sparrow_transport_t *transport = NULL;
  switch (parsed.kind) {
    case kSparrowUriSim:
      status = sparrow_transport_sim_open(&parsed.sim, &transport, msg, msg_len);
      break;
    case kSparrowUriUnix:
      status = sparrow_transport_unix_open(parsed.path, deadline, &transport, msg, msg_len);
      break;
    case kSparrowUriTcp:
      status =
          sparrow_transport_tcp_open(parsed.host, parsed.port, deadline, &transport, msg, msg_len);
      break;
    case kSparrowUriUsb:
      status = sparrow_transport_usb_open(parsed.usb_vid, parsed.usb_pid, parsed.usb_serial,
                                          &transport, msg, msg_len);
      break;
  }
  if (status != SPARROW_OK) {
    return status;
  }
  return sparrow_open_transport(transport, kDefaultTimeoutMs, dev, msg, msg_len);
}

sparrow_status_t sparrow_info(sparrow_dev_t *dev, sparrow_info_t *info) {
  if (dev == NULL || info == NULL) {
    return dev == NULL ? SPARROW_E_ARG : fail(dev, SPARROW_E_ARG, "info: NULL argument");
  }
  *info = dev->info;
  return SPARROW_OK;
}

sparrow_status_t sparrow_reset(sparrow_dev_t *dev) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  return command(dev, kSparrowCmdReset, 0, 0, NULL);
}

sparrow_status_t sparrow_alloc(sparrow_dev_t *dev, uint64_t bytes, uint64_t *addr) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  if (addr == NULL) {
    return fail(dev, SPARROW_E_ARG, "alloc: addr is NULL");
  }
  return sparrow_devmem_alloc(dev->mem, bytes, addr, dev->error, sizeof dev->error);
}

sparrow_status_t sparrow_free(sparrow_dev_t *dev, uint64_t addr) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  return sparrow_devmem_free(dev->mem, addr, dev->error, sizeof dev->error);
}

// Checks a transfer's arguments: non-NULL buffer, nonzero size, inside device memory.
static sparrow_status_t check_range(sparrow_dev_t *dev, const char *what, uint64_t addr,
                                    const void *buf, size_t bytes) {
  if (buf == NULL || bytes == 0) {
    return fail(dev, SPARROW_E_ARG, "%s: %s", what, buf == NULL ? "buffer is NULL" : "zero bytes");
  }
  if (addr > dev->info.dram_bytes || bytes > dev->info.dram_bytes - addr) {
    return fail(dev, SPARROW_E_DEVMEM,
                "%s: %zu bytes at 0x%" PRIx64 " run past the end of device memory (0x%" PRIx64 ")",
                what, bytes, addr, dev->info.dram_bytes);
  }
  return SPARROW_OK;
}

sparrow_status_t sparrow_write(sparrow_dev_t *dev, uint64_t addr, const void *src, size_t bytes) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  sparrow_status_t status = check_range(dev, "write", addr, src, bytes);
  if (status != SPARROW_OK) {
    return status;
  }
  const uint8_t *from = src;
  size_t chunk_max = dev->info.max_payload - kMemWriteHeader;
  for (size_t done = 0; done < bytes;) {
    size_t chunk = bytes - done < chunk_max ? bytes - done : chunk_max;
    uint8_t *p = request_payload(dev);
    sparrow_put_u64(p, addr + done);
    memcpy(p + kMemWriteHeader, from + done, chunk);
    status = command(dev, kSparrowCmdMemWrite, (uint32_t)(kMemWriteHeader + chunk), 0, NULL);
    if (status != SPARROW_OK) {
      return status;
    }
    done += chunk;
  }
  return SPARROW_OK;
}

sparrow_status_t sparrow_read(sparrow_dev_t *dev, uint64_t addr, void *dst, size_t bytes) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  sparrow_status_t status = check_range(dev, "read", addr, dst, bytes);
  if (status != SPARROW_OK) {
    return status;
  }
  uint8_t *to = dst;
  size_t chunk_max = dev->info.max_payload;
  for (size_t done = 0; done < bytes;) {
    size_t chunk = bytes - done < chunk_max ? bytes - done : chunk_max;
    uint8_t *p = request_payload(dev);
    sparrow_put_u64(p, addr + done);
    sparrow_put_u32(p + 8, (uint32_t)chunk);
    const uint8_t *rsp = NULL;
    status = command(dev, kSparrowCmdMemRead, 12, (uint32_t)chunk, &rsp);
    if (status != SPARROW_OK) {
      return status;
    }
    memcpy(to + done, rsp, chunk);
    done += chunk;
  }
  return SPARROW_OK;
}

sparrow_status_t sparrow_load_program(sparrow_dev_t *dev, const uint64_t *entries, size_t count) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  if (entries == NULL || count == 0) {
    return fail(dev, SPARROW_E_ARG, "load_program: %s",
                entries == NULL ? "entries is NULL" : "empty program");
  }
  if (count > dev->info.prog_entries) {
    return fail(dev, SPARROW_E_ARG, "load_program: %zu entries, the device holds %" PRIu32, count,
                dev->info.prog_entries);
  }
  size_t per_frame = (dev->info.max_payload - kProgLoadHeader) / 8;
  for (size_t done = 0; done < count;) {
    size_t n = count - done < per_frame ? count - done : per_frame;
    uint8_t *p = request_payload(dev);
    sparrow_put_u32(p, (uint32_t)done);
    sparrow_put_u32(p + 4, 0);
    for (size_t i = 0; i < n; i++) {
      sparrow_put_u64(p + kProgLoadHeader + 8 * i, entries[done + i]);
    }
    sparrow_status_t status =
        command(dev, kSparrowCmdProgLoad, (uint32_t)(kProgLoadHeader + 8 * n), 0, NULL);
    if (status != SPARROW_OK) {
      return status;
    }
    done += n;
  }
  return SPARROW_OK;
}

sparrow_status_t sparrow_launch(sparrow_dev_t *dev, uint32_t watchdog_cycles) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  sparrow_put_u32(request_payload(dev), watchdog_cycles);
  return command(dev, kSparrowCmdLaunch, 4, 0, NULL);
}

sparrow_status_t sparrow_wait(sparrow_dev_t *dev, uint32_t timeout_ms, uint32_t *fp_status) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  // The device waits a slice of fabric cycles per WAIT; the slice adapts so that one exchange takes
  // roughly 20..200 ms of wall time, which bounds how far a wait overshoots timeout_ms.
  int64_t start = sparrow_now_ms();
  int64_t deadline = start + timeout_ms;
  uint64_t slice = SPARROW_WAIT_SLICE_FIRST;
  uint64_t waited = 0;
  for (;;) {
    sparrow_put_u64(request_payload(dev), slice);
    int64_t t0 = sparrow_now_ms();
    uint16_t rc = 0;
    const uint8_t *rsp = NULL;
    uint32_t len = 0;
    sparrow_status_t status = exchange(dev, kSparrowCmdWait, 8, &rc, &rsp, &len);
    if (status != SPARROW_OK) {
      return status;
    }
    int64_t now = sparrow_now_ms();
    if (rc == kSparrowRcOk) {
      if (len != kWaitPayload) {
        fail(dev, SPARROW_E_PROTOCOL, "WAIT: response payload of %" PRIu32 " bytes, expected %d",
             len, kWaitPayload);
        return break_connection(dev, SPARROW_E_PROTOCOL);
      }
      if (fp_status != NULL) {
        *fp_status = sparrow_get_u32(rsp + 4);
      }
      return SPARROW_OK;
    }
    if (rc != kSparrowRcTimeout) {
      return device_error(dev, kSparrowCmdWait, rc, rsp, len);
    }
    waited += slice;
    if (now >= deadline) {
      return fail(dev, SPARROW_E_TIMEOUT,
                  "WAIT: launch not done after %" PRId64 " ms (%" PRIu64 " fabric cycles waited)",
                  now - start, waited);
    }
    int64_t took = now - t0;
    if (took < 20) {
      slice = slice * 4 < SPARROW_WAIT_SLICE_MAX ? slice * 4 : SPARROW_WAIT_SLICE_MAX;
    } else if (took > 200) {
      slice = slice / 2 > SPARROW_WAIT_SLICE_MIN ? slice / 2 : SPARROW_WAIT_SLICE_MIN;
    }
  }
}

sparrow_status_t sparrow_counters(sparrow_dev_t *dev, sparrow_counters_t *counters) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  if (counters == NULL) {
    return fail(dev, SPARROW_E_ARG, "counters: NULL argument");
  }
  uint16_t rc = 0;
  const uint8_t *rsp = NULL;
  uint32_t len = 0;
  sparrow_status_t status = exchange(dev, kSparrowCmdCounters, 0, &rc, &rsp, &len);
  if (status != SPARROW_OK) {
    return status;
  }
  if (rc != kSparrowRcOk) {
    return device_error(dev, kSparrowCmdCounters, rc, rsp, len);
  }
  uint32_t units = len >= kCountersFixed ? sparrow_get_u32(rsp + 32) : 0;
  if (len < kCountersFixed || units > SPARROW_MAX_UNITS || len != kCountersFixed + 16 * units) {
    fail(dev, SPARROW_E_PROTOCOL,
         "COUNTERS: response payload of %" PRIu32 " bytes for %" PRIu32 " units (max %d)", len,
         units, SPARROW_MAX_UNITS);
    return break_connection(dev, SPARROW_E_PROTOCOL);
  }
  memset(counters, 0, sizeof *counters);
  counters->cycles = sparrow_get_u64(rsp);
  counters->dram_rd_bytes = sparrow_get_u64(rsp + 8);
  counters->dram_wr_bytes = sparrow_get_u64(rsp + 16);
  counters->macs = sparrow_get_u64(rsp + 24);
  counters->units = units;
  for (uint32_t u = 0; u < units; u++) {
    counters->busy[u] = sparrow_get_u64(rsp + kCountersFixed + 16 * u);
    counters->stall[u] = sparrow_get_u64(rsp + kCountersFixed + 16 * u + 8);
  }
  return SPARROW_OK;
}

sparrow_status_t sparrow_query_status(sparrow_dev_t *dev, sparrow_device_state_t *state) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  if (state == NULL) {
    return fail(dev, SPARROW_E_ARG, "status: NULL argument");
  }
  const uint8_t *rsp = NULL;
  sparrow_status_t status = command(dev, kSparrowCmdStatus, 0, kStatusPayload, &rsp);
  if (status != SPARROW_OK) {
    return status;
  }
  state->status = sparrow_get_u32(rsp);
  state->fp_status = sparrow_get_u32(rsp + 4);
  state->error_code = sparrow_get_u32(rsp + 8);
  state->error_entry = sparrow_get_u32(rsp + 12);
  return SPARROW_OK;
}

// Adds one launch's counters to the handle's totals (the only place they grow).
static void add_to_totals(sparrow_dev_t *dev, const sparrow_counters_t *c) {
  sparrow_counters_t *t = &dev->totals;
  t->cycles += c->cycles;
  t->dram_rd_bytes += c->dram_rd_bytes;
  t->dram_wr_bytes += c->dram_wr_bytes;
  t->macs += c->macs;
  if (c->units > t->units) {
    t->units = c->units;
  }
  for (uint32_t u = 0; u < c->units; u++) {
    t->busy[u] += c->busy[u];
    t->stall[u] += c->stall[u];
  }
}

sparrow_status_t sparrow_run(sparrow_dev_t *dev, const uint64_t *entries, size_t count,
                             uint32_t timeout_ms, sparrow_counters_t *counters,
                             uint32_t *fp_status) {
  sparrow_status_t status = sparrow_load_program(dev, entries, count);
  if (status == SPARROW_OK) {
    status = sparrow_launch(dev, SPARROW_RUN_WATCHDOG_CYCLES);
  }
  if (status == SPARROW_OK) {
    status = sparrow_wait(dev, timeout_ms, fp_status);
  }
  // The counters are read even when the caller does not want them: the totals need every launch.
  sparrow_counters_t local;
  sparrow_counters_t *c = counters != NULL ? counters : &local;
  if (status == SPARROW_OK) {
    status = sparrow_counters(dev, c);
  }
  if (status == SPARROW_OK) {
    add_to_totals(dev, c);
  }
  return status;
}

sparrow_status_t sparrow_totals(sparrow_dev_t *dev, sparrow_counters_t *out) {
  if (dev == NULL) {
    return SPARROW_E_ARG;
  }
  if (out == NULL) {
    return fail(dev, SPARROW_E_ARG, "totals: NULL argument");
  }
  *out = dev->totals;
  return SPARROW_OK;
}
