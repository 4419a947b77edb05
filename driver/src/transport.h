// SPDX-License-Identifier: Apache-2.0
//
// libsparrow's transport interface: one byte stream to a device, whatever carries it (a socketpair
// to a spawned sparrow-sim, a Unix or TCP socket, or libusb bulk endpoints). The driver frames
// and checks the protocol itself; a transport only moves bytes, each call bounded by an absolute
// deadline so that nothing blocks forever.

#ifndef SPARROW_DRIVER_SRC_TRANSPORT_H_
#define SPARROW_DRIVER_SRC_TRANSPORT_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../include/sparrow.h"

// Messages written by transports fit in this many bytes (including the NUL).
#define SPARROW_MSG_BYTES 512

typedef struct sparrow_transport sparrow_transport_t;

// Each implementation embeds this as its first member. On failure send_all and recv_exact write a
// one-line reason into msg (msg_len bytes) and return SPARROW_E_TIMEOUT (deadline passed),
// SPARROW_E_CLOSED (peer closed or died) or SPARROW_E_IO; *done (when not NULL) then says how many
// bytes moved before the failure. Deadlines are absolute, in sparrow_now_ms() milliseconds.
struct sparrow_transport {
  sparrow_status_t (*send_all)(sparrow_transport_t *t, const uint8_t *buf, size_t len,
                               int64_t deadline_ms, size_t *done, char *msg, size_t msg_len);
  sparrow_status_t (*recv_exact)(sparrow_transport_t *t, uint8_t *buf, size_t len,
                                 int64_t deadline_ms, size_t *done, char *msg, size_t msg_len);
  // Releases everything (for sim: closes the socket, reaps the child). Never blocks for long.
  void (*close)(sparrow_transport_t *t);
  // "sim (pid 123, build/bin/sparrow-sim --fabric model --config M)", "unix:/tmp/s", ...
  const char *(*describe)(const sparrow_transport_t *t);
};

// Monotonic clock in milliseconds.
int64_t sparrow_now_ms(void);

// printf into msg (msg_len bytes, always NUL-terminated when msg_len > 0); returns status.
sparrow_status_t sparrow_msgf(sparrow_status_t status, char *msg, size_t msg_len, const char *fmt,
                              ...) __attribute__((format(printf, 4, 5)));

// Shared by the socket transports (transport_fd.c): a connected, non-blocking stream socket.
typedef struct sparrow_fd_transport {
  sparrow_transport_t base;
  int fd;
  char description[SPARROW_MSG_BYTES];
} sparrow_fd_transport_t;

sparrow_status_t sparrow_fd_send_all(sparrow_transport_t *t, const uint8_t *buf, size_t len,
                                     int64_t deadline_ms, size_t *done, char *msg, size_t msg_len);
sparrow_status_t sparrow_fd_recv_exact(sparrow_transport_t *t, uint8_t *buf, size_t len,
                                       int64_t deadline_ms, size_t *done, char *msg,
                                       size_t msg_len);
// Makes fd non-blocking and close-on-exec.
sparrow_status_t sparrow_fd_prepare(int fd, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
// Connects a prepared (non-blocking) socket, waiting at most until deadline_ms. Refusal is
// SPARROW_E_CONNECT "connection refused"; running out of time SPARROW_E_TIMEOUT.
sparrow_status_t sparrow_fd_connect(int fd, const struct sockaddr *addr, socklen_t addr_len,
                                    int64_t deadline_ms, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// A connected stream socket (or socketpair end) as a transport; takes ownership of fd (it is closed
// on failure too). The fd is made non-blocking and close-on-exec.
sparrow_status_t sparrow_transport_fd_open(int fd, const char *description,
                                           sparrow_transport_t **out, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Parameters of a spawned simulator (from a sim URI).
typedef struct sparrow_sim_params {
  const char *fabric;     // "rtl" or "model"
  char config[2];         // "S" or "M"
  uint32_t dram_bw;       // 0 = the simulator's default
  uint32_t dram_latency;  // 0 = the simulator's default
  uint32_t dram_mb;       // 0 = the simulator's default
} sparrow_sim_params_t;

// Spawns sparrow-sim on a socketpair (docs/driver.md: which executable, which arguments).
sparrow_status_t sparrow_transport_sim_open(const sparrow_sim_params_t *params,
                                            sparrow_transport_t **out, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Connects to a running sparrow-sim on a Unix socket / over TCP, giving up at deadline_ms.
sparrow_status_t sparrow_transport_unix_open(const char *path, int64_t deadline_ms,
                                             sparrow_transport_t **out, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
sparrow_status_t sparrow_transport_tcp_open(const char *host, const char *port, int64_t deadline_ms,
                                            sparrow_transport_t **out, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Opens the Sparrow at vid:pid (with this serial when serial is not empty) over libusb, claims its
// interface and checks its bulk endpoints (docs/usb.md). No device, several without a serial,
// access denied and a busy interface are SPARROW_E_CONNECT with a message saying which.
sparrow_status_t sparrow_transport_usb_open(uint16_t vid, uint16_t pid, const char *serial,
                                            sparrow_transport_t **out, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

#endif  // SPARROW_DRIVER_SRC_TRANSPORT_H_
