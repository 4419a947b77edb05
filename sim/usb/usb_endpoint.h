// SPDX-License-Identifier: Apache-2.0
//
// The device side of a bulk IN endpoint (docs/usb.md, "The URB flow"): the firmware hands it one
// response frame at a time as one USB transfer; the endpoint sends it in max-packet-sized packets,
// the last one short, or followed by a zero-length packet when the frame is a whole number of
// packets, so that the host always sees where a transfer ends. A host URB (an IN request of some
// buffer length) takes packets until it is full, a short packet or ZLP ends it, or a packet does
// not fit (babble: EOVERFLOW). Plain C, unit-tested in tests/usb/.

#ifndef SPARROW_SIM_USB_USB_ENDPOINT_H_
#define SPARROW_SIM_USB_USB_ENDPOINT_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sparrow_usb_in_transfer {
  struct sparrow_usb_in_transfer *next;
  size_t len;
  size_t pos;  // bytes already sent
  uint8_t data[];
} sparrow_usb_in_transfer_t;

typedef struct sparrow_usb_ep_in {
  uint16_t max_packet;
  sparrow_usb_in_transfer_t *head;  // FIFO of transfers the firmware queued
  sparrow_usb_in_transfer_t *tail;
} sparrow_usb_ep_in_t;

typedef enum sparrow_usb_fill {
  kSparrowUsbFillPending,   // nothing to send yet: the URB stays on the bus
  kSparrowUsbFillDone,      // the URB completes normally with *actual bytes
  kSparrowUsbFillOverflow,  // a packet larger than the URB's room arrived (EOVERFLOW)
} sparrow_usb_fill_t;

void sparrow_usb_ep_in_init(sparrow_usb_ep_in_t *ep, uint16_t max_packet);
// Drops every queued transfer.
void sparrow_usb_ep_in_clear(sparrow_usb_ep_in_t *ep);
// Queues len bytes as one transfer (copied). False when out of memory.
bool sparrow_usb_ep_in_queue(sparrow_usb_ep_in_t *ep, const uint8_t *data, size_t len)
    __attribute__((warn_unused_result));
bool sparrow_usb_ep_in_idle(const sparrow_usb_ep_in_t *ep);
// Serves one host URB of cap bytes into buf.
sparrow_usb_fill_t sparrow_usb_ep_in_fill(sparrow_usb_ep_in_t *ep, uint8_t *buf, size_t cap,
                                          size_t *actual);

#endif  // SPARROW_SIM_USB_USB_ENDPOINT_H_
