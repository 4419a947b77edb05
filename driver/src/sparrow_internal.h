// SPDX-License-Identifier: Apache-2.0
//
// libsparrow internals that tests use: opening a device over a transport built by the caller (a
// fake device on a socketpair) with a chosen HELLO timeout.

#ifndef SPARROW_DRIVER_SRC_SPARROW_INTERNAL_H_
#define SPARROW_DRIVER_SRC_SPARROW_INTERNAL_H_

#include "../include/sparrow.h"
#include "transport.h"

// Takes ownership of transport (closed on failure), performs HELLO within timeout_ms.
sparrow_status_t sparrow_open_transport(sparrow_transport_t *transport, uint32_t timeout_ms,
                                        sparrow_dev_t **dev, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// WAIT's slices of fabric cycles: the first, and the bounds the driver adapts them within (to the
// simulator's speed, docs/driver.md).
#define SPARROW_WAIT_SLICE_MIN 1000u
#define SPARROW_WAIT_SLICE_FIRST 20000u
#define SPARROW_WAIT_SLICE_MAX 10000000u

#endif  // SPARROW_DRIVER_SRC_SPARROW_INTERNAL_H_
