// SPDX-License-Identifier: Apache-2.0
//
// sim — spawns sparrow-sim on one end of a socketpair and speaks the protocol on the other.
//
// The child gets only its end of the pair (as --fd N), stdin from /dev/null and stdout pointed at
// stderr (the host's stdout may be a --json answer), every other descriptor closed on exec. When
// the connection ends unexpectedly, the child's fate (exit status or signal) is added to the
// message; closing always reaps it: a bounded wait, then SIGKILL.

#define _GNU_SOURCE  // close_range()

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"

// How long close() waits for the simulator to leave on its own after its socket is closed, and how
// long an unexpected EOF waits for the exit status to become available.
enum { kCloseGraceMs = 2000, kExitStatusGraceMs = 500 };

typedef struct sim_transport {
  sparrow_fd_transport_t fdt;  // first: the fd transport's functions work on it
  pid_t pid;                   // -1 once reaped
  int exit_status;             // waitpid status, valid when reaped
  int reaped_known;            // exit_status is meaningful
} sim_transport_t;

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

// Reaps the child if it has exited within grace_ms. Returns 1 when it is gone.
static int reap(sim_transport_t *st, int grace_ms) {
  if (st->pid < 0) {
    return 1;
  }
  int64_t deadline = sparrow_now_ms() + grace_ms;
  for (;;) {
    int wstatus = 0;
    pid_t r = waitpid(st->pid, &wstatus, WNOHANG);
    if (r == st->pid) {
      st->exit_status = wstatus;
      st->reaped_known = 1;
      st->pid = -1;
      return 1;
    }
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      // ECHILD: someone else reaped it (SIGCHLD ignored by the host, for example).
      st->pid = -1;
      return 1;
    }
    if (sparrow_now_ms() >= deadline) {
      return 0;
    }
    sleep_ms(5);
  }
}

// " (sparrow-sim exited with status 3)" or similar, for messages.
static void child_fate(const sim_transport_t *st, char *out, size_t len) {
  if (st->pid >= 0) {
    snprintf(out, len, " (sparrow-sim pid %d still running)", (int)st->pid);
  } else if (!st->reaped_known) {
    snprintf(out, len, " (sparrow-sim exited; status unknown)");
  } else if (WIFEXITED(st->exit_status)) {
    snprintf(out, len, " (sparrow-sim exited with status %d)", WEXITSTATUS(st->exit_status));
  } else if (WIFSIGNALED(st->exit_status)) {
    snprintf(out, len, " (sparrow-sim killed by signal %d, %s)", WTERMSIG(st->exit_status),
             strsignal(WTERMSIG(st->exit_status)));
  } else {
    snprintf(out, len, " (sparrow-sim wait status 0x%x)", (unsigned)st->exit_status);
  }
}

static void add_fate(sim_transport_t *st, sparrow_status_t status, char *msg, size_t msg_len) {
  if (status != SPARROW_E_CLOSED && status != SPARROW_E_IO) {
    return;
  }
  reap(st, kExitStatusGraceMs);
  char fate[128];
  child_fate(st, fate, sizeof fate);
  size_t used = strlen(msg);
  if (msg_len > used) {
    snprintf(msg + used, msg_len - used, "%s", fate);
  }
}

static sparrow_status_t sim_send_all(sparrow_transport_t *t, const uint8_t *buf, size_t len,
                                     int64_t deadline_ms, size_t *done, char *msg, size_t msg_len) {
  sparrow_status_t status = sparrow_fd_send_all(t, buf, len, deadline_ms, done, msg, msg_len);
  add_fate((sim_transport_t *)t, status, msg, msg_len);
  return status;
}

static sparrow_status_t sim_recv_exact(sparrow_transport_t *t, uint8_t *buf, size_t len,
                                       int64_t deadline_ms, size_t *done, char *msg,
                                       size_t msg_len) {
  sparrow_status_t status = sparrow_fd_recv_exact(t, buf, len, deadline_ms, done, msg, msg_len);
  add_fate((sim_transport_t *)t, status, msg, msg_len);
  return status;
}

static void sim_close(sparrow_transport_t *t) {
  sim_transport_t *st = (sim_transport_t *)t;
  if (st->fdt.fd >= 0) {
    close(st->fdt.fd);  // the simulator sees EOF and leaves
    st->fdt.fd = -1;
  }
  if (!reap(st, kCloseGraceMs)) {
    kill(st->pid, SIGKILL);
    while (waitpid(st->pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  free(st);
}

static const char *sim_describe(const sparrow_transport_t *t) {
  return ((const sim_transport_t *)t)->fdt.description;
}

static int is_executable_file(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

// Which simulator to run: $SPARROW_SIM, else sparrow-sim next to the running executable, else
// build/bin/sparrow-sim under the working directory.
static sparrow_status_t find_simulator(char *path, size_t len, char *msg, size_t msg_len) {
  const char *env = getenv("SPARROW_SIM");
  if (env != NULL && env[0] != '\0') {
    if (!is_executable_file(env)) {
      return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                          "sim: SPARROW_SIM=%s: not an executable file (%s)", env,
                          access(env, F_OK) == 0 ? "not executable" : strerror(errno));
    }
    snprintf(path, len, "%s", env);
    return SPARROW_OK;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL) {
      *slash = '\0';
      if ((size_t)snprintf(path, len, "%s/sparrow-sim", self) < len && is_executable_file(path)) {
        return SPARROW_OK;
      }
    }
  }
  snprintf(path, len, "build/bin/sparrow-sim");
  if (is_executable_file(path)) {
    return SPARROW_OK;
  }
  return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                      "sim: sparrow-sim not found (set SPARROW_SIM, or build it: make; looked next "
                      "to %s and in build/bin/)",
                      n > 0 ? self : "the executable");
}

// In the child, between fork and exec: only async-signal-safe calls.
static void child_exec(int fd, int null_fd, int err_fd, const char *path, char *const argv[]) {
  // The host may block signals in this thread; the simulator should start with none blocked.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    int e = errno;
    (void)!write(err_fd, &e, sizeof e);
    _exit(127);
  }
  // Everything else is closed on exec, whatever the host left open; the fallback covers kernels
  // without close_range().
  if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) < 0) {
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) {
      max = 65536;
    }
    for (int i = 3; i < max; i++) {
      fcntl(i, F_SETFD, FD_CLOEXEC);
    }
  }
  fcntl(fd, F_SETFD, 0);  // the one descriptor the simulator keeps
  execv(path, argv);
  int e = errno;
  (void)!write(err_fd, &e, sizeof e);
  _exit(127);
}

sparrow_status_t sparrow_transport_sim_open(const sparrow_sim_params_t *params,
                                            sparrow_transport_t **out, char *msg, size_t msg_len) {
  *out = NULL;
  char path[PATH_MAX];
  sparrow_status_t status = find_simulator(path, sizeof path, msg, msg_len);
  if (status != SPARROW_OK) {
    return status;
  }

  // argv: path --fd N --fabric F --config C [--dram-bw N] [--dram-latency N] [--dram-mb N]
  char fd_arg[16], bw_arg[16], lat_arg[16], mb_arg[16];
  char *argv[16];
  int argc = 0;
  argv[argc++] = path;
  argv[argc++] = "--fd";
  argv[argc++] = fd_arg;
  argv[argc++] = "--fabric";
  argv[argc++] = (char *)params->fabric;
  argv[argc++] = "--config";
  argv[argc++] = (char *)params->config;
  if (params->dram_bw != 0) {
    snprintf(bw_arg, sizeof bw_arg, "%u", (unsigned)params->dram_bw);
    argv[argc++] = "--dram-bw";
    argv[argc++] = bw_arg;
  }
  if (params->dram_latency != 0) {
    snprintf(lat_arg, sizeof lat_arg, "%u", (unsigned)params->dram_latency);
    argv[argc++] = "--dram-latency";
    argv[argc++] = lat_arg;
  }
  if (params->dram_mb != 0) {
    snprintf(mb_arg, sizeof mb_arg, "%u", (unsigned)params->dram_mb);
    argv[argc++] = "--dram-mb";
    argv[argc++] = mb_arg;
  }
  argv[argc] = NULL;

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "sim: socketpair: %s", strerror(errno));
  }
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) < 0) {
    int e = errno;
    close(pair[0]);
    close(pair[1]);
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "sim: pipe: %s", strerror(e));
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    int e = errno;
    close(pair[0]);
    close(pair[1]);
    close(err_pipe[0]);
    close(err_pipe[1]);
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "sim: /dev/null: %s", strerror(e));
  }
  snprintf(fd_arg, sizeof fd_arg, "%d", pair[1]);

  pid_t pid = fork();
  if (pid == 0) {
    child_exec(pair[1], null_fd, err_pipe[1], path, argv);
  }
  int fork_errno = errno;
  close(pair[1]);
  close(null_fd);
  close(err_pipe[1]);
  if (pid < 0) {
    close(pair[0]);
    close(err_pipe[0]);
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "sim: fork: %s", strerror(fork_errno));
  }

  sim_transport_t *st = calloc(1, sizeof *st);
  if (st == NULL) {
    close(pair[0]);
    close(err_pipe[0]);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return sparrow_msgf(SPARROW_E_NOMEM, msg, msg_len, "out of host memory");
  }
  st->fdt.base.send_all = sim_send_all;
  st->fdt.base.recv_exact = sim_recv_exact;
  st->fdt.base.close = sim_close;
  st->fdt.base.describe = sim_describe;
  st->fdt.fd = pair[0];
  st->pid = pid;
  int len = snprintf(st->fdt.description, sizeof st->fdt.description, "sim (pid %d:", (int)pid);
  for (int i = 0; i < argc && len >= 0 && (size_t)len < sizeof st->fdt.description; i++) {
    len += snprintf(st->fdt.description + len, sizeof st->fdt.description - (size_t)len, " %s",
                    argv[i]);
  }
  if (len >= 0 && (size_t)len + 2 < sizeof st->fdt.description) {
    strcat(st->fdt.description, ")");
  }

  // The exec either succeeds (the pipe closes on exec: EOF) or the child reports its errno.
  int child_errno = 0;
  ssize_t n;
  while ((n = read(err_pipe[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  close(err_pipe[0]);
  if (n == (ssize_t)sizeof child_errno) {
    sim_close(&st->fdt.base);
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "sim: cannot run %s: %s", path,
                        strerror(child_errno));
  }
  status = sparrow_fd_prepare(pair[0], msg, msg_len);
  if (status != SPARROW_OK) {
    sim_close(&st->fdt.base);
    return status;
  }
  *out = &st->fdt.base;
  return SPARROW_OK;
}
