// SPDX-License-Identifier: Apache-2.0
//
// tcp:HOST:PORT — a running sparrow-sim listening on TCP. Every address getaddrinfo gives is tried
// in turn within the one deadline; Nagle is off, since every exchange is a small request waiting
// for its answer.

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

sparrow_status_t sparrow_transport_tcp_open(const char *host, const char *port, int64_t deadline_ms,
                                            sparrow_transport_t **out, char *msg, size_t msg_len) {
  *out = NULL;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *list = NULL;
  int rc = getaddrinfo(host, port, &hints, &list);
  if (rc != 0) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "tcp:%s:%s: %s", host, port,
                        gai_strerror(rc));
  }
  char why[SPARROW_MSG_BYTES] = "no address";
  sparrow_status_t status = SPARROW_E_CONNECT;
  int fd = -1;
  for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      status = sparrow_msgf(SPARROW_E_CONNECT, why, sizeof why, "socket: %s", strerror(errno));
      continue;
    }
    status = sparrow_fd_prepare(fd, why, sizeof why);
    if (status == SPARROW_OK) {
      status = sparrow_fd_connect(fd, ai->ai_addr, ai->ai_addrlen, deadline_ms, why, sizeof why);
    }
    if (status == SPARROW_OK) {
      break;
    }
    close(fd);
    fd = -1;
    if (status == SPARROW_E_TIMEOUT) {
      break;  // the deadline is shared by all addresses
    }
  }
  freeaddrinfo(list);
  if (fd < 0) {
    return sparrow_msgf(status, msg, msg_len, "tcp:%s:%s: %s", host, port, why);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // best effort: only latency
  char description[SPARROW_MSG_BYTES];
  snprintf(description, sizeof description, "tcp:%s:%s", host, port);
  return sparrow_transport_fd_open(fd, description, out, msg, msg_len);
}
