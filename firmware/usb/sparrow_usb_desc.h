// SPDX-License-Identifier: Apache-2.0
//
// The device's USB identity (docs/usb.md): the descriptor tables the firmware answers
// GET_DESCRIPTOR with, and that sparrow-usb-fake puts in its simulated sysfs. Freestanding C11 like
// the rest of the firmware: no allocation, no libc calls; all state in sparrow_usb_desc_t.

#ifndef SPARROW_FIRMWARE_USB_SPARROW_USB_DESC_H_
#define SPARROW_FIRMWARE_USB_SPARROW_USB_DESC_H_

#include <stddef.h>
#include <stdint.h>

// pid.codes test VID:PID (docs/usb.md says how to get a PID of one's own).
#define SPARROW_USB_VID 0x1209u
#define SPARROW_USB_PID 0x0001u
#define SPARROW_USB_BCD_DEVICE 0x0100u  // device release 1.00

#define SPARROW_USB_INTERFACE 0u
#define SPARROW_USB_CONFIGURATION 1u
#define SPARROW_USB_EP_OUT 0x01u  // bulk OUT: request frames, host to device
#define SPARROW_USB_EP_IN 0x81u   // bulk IN: response frames, device to host

// Bulk max packet size per bus speed (USB 2.0: 64 at full speed, 512 at high speed).
#define SPARROW_USB_MAX_PACKET_FS 64u
#define SPARROW_USB_MAX_PACKET_HS 512u
#define SPARROW_USB_MAX_PACKET_EP0 64u

// String descriptor indices.
#define SPARROW_USB_STR_LANGIDS 0u
#define SPARROW_USB_STR_MANUFACTURER 1u
#define SPARROW_USB_STR_PRODUCT 2u
#define SPARROW_USB_STR_SERIAL 3u
#define SPARROW_USB_LANGID_EN_US 0x0409u

// Serial numbers: 1..32 printable ASCII characters other than ':' (it separates the fields of a
// usb:VID:PID:SERIAL URI) and space.
#define SPARROW_USB_SERIAL_MAX 32u
#define SPARROW_USB_DEFAULT_SERIAL "SPRW-0001"

#define SPARROW_USB_DEVICE_DESC_BYTES 18u
#define SPARROW_USB_CONFIG_DESC_BYTES 32u  // configuration + interface + 2 endpoints
// A string descriptor: 2 header bytes + 2 bytes per character (UTF-16LE, ASCII only here).
#define SPARROW_USB_STRING_DESC_MAX (2u + 2u * 64u)

#define SPARROW_USB_MANUFACTURER "Sparrow project"
#define SPARROW_USB_PRODUCT "Sparrow sparse-dataflow accelerator"

typedef enum sparrow_usb_result {
  kSparrowUsbOk = 0,
  kSparrowUsbBadSerial,  // empty, too long, or a character outside the allowed set
} sparrow_usb_result_t;

typedef struct sparrow_usb_desc {
  uint16_t vid;
  uint16_t pid;
  uint16_t max_packet;  // bulk endpoints: SPARROW_USB_MAX_PACKET_HS or _FS
  char serial[SPARROW_USB_SERIAL_MAX + 1];
} sparrow_usb_desc_t;

// Defaults: SPARROW_USB_VID/PID, high speed, SPARROW_USB_DEFAULT_SERIAL.
void sparrow_usb_desc_init(sparrow_usb_desc_t *d);

// Sets the serial number (a board reads it from its OTP or flash; the fake numbers its devices).
sparrow_usb_result_t sparrow_usb_desc_set_serial(sparrow_usb_desc_t *d, const char *serial)
    __attribute__((warn_unused_result));

// Each writes one descriptor into out (cap bytes) and returns its length, or 0 when it does not fit
// or does not exist. The device descriptor is 18 bytes; the configuration descriptor is returned
// whole (configuration, interface, OUT and IN endpoints: 32 bytes).
size_t sparrow_usb_device_descriptor(const sparrow_usb_desc_t *d, uint8_t *out, size_t cap);
size_t sparrow_usb_config_descriptor(const sparrow_usb_desc_t *d, uint8_t *out, size_t cap);
// index 0 is the list of languages; 1..3 the strings (any language id gets the en-US text).
size_t sparrow_usb_string_descriptor(const sparrow_usb_desc_t *d, uint8_t index, uint8_t *out,
                                     size_t cap);

// The answer to a standard GET_DESCRIPTOR request (wValue = type << 8 | index), truncated to
// w_length as USB requires; 0 means "stall": no such descriptor.
size_t sparrow_usb_get_descriptor(const sparrow_usb_desc_t *d, uint16_t w_value, uint16_t w_length,
                                  uint8_t *out, size_t cap);

// What Linux shows in sysfs as a device's `descriptors` attribute: the device descriptor followed
// by the configuration descriptor (50 bytes).
size_t sparrow_usb_sysfs_descriptors(const sparrow_usb_desc_t *d, uint8_t *out, size_t cap);

#endif  // SPARROW_FIRMWARE_USB_SPARROW_USB_DESC_H_
