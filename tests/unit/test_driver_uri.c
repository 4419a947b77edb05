// SPDX-License-Identifier: Apache-2.0
//
// Check suite for libsparrow's device URI parser (driver/src/uri.c): every accepted form and what
// each malformed one is told.

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../driver/src/uri.h"

static sparrow_uri_t parse_ok(const char *text) {
  sparrow_uri_t uri;
  char msg[256] = "";
  sparrow_status_t status = sparrow_uri_parse(text, &uri, msg, sizeof msg);
  ck_assert_msg(status == SPARROW_OK, "rejected '%s': %s", text, msg);
  return uri;
}

// Returns the message of a rejected URI (static buffer).
static const char *parse_bad(const char *text) {
  static char msg[256];
  msg[0] = '\0';
  sparrow_uri_t uri;
  sparrow_status_t status = sparrow_uri_parse(text, &uri, msg, sizeof msg);
  ck_assert_msg(status == SPARROW_E_ARG, "'%s' gave %s, expected SPARROW_E_ARG", text,
                sparrow_status_name(status));
  ck_assert_msg(msg[0] != '\0', "'%s' rejected without a message", text);
  ck_assert_ptr_null(strchr(msg, '\n'));
  return msg;
}

START_TEST(test_sim_defaults) {
  sparrow_uri_t uri = parse_ok("sim");
  ck_assert_int_eq(uri.kind, kSparrowUriSim);
  ck_assert_str_eq(uri.sim.fabric, "rtl");
  ck_assert_str_eq(uri.sim.config, "M");
  ck_assert_uint_eq(uri.sim.dram_bw, 0);
  ck_assert_uint_eq(uri.sim.dram_mb, 0);
  ck_assert_uint_eq(uri.sim.dram_latency, 0);
}
END_TEST

START_TEST(test_sim_fabric_and_options) {
  sparrow_uri_t uri = parse_ok("sim:model");
  ck_assert_str_eq(uri.sim.fabric, "model");
  ck_assert_str_eq(uri.sim.config, "M");

  uri = parse_ok("sim:rtl,config=S");
  ck_assert_str_eq(uri.sim.fabric, "rtl");
  ck_assert_str_eq(uri.sim.config, "S");

  uri = parse_ok("sim:model,dram_bw=32");
  ck_assert_str_eq(uri.sim.fabric, "model");
  ck_assert_uint_eq(uri.sim.dram_bw, 32);

  uri = parse_ok("sim,config=S,dram_latency=1,dram_mb=64,dram_bw=1");
  ck_assert_str_eq(uri.sim.fabric, "rtl");
  ck_assert_str_eq(uri.sim.config, "S");
  ck_assert_uint_eq(uri.sim.dram_latency, 1);
  ck_assert_uint_eq(uri.sim.dram_mb, 64);
  ck_assert_uint_eq(uri.sim.dram_bw, 1);

  uri = parse_ok("sim:model,dram_bw=65536,dram_latency=1000000,dram_mb=4096");
  ck_assert_uint_eq(uri.sim.dram_bw, 65536);
  ck_assert_uint_eq(uri.sim.dram_latency, 1000000);
  ck_assert_uint_eq(uri.sim.dram_mb, 4096);
}
END_TEST

START_TEST(test_sim_rejects) {
  ck_assert_str_eq(parse_bad("sim:fpga"), "sim fabric 'fpga': expected sim:rtl or sim:model");
  ck_assert_str_eq(parse_bad("sim:"), "sim fabric '': expected sim:rtl or sim:model");
  ck_assert_str_eq(parse_bad("sim:rtl,config=L"),
                   "sim option config=L: expected config=S or config=M");
  ck_assert_str_eq(parse_bad("sim:rtl,config=s"),
                   "sim option config=s: expected config=S or config=M");
  ck_assert_str_eq(parse_bad("sim:rtl,config="),
                   "sim option config=: expected config=S or config=M");
  ck_assert_str_eq(parse_bad("sim:model,dram_bw=0"),
                   "sim option dram_bw=0: expected a decimal integer in [1, 65536]");
  ck_assert_str_eq(parse_bad("sim:model,dram_bw=-3"),
                   "sim option dram_bw=-3: expected a decimal integer in [1, 65536]");
  ck_assert_str_eq(parse_bad("sim:model,dram_bw=12x"),
                   "sim option dram_bw=12x: expected a decimal integer in [1, 65536]");
  ck_assert_str_eq(parse_bad("sim:model,dram_bw=99999999999999"),
                   "sim option dram_bw=99999999999999: expected a decimal integer in [1, 65536]");
  ck_assert_str_eq(parse_bad("sim,dram_mb=4097"),
                   "sim option dram_mb=4097: expected a decimal integer in [1, 4096]");
  ck_assert_str_eq(parse_bad("sim,dram_latency="),
                   "sim option dram_latency=: expected a decimal integer in [1, 1000000]");
  ck_assert_str_eq(parse_bad("sim,dram_latency=0"),
                   "sim option dram_latency=0: expected a decimal integer in [1, 1000000]");
  ck_assert_str_eq(parse_bad("sim:rtl,speed=9"),
                   "unknown sim option 'speed' (known: config, dram_bw, dram_latency, dram_mb)");
  ck_assert_str_eq(parse_bad("sim:rtl,config"), "sim option 'config' is not NAME=VALUE");
  ck_assert_str_eq(parse_bad("sim:rtl,"), "empty sim option (stray comma)");
  ck_assert_str_eq(parse_bad("sim:rtl,,config=S"), "empty sim option (stray comma)");
  ck_assert_str_eq(parse_bad("sim,config=S,config=M"), "sim option 'config' given twice");
  ck_assert_str_eq(parse_bad("sim:model:x"), "sim fabric 'model:x': expected sim:rtl or sim:model");
  parse_bad("simulator");
  parse_bad("SIM");
}
END_TEST

START_TEST(test_unix) {
  sparrow_uri_t uri = parse_ok("unix:/tmp/sparrow.sock");
  ck_assert_int_eq(uri.kind, kSparrowUriUnix);
  ck_assert_str_eq(uri.path, "/tmp/sparrow.sock");
  ck_assert_str_eq(parse_ok("unix:rel/path").path, "rel/path");
  ck_assert_str_eq(parse_bad("unix:"), "unix: path empty or longer than 107 bytes");
  char long_uri[200] = "unix:/";
  memset(long_uri + 6, 'a', 120);
  long_uri[126] = '\0';
  ck_assert_str_eq(parse_bad(long_uri), "unix: path empty or longer than 107 bytes");
}
END_TEST

START_TEST(test_tcp) {
  sparrow_uri_t uri = parse_ok("tcp:localhost:7777");
  ck_assert_int_eq(uri.kind, kSparrowUriTcp);
  ck_assert_str_eq(uri.host, "localhost");
  ck_assert_str_eq(uri.port, "7777");
  uri = parse_ok("tcp:[::1]:80");
  ck_assert_str_eq(uri.host, "::1");
  ck_assert_str_eq(uri.port, "80");
  uri = parse_ok("tcp:10.0.0.2:65535");
  ck_assert_str_eq(uri.host, "10.0.0.2");
  ck_assert_str_eq(parse_bad("tcp:localhost"), "tcp: expected tcp:HOST:PORT");
  ck_assert_str_eq(parse_bad("tcp::7777"), "tcp: host empty or too long");
  ck_assert_str_eq(parse_bad("tcp:host:0"), "tcp: port '0' is not a number in [1, 65535]");
  ck_assert_str_eq(parse_bad("tcp:host:65536"), "tcp: port '65536' is not a number in [1, 65535]");
  ck_assert_str_eq(parse_bad("tcp:host:http"), "tcp: port 'http' is not a number in [1, 65535]");
  ck_assert_str_eq(parse_bad("tcp:host:"), "tcp: port '' is not a number in [1, 65535]");
  ck_assert_str_eq(parse_bad("tcp:::1:80"), "tcp: an IPv6 host needs brackets: tcp:[ADDR]:PORT");
  ck_assert_str_eq(parse_bad("tcp:[::1:80"), "tcp: unterminated '[' in the host");
  ck_assert_str_eq(parse_bad("tcp:[::1]80"), "tcp: expected tcp:[HOST]:PORT");
}
END_TEST

START_TEST(test_usb) {
  sparrow_uri_t uri = parse_ok("usb");
  ck_assert_int_eq(uri.kind, kSparrowUriUsb);
  ck_assert_uint_eq(uri.usb_vid, 0x1209);
  ck_assert_uint_eq(uri.usb_pid, 0x0001);
  ck_assert_str_eq(uri.usb_serial, "");
  uri = parse_ok("usb:CAFE:beef:SN42");
  ck_assert_uint_eq(uri.usb_vid, 0xCAFE);
  ck_assert_uint_eq(uri.usb_pid, 0xBEEF);
  ck_assert_str_eq(uri.usb_serial, "SN42");
  parse_bad("usb:1209");
  parse_bad("usb:12090:1");
  parse_bad("usb:1209:xyz");
  parse_bad("usb:1209:0001:");
  parse_bad("usbx");
}
END_TEST

START_TEST(test_unknown_scheme) {
  ck_assert_str_eq(parse_bad(""),
                   "unknown device URI '' (expected sim[:rtl|:model][,...], unix:PATH, "
                   "tcp:HOST:PORT or usb[:VID:PID])");
  parse_bad("http://x");
  char msg[64] = "";
  sparrow_uri_t uri;
  ck_assert_int_eq(sparrow_uri_parse(NULL, &uri, msg, sizeof msg), SPARROW_E_ARG);
  ck_assert_str_eq(msg, "no device URI");
}
END_TEST

START_TEST(test_open_rejects_bad_uri) {
  // The public entry point reports the parser's message and leaves *dev NULL.
  sparrow_dev_t *dev = (sparrow_dev_t *)&dev;
  char msg[256] = "";
  ck_assert_int_eq(sparrow_open("sim:rtl,config=X", &dev, msg, sizeof msg), SPARROW_E_ARG);
  ck_assert_ptr_null(dev);
  ck_assert_str_eq(msg, "sim option config=X: expected config=S or config=M");
  // A VID:PID no device has: not found (or, on a host without USB support, libusb cannot start).
  ck_assert_int_eq(sparrow_open("usb:ffff:fffe", &dev, msg, sizeof msg), SPARROW_E_CONNECT);
  ck_assert_ptr_null(dev);
  ck_assert_msg(strstr(msg, "usb: no Sparrow ffff:fffe found") != NULL ||
                    strstr(msg, "usb: cannot initialise libusb") != NULL,
                "%s", msg);
  // A NULL or tiny message buffer is fine.
  ck_assert_int_eq(sparrow_open("bogus", &dev, NULL, 0), SPARROW_E_ARG);
  ck_assert_int_eq(sparrow_open("bogus", &dev, msg, 1), SPARROW_E_ARG);
  ck_assert_str_eq(msg, "");
}
END_TEST

int main(void) {
  Suite *suite = suite_create("driver_uri");
  TCase *tc = tcase_create("uri");
  tcase_add_test(tc, test_sim_defaults);
  tcase_add_test(tc, test_sim_fabric_and_options);
  tcase_add_test(tc, test_sim_rejects);
  tcase_add_test(tc, test_unix);
  tcase_add_test(tc, test_tcp);
  tcase_add_test(tc, test_usb);
  tcase_add_test(tc, test_unknown_scheme);
  tcase_add_test(tc, test_open_rejects_bad_uri);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
