// SPDX-License-Identifier: Apache-2.0
//
// Bulk IN packetization (see usb_endpoint.h).

#include "usb_endpoint.h"

#include <stdlib.h>
#include <string.h>

void sparrow_usb_ep_in_init(sparrow_usb_ep_in_t *ep, uint16_t max_packet) {
  ep->max_packet = max_packet;
  ep->head = NULL;
  ep->tail = NULL;
}

void sparrow_usb_ep_in_clear(sparrow_usb_ep_in_t *ep) {
  while (ep->head != NULL) {
    sparrow_usb_in_transfer_t *t = ep->head;
    ep->head = t->next;
    free(t);
  }
  ep->tail = NULL;
}

bool sparrow_usb_ep_in_queue(sparrow_usb_ep_in_t *ep, const uint8_t *data, size_t len) {
  sparrow_usb_in_transfer_t *t = malloc(sizeof *t + len);
  if (t == NULL) {
    return false;
  }
  t->next = NULL;
  t->len = len;
  t->pos = 0;
  memcpy(t->data, data, len);
  if (ep->tail == NULL) {
    ep->head = t;
  } else {
    ep->tail->next = t;
  }
  ep->tail = t;
  return true;
}

bool sparrow_usb_ep_in_idle(const sparrow_usb_ep_in_t *ep) {
  return ep->head == NULL;
}

static void pop(sparrow_usb_ep_in_t *ep) {
  sparrow_usb_in_transfer_t *t = ep->head;
  ep->head = t->next;
  if (ep->head == NULL) {
    ep->tail = NULL;
  }
  free(t);
}

sparrow_usb_fill_t sparrow_usb_ep_in_fill(sparrow_usb_ep_in_t *ep, uint8_t *buf, size_t cap,
                                          size_t *actual) {
  *actual = 0;
  if (ep->head == NULL) {
    return kSparrowUsbFillPending;
  }
  size_t room = cap;
  for (;;) {
    if (room == 0) {
      // URB full: it completes; the rest of the transfer (or only its ZLP) goes to the next one.
      return kSparrowUsbFillDone;
    }
    sparrow_usb_in_transfer_t *t = ep->head;
    size_t rest = t->len - t->pos;
    if (rest == 0) {
      // The transfer was a whole number of packets and the last one filled the previous URB: the
      // zero-length packet that ends it completes this URB with nothing.
      pop(ep);
      return kSparrowUsbFillDone;
    }
    size_t packet = rest < ep->max_packet ? rest : ep->max_packet;
    if (packet > room) {
      // The device sends whole packets: the host controller takes what fits and reports babble.
      memcpy(buf + *actual, t->data + t->pos, room);
      *actual += room;
      t->pos += room;
      return kSparrowUsbFillOverflow;
    }
    memcpy(buf + *actual, t->data + t->pos, packet);
    *actual += packet;
    t->pos += packet;
    room -= packet;
    if (packet < ep->max_packet) {
      pop(ep);  // a short packet ends the transfer and the URB
      return kSparrowUsbFillDone;
    }
    if (t->pos == t->len && room > 0) {
      pop(ep);  // the ZLP follows at once and ends the URB
      return kSparrowUsbFillDone;
    }
  }
}
