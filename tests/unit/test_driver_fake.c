// SPDX-License-Identifier: Apache-2.0
//
// The fake device of libsparrow's tests (test_driver_fake.h).

#include "test_driver_fake.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../driver/src/sparrow_internal.h"
#include "../../driver/src/transport.h"
#include "../../firmware/proto/sparrow_proto.h"

// Blocking exact read; returns 0 on EOF or error.
static int read_exact(int fd, uint8_t *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return 0;
    }
    got += (size_t)n;
  }
  return 1;
}

static void write_all(int fd, const uint8_t *buf, size_t len) {
  size_t sent = 0;
  while (sent < len) {
    ssize_t n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // the driver went away: nothing to do
    }
    sent += (size_t)n;
  }
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

// Builds the normal answer to a request into rsp (payload) and returns its result code.
static uint16_t handle(fake_device_t *f, uint8_t cmd, const uint8_t *req, uint32_t len,
                       uint8_t *rsp, uint32_t *rsp_len) {
  *rsp_len = 0;
  const char *reason = NULL;
  uint16_t rc = kSparrowRcOk;
  switch (cmd) {
    case kSparrowCmdHello: {
      sparrow_hello_t h = {
          .proto_version = f->cfg.proto_version,
          .hw_version = 0x00010000,
          .fw_version = 0x00000102,
          .fabric = 1,
          .config = "S",
          .tiles = 2,
          .lanes = 4,
          .pmu_words = 4096,
          .agcu_outstanding = 128,
          .prog_entries = kFakeProgEntries,
          .dram_bw = 64,
          .dram_latency = 100,
          .max_payload = f->cfg.max_payload,
          .dram_bytes = f->cfg.dram_bytes,
      };
      sparrow_proto_hello_encode(&h, rsp);
      *rsp_len = SPARROW_PROTO_HELLO_BYTES;
      break;
    }
    case kSparrowCmdReset:
      f->launched = 0;
      break;
    case kSparrowCmdMemWrite: {
      uint64_t addr = sparrow_get_u64(req);
      uint32_t n = len - 8;
      if (len < 9 || addr > f->cfg.dram_bytes || n > f->cfg.dram_bytes - addr) {
        rc = kSparrowRcBadAddress;
        reason = "MEM_WRITE: range outside DRAM";
        break;
      }
      memcpy(f->dram + addr, req + 8, n);
      if (f->mem_writes < kFakeMaxRecords) {
        f->mem_write_bytes[f->mem_writes] = n;
      }
      f->mem_writes++;
      break;
    }
    case kSparrowCmdMemRead: {
      uint64_t addr = sparrow_get_u64(req);
      uint32_t n = sparrow_get_u32(req + 8);
      if (n == 0 || n > f->cfg.max_payload) {
        rc = kSparrowRcBadArgument;
        reason = "MEM_READ: bad length";
      } else if (addr > f->cfg.dram_bytes || n > f->cfg.dram_bytes - addr) {
        rc = kSparrowRcBadAddress;
        reason = "MEM_READ: range outside DRAM";
      } else {
        memcpy(rsp, f->dram + addr, n);
        *rsp_len = n;
      }
      break;
    }
    case kSparrowCmdProgLoad: {
      uint32_t first = sparrow_get_u32(req);
      uint32_t n = (len - 8) / 8;
      if (first + n > kFakeProgEntries) {
        rc = kSparrowRcBadProgram;
        reason = "PROG_LOAD: past the end of program memory";
        break;
      }
      for (uint32_t i = 0; i < n; i++) {
        f->prog[first + i] = sparrow_get_u64(req + 8 + 8 * i);
      }
      if (first + n > f->prog_count) {
        f->prog_count = first + n;
      }
      f->prog_loads++;
      break;
    }
    case kSparrowCmdLaunch:
      f->last_watchdog = sparrow_get_u32(req);
      f->launched = 1;
      f->launches++;
      break;
    case kSparrowCmdWait:
      f->waits++;
      f->last_wait_cycles = sparrow_get_u64(req);
      if (!f->launched) {
        rc = kSparrowRcNotLaunched;
        reason = "WAIT: nothing launched";
      } else if (f->cfg.wait_timeouts < 0 || f->waits <= f->cfg.wait_timeouts) {
        rc = kSparrowRcTimeout;
        reason = "WAIT: not done yet";
      } else if (f->cfg.wait_fabric_error) {
        rc = kSparrowRcFabricError;
        reason = "WAIT: launch failed: bad_unit at entry 3";
      } else {
        sparrow_put_u32(rsp, 2);        // status.done
        sparrow_put_u32(rsp + 4, 0x5);  // fp_status
        sparrow_put_u64(rsp + 8, 1234);
        *rsp_len = 16;
      }
      break;
    case kSparrowCmdCounters: {
      // The n-th launch's counters are n times the first's, so that launches differ (the driver's
      // totals sum them).
      uint64_t n = f->launches > 1 ? (uint64_t)f->launches : 1;
      sparrow_put_u64(rsp, 1000 * n);
      sparrow_put_u64(rsp + 8, 4096 * n);
      sparrow_put_u64(rsp + 16, 2048 * n);
      sparrow_put_u64(rsp + 24, 32000 * n);
      sparrow_put_u32(rsp + 32, f->cfg.units);
      sparrow_put_u32(rsp + 36, 0);
      for (uint32_t u = 0; u < f->cfg.units; u++) {
        sparrow_put_u64(rsp + 40 + 16 * u, (100 + u) * n);
        sparrow_put_u64(rsp + 48 + 16 * u, (200 + u) * n);
      }
      *rsp_len = 40 + 16 * f->cfg.units;
      break;
    }
    case kSparrowCmdStatus:
      sparrow_put_u32(rsp, 2);
      sparrow_put_u32(rsp + 4, 0x10);
      sparrow_put_u32(rsp + 8, 0);
      sparrow_put_u32(rsp + 12, 0);
      *rsp_len = 16;
      break;
    default:
      rc = kSparrowRcUnknownCommand;
      reason = "unknown command";
      break;
  }
  if (reason != NULL) {
    *rsp_len = (uint32_t)strlen(reason);
    memcpy(rsp, reason, *rsp_len);
  }
  return rc;
}

void fake_serve(fake_device_t *f) {
  uint8_t *in = malloc(SPARROW_PROTO_MAX_FRAME);
  uint8_t *payload = malloc(SPARROW_PROTO_MAX_PAYLOAD + 512);
  uint8_t *out = malloc(SPARROW_PROTO_MAX_FRAME + 512);
  int faulted = 0;
  for (;;) {
    if (!read_exact(f->fd, in, SPARROW_PROTO_HEADER_BYTES)) {
      break;
    }
    sparrow_frame_header_t h;
    if (sparrow_proto_parse_header(in, &h) != kSparrowRcOk ||
        !read_exact(f->fd, in + SPARROW_PROTO_HEADER_BYTES, h.length + SPARROW_PROTO_CRC_BYTES)) {
      break;
    }
    const uint8_t *req = NULL;
    if (sparrow_proto_decode(in, SPARROW_PROTO_HEADER_BYTES + h.length + SPARROW_PROTO_CRC_BYTES,
                             &h, &req) != kSparrowRcOk) {
      break;  // the driver never sends a bad frame: stop, and the test sees it
    }
    int index = f->requests++;
    if (h.length > f->largest_request_payload) {
      f->largest_request_payload = h.length;
    }
    uint32_t rsp_len = 0;
    uint16_t rc = handle(f, h.kind, req, h.length, payload, &rsp_len);
    int fault_now = f->cfg.fault != kFaultNone &&
                    (f->cfg.fault_cmd != 0 ? (h.kind == f->cfg.fault_cmd && !faulted)
                                           : (f->cfg.fault_at < 0 || index == f->cfg.fault_at));
    fake_fault_t fault = fault_now ? f->cfg.fault : kFaultNone;
    if (fault_now) {
      faulted = 1;
    }
    uint8_t kind = h.kind | SPARROW_PROTO_RESPONSE_BIT;
    uint32_t seq = h.seq;
    switch (fault) {
      case kFaultWrongSeq:
        seq++;
        break;
      case kFaultWrongKind:
        kind = (uint8_t)(h.kind == kSparrowCmdReset ? kSparrowCmdStatus : kSparrowCmdReset) |
               SPARROW_PROTO_RESPONSE_BIT;
        break;
      case kFaultErrorReply:
        rc = f->cfg.fault_rc;
        rsp_len = (uint32_t)strlen(f->cfg.fault_reason);
        memcpy(payload, f->cfg.fault_reason, rsp_len);
        break;
      case kFaultLongReason:
        rc = kSparrowRcBadArgument;
        rsp_len = 300;
        memset(payload, 'x', rsp_len);
        break;
      case kFaultWrongSize:
        payload[rsp_len++] = 0;
        break;
      case kFaultSilent:
        continue;
      case kFaultExit:
        _exit(7);
      case kFaultKill:
        raise(SIGKILL);
        break;
      case kFaultHang:
        signal(SIGTERM, SIG_IGN);
        for (;;) {
          sleep_ms(1000);
        }
      default:
        break;
    }
    size_t n = sparrow_proto_encode(kind, rc, seq, payload, rsp_len, out, SPARROW_PROTO_MAX_FRAME);
    if (fault == kFaultBadCrc) {
      out[n - 1] ^= 0x01;
    }
    if (fault == kFaultBadMagic) {
      out[0] ^= 0xFF;
    }
    if (fault == kFaultCloseMidHeader) {
      write_all(f->fd, out, 10);
      break;
    }
    if (fault == kFaultCloseMidPayload) {
      write_all(f->fd, out, SPARROW_PROTO_HEADER_BYTES + rsp_len / 2);
      break;
    }
    write_all(f->fd, out, n);
  }
  // Leave: closing the socket is how the driver learns the device is gone.
  shutdown(f->fd, SHUT_RDWR);
  close(f->fd);
  f->fd = -1;
  free(in);
  free(payload);
  free(out);
}

static void *fake_thread(void *arg) {
  fake_device_t *f = arg;
  if (f->listen_fd >= 0) {
    struct pollfd pfd = {.fd = f->listen_fd, .events = POLLIN};
    if (poll(&pfd, 1, 5000) != 1) {
      return NULL;
    }
    f->fd = accept(f->listen_fd, NULL, NULL);
    if (f->fd < 0) {
      return NULL;
    }
  }
  fake_serve(f);
  return NULL;
}

static fake_device_t *fake_new(const fake_config_t *cfg) {
  fake_device_t *f = calloc(1, sizeof *f);
  f->cfg = *cfg;
  if (f->cfg.max_payload == 0) {
    f->cfg.max_payload = SPARROW_PROTO_MAX_PAYLOAD;
  }
  if (f->cfg.dram_bytes == 0) {
    f->cfg.dram_bytes = 1 << 20;
  }
  if (f->cfg.proto_version == 0) {
    f->cfg.proto_version = SPARROW_PROTO_VERSION;
  }
  if (f->cfg.units == 0) {
    f->cfg.units = 3;
  }
  if (f->cfg.fault_reason == NULL) {
    f->cfg.fault_reason = "";
  }
  f->dram = calloc(1, f->cfg.dram_bytes);
  f->fd = -1;
  f->listen_fd = -1;
  return f;
}

fake_device_t *fake_start_on_fd(const fake_config_t *cfg, int fd) {
  fake_device_t *f = fake_new(cfg);
  f->fd = fd;
  pthread_create(&f->thread, NULL, fake_thread, f);
  return f;
}

fake_device_t *fake_start_accept(const fake_config_t *cfg, int lfd) {
  fake_device_t *f = fake_new(cfg);
  f->listen_fd = lfd;
  pthread_create(&f->thread, NULL, fake_thread, f);
  return f;
}

sparrow_status_t fake_open(const fake_config_t *cfg, uint32_t timeout_ms, fake_device_t **fake,
                           sparrow_dev_t **dev, char *msg, size_t msg_len) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
    *fake = NULL;
    return SPARROW_E_IO;
  }
  *fake = fake_start_on_fd(cfg, pair[1]);
  sparrow_transport_t *t = NULL;
  sparrow_status_t status = sparrow_transport_fd_open(pair[0], "fake", &t, msg, msg_len);
  if (status != SPARROW_OK) {
    return status;
  }
  return sparrow_open_transport(t, timeout_ms, dev, msg, msg_len);
}

void fake_stop(fake_device_t *f) {
  if (f == NULL) {
    return;
  }
  pthread_join(f->thread, NULL);
  free(f->dram);
  free(f);
}
