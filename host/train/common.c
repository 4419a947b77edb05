// SPDX-License-Identifier: Apache-2.0
//
// Status names, error messages and the FNV-1a hash shared by the trainer's parts.

#include <stdio.h>

#include "sparrow_train.h"

const char *sparrow_train_status_name(sparrow_train_status_t status) {
  switch (status) {
    case SPARROW_TRAIN_OK:
      return "ok";
    case SPARROW_TRAIN_E_ARG:
      return "bad argument";
    case SPARROW_TRAIN_E_NOMEM:
      return "out of memory";
    case SPARROW_TRAIN_E_IO:
      return "i/o error";
    case SPARROW_TRAIN_E_DATA:
      return "bad data";
    case SPARROW_TRAIN_E_FORMAT:
      return "bad checkpoint";
    case SPARROW_TRAIN_E_UNSUPPORTED:
      return "unsupported";
    case SPARROW_TRAIN_E_NAN:
      return "not finite";
    case SPARROW_TRAIN_E_CHECK:
      return "check failed";
    case SPARROW_TRAIN_E_DEVICE:
      return "device error";
  }
  return "unknown status";
}

sparrow_train_status_t sparrow_train_fail(sparrow_train_status_t status, char *msg, size_t msg_len,
                                          const char *fmt, ...) {
  if (msg != NULL && msg_len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msg_len, fmt, ap);
    va_end(ap);
  }
  return status;
}

uint64_t sparrow_train_fnv1a(uint64_t hash, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    hash ^= p[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}
