// SPDX-License-Identifier: Apache-2.0
//
// A fake Sparrow device for libsparrow's tests: it speaks the wire protocol (with the real codec,
// firmware/proto/) on one end of a socket, keeps a small DRAM, records what it was sent, and can
// misbehave in chosen ways at a chosen request. It runs in a thread (fake_start) or as the whole
// process (fake_serve, used when the test binary is spawned as a fake sparrow-sim).

#ifndef SPARROW_TESTS_UNIT_TEST_DRIVER_FAKE_H_
#define SPARROW_TESTS_UNIT_TEST_DRIVER_FAKE_H_

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../../driver/include/sparrow.h"

typedef enum fake_fault {
  kFaultNone,
  kFaultBadCrc,           // response with a corrupted CRC
  kFaultWrongSeq,         // response with seq + 1
  kFaultWrongKind,        // response kind of another command
  kFaultBadMagic,         // response header with a wrong magic
  kFaultCloseMidHeader,   // sends 10 header bytes, then closes
  kFaultCloseMidPayload,  // sends the header and part of the payload, then closes
  kFaultSilent,           // never answers (reads on until the driver goes away)
  kFaultErrorReply,       // answers fault_rc with the reason fault_reason
  kFaultLongReason,       // error response with a 300-byte reason
  kFaultWrongSize,        // OK response with one byte too many
  kFaultExit,             // (process mode) _exit(7) on the request
  kFaultKill,             // (process mode) raise(SIGKILL) on the request
  kFaultHang,             // (process mode) ignore everything, sleep, never exit on EOF
} fake_fault_t;

typedef struct fake_config {
  uint32_t max_payload;    // HELLO's maximum payload (default 65536 when 0)
  uint64_t dram_bytes;     // default 1 MiB when 0
  uint32_t proto_version;  // default 1 when 0
  fake_fault_t fault;
  int fault_at;       // index of the request that misbehaves (0 = HELLO); -1 = every request
  uint8_t fault_cmd;  // when nonzero, fault the first request with this opcode instead
  uint16_t fault_rc;
  const char *fault_reason;
  int wait_timeouts;      // WAIT: answer TIMEOUT this many times before done (-1 = forever)
  int wait_fabric_error;  // WAIT: answer FABRIC_ERROR instead of done
  uint32_t units;         // COUNTERS: units reported (default 3)
} fake_config_t;

enum { kFakeMaxRecords = 4096, kFakeProgEntries = 1024 };

typedef struct fake_device {
  fake_config_t cfg;
  int fd;
  int listen_fd;  // fake_start_accept: accept on this first
  pthread_t thread;
  uint8_t *dram;
  // What the device saw.
  int requests;
  int mem_writes;
  uint32_t mem_write_bytes[kFakeMaxRecords];  // data bytes of each MEM_WRITE
  uint32_t largest_request_payload;
  int prog_loads;
  uint64_t prog[kFakeProgEntries];
  uint32_t prog_count;  // highest entry written + 1
  int waits;
  uint64_t last_wait_cycles;
  uint32_t last_watchdog;
  int launched;
  int launches;  // LAUNCH requests so far; COUNTERS scales its figures by max(launches, 1)
} fake_device_t;

// Starts a fake device thread on one end of a socketpair and opens a sparrow_dev_t on the other
// (sparrow_open_transport, HELLO timeout timeout_ms). Returns the open status; *dev is set on
// success. The fake is returned in *fake either way; fake_stop() joins and frees it (after
// sparrow_close).
sparrow_status_t fake_open(const fake_config_t *cfg, uint32_t timeout_ms, fake_device_t **fake,
                           sparrow_dev_t **dev, char *msg, size_t msg_len);
void fake_stop(fake_device_t *fake);

// Creates a fake bound to an already connected fd (for unix/tcp listeners) and starts its thread.
fake_device_t *fake_start_on_fd(const fake_config_t *cfg, int fd);

// Starts a thread that accepts one connection on the listening socket lfd (waiting at most 5 s)
// and serves it. lfd stays the caller's.
fake_device_t *fake_start_accept(const fake_config_t *cfg, int lfd);

// Serves the protocol on fd until EOF (or a closing fault); used in threads and in process mode.
void fake_serve(fake_device_t *fake);

#endif  // SPARROW_TESTS_UNIT_TEST_DRIVER_FAKE_H_
