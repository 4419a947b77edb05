// SPDX-License-Identifier: Apache-2.0
//
// sparrow-sim's endpoint: moves frames between a byte-stream socket and the firmware core
// (docs/protocol.md, "Frame"; docs/simulator.md, "Serving connections"). Plain C over POSIX
// sockets.

#ifndef SPARROW_SIM_PLATFORM_SIM_SERVE_H_
#define SPARROW_SIM_PLATFORM_SIM_SERVE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The firmware's header has no C++ guard of its own; inside this block its declarations get C
// linkage when sim_main.cpp includes this header.
#include "../../firmware/core/sparrow_fw.h"

// Why a connection ended.
typedef enum sparrow_sim_end {
  kSparrowSimEndPeerClosed,    // the peer closed between frames
  kSparrowSimEndDeviceClosed,  // the firmware could not trust the stream (bad magic, oversized
                               // length)
  kSparrowSimEndTimeout,   // a frame stopped arriving (or the peer stopped reading) for too long
  kSparrowSimEndPeerLost,  // the peer vanished mid-frame, or a socket error
  kSparrowSimEndStopped,   // SIGINT or SIGTERM
} sparrow_sim_end_t;

typedef struct sparrow_sim_listener {
  int fd;
  char unix_path[108];  // removed again by sparrow_sim_unlisten(); empty for TCP
  char address[160];    // "unix:PATH" or "tcp:HOST:PORT" with the port actually bound
} sparrow_sim_listener_t;

// SIGINT and SIGTERM make blocking calls return kSparrowSimEndStopped (or -1 from accept); a
// second signal terminates at once. SIGPIPE is ignored: a vanished peer is an error code.
void sparrow_sim_install_signals(void);
bool sparrow_sim_stop_requested(void);

// Binds and listens on "unix:PATH" or "tcp:[HOST:]PORT" (HOST defaults to 127.0.0.1; PORT 0 picks
// a free port). A stale Unix socket file (nobody listening) is replaced; any other file is not.
bool sparrow_sim_listen(const char *spec, sparrow_sim_listener_t *listener, char *err,
                        size_t err_cap) __attribute__((warn_unused_result));
// The next connection, or -1 when stopped or on a listener error.
int sparrow_sim_accept(sparrow_sim_listener_t *listener);
void sparrow_sim_unlisten(sparrow_sim_listener_t *listener);

// Serves one connection until it ends; fd stays open (the caller closes it). frames counts the
// requests answered.
sparrow_sim_end_t sparrow_sim_serve(sparrow_fw_t *fw, int fd, uint32_t frame_timeout_ms,
                                    uint64_t *frames);

const char *sparrow_sim_end_name(sparrow_sim_end_t end);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_SIM_PLATFORM_SIM_SERVE_H_
