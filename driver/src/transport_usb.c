// SPDX-License-Identifier: Apache-2.0
//
// usb — the wire protocol over a Sparrow's bulk endpoints, through libusb-1.0 (docs/usb.md).
//
// Request frames go out on bulk OUT 0x01 as one transfer each, followed by a zero-length packet
// when the frame is a whole number of max-size packets, so the device always sees where a transfer
// ends. Responses come in on bulk IN 0x81: the device sends each frame as one transfer ending in a
// short packet or a ZLP. IN transfers are always a whole number of max-size packets long (a
// smaller buffer would overflow when a full packet arrives), so reads go through a buffer and
// recv_exact serves the driver's exact byte counts from it. Every transfer is bounded by the
// caller's deadline. Each device has its own libusb context, so nothing is shared between handles.

#include <errno.h>
#include <libusb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/proto/sparrow_proto.h"
#include "transport.h"

enum {
  kInterface = 0,
  kEpOut = 0x01,
  kEpIn = 0x81,
  kMaxCandidates = 16,
  kStringTimeoutMs = 1000,  // libusb's own timeout for string descriptor reads
};

typedef struct usb_transport {
  sparrow_transport_t base;
  libusb_context *ctx;
  libusb_device_handle *handle;
  uint16_t max_out;
  uint16_t max_in;
  uint8_t *rx;  // rx_cap bytes: a whole number of IN packets, more than the largest frame
  size_t rx_cap, rx_len, rx_pos;
  char description[SPARROW_MSG_BYTES];
} usb_transport_t;

// Milliseconds left before deadline_ms, for a libusb timeout (0 would mean "forever").
static unsigned int ms_left(int64_t deadline_ms) {
  int64_t left = deadline_ms - sparrow_now_ms();
  if (left < 1) {
    return 1;
  }
  return left > 0x7fffffff ? 0x7fffffffu : (unsigned int)left;
}

// Maps a failed bulk transfer to the transport contract's statuses, with a message saying what
// happened on which endpoint.
static sparrow_status_t transfer_error(usb_transport_t *u, int rc, uint8_t ep, char *msg,
                                       size_t msg_len) {
  const char *dir = (ep & 0x80) ? "IN" : "OUT";
  switch (rc) {
    case LIBUSB_ERROR_TIMEOUT:
      return sparrow_msgf(SPARROW_E_TIMEOUT, msg, msg_len, "usb: bulk %s 0x%02x: timed out", dir,
                          ep);
    case LIBUSB_ERROR_NO_DEVICE:
      return sparrow_msgf(SPARROW_E_CLOSED, msg, msg_len,
                          "usb: the device is gone (unplugged or reset) during a bulk %s transfer",
                          dir);
    case LIBUSB_ERROR_PIPE: {
      // A halted endpoint stays halted until the host clears it; clear it so that a later session
      // can start clean (this one is over: the byte stream is in an unknown place).
      int cleared = libusb_clear_halt(u->handle, ep);
      return sparrow_msgf(SPARROW_E_IO, msg, msg_len,
                          "usb: bulk %s endpoint 0x%02x stalled: the device halted it (%s)", dir,
                          ep, cleared == 0 ? "halt cleared" : libusb_strerror(cleared));
    }
    case LIBUSB_ERROR_OVERFLOW:
      return sparrow_msgf(SPARROW_E_IO, msg, msg_len,
                          "usb: bulk %s 0x%02x: the device sent more than a whole packet fits "
                          "(overflow)",
                          dir, ep);
    default:
      return sparrow_msgf(SPARROW_E_IO, msg, msg_len, "usb: bulk %s 0x%02x: %s", dir, ep,
                          libusb_strerror(rc));
  }
}

static sparrow_status_t usb_send_all(sparrow_transport_t *t, const uint8_t *buf, size_t len,
                                     int64_t deadline_ms, size_t *done, char *msg, size_t msg_len) {
  usb_transport_t *u = (usb_transport_t *)t;
  size_t sent = 0;
  if (done != NULL) {
    *done = 0;
  }
  while (sent < len) {
    if (sparrow_now_ms() >= deadline_ms) {
      return sparrow_msgf(SPARROW_E_TIMEOUT, msg, msg_len, "usb: bulk OUT 0x%02x: timed out",
                          kEpOut);
    }
    size_t chunk = len - sent > 0x40000000u ? 0x40000000u : len - sent;
    int actual = 0;
    int rc = libusb_bulk_transfer(u->handle, kEpOut, (unsigned char *)buf + sent, (int)chunk,
                                  &actual, ms_left(deadline_ms));
    sent += actual > 0 ? (size_t)actual : 0;
    if (done != NULL) {
      *done = sent;
    }
    if (rc != 0) {
      return transfer_error(u, rc, kEpOut, msg, msg_len);
    }
  }
  if (len % u->max_out == 0) {
    // A whole number of full packets does not end a transfer by itself: the ZLP does.
    int actual = 0;
    int rc = libusb_bulk_transfer(u->handle, kEpOut, (unsigned char *)buf, 0, &actual,
                                  ms_left(deadline_ms));
    if (rc != 0) {
      return transfer_error(u, rc, kEpOut, msg, msg_len);
    }
  }
  return SPARROW_OK;
}

static sparrow_status_t usb_recv_exact(sparrow_transport_t *t, uint8_t *buf, size_t len,
                                       int64_t deadline_ms, size_t *done, char *msg,
                                       size_t msg_len) {
  usb_transport_t *u = (usb_transport_t *)t;
  size_t got = 0;
  if (done != NULL) {
    *done = 0;
  }
  while (got < len) {
    if (u->rx_pos < u->rx_len) {
      size_t n = u->rx_len - u->rx_pos < len - got ? u->rx_len - u->rx_pos : len - got;
      memcpy(buf + got, u->rx + u->rx_pos, n);
      u->rx_pos += n;
      got += n;
      if (done != NULL) {
        *done = got;
      }
      continue;
    }
    if (sparrow_now_ms() >= deadline_ms) {
      return sparrow_msgf(SPARROW_E_TIMEOUT, msg, msg_len, "usb: bulk IN 0x%02x: timed out", kEpIn);
    }
    u->rx_pos = 0;
    u->rx_len = 0;
    int actual = 0;
    int rc = libusb_bulk_transfer(u->handle, kEpIn, u->rx, (int)u->rx_cap, &actual,
                                  ms_left(deadline_ms));
    u->rx_len = actual > 0 ? (size_t)actual : 0;  // 0 bytes: a ZLP ended the transfer
    if (rc != 0 && u->rx_len == 0) {
      return transfer_error(u, rc, kEpIn, msg, msg_len);
    }
  }
  return SPARROW_OK;
}

static void usb_close(sparrow_transport_t *t) {
  usb_transport_t *u = (usb_transport_t *)t;
  if (u->handle != NULL) {
    (void)libusb_release_interface(u->handle, kInterface);
    libusb_close(u->handle);
  }
  if (u->ctx != NULL) {
    libusb_exit(u->ctx);
  }
  free(u->rx);
  free(u);
}

static const char *usb_describe(const sparrow_transport_t *t) {
  return ((const usb_transport_t *)t)->description;
}

// ---------------------------------------------------------------------------------------------------
// Finding devices.

static void read_string(libusb_device_handle *h, uint8_t index, char *out, size_t len) {
  out[0] = '\0';
  if (index == 0) {
    return;
  }
  unsigned char s[128];
  int n = libusb_get_string_descriptor_ascii(h, index, s, sizeof s);
  if (n <= 0) {
    return;
  }
  for (int i = 0; i < n && (size_t)i + 1 < len; i++) {
    // One line, printable: the strings are the device's word.
    out[i] = s[i] < 0x20 || s[i] > 0x7e ? '?' : (char)s[i];
    out[i + 1] = '\0';
  }
}

static const char *open_problem(int rc) {
  switch (rc) {
    case LIBUSB_ERROR_ACCESS:
      return "access denied (no permission on its /dev/bus/usb node: see docs/usb.md for a udev "
             "rule)";
    case LIBUSB_ERROR_NO_DEVICE:
      return "gone before it could be opened";
    case LIBUSB_ERROR_BUSY:
      return "busy";
    default:
      return libusb_strerror(rc);
  }
}

// Fills info for one device; opens it briefly to read its strings.
static void describe_device(libusb_device *dev, const struct libusb_device_descriptor *dd,
                            sparrow_usb_device_t *info) {
  memset(info, 0, sizeof *info);
  info->vid = dd->idVendor;
  info->pid = dd->idProduct;
  info->bus = libusb_get_bus_number(dev);
  info->address = libusb_get_device_address(dev);
  libusb_device_handle *h = NULL;
  int rc = libusb_open(dev, &h);
  if (rc != 0) {
    snprintf(info->problem, sizeof info->problem, "%s", open_problem(rc));
  } else {
    read_string(h, dd->iSerialNumber, info->serial, sizeof info->serial);
    read_string(h, dd->iProduct, info->product, sizeof info->product);
    libusb_close(h);
  }
  if (info->serial[0] != '\0') {
    snprintf(info->uri, sizeof info->uri, "usb:%04x:%04x:%s", info->vid, info->pid, info->serial);
  } else {
    snprintf(info->uri, sizeof info->uri, "usb:%04x:%04x", info->vid, info->pid);
  }
}

static sparrow_status_t init_context(libusb_context **ctx, char *msg, size_t msg_len) {
  int rc = libusb_init(ctx);
  if (rc != 0) {
    *ctx = NULL;
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                        "usb: cannot initialise libusb: %s (no USB support on this host?)",
                        libusb_strerror(rc));
  }
  return SPARROW_OK;
}

// The devices with vid:pid: up to cap described in infos (and, when devs is not NULL, their
// libusb_device, referenced), *count the total.
static sparrow_status_t scan(libusb_context *ctx, uint16_t vid, uint16_t pid,
                             sparrow_usb_device_t *infos, libusb_device **devs, size_t cap,
                             size_t *count, char *msg, size_t msg_len) {
  *count = 0;
  libusb_device **list = NULL;
  ssize_t n = libusb_get_device_list(ctx, &list);
  if (n < 0) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "usb: cannot list devices: %s",
                        libusb_strerror((int)n));
  }
  for (ssize_t i = 0; i < n; i++) {
    struct libusb_device_descriptor dd;
    if (libusb_get_device_descriptor(list[i], &dd) != 0 || dd.idVendor != vid ||
        dd.idProduct != pid) {
      continue;
    }
    if (*count < cap) {
      describe_device(list[i], &dd, &infos[*count]);
      if (devs != NULL) {
        devs[*count] = libusb_ref_device(list[i]);
      }
    }
    (*count)++;
  }
  libusb_free_device_list(list, 1);
  return SPARROW_OK;
}

sparrow_status_t sparrow_usb_list(uint16_t vid, uint16_t pid, sparrow_usb_device_t *devices,
                                  size_t cap, size_t *count, char *msg, size_t msg_len) {
  if (count == NULL || (devices == NULL && cap > 0)) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "usb_list: NULL argument");
  }
  if (vid == 0 && pid == 0) {
    vid = 0x1209;
    pid = 0x0001;
  }
  libusb_context *ctx = NULL;
  sparrow_status_t status = init_context(&ctx, msg, msg_len);
  if (status != SPARROW_OK) {
    return status;
  }
  status = scan(ctx, vid, pid, devices, NULL, cap, count, msg, msg_len);
  libusb_exit(ctx);
  return status;
}

// Checks that interface 0 has bulk endpoints 0x01 and 0x81 and reads their max packet sizes.
static sparrow_status_t check_endpoints(usb_transport_t *u, char *msg, size_t msg_len) {
  libusb_device *dev = libusb_get_device(u->handle);
  struct libusb_config_descriptor *config = NULL;
  int rc = libusb_get_active_config_descriptor(dev, &config);
  if (rc != 0) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                        "usb: %s: cannot read its configuration: %s", u->description,
                        libusb_strerror(rc));
  }
  for (int i = 0; i < config->bNumInterfaces; i++) {
    const struct libusb_interface *itf = &config->interface[i];
    for (int a = 0; a < itf->num_altsetting; a++) {
      const struct libusb_interface_descriptor *alt = &itf->altsetting[a];
      if (alt->bInterfaceNumber != kInterface || alt->bAlternateSetting != 0) {
        continue;
      }
      for (int e = 0; e < alt->bNumEndpoints; e++) {
        const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];
        if ((ep->bmAttributes & 0x3) != LIBUSB_TRANSFER_TYPE_BULK) {
          continue;
        }
        if (ep->bEndpointAddress == kEpOut) {
          u->max_out = ep->wMaxPacketSize & 0x7ff;
        } else if (ep->bEndpointAddress == kEpIn) {
          u->max_in = ep->wMaxPacketSize & 0x7ff;
        }
      }
    }
  }
  libusb_free_config_descriptor(config);
  if (u->max_out == 0 || u->max_in == 0) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                        "usb: %s is not a Sparrow: interface %d lacks bulk endpoint 0x%02x",
                        u->description, kInterface, u->max_out == 0 ? kEpOut : kEpIn);
  }
  return SPARROW_OK;
}

// Picks the device to open among those found (docs/usb.md: errors).
static sparrow_status_t choose(const sparrow_usb_device_t *found, size_t n, size_t total,
                               uint16_t vid, uint16_t pid, const char *serial, size_t *pick,
                               char *msg, size_t msg_len) {
  if (total == 0) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                        "usb: no Sparrow %04x:%04x found (is it plugged in? `sparrow devices` "
                        "lists what libusb sees)",
                        vid, pid);
  }
  char serials[256] = "";
  size_t used = 0;
  size_t matches = 0;
  for (size_t i = 0; i < n; i++) {
    const char *s = found[i].serial[0] != '\0' ? found[i].serial : "?";
    int w = snprintf(serials + used, sizeof serials - used, "%s%s", i > 0 ? ", " : "", s);
    if (w > 0 && (size_t)w < sizeof serials - used) {
      used += (size_t)w;
    }
    if (serial[0] == '\0' || strcmp(found[i].serial, serial) == 0) {
      matches++;
      *pick = i;
    }
  }
  if (serial[0] == '\0' && total > 1) {
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                        "usb: %zu Sparrows %04x:%04x found (serials %s): choose one with "
                        "usb:%04x:%04x:SERIAL",
                        total, vid, pid, serials, vid, pid);
  }
  if (matches == 0) {
    // A device we could not open may be the one asked for: say so rather than "not found".
    for (size_t i = 0; i < n; i++) {
      if (found[i].problem[0] != '\0') {
        return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                            "usb: no Sparrow %04x:%04x with serial %s among those readable; the "
                            "one at bus %u device %u: %s",
                            vid, pid, serial, found[i].bus, found[i].address, found[i].problem);
      }
    }
    return sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                        "usb: no Sparrow %04x:%04x with serial %s (found: %s)", vid, pid, serial,
                        serials);
  }
  return SPARROW_OK;
}

sparrow_status_t sparrow_transport_usb_open(uint16_t vid, uint16_t pid, const char *serial,
                                            sparrow_transport_t **out, char *msg, size_t msg_len) {
  *out = NULL;
  usb_transport_t *u = calloc(1, sizeof *u);
  if (u == NULL) {
    return sparrow_msgf(SPARROW_E_NOMEM, msg, msg_len, "out of host memory");
  }
  u->base.send_all = usb_send_all;
  u->base.recv_exact = usb_recv_exact;
  u->base.close = usb_close;
  u->base.describe = usb_describe;
  sparrow_status_t status = init_context(&u->ctx, msg, msg_len);
  if (status != SPARROW_OK) {
    usb_close(&u->base);
    return status;
  }
  sparrow_usb_device_t found[kMaxCandidates];
  libusb_device *devs[kMaxCandidates];
  size_t total = 0;
  status = scan(u->ctx, vid, pid, found, devs, kMaxCandidates, &total, msg, msg_len);
  if (status != SPARROW_OK) {
    usb_close(&u->base);
    return status;
  }
  size_t n = total < kMaxCandidates ? total : kMaxCandidates;
  size_t pick = 0;
  status = choose(found, n, total, vid, pid, serial, &pick, msg, msg_len);
  int rc = 0;
  if (status == SPARROW_OK) {
    // Only a chosen device has a description (found[] is filled for the first n devices).
    const sparrow_usb_device_t *info = &found[pick];
    snprintf(u->description, sizeof u->description, "%.175s (bus %u device %u%s%.127s)", info->uri,
             info->bus, info->address, info->product[0] != '\0' ? ", " : "", info->product);
  }
  if (status == SPARROW_OK) {
    rc = libusb_open(devs[pick], &u->handle);
    if (rc != 0) {
      u->handle = NULL;
      status = sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len, "usb: %s: %s", u->description,
                            open_problem(rc));
    }
  }
  for (size_t i = 0; i < n; i++) {
    libusb_unref_device(devs[i]);
  }
  if (status == SPARROW_OK) {
    status = check_endpoints(u, msg, msg_len);
  }
  if (status == SPARROW_OK) {
    rc = libusb_claim_interface(u->handle, kInterface);
    if (rc != 0) {
      status = sparrow_msgf(SPARROW_E_CONNECT, msg, msg_len,
                            "usb: %s: cannot claim interface %d: %s", u->description, kInterface,
                            rc == LIBUSB_ERROR_BUSY
                                ? "busy (another program or a kernel driver has claimed it)"
                                : open_problem(rc));
    }
  }
  if (status != SPARROW_OK) {
    if (u->handle != NULL && rc != 0) {
      libusb_close(u->handle);  // not claimed: nothing to release
      u->handle = NULL;
    }
    usb_close(&u->base);
    return status;
  }
  // Room for the largest frame plus the short packet or ZLP that ends it, in whole packets.
  u->rx_cap = (SPARROW_PROTO_MAX_FRAME / u->max_in + 1) * u->max_in;
  u->rx = malloc(u->rx_cap);
  if (u->rx == NULL) {
    usb_close(&u->base);
    return sparrow_msgf(SPARROW_E_NOMEM, msg, msg_len, "out of host memory");
  }
  *out = &u->base;
  return SPARROW_OK;
}
