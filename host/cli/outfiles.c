// SPDX-License-Identifier: Apache-2.0
//
// Output folders and plots, shared by the commands that write result files (sparrow bench, bench
// --study, train): mkdir -p, and running gnuplot on a script the command wrote.

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

int sparrow_cli_mkdir_p(const char *path) {
  char buf[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof(buf)) {
    errno = len == 0 ? ENOENT : ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; ++i) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char saved = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
        return -1;
      }
      buf[i] = saved;
    }
  }
  // EEXIST above may have been a file of that name: the path must end in a directory.
  struct stat st;
  if (stat(path, &st) != 0) {
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

bool sparrow_cli_gnuplot(const char *dir, const char *script, const char *defs) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    // gnuplot's own output (it has none when all goes well) must not reach stdout, which carries
    // the commands' JSON: it goes to stderr with the messages.
    if ((dir == NULL || chdir(dir) == 0) && dup2(2, 1) >= 0) {
      if (defs != NULL) {
        execlp("gnuplot", "gnuplot", "-e", defs, script, (char *)NULL);
      } else {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
      }
    }
    _exit(127);
  }
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}
