// SPDX-License-Identifier: Apache-2.0
//
// The byte-moving core shared by every socket transport (socketpair to a spawned simulator, Unix,
// TCP): non-blocking sockets, poll() with the caller's deadline before every read and write, and
// send(MSG_NOSIGNAL) so that a dead peer is an error code rather than SIGPIPE killing the host.

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"

int64_t sparrow_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sparrow_status_t sparrow_msgf(sparrow_status_t status, char *msg, size_t msg_len, const char *fmt,
                              ...) {
  if (msg == NULL || msg_len == 0) {
    return status;
  }
  va_list args;
  va_start(args, fmt);
  vsnprintf(msg, msg_len, fmt, args);
  va_end(args);
  return status;
}

// Waits until fd is ready for events or the deadline passes. Returns SPARROW_OK when ready.
static sparrow_status_t wait_ready(int fd, short events, int64_t deadline_ms, char *msg,
                                   size_t msg_len) {
  for (;;) {
    int64_t left = deadline_ms - sparrow_now_ms();
    if (left <= 0) {
      return sparrow_msgf(SPARROW_E_TIMEOUT, msg, msg_len, "timed out");
    }
    struct pollfd pfd = {.fd = fd, .events = events};
    int n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return sparrow_msgf(SPARROW_E_IO, msg, msg_len, "poll: %s", strerror(errno));
    }
    if (n > 0) {
      // POLLHUP/POLLERR: let the read or write itself report what happened.
      return SPARROW_OK;
    }
  }
}

sparrow_status_t sparrow_fd_send_all(sparrow_transport_t *t, const uint8_t *buf, size_t len,
                                     int64_t deadline_ms, size_t *done, char *msg, size_t msg_len) {
  sparrow_fd_transport_t *ft = (sparrow_fd_transport_t *)t;
  size_t sent = 0;
  sparrow_status_t status = SPARROW_OK;
  while (sent < len) {
    status = wait_ready(ft->fd, POLLOUT, deadline_ms, msg, msg_len);
    if (status != SPARROW_OK) {
      break;
    }
    ssize_t n = send(ft->fd, buf + sent, len - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      status = sparrow_msgf(SPARROW_E_CLOSED, msg, msg_len, "connection closed by the device");
      break;
    }
    if (n < 0) {
      status = sparrow_msgf(SPARROW_E_IO, msg, msg_len, "send: %s", strerror(errno));
      break;
    }
    sent += (size_t)n;
  }
  if (done != NULL) {
    *done = sent;
  }
  return status;
}

sparrow_status_t sparrow_fd_recv_exact(sparrow_transport_t *t, uint8_t *buf, size_t len,
                                       int64_t deadline_ms, size_t *done, char *msg,
                                       size_t msg_len) {
  sparrow_fd_transport_t *ft = (sparrow_fd_transport_t *)t;
  size_t got = 0;
  sparrow_status_t status = SPARROW_OK;
  while (got < len) {
    status = wait_ready(ft->fd, POLLIN, deadline_ms, msg, msg_len);
    if (status != SPARROW_OK) {
      break;
    }
    ssize_t n = recv(ft->fd, buf + got, len - got, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
      continue;
    }
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      status = sparrow_msgf(SPARROW_E_CLOSED, msg, msg_len, "connection closed by the device");
      break;
    }
    if (n < 0) {
      status = sparrow_msgf(SPARROW_E_IO, msg, msg_len, "recv: %s", strerror(errno));
      break;
    }
    got += (size_t)n;
  }
  if (done != NULL) {
    *done = got;
  }
  return status;
}

sparrow_status_t sparrow_fd_prepare(int fd, char *msg, size_t msg_len) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return sparrow_msgf(SPARROW_E_IO, msg, msg_len, "fcntl(O_NONBLOCK): %s", strerror(errno));
  }
  int fdflags = fcntl(fd, F_GETFD);
  if (fdflags < 0 || fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) < 0) {
    return sparrow_msgf(SPARROW_E_IO, msg, msg_len, "fcntl(FD_CLOEXEC): %s", strerror(errno));
  }
  return SPARROW_OK;
}

static sparrow_status_t connect_error(int err, char *msg, size_t msg_len) {
  if (err == ECONNREFUSED) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "connection refused");
  }
  if (err == ENOENT) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "no such socket");
  }
  return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "%s", strerror(err));
}

sparrow_status_t sparrow_fd_connect(int fd, const struct sockaddr *addr, socklen_t addr_len,
                                    int64_t deadline_ms, char *msg, size_t msg_len) {
  for (;;) {
    if (connect(fd, addr, addr_len) == 0) {
      return SPARROW_OK;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN) {
      // A Unix socket whose listen backlog is full: try again shortly, until the deadline.
      if (sparrow_now_ms() >= deadline_ms) {
        return sparrow_msgf(SPARROW_E_TIMEOUT, msg, msg_len, "connect timed out (backlog full)");
      }
      struct timespec pause = {.tv_nsec = 10 * 1000000};
      nanosleep(&pause, NULL);
      continue;
    }
    if (errno != EINPROGRESS) {
      return connect_error(errno, msg, msg_len);
    }
    break;
  }
  sparrow_status_t status = wait_ready(fd, POLLOUT, deadline_ms, msg, msg_len);
  if (status == SPARROW_E_TIMEOUT) {
    return sparrow_msgf(SPARROW_E_TIMEOUT, msg, msg_len, "connect timed out");
  }
  if (status != SPARROW_OK) {
    return status;
  }
  int err = 0;
  socklen_t err_len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) < 0) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "getsockopt: %s", strerror(errno));
  }
  if (err != 0) {
    return connect_error(err, msg, msg_len);
  }
  return SPARROW_OK;
}

static void fd_close(sparrow_transport_t *t) {
  sparrow_fd_transport_t *ft = (sparrow_fd_transport_t *)t;
  if (ft->fd >= 0) {
    close(ft->fd);
  }
  free(ft);
}

static const char *fd_describe(const sparrow_transport_t *t) {
  return ((const sparrow_fd_transport_t *)t)->description;
}

sparrow_status_t sparrow_transport_fd_open(int fd, const char *description,
                                           sparrow_transport_t **out, char *msg, size_t msg_len) {
  *out = NULL;
  sparrow_status_t status = sparrow_fd_prepare(fd, msg, msg_len);
  if (status != SPARROW_OK) {
    close(fd);
    return status;
  }
  sparrow_fd_transport_t *ft = calloc(1, sizeof *ft);
  if (ft == NULL) {
    close(fd);
    return sparrow_msgf(SPARROW_E_NOMEM, msg, msg_len, "out of host memory");
  }
  ft->base.send_all = sparrow_fd_send_all;
  ft->base.recv_exact = sparrow_fd_recv_exact;
  ft->base.close = fd_close;
  ft->base.describe = fd_describe;
  ft->fd = fd;
  snprintf(ft->description, sizeof ft->description, "%s", description);
  *out = &ft->base;
  return SPARROW_OK;
}
