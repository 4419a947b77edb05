// SPDX-License-Identifier: Apache-2.0
//
// Training text: loading, vocabulary, splits, batches and the default corpus (see data.h).

#include "data.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rng.h"

// The default corpus's command: the whole Bible, Genesis 1:1 to Revelation 22:21.
#define KJV_COMMAND "bible -f gen1:1-rev22:21"
// Fewer lines than this means the command printed something else (an error, a partial text).
#define KJV_MIN_VERSES 30000u

static sparrow_train_status_t read_all(const char *path, uint8_t **bytes, uint64_t *len, char *msg,
                                       size_t msg_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len, "cannot open data file '%s': %s",
                              path, strerror(errno));
  }
  size_t cap = 1u << 16, n = 0;
  uint8_t *buf = malloc(cap);
  if (buf == NULL) {
    fclose(f);
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len, "data file '%s': out of memory",
                              path);
  }
  for (;;) {
    if (n == cap) {
      uint8_t *bigger = realloc(buf, cap * 2);
      if (bigger == NULL) {
        free(buf);
        fclose(f);
        return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len,
                                  "data file '%s': out of memory after %zu bytes", path, n);
      }
      buf = bigger;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      break;
    }
  }
  // A directory opens but does not read (EISDIR); so does a file on a failing disk.
  int failed = ferror(f);
  int err = errno;
  fclose(f);
  if (failed) {
    free(buf);
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len, "cannot read data file '%s': %s",
                              path, strerror(err));
  }
  *bytes = buf;
  *len = n;
  return SPARROW_TRAIN_OK;
}

sparrow_train_status_t sparrow_train_data_load(const char *path, uint32_t context,
                                               sparrow_train_data_t *data, char *msg,
                                               size_t msg_len) {
  if (path == NULL || data == NULL || context == 0) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "data: no path, no output or a zero context");
  }
  uint8_t *bytes = NULL;
  uint64_t n = 0;
  sparrow_train_status_t st = read_all(path, &bytes, &n, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  if (n == 0) {
    free(bytes);
    return sparrow_train_fail(SPARROW_TRAIN_E_DATA, msg, msg_len, "data file '%s' is empty", path);
  }
  uint64_t n_val = n / SPARROW_TRAIN_VAL_DIV;
  uint64_t n_train = n - n_val;
  uint64_t need = (uint64_t)context + 1;
  if (n_train < need || n_val < need) {
    free(bytes);
    return sparrow_train_fail(
        SPARROW_TRAIN_E_DATA, msg, msg_len,
        "data file '%s' is too short: %llu bytes split into %llu for training and %llu for "
        "validation (the last 1/%u), and context %u needs at least %llu in each (%llu bytes in "
        "all)",
        path, (unsigned long long)n, (unsigned long long)n_train, (unsigned long long)n_val,
        SPARROW_TRAIN_VAL_DIV, context, (unsigned long long)need,
        (unsigned long long)(need * SPARROW_TRAIN_VAL_DIV));
  }
  sparrow_train_data_t d;
  memset(&d, 0, sizeof(d));
  bool seen[256] = {false};
  for (uint64_t i = 0; i < n; i++) {
    seen[bytes[i]] = true;
  }
  for (int b = 0; b < 256; b++) {
    d.id_of[b] = -1;
    if (seen[b]) {
      d.id_of[b] = (int16_t)d.vocab;
      d.chars[d.vocab++] = (uint8_t)b;
    }
  }
  d.hash = sparrow_train_fnv1a(SPARROW_TRAIN_FNV_INIT, bytes, n);
  // The ids replace the bytes in place: one buffer for the text.
  for (uint64_t i = 0; i < n; i++) {
    bytes[i] = (uint8_t)d.id_of[bytes[i]];
  }
  d.ids = bytes;
  d.n = n;
  d.n_train = n_train;
  *data = d;
  return SPARROW_TRAIN_OK;
}

void sparrow_train_data_free(sparrow_train_data_t *data) {
  if (data == NULL) {
    return;
  }
  free(data->ids);
  memset(data, 0, sizeof(*data));
}

void sparrow_train_data_batch(const sparrow_train_data_t *data, sparrow_train_split_t split,
                              uint64_t *rng, uint32_t B, uint32_t T, uint32_t *inputs,
                              uint32_t *targets) {
  uint64_t base = split == SPARROW_TRAIN_SPLIT_TRAIN ? 0 : data->n_train;
  uint64_t len = split == SPARROW_TRAIN_SPLIT_TRAIN ? data->n_train : data->n - data->n_train;
  // Windows of T + 1 bytes start anywhere that keeps them inside the split.
  uint64_t starts = len - T;
  for (uint32_t b = 0; b < B; b++) {
    const uint8_t *w = data->ids + base + sparrow_train_rng_below(rng, starts);
    for (uint32_t t = 0; t < T; t++) {
      inputs[(size_t)b * T + t] = w[t];
      targets[(size_t)b * T + t] = w[t + 1];
    }
  }
}

bool sparrow_train_strip_reference(char *line) {
  const char *p = line;
  if (*p >= '1' && *p <= '3') {
    p++;
  }
  const char *letters = p;
  while (isalpha((unsigned char)*p)) {
    p++;
  }
  if (p == letters || !isdigit((unsigned char)*p)) {
    return false;
  }
  while (isdigit((unsigned char)*p)) {
    p++;
  }
  if (*p++ != ':' || !isdigit((unsigned char)*p)) {
    return false;
  }
  while (isdigit((unsigned char)*p)) {
    p++;
  }
  if (*p++ != ' ') {
    return false;
  }
  memmove(line, p, strlen(p) + 1);
  return true;
}

// mkdir -p of the directory part of path.
static int make_parent_dirs(const char *path) {
  char buf[4096];
  if (strlen(path) >= sizeof(buf)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(buf, path);
  for (char *p = buf + 1; *p != '\0'; p++) {
    if (*p != '/') {
      continue;
    }
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
      return -1;
    }
    *p = '/';
  }
  return 0;
}

sparrow_train_status_t sparrow_train_data_default_corpus(const char *cache_path, char *msg,
                                                         size_t msg_len) {
  struct stat sb;
  if (stat(cache_path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
    return SPARROW_TRAIN_OK;
  }
  if (make_parent_dirs(cache_path) != 0) {
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len,
                              "cannot create the directory of '%s': %s", cache_path,
                              strerror(errno));
  }
  char tmp[4200];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", cache_path, (long)getpid());
  FILE *out = fopen(tmp, "wb");
  if (out == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len, "cannot write '%s': %s", tmp,
                              strerror(errno));
  }
  FILE *in = popen(KJV_COMMAND " 2>/dev/null", "r");
  if (in == NULL) {
    fclose(out);
    remove(tmp);
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len, "cannot run '%s': %s", KJV_COMMAND,
                              strerror(errno));
  }
  char line[8192];
  uint32_t verses = 0;
  bool write_failed = false;
  while (fgets(line, sizeof(line), in) != NULL) {
    if (sparrow_train_strip_reference(line)) {
      verses++;
    }
    if (fputs(line, out) == EOF) {
      write_failed = true;
    }
  }
  int status = pclose(in);
  if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
    write_failed = true;
  }
  if (fclose(out) != 0) {
    write_failed = true;
  }
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || verses < KJV_MIN_VERSES) {
    remove(tmp);
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127) {
      return sparrow_train_fail(SPARROW_TRAIN_E_UNSUPPORTED, msg, msg_len,
                                "the default corpus needs the 'bible' command of Debian's "
                                "bible-kjv package (run 'sudo make deps'), or pass --data FILE");
    }
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len,
                              "'%s' failed (exit status %d, %u verses); is Debian's bible-kjv "
                              "package intact? (or pass --data FILE)",
                              KJV_COMMAND, WIFEXITED(status) ? WEXITSTATUS(status) : -1, verses);
  }
  if (write_failed) {
    remove(tmp);
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len, "cannot write '%s'", tmp);
  }
  if (rename(tmp, cache_path) != 0) {
    int err = errno;
    remove(tmp);
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len, "cannot rename '%s' to '%s': %s",
                              tmp, cache_path, strerror(err));
  }
  return SPARROW_TRAIN_OK;
}
