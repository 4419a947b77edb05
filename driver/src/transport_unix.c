// SPDX-License-Identifier: Apache-2.0
//
// unix:PATH — a running sparrow-sim listening on a Unix stream socket.

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "transport.h"

sparrow_status_t sparrow_transport_unix_open(const char *path, int64_t deadline_ms,
                                             sparrow_transport_t **out, char *msg, size_t msg_len) {
  *out = NULL;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (path[0] == '\0' || strlen(path) >= sizeof addr.sun_path) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "unix:%s: path empty or longer than %zu bytes",
                        path, sizeof addr.sun_path - 1);
  }
  memcpy(addr.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) {
    return sparrow_msgf(SPARROW_E_IO, msg, msg_len, "unix:%s: socket: %s", path, strerror(errno));
  }
  char why[SPARROW_MSG_BYTES] = "";
  sparrow_status_t status = sparrow_fd_prepare(fd, why, sizeof why);
  if (status == SPARROW_OK) {
    status = sparrow_fd_connect(fd, (const struct sockaddr *)&addr, sizeof addr, deadline_ms, why,
                                sizeof why);
  }
  if (status != SPARROW_OK) {
    close(fd);
    return sparrow_msgf(status, msg, msg_len, "unix:%s: %s", path, why);
  }
  char description[SPARROW_MSG_BYTES];
  snprintf(description, sizeof description, "unix:%s", path);
  return sparrow_transport_fd_open(fd, description, out, msg, msg_len);
}
