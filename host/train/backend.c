// SPDX-License-Identifier: Apache-2.0
//
// Device selection (backend.h): "ref" opens the CPU reference, any other string the chip backend
// on that libsparrow URI in the chosen execution mode. Kept apart from backend_ref.c so that the
// trainer's unit suites link the reference without the ops library and the driver.

#include <string.h>

#include "backend.h"

sparrow_train_status_t sparrow_train_backend_check_device(const char *device, char *msg,
                                                          size_t msg_len) {
  if (device == NULL || device[0] == '\0') {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len, "no device given");
  }
  if (strcmp(device, "ref") == 0) {
    return SPARROW_TRAIN_OK;
  }
  return sparrow_train_backend_chip_check(device, msg, msg_len);
}

sparrow_train_status_t sparrow_train_backend_open(
    const char *device, const sparrow_gpt_config_t *config, const sparrow_adamw_t *adamw,
    sparrow_train_mode_t mode, sparrow_train_backend_t *backend, char *msg, size_t msg_len) {
  sparrow_train_status_t st = sparrow_train_backend_check_device(device, msg, msg_len);
  if (st != SPARROW_TRAIN_OK) {
    return st;
  }
  if (mode != SPARROW_TRAIN_MODE_KBK && mode != SPARROW_TRAIN_MODE_DF) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "execution mode %d is neither kbk nor df", (int)mode);
  }
  if (strcmp(device, "ref") == 0) {
    return sparrow_train_backend_ref_open(config, adamw, backend, msg, msg_len);
  }
  return sparrow_train_backend_chip_open(device, config, adamw, mode, backend, msg, msg_len);
}
