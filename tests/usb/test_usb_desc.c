// SPDX-License-Identifier: Apache-2.0
//
// The firmware's USB descriptor tables (byte for byte against USB 2.0 chapter 9) and the bulk IN
// endpoint model's packetization (short packets, ZLPs, URBs that end mid-transfer, babble).

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/usb/sparrow_usb_desc.h"
#include "../../sim/usb/usb_endpoint.h"

START_TEST(device_descriptor_bytes) {
  sparrow_usb_desc_t d;
  sparrow_usb_desc_init(&d);
  uint8_t b[64];
  ck_assert_uint_eq(sparrow_usb_device_descriptor(&d, b, sizeof b), 18);
  const uint8_t want[18] = {18,   1,    0x00, 0x02, 0,    0, 0, 64, 0x09,
                            0x12, 0x01, 0x00, 0x00, 0x01, 1, 2, 3,  1};
  ck_assert_mem_eq(b, want, 18);
  ck_assert_uint_eq(sparrow_usb_device_descriptor(&d, b, 17), 0);  // does not fit
}
END_TEST

START_TEST(config_descriptor_bytes) {
  sparrow_usb_desc_t d;
  sparrow_usb_desc_init(&d);
  uint8_t b[64];
  ck_assert_uint_eq(sparrow_usb_config_descriptor(&d, b, sizeof b), 32);
  const uint8_t want[32] = {9, 2, 32,   0, 1,    1,    0, 0x80, 250,  // config
                            9, 4, 0,    0, 2,    0xff, 0, 0,    0,    // interface
                            7, 5, 0x01, 2, 0x00, 0x02, 0,             // bulk OUT
                            7, 5, 0x81, 2, 0x00, 0x02, 0};            // bulk IN
  ck_assert_mem_eq(b, want, 32);
  d.max_packet = SPARROW_USB_MAX_PACKET_FS;
  ck_assert_uint_eq(sparrow_usb_config_descriptor(&d, b, sizeof b), 32);
  ck_assert_uint_eq(b[22] | b[23] << 8, 64);
  ck_assert_uint_eq(b[29] | b[30] << 8, 64);
  ck_assert_uint_eq(sparrow_usb_sysfs_descriptors(&d, b, sizeof b), 50);
  ck_assert_uint_eq(b[0], 18);
  ck_assert_uint_eq(b[18], 9);
  ck_assert_uint_eq(sparrow_usb_sysfs_descriptors(&d, b, 49), 0);
}
END_TEST

START_TEST(strings_and_serial) {
  sparrow_usb_desc_t d;
  sparrow_usb_desc_init(&d);
  ck_assert_str_eq(d.serial, SPARROW_USB_DEFAULT_SERIAL);
  uint8_t b[256];
  ck_assert_uint_eq(sparrow_usb_string_descriptor(&d, 0, b, sizeof b), 4);
  ck_assert_uint_eq(b[2] | b[3] << 8, 0x0409);
  ck_assert_int_eq(sparrow_usb_desc_set_serial(&d, "BOARD-42"), kSparrowUsbOk);
  size_t n = sparrow_usb_string_descriptor(&d, SPARROW_USB_STR_SERIAL, b, sizeof b);
  ck_assert_uint_eq(n, 2 + 2 * 8);
  ck_assert_uint_eq(b[0], n);
  ck_assert_uint_eq(b[1], 3);
  for (int i = 0; i < 8; i++) {
    ck_assert_uint_eq(b[2 + 2 * i], (uint8_t) "BOARD-42"[i]);
    ck_assert_uint_eq(b[3 + 2 * i], 0);
  }
  ck_assert_uint_eq(sparrow_usb_string_descriptor(&d, 4, b, sizeof b), 0);  // no such string
  // Serials that a URI or a listing could not carry are refused, and the old one is kept.
  ck_assert_int_eq(sparrow_usb_desc_set_serial(&d, ""), kSparrowUsbBadSerial);
  ck_assert_int_eq(sparrow_usb_desc_set_serial(&d, "A:B"), kSparrowUsbBadSerial);
  ck_assert_int_eq(sparrow_usb_desc_set_serial(&d, "A B"), kSparrowUsbBadSerial);
  ck_assert_int_eq(sparrow_usb_desc_set_serial(&d, "A\nB"), kSparrowUsbBadSerial);
  ck_assert_int_eq(sparrow_usb_desc_set_serial(&d, NULL), kSparrowUsbBadSerial);
  ck_assert_int_eq(sparrow_usb_desc_set_serial(&d, "0123456789abcdef0123456789abcdefX"),
                   kSparrowUsbBadSerial);
  ck_assert_int_eq(sparrow_usb_desc_set_serial(&d, "0123456789abcdef0123456789abcdef"),
                   kSparrowUsbOk);
  ck_assert_int_eq(sparrow_usb_desc_set_serial(&d, "x:"), kSparrowUsbBadSerial);
  ck_assert_str_eq(d.serial, "0123456789abcdef0123456789abcdef");
}
END_TEST

START_TEST(get_descriptor_requests) {
  sparrow_usb_desc_t d;
  sparrow_usb_desc_init(&d);
  uint8_t b[256];
  ck_assert_uint_eq(sparrow_usb_get_descriptor(&d, 0x0100, 64, b, sizeof b), 18);
  // The host first asks for the 9-byte configuration header to learn wTotalLength.
  ck_assert_uint_eq(sparrow_usb_get_descriptor(&d, 0x0200, 9, b, sizeof b), 9);
  ck_assert_uint_eq(b[2], 32);
  ck_assert_uint_eq(sparrow_usb_get_descriptor(&d, 0x0200, 255, b, sizeof b), 32);
  ck_assert_uint_eq(sparrow_usb_get_descriptor(&d, 0x0302, 255, b, sizeof b),
                    2 + 2 * strlen(SPARROW_USB_PRODUCT));
  ck_assert_uint_eq(sparrow_usb_get_descriptor(&d, 0x0301, 2, b, sizeof b), 2);
  ck_assert_uint_eq(sparrow_usb_get_descriptor(&d, 0x0600, 10, b, sizeof b), 0);  // qualifier
  ck_assert_uint_eq(sparrow_usb_get_descriptor(&d, 0x0101, 18, b, sizeof b), 0);
  ck_assert_uint_eq(sparrow_usb_get_descriptor(&d, 0x0100, 18, b, 10), 0);  // no room
}
END_TEST

static uint8_t g_frame[70000];
static uint8_t g_urb[70000];

static void queue(sparrow_usb_ep_in_t *ep, size_t len) {
  for (size_t i = 0; i < len; i++) {
    g_frame[i] = (uint8_t)(i * 7 + len);
  }
  ck_assert(sparrow_usb_ep_in_queue(ep, g_frame, len));
}

START_TEST(in_short_packet_ends_transfer) {
  sparrow_usb_ep_in_t ep;
  sparrow_usb_ep_in_init(&ep, 512);
  size_t actual = 99;
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb, 66048, &actual), kSparrowUsbFillPending);
  ck_assert_uint_eq(actual, 0);
  queue(&ep, 1100);  // 512 + 512 + 76
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb, 66048, &actual), kSparrowUsbFillDone);
  ck_assert_uint_eq(actual, 1100);
  ck_assert_mem_eq(g_urb, g_frame, 1100);
  ck_assert(sparrow_usb_ep_in_idle(&ep));
}
END_TEST

START_TEST(in_zlp_after_whole_packets) {
  sparrow_usb_ep_in_t ep;
  sparrow_usb_ep_in_init(&ep, 512);
  size_t actual = 0;
  queue(&ep, 1024);
  queue(&ep, 20);
  // Room left after the last full packet: the ZLP ends the URB, the next frame stays queued.
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb, 66048, &actual), kSparrowUsbFillDone);
  ck_assert_uint_eq(actual, 1024);
  ck_assert(!sparrow_usb_ep_in_idle(&ep));
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb, 66048, &actual), kSparrowUsbFillDone);
  ck_assert_uint_eq(actual, 20);
  ck_assert(sparrow_usb_ep_in_idle(&ep));
  // URB exactly as long as the frame: full URB first, the ZLP completes the next one empty.
  queue(&ep, 1024);
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb, 1024, &actual), kSparrowUsbFillDone);
  ck_assert_uint_eq(actual, 1024);
  ck_assert(!sparrow_usb_ep_in_idle(&ep));
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb, 1024, &actual), kSparrowUsbFillDone);
  ck_assert_uint_eq(actual, 0);
  ck_assert(sparrow_usb_ep_in_idle(&ep));
}
END_TEST

START_TEST(in_transfer_over_several_urbs_and_babble) {
  sparrow_usb_ep_in_t ep;
  sparrow_usb_ep_in_init(&ep, 512);
  size_t actual = 0;
  queue(&ep, 1100);
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb, 512, &actual), kSparrowUsbFillDone);
  ck_assert_uint_eq(actual, 512);
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb + 512, 512, &actual), kSparrowUsbFillDone);
  ck_assert_uint_eq(actual, 512);
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb + 1024, 512, &actual), kSparrowUsbFillDone);
  ck_assert_uint_eq(actual, 76);
  ck_assert_mem_eq(g_urb, g_frame, 1100);
  ck_assert(sparrow_usb_ep_in_idle(&ep));
  // A URB that is not a whole number of packets overflows when a full packet comes.
  queue(&ep, 600);
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb, 16, &actual), kSparrowUsbFillOverflow);
  ck_assert_uint_eq(actual, 16);
  sparrow_usb_ep_in_clear(&ep);
  ck_assert(sparrow_usb_ep_in_idle(&ep));
  // Full speed: 64-byte packets.
  sparrow_usb_ep_in_init(&ep, 64);
  queue(&ep, 128);
  ck_assert_int_eq(sparrow_usb_ep_in_fill(&ep, g_urb, 4096, &actual), kSparrowUsbFillDone);
  ck_assert_uint_eq(actual, 128);
  ck_assert(sparrow_usb_ep_in_idle(&ep));
}
END_TEST

int main(void) {
  Suite *s = suite_create("usb_desc");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, device_descriptor_bytes);
  tcase_add_test(tc, config_descriptor_bytes);
  tcase_add_test(tc, strings_and_serial);
  tcase_add_test(tc, get_descriptor_requests);
  tcase_add_test(tc, in_short_packet_ends_transfer);
  tcase_add_test(tc, in_zlp_after_whole_packets);
  tcase_add_test(tc, in_transfer_over_several_urbs_and_babble);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
