// SPDX-License-Identifier: Apache-2.0
//
// USB descriptor tables and their serialization (USB 2.0 chapter 9). One vendor-specific
// interface with a bulk OUT and a bulk IN endpoint carries the wire protocol's frames.

#include "sparrow_usb_desc.h"

enum {
  kDescDevice = 1,
  kDescConfig = 2,
  kDescString = 3,
  kDescInterface = 4,
  kDescEndpoint = 5,
  kClassVendor = 0xff,
  kAttrBulk = 0x02,
  kConfigBusPowered = 0x80,
  kMaxPower2mA = 250,  // 500 mA
};

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v & 0xff);
  p[1] = (uint8_t)(v >> 8);
}

static size_t str_len(const char *s) {
  size_t n = 0;
  while (s[n] != '\0') {
    n++;
  }
  return n;
}

void sparrow_usb_desc_init(sparrow_usb_desc_t *d) {
  d->vid = SPARROW_USB_VID;
  d->pid = SPARROW_USB_PID;
  d->max_packet = SPARROW_USB_MAX_PACKET_HS;
  // The default is valid by construction; copied directly rather than through the checker.
  const char *s = SPARROW_USB_DEFAULT_SERIAL;
  size_t i = 0;
  for (; s[i] != '\0' && i < SPARROW_USB_SERIAL_MAX; i++) {
    d->serial[i] = s[i];
  }
  d->serial[i] = '\0';
}

sparrow_usb_result_t sparrow_usb_desc_set_serial(sparrow_usb_desc_t *d, const char *serial) {
  if (serial == 0) {
    return kSparrowUsbBadSerial;
  }
  size_t n = str_len(serial);
  if (n == 0 || n > SPARROW_USB_SERIAL_MAX) {
    return kSparrowUsbBadSerial;
  }
  for (size_t i = 0; i < n; i++) {
    char c = serial[i];
    // ':' would split a usb:VID:PID:SERIAL URI; non-printables would garble `sparrow devices`.
    if (c <= ' ' || c > '~' || c == ':') {
      return kSparrowUsbBadSerial;
    }
  }
  for (size_t i = 0; i <= n; i++) {
    d->serial[i] = serial[i];
  }
  return kSparrowUsbOk;
}

size_t sparrow_usb_device_descriptor(const sparrow_usb_desc_t *d, uint8_t *out, size_t cap) {
  if (cap < SPARROW_USB_DEVICE_DESC_BYTES) {
    return 0;
  }
  out[0] = SPARROW_USB_DEVICE_DESC_BYTES;
  out[1] = kDescDevice;
  put16(out + 2, 0x0200);  // bcdUSB 2.00
  out[4] = 0;              // class per interface
  out[5] = 0;
  out[6] = 0;
  out[7] = SPARROW_USB_MAX_PACKET_EP0;
  put16(out + 8, d->vid);
  put16(out + 10, d->pid);
  put16(out + 12, SPARROW_USB_BCD_DEVICE);
  out[14] = SPARROW_USB_STR_MANUFACTURER;
  out[15] = SPARROW_USB_STR_PRODUCT;
  out[16] = SPARROW_USB_STR_SERIAL;
  out[17] = 1;  // one configuration
  return SPARROW_USB_DEVICE_DESC_BYTES;
}

static void endpoint(uint8_t *p, uint8_t address, uint16_t max_packet) {
  p[0] = 7;
  p[1] = kDescEndpoint;
  p[2] = address;
  p[3] = kAttrBulk;
  put16(p + 4, max_packet);
  p[6] = 0;  // bInterval: bulk endpoints never NAK-limit here
}

size_t sparrow_usb_config_descriptor(const sparrow_usb_desc_t *d, uint8_t *out, size_t cap) {
  if (cap < SPARROW_USB_CONFIG_DESC_BYTES) {
    return 0;
  }
  out[0] = 9;
  out[1] = kDescConfig;
  put16(out + 2, SPARROW_USB_CONFIG_DESC_BYTES);
  out[4] = 1;  // one interface
  out[5] = SPARROW_USB_CONFIGURATION;
  out[6] = 0;  // no configuration string
  out[7] = kConfigBusPowered;
  out[8] = kMaxPower2mA;
  uint8_t *itf = out + 9;
  itf[0] = 9;
  itf[1] = kDescInterface;
  itf[2] = SPARROW_USB_INTERFACE;
  itf[3] = 0;  // alternate setting
  itf[4] = 2;  // endpoints
  itf[5] = kClassVendor;
  itf[6] = 0;
  itf[7] = 0;
  itf[8] = 0;  // no interface string
  endpoint(out + 18, SPARROW_USB_EP_OUT, d->max_packet);
  endpoint(out + 25, SPARROW_USB_EP_IN, d->max_packet);
  return SPARROW_USB_CONFIG_DESC_BYTES;
}

size_t sparrow_usb_string_descriptor(const sparrow_usb_desc_t *d, uint8_t index, uint8_t *out,
                                     size_t cap) {
  if (index == SPARROW_USB_STR_LANGIDS) {
    if (cap < 4) {
      return 0;
    }
    out[0] = 4;
    out[1] = kDescString;
    put16(out + 2, SPARROW_USB_LANGID_EN_US);
    return 4;
  }
  const char *s = index == SPARROW_USB_STR_MANUFACTURER ? SPARROW_USB_MANUFACTURER
                  : index == SPARROW_USB_STR_PRODUCT    ? SPARROW_USB_PRODUCT
                  : index == SPARROW_USB_STR_SERIAL     ? d->serial
                                                        : 0;
  if (s == 0) {
    return 0;
  }
  size_t n = str_len(s);
  size_t len = 2 + 2 * n;
  if (len > SPARROW_USB_STRING_DESC_MAX || cap < len) {
    return 0;
  }
  out[0] = (uint8_t)len;
  out[1] = kDescString;
  for (size_t i = 0; i < n; i++) {
    put16(out + 2 + 2 * i, (uint8_t)s[i]);  // ASCII is UTF-16 with a zero high byte
  }
  return len;
}

size_t sparrow_usb_get_descriptor(const sparrow_usb_desc_t *d, uint16_t w_value, uint16_t w_length,
                                  uint8_t *out, size_t cap) {
  uint8_t buf[SPARROW_USB_STRING_DESC_MAX];
  size_t n = 0;
  uint8_t type = (uint8_t)(w_value >> 8);
  uint8_t index = (uint8_t)(w_value & 0xff);
  if (type == kDescDevice && index == 0) {
    n = sparrow_usb_device_descriptor(d, buf, sizeof buf);
  } else if (type == kDescConfig && index == 0) {
    n = sparrow_usb_config_descriptor(d, buf, sizeof buf);
  } else if (type == kDescString) {
    n = sparrow_usb_string_descriptor(d, index, buf, sizeof buf);
  }
  if (n == 0) {
    return 0;
  }
  // The host asks for w_length bytes (often 9 first, for wTotalLength) and gets at most that.
  if (n > w_length) {
    n = w_length;
  }
  if (n > cap) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    out[i] = buf[i];
  }
  return n;
}

size_t sparrow_usb_sysfs_descriptors(const sparrow_usb_desc_t *d, uint8_t *out, size_t cap) {
  if (cap < SPARROW_USB_DEVICE_DESC_BYTES + SPARROW_USB_CONFIG_DESC_BYTES) {
    return 0;
  }
  size_t n = sparrow_usb_device_descriptor(d, out, cap);
  return n + sparrow_usb_config_descriptor(d, out + n, cap - n);
}
