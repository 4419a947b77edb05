// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the wire codec (firmware/proto/sparrow_proto.c): CRC known answers, exact frame
// bytes, round trips of every command and response shape, and every way a frame can be damaged.

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/proto/sparrow_proto.h"

static uint8_t g_frame[SPARROW_PROTO_MAX_FRAME + 64];
static uint8_t g_payload[SPARROW_PROTO_MAX_PAYLOAD + 64];

static uint32_t crc_of(const char *s) {
  return sparrow_proto_crc32(0, (const uint8_t *)s, strlen(s));
}

START_TEST(test_crc_known_answers) {
  ck_assert_uint_eq(crc_of("123456789"), 0xCBF43926u);
  ck_assert_uint_eq(crc_of(""), 0u);
  ck_assert_uint_eq(crc_of("a"), 0xE8B7BE43u);
  ck_assert_uint_eq(crc_of("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  // Chaining: the CRC of a concatenation continues from the CRC of its first part (zlib's rule).
  uint32_t part = crc_of("12345");
  ck_assert_uint_eq(sparrow_proto_crc32(part, (const uint8_t *)"6789", 4), 0xCBF43926u);
}
END_TEST

START_TEST(test_frame_bytes) {
  const uint8_t payload[3] = {0xAA, 0xBB, 0xCC};
  size_t n = sparrow_proto_encode(0x84, 0x0102, 0x11223344u, payload, 3, g_frame, sizeof g_frame);
  ck_assert_uint_eq(n, 16 + 3 + 4);
  const uint8_t want[19] = {'S',  'P',  'R', 'W', 1, 0x84, 0x02, 0x01, 0x44, 0x33,
                            0x22, 0x11, 3,   0,   0, 0,    0xAA, 0xBB, 0xCC};
  ck_assert_mem_eq(g_frame, want, sizeof want);
  ck_assert_uint_eq(sparrow_get_u32(g_frame + 19), sparrow_proto_crc32(0, want, sizeof want));
}
END_TEST

// Encodes kind/status/payload, decodes it back and checks every field.
static void round_trip(uint8_t kind, uint16_t status, uint32_t seq, const uint8_t *payload,
                       uint32_t length) {
  size_t n = sparrow_proto_encode(kind, status, seq, payload, length, g_frame, sizeof g_frame);
  ck_assert_uint_eq(n, 20u + length);
  sparrow_frame_header_t h;
  const uint8_t *p = NULL;
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, &p), kSparrowRcOk);
  ck_assert_uint_eq(h.kind, kind);
  ck_assert_uint_eq(h.status, status);
  ck_assert_uint_eq(h.seq, seq);
  ck_assert_uint_eq(h.length, length);
  ck_assert_ptr_eq(p, g_frame + 16);
  if (length > 0) {
    ck_assert_mem_eq(p, payload, length);
  }
}

START_TEST(test_round_trip_every_shape) {
  uint8_t buf[1024];
  for (size_t i = 0; i < sizeof buf; i++) {
    buf[i] = (uint8_t)(i * 37 + 11);
  }
  // Requests.
  round_trip(kSparrowCmdHello, 0, 1, NULL, 0);
  round_trip(kSparrowCmdReset, 0, 2, NULL, 0);
  sparrow_put_u64(buf, 0x0123456789ABCDEFull);
  round_trip(kSparrowCmdMemWrite, 0, 3, buf, 8 + 100);
  sparrow_put_u32(buf + 8, 4096);
  round_trip(kSparrowCmdMemRead, 0, 4, buf, 12);
  sparrow_put_u32(buf, 7);
  sparrow_put_u32(buf + 4, 0);
  round_trip(kSparrowCmdProgLoad, 0, 5, buf, 8 + 8 * 17);
  round_trip(kSparrowCmdLaunch, 0, 6, buf, 4);
  round_trip(kSparrowCmdWait, 0, 7, buf, 8);
  round_trip(kSparrowCmdCounters, 0, 8, NULL, 0);
  round_trip(kSparrowCmdStatus, 0, 9, NULL, 0);
  // Responses.
  round_trip(kSparrowCmdHello | 0x80, 0, 1, buf, SPARROW_PROTO_HELLO_BYTES);
  round_trip(kSparrowCmdMemRead | 0x80, 0, 4, buf, 1000);
  round_trip(kSparrowCmdWait | 0x80, 0, 7, buf, 16);
  round_trip(kSparrowCmdCounters | 0x80, 0, 8, buf, 40 + 16 * 12);
  round_trip(kSparrowCmdStatus | 0x80, 0, 9, buf, 16);
  const char *reason = "MEM_WRITE: 4096 bytes at 0x0ffff800 run past the end of DRAM (0x10000000)";
  round_trip(kSparrowCmdMemWrite | 0x80, kSparrowRcBadAddress, 0xFFFFFFFFu, (const uint8_t *)reason,
             (uint32_t)strlen(reason));
  // The largest payload.
  for (uint32_t i = 0; i < SPARROW_PROTO_MAX_PAYLOAD; i++) {
    g_payload[i] = (uint8_t)(i ^ (i >> 8));
  }
  round_trip(kSparrowCmdMemRead | 0x80, 0, 10, g_payload, SPARROW_PROTO_MAX_PAYLOAD);
}
END_TEST

START_TEST(test_encode_limits) {
  uint8_t small[64];
  ck_assert_uint_eq(sparrow_proto_encode(1, 0, 0, g_payload, SPARROW_PROTO_MAX_PAYLOAD + 1, g_frame,
                                         sizeof g_frame),
                    0);
  ck_assert_uint_eq(sparrow_proto_encode(1, 0, 0, g_payload, 45, small, sizeof small), 0);
  ck_assert_uint_eq(sparrow_proto_encode(1, 0, 0, g_payload, 44, small, sizeof small), 64);
  ck_assert_uint_eq(sparrow_proto_encode(1, 0, 0, NULL, 4, g_frame, sizeof g_frame), 0);
  ck_assert_uint_eq(sparrow_proto_encode(1, 0, 0, NULL, 0, NULL, 100), 0);
}
END_TEST

START_TEST(test_encode_in_place) {
  // The firmware builds a response's payload where it will sit (out + 16), then encodes in place;
  // the driver may also pass a payload that starts elsewhere in the same buffer.
  for (int i = 0; i < 300; i++) {
    g_frame[16 + i] = (uint8_t)(i * 7);
  }
  uint8_t want[300];
  memcpy(want, g_frame + 16, sizeof want);
  size_t n = sparrow_proto_encode(0x84, 0, 5, g_frame + 16, 300, g_frame, sizeof g_frame);
  ck_assert_uint_eq(n, 320);
  sparrow_frame_header_t h;
  const uint8_t *p;
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, &p), kSparrowRcOk);
  ck_assert_mem_eq(p, want, sizeof want);

  memcpy(g_frame + 3, want, sizeof want);  // overlapping the header's destination
  n = sparrow_proto_encode(0x84, 0, 5, g_frame + 3, 300, g_frame, sizeof g_frame);
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, &p), kSparrowRcOk);
  ck_assert_mem_eq(p, want, sizeof want);

  memcpy(g_frame + 40, want, sizeof want);  // and after it
  n = sparrow_proto_encode(0x84, 0, 5, g_frame + 40, 300, g_frame, sizeof g_frame);
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, &p), kSparrowRcOk);
  ck_assert_mem_eq(p, want, sizeof want);
}
END_TEST

static size_t sample_frame(void) {
  uint8_t payload[40];
  for (int i = 0; i < 40; i++) {
    payload[i] = (uint8_t)(0x30 + i);
  }
  return sparrow_proto_encode(kSparrowCmdMemWrite, 0, 0xABCD, payload, 40, g_frame, sizeof g_frame);
}

START_TEST(test_every_single_byte_corruption_is_caught) {
  size_t n = sample_frame();
  for (size_t i = 0; i < n; i++) {
    for (int bit = 0; bit < 8; bit++) {
      g_frame[i] ^= (uint8_t)(1u << bit);
      sparrow_frame_header_t h;
      const uint8_t *p = NULL;
      sparrow_rc_t rc = sparrow_proto_decode(g_frame, n, &h, &p);
      sparrow_rc_t want = i < 4                 ? kSparrowRcBadMagic
                          : i == 4              ? kSparrowRcBadVersion
                          : (i >= 12 && i < 16) ? kSparrowRcBadLength
                                                : kSparrowRcBadCrc;
      ck_assert_msg(rc == want, "byte %zu bit %d: got %s, want %s", i, bit,
                    sparrow_proto_rc_name(rc), sparrow_proto_rc_name(want));
      ck_assert_ptr_null(p);
      g_frame[i] ^= (uint8_t)(1u << bit);
    }
  }
}
END_TEST

START_TEST(test_bad_magic_version_crc) {
  size_t n = sample_frame();
  sparrow_frame_header_t h = {.seq = 77};
  g_frame[0] = 'X';
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, NULL), kSparrowRcBadMagic);
  ck_assert_int_eq(sparrow_proto_parse_header(g_frame, &h), kSparrowRcBadMagic);
  ck_assert_uint_eq(h.seq, 77);  // a bad magic leaves the header alone

  n = sample_frame();
  g_frame[4] = 2;
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, NULL), kSparrowRcBadVersion);
  ck_assert_uint_eq(h.seq, 0xABCD);  // still answerable with the right sequence number
  ck_assert_uint_eq(h.kind, kSparrowCmdMemWrite);

  n = sample_frame();
  g_frame[n - 1] ^= 0x80;
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, NULL), kSparrowRcBadCrc);
  ck_assert_int_eq(sparrow_proto_parse_header(g_frame, &h), kSparrowRcOk);
}
END_TEST

START_TEST(test_truncated_and_extended) {
  size_t n = sample_frame();
  sparrow_frame_header_t h;
  for (size_t len = 0; len < n; len++) {
    ck_assert_int_eq(sparrow_proto_decode(g_frame, len, &h, NULL), kSparrowRcBadLength);
  }
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n + 1, &h, NULL), kSparrowRcBadLength);
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, NULL), kSparrowRcOk);
}
END_TEST

// A header whose length field disagrees with the bytes, with the CRC made right for those bytes:
// only the count can tell.
START_TEST(test_length_field_disagrees) {
  size_t n = sample_frame();
  sparrow_put_u32(g_frame + 12, 39);
  sparrow_put_u32(g_frame + n - 4, sparrow_proto_crc32(0, g_frame, n - 4));
  sparrow_frame_header_t h;
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, NULL), kSparrowRcBadLength);
  ck_assert_uint_eq(h.length, 39);
  sparrow_put_u32(g_frame + 12, 41);
  ck_assert_int_eq(sparrow_proto_decode(g_frame, n, &h, NULL), kSparrowRcBadLength);
}
END_TEST

START_TEST(test_oversized_length) {
  uint8_t header[16];
  sparrow_put_u32(header, SPARROW_PROTO_MAGIC);
  header[4] = 1;
  header[5] = kSparrowCmdMemWrite;
  sparrow_put_u16(header + 6, 0);
  sparrow_put_u32(header + 8, 99);
  sparrow_put_u32(header + 12, SPARROW_PROTO_MAX_PAYLOAD);
  sparrow_frame_header_t h;
  ck_assert_int_eq(sparrow_proto_parse_header(header, &h), kSparrowRcOk);
  sparrow_put_u32(header + 12, SPARROW_PROTO_MAX_PAYLOAD + 1);
  ck_assert_int_eq(sparrow_proto_parse_header(header, &h), kSparrowRcBadLength);
  ck_assert_uint_eq(h.seq, 99);
  ck_assert_uint_eq(h.length, SPARROW_PROTO_MAX_PAYLOAD + 1);
  sparrow_put_u32(header + 12, 0xFFFFFFFFu);
  ck_assert_int_eq(sparrow_proto_parse_header(header, &h), kSparrowRcBadLength);
  // An oversized length outranks a bad version: the stream cannot be followed either way.
  header[4] = 9;
  ck_assert_int_eq(sparrow_proto_parse_header(header, &h), kSparrowRcBadLength);
  ck_assert_int_eq(sparrow_proto_decode(header, sizeof header, &h, NULL), kSparrowRcBadLength);
}
END_TEST

START_TEST(test_hello_round_trip) {
  sparrow_hello_t in = {
      .proto_version = 1,
      .hw_version = 0x01020304u,
      .fw_version = 7,
      .fabric = 1,
      .config = "M",
      .tiles = 4,
      .lanes = 8,
      .pmu_words = 16384,
      .agcu_outstanding = 64,
      .prog_entries = 1024,
      .dram_bw = 64,
      .dram_latency = 100,
      .max_payload = SPARROW_PROTO_MAX_PAYLOAD,
      .dram_bytes = 0x123456789ull,
  };
  uint8_t wire[SPARROW_PROTO_HELLO_BYTES];
  memset(wire, 0xEE, sizeof wire);
  sparrow_proto_hello_encode(&in, wire);
  ck_assert_uint_eq(sparrow_get_u32(wire + 4), 0x01020304u);
  ck_assert_mem_eq(wire + 16, "M\0\0\0\0\0\0\0", 8);
  ck_assert_uint_eq(sparrow_get_u32(wire + 24), 4);
  ck_assert_uint_eq(sparrow_get_u32(wire + 40), 1024);
  ck_assert_uint_eq(sparrow_get_u32(wire + 52), SPARROW_PROTO_MAX_PAYLOAD);
  ck_assert_uint_eq(sparrow_get_u64(wire + 56), 0x123456789ull);
  sparrow_hello_t out;
  memset(&out, 0x55, sizeof out);
  sparrow_proto_hello_decode(wire, &out);
  ck_assert_uint_eq(out.proto_version, in.proto_version);
  ck_assert_uint_eq(out.hw_version, in.hw_version);
  ck_assert_uint_eq(out.fw_version, in.fw_version);
  ck_assert_uint_eq(out.fabric, in.fabric);
  ck_assert_str_eq(out.config, "M");
  ck_assert_uint_eq(out.tiles, in.tiles);
  ck_assert_uint_eq(out.lanes, in.lanes);
  ck_assert_uint_eq(out.pmu_words, in.pmu_words);
  ck_assert_uint_eq(out.agcu_outstanding, in.agcu_outstanding);
  ck_assert_uint_eq(out.prog_entries, in.prog_entries);
  ck_assert_uint_eq(out.dram_bw, in.dram_bw);
  ck_assert_uint_eq(out.dram_latency, in.dram_latency);
  ck_assert_uint_eq(out.max_payload, in.max_payload);
  ck_assert_uint_eq(out.dram_bytes, in.dram_bytes);
  // A device that fills all 8 name bytes still decodes to a terminated string.
  memcpy(wire + 16, "ABCDEFGH", 8);
  sparrow_proto_hello_decode(wire, &out);
  ck_assert_uint_eq(strnlen(out.config, sizeof out.config), 7);
}
END_TEST

START_TEST(test_names) {
  ck_assert_str_eq(sparrow_proto_cmd_name(kSparrowCmdHello), "HELLO");
  ck_assert_str_eq(sparrow_proto_cmd_name(kSparrowCmdMemWrite), "MEM_WRITE");
  ck_assert_str_eq(sparrow_proto_cmd_name(kSparrowCmdStatus), "STATUS");
  ck_assert_str_eq(sparrow_proto_cmd_name(0), "?");
  ck_assert_str_eq(sparrow_proto_cmd_name(0x81), "?");
  ck_assert_str_eq(sparrow_proto_rc_name(kSparrowRcOk), "OK");
  ck_assert_str_eq(sparrow_proto_rc_name(kSparrowRcBadCrc), "BAD_CRC");
  ck_assert_str_eq(sparrow_proto_rc_name(kSparrowRcBadArgument), "BAD_ARGUMENT");
  ck_assert_str_eq(sparrow_proto_rc_name(13), "?");
  for (uint8_t c = 1; c <= 9; c++) {
    ck_assert_str_ne(sparrow_proto_cmd_name(c), "?");
  }
  for (uint16_t rc = 0; rc <= 12; rc++) {
    ck_assert_str_ne(sparrow_proto_rc_name(rc), "?");
  }
}
END_TEST

int main(void) {
  Suite *suite = suite_create("proto");
  TCase *tc = tcase_create("codec");
  tcase_add_test(tc, test_crc_known_answers);
  tcase_add_test(tc, test_frame_bytes);
  tcase_add_test(tc, test_round_trip_every_shape);
  tcase_add_test(tc, test_encode_limits);
  tcase_add_test(tc, test_encode_in_place);
  tcase_add_test(tc, test_every_single_byte_corruption_is_caught);
  tcase_add_test(tc, test_bad_magic_version_crc);
  tcase_add_test(tc, test_truncated_and_extended);
  tcase_add_test(tc, test_length_field_disagrees);
  tcase_add_test(tc, test_oversized_length);
  tcase_add_test(tc, test_hello_round_trip);
  tcase_add_test(tc, test_names);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
