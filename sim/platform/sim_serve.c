// SPDX-License-Identifier: Apache-2.0
//
// Frames over a byte stream: read the 16-byte header, refuse a header that makes the stream
// untrustworthy, read the rest within a deadline, let the firmware answer, write the answer.

#include "sim_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../firmware/proto/sparrow_proto.h"

static volatile sig_atomic_t g_stop = 0;

static void on_stop_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

void sparrow_sim_install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  // No SA_RESTART: a blocked poll() or accept() returns EINTR and sees the flag.
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

bool sparrow_sim_stop_requested(void) {
  return g_stop != 0;
}

const char *sparrow_sim_end_name(sparrow_sim_end_t end) {
  switch (end) {
    case kSparrowSimEndPeerClosed:
      return "closed by the peer";
    case kSparrowSimEndDeviceClosed:
      return "closed by the device (untrustworthy header)";
    case kSparrowSimEndTimeout:
      return "dropped: frame timeout";
    case kSparrowSimEndPeerLost:
      return "peer lost";
    case kSparrowSimEndStopped:
      return "stopped by a signal";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------------
// Deadline-bounded I/O on a non-blocking descriptor.

typedef enum io_result { kIoOk, kIoEof, kIoTimeout, kIoError, kIoStopped } io_result_t;

enum { kStopCheckMs = 200 };

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Waits for events on fd until *deadline (0: no deadline yet, wait as long as it takes).
static io_result_t wait_for(int fd, short events, const int64_t *deadline) {
  for (;;) {
    if (g_stop) {
      return kIoStopped;
    }
    // Bounded waits even without a deadline: a stop signal may be taken by another thread (the
    // SystemC and Verilator runtimes may start some), leaving this poll() uninterrupted.
    int timeout = kStopCheckMs;
    if (*deadline != 0) {
      int64_t left = *deadline - now_ms();
      if (left <= 0) {
        return kIoTimeout;
      }
      timeout = left > kStopCheckMs ? kStopCheckMs : (int)left;
    }
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    int n = poll(&p, 1, timeout);
    if (n > 0) {
      return kIoOk;  // readable, writable, or an error/hang-up the next call will report
    }
    if (n < 0 && errno != EINTR) {
      return kIoError;
    }
  }
}

// Reads exactly len bytes. The deadline starts with the first byte of a frame: a connection may
// stay idle between frames for as long as the peer likes.
static io_result_t read_exact(int fd, uint8_t *buf, size_t len, int64_t *deadline,
                              uint32_t timeout_ms) {
  size_t got = 0;
  while (got < len) {
    io_result_t w = wait_for(fd, POLLIN, deadline);
    if (w != kIoOk) {
      return w;
    }
    ssize_t n = read(fd, buf + got, len - got);
    if (n > 0) {
      if (*deadline == 0) {
        *deadline = now_ms() + timeout_ms;
      }
      got += (size_t)n;
    } else if (n == 0) {
      return kIoEof;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return kIoError;
    }
  }
  return kIoOk;
}

static io_result_t write_all(int fd, const uint8_t *buf, size_t len, uint32_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  size_t put = 0;
  while (put < len) {
    io_result_t w = wait_for(fd, POLLOUT, &deadline);
    if (w != kIoOk) {
      return w;
    }
    // send() keeps a vanished peer from raising SIGPIPE even if a caller restored its default;
    // descriptors that are not sockets fall back to write().
    ssize_t n = send(fd, buf + put, len - put, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) {
      n = write(fd, buf + put, len - put);
    }
    if (n > 0) {
      put += (size_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return kIoError;
    }
  }
  return kIoOk;
}

static sparrow_sim_end_t end_of(io_result_t io) {
  switch (io) {
    case kIoTimeout:
      return kSparrowSimEndTimeout;
    case kIoStopped:
      return kSparrowSimEndStopped;
    default:
      return kSparrowSimEndPeerLost;
  }
}

// ---------------------------------------------------------------------------------------------------
// The frame loop.

static uint8_t g_req[SPARROW_PROTO_MAX_FRAME];
static uint8_t g_rsp[SPARROW_PROTO_MAX_FRAME];

sparrow_sim_end_t sparrow_sim_serve(sparrow_fw_t *fw, int fd, uint32_t frame_timeout_ms,
                                    uint64_t *frames) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return kSparrowSimEndPeerLost;
  }
  for (;;) {
    int64_t deadline = 0;
    io_result_t io = read_exact(fd, g_req, SPARROW_PROTO_HEADER_BYTES, &deadline, frame_timeout_ms);
    if (io == kIoEof && deadline == 0) {
      return kSparrowSimEndPeerClosed;  // between frames: the normal end
    }
    if (io != kIoOk) {
      return end_of(io);
    }
    // With a bad magic or an oversized length there is no "rest of the frame" to read: the
    // firmware answers from the header alone and the stream is closed.
    size_t rejected = sparrow_fw_reject_header(g_req, g_rsp, sizeof(g_rsp));
    if (rejected > 0) {
      (void)write_all(fd, g_rsp, rejected, frame_timeout_ms);
      return kSparrowSimEndDeviceClosed;
    }
    uint32_t length = sparrow_get_u32(g_req + 12);
    if (length > SPARROW_PROTO_MAX_PAYLOAD) {
      return kSparrowSimEndDeviceClosed;  // the buffer's bound, whatever the firmware decided
    }
    size_t total = SPARROW_PROTO_HEADER_BYTES + (size_t)length + SPARROW_PROTO_CRC_BYTES;
    io = read_exact(fd, g_req + SPARROW_PROTO_HEADER_BYTES, total - SPARROW_PROTO_HEADER_BYTES,
                    &deadline, frame_timeout_ms);
    if (io != kIoOk) {
      return end_of(io);
    }
    bool close_after = false;
    size_t n = sparrow_fw_handle_frame(fw, g_req, total, g_rsp, sizeof(g_rsp), &close_after);
    if (frames != NULL) {
      (*frames)++;
    }
    if (n == 0) {
      return kSparrowSimEndDeviceClosed;  // the firmware promises an answer; never seen
    }
    io = write_all(fd, g_rsp, n, frame_timeout_ms);
    if (io != kIoOk) {
      return end_of(io);
    }
    if (close_after) {
      return kSparrowSimEndDeviceClosed;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Listening sockets.

static bool fail(char *err, size_t cap, const char *what, const char *spec, int errnum) {
  if (err != NULL && cap > 0) {
    if (errnum != 0) {
      snprintf(err, cap, "%s %s: %s", what, spec, strerror(errnum));
    } else {
      snprintf(err, cap, "%s %s", what, spec);
    }
  }
  return false;
}

static void set_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags >= 0) {
    fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

static bool listen_unix(const char *path, sparrow_sim_listener_t *l, char *err, size_t cap) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(addr.sun_path)) {
    return fail(err, cap, "socket path too long (at most 107 bytes):", path, 0);
  }
  memcpy(addr.sun_path, path, strlen(path) + 1);
  struct stat st;
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(err, cap, "not replacing a file that is not a socket:", path, 0);
    }
    // A socket file nobody answers on is left over from an earlier run; a live one is not ours.
    int probe = socket(AF_UNIX, SOCK_STREAM, 0);
    if (probe < 0) {
      return fail(err, cap, "cannot create a socket for", path, errno);
    }
    int rc = connect(probe, (const struct sockaddr *)&addr, sizeof(addr));
    int probe_errno = errno;
    close(probe);
    if (rc == 0) {
      return fail(err, cap, "another server is listening on", path, 0);
    }
    if (probe_errno != ECONNREFUSED || unlink(path) != 0) {
      return fail(err, cap, "cannot replace the stale socket", path, probe_errno);
    }
  }
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) {
    return fail(err, cap, "cannot create a socket for", path, errno);
  }
  set_cloexec(fd);
  if (bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 4) != 0) {
    int e = errno;
    close(fd);
    return fail(err, cap, "cannot listen on", path, e);
  }
  l->fd = fd;
  snprintf(l->unix_path, sizeof(l->unix_path), "%s", path);
  snprintf(l->address, sizeof(l->address), "unix:%s", path);
  return true;
}

static bool listen_tcp(const char *spec, sparrow_sim_listener_t *l, char *err, size_t cap) {
  // "HOST:PORT" (HOST may be "[v6]") or just "PORT".
  char host[128] = "127.0.0.1";
  const char *port = spec;
  const char *colon = strrchr(spec, ':');
  if (colon != NULL) {
    size_t n = (size_t)(colon - spec);
    const char *h = spec;
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
      h++;
      n -= 2;
    }
    if (n >= sizeof(host)) {
      return fail(err, cap, "host name too long in", spec, 0);
    }
    if (n > 0) {
      memcpy(host, h, n);
      host[n] = '\0';
    }
    port = colon + 1;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  struct addrinfo *res = NULL;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0) {
    if (err != NULL && cap > 0) {
      snprintf(err, cap, "cannot resolve tcp:%s: %s", spec, gai_strerror(gai));
    }
    return false;
  }
  int fd = -1;
  int last_errno = 0;
  for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4) != 0) {
      last_errno = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return fail(err, cap, "cannot listen on tcp:", spec, last_errno);
  }
  set_cloexec(fd);
  struct sockaddr_storage bound;
  socklen_t len = sizeof(bound);
  char num_host[64] = "?";
  char num_port[16] = "?";
  if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0) {
    getnameinfo((struct sockaddr *)&bound, len, num_host, sizeof(num_host), num_port,
                sizeof(num_port), NI_NUMERICHOST | NI_NUMERICSERV);
  }
  bool v6 = strchr(num_host, ':') != NULL;
  snprintf(l->address, sizeof(l->address), "tcp:%s%s%s:%s", v6 ? "[" : "", num_host, v6 ? "]" : "",
           num_port);
  l->fd = fd;
  l->unix_path[0] = '\0';
  return true;
}

bool sparrow_sim_listen(const char *spec, sparrow_sim_listener_t *l, char *err, size_t cap) {
  memset(l, 0, sizeof(*l));
  l->fd = -1;
  if (strncmp(spec, "unix:", 5) == 0 && spec[5] != '\0') {
    return listen_unix(spec + 5, l, err, cap);
  }
  if (strncmp(spec, "tcp:", 4) == 0 && spec[4] != '\0') {
    return listen_tcp(spec + 4, l, err, cap);
  }
  return fail(err, cap, "not unix:PATH or tcp:HOST:PORT:", spec, 0);
}

int sparrow_sim_accept(sparrow_sim_listener_t *l) {
  for (;;) {
    int64_t no_deadline = 0;
    io_result_t w = wait_for(l->fd, POLLIN, &no_deadline);
    if (w != kIoOk) {
      return -1;
    }
    int fd = accept(l->fd, NULL, NULL);
    if (fd >= 0) {
      set_cloexec(fd);
      // Requests and answers are small and strictly alternate: never hold one back (Nagle).
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // fails harmlessly on Unix
      return fd;
    }
    // A client that gave up before we accepted it is no reason to stop listening.
    if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN && errno != EPROTO) {
      return -1;
    }
  }
}

void sparrow_sim_unlisten(sparrow_sim_listener_t *l) {
  if (l->fd >= 0) {
    close(l->fd);
    l->fd = -1;
  }
  if (l->unix_path[0] != '\0') {
    unlink(l->unix_path);
    l->unix_path[0] = '\0';
  }
}
