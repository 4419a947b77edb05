// SPDX-License-Identifier: Apache-2.0
//
// The GPT trainer's library (host/train, docs/training.md): status codes shared by its parts.
//
// Every fallible call returns a sparrow_train_status_t and, on failure, writes a one-line reason to
// msg (msg_len bytes; msg may be NULL) that names the file, tensor or option at fault.

#ifndef SPARROW_HOST_TRAIN_SPARROW_TRAIN_H_
#define SPARROW_HOST_TRAIN_SPARROW_TRAIN_H_

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sparrow_train_status {
  SPARROW_TRAIN_OK = 0,
  SPARROW_TRAIN_E_ARG,          // an argument or configuration is invalid
  SPARROW_TRAIN_E_NOMEM,        // host out of memory
  SPARROW_TRAIN_E_IO,           // a file could not be read, written or renamed
  SPARROW_TRAIN_E_DATA,         // the training text is empty, too short or does not fit
  SPARROW_TRAIN_E_FORMAT,       // a checkpoint is malformed, truncated or corrupt
  SPARROW_TRAIN_E_UNSUPPORTED,  // a device or feature that does not exist yet
  SPARROW_TRAIN_E_NAN,          // a loss or gradient is not finite
  SPARROW_TRAIN_E_CHECK,        // a device-vs-reference check exceeded its tolerance
  SPARROW_TRAIN_E_DEVICE,       // the device could not be opened or an operator failed on it
} sparrow_train_status_t;

const char *sparrow_train_status_name(sparrow_train_status_t status);

// Writes a formatted reason to msg (when msg is not NULL) and returns status: the library's one way
// of failing, so that every error carries its message.
sparrow_train_status_t sparrow_train_fail(sparrow_train_status_t status, char *msg, size_t msg_len,
                                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// FNV-1a 64 over len bytes, continuing from hash (start with SPARROW_TRAIN_FNV_INIT). It
// identifies the training text and guards checkpoints against corruption.
#define SPARROW_TRAIN_FNV_INIT 0xcbf29ce484222325ull
uint64_t sparrow_train_fnv1a(uint64_t hash, const void *data, size_t len);

#endif  // SPARROW_HOST_TRAIN_SPARROW_TRAIN_H_
