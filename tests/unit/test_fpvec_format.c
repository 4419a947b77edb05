// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the TestFloat line format (sim/fpvec/fpvec_format.c): what it accepts, what it
// rejects and why, and that formatting round-trips through parsing.

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/fpvec/fpvec_format.h"

static fpvec_vector_t parse_ok(const char *line) {
  fpvec_vector_t vector = {0};
  const char *why = NULL;
  ck_assert_msg(fpvec_parse_line(line, &vector, &why) == kFpvecParseOk, "rejected '%s': %s", line,
                why);
  return vector;
}

static const char *parse_error(const char *line) {
  fpvec_vector_t vector = {.a = 0x12345678u};
  const char *why = NULL;
  ck_assert_msg(fpvec_parse_line(line, &vector, &why) == kFpvecParseMalformed, "accepted '%s'",
                line);
  ck_assert_ptr_nonnull(why);
  ck_assert_uint_eq(vector.a, 0x12345678u);  // a rejected line leaves the output alone
  return why;
}

START_TEST(test_parses_fields) {
  fpvec_vector_t v = parse_ok("3F800000 bf800000 7FC00000 10\n");
  ck_assert_uint_eq(v.a, 0x3F800000u);
  ck_assert_uint_eq(v.b, 0xBF800000u);
  ck_assert_uint_eq(v.result, 0x7FC00000u);
  ck_assert_uint_eq(v.flags, 0x10u);
}
END_TEST

START_TEST(test_accepts_line_endings_and_tabs) {
  ck_assert_uint_eq(parse_ok("00000001 00000002 00000003 01").result, 3u);
  ck_assert_uint_eq(parse_ok("00000001 00000002 00000003 01\r\n").flags, 1u);
  ck_assert_uint_eq(parse_ok("00000001\t00000002\t00000003\t1F\n").flags, 0x1Fu);
}
END_TEST

START_TEST(test_rejects_malformed) {
  ck_assert_str_eq(parse_error("\n"), "empty line");
  ck_assert_str_eq(parse_error(""), "empty line");
  ck_assert_str_eq(parse_error("3F800000 3F800000 40000000\n"),
                   "too few fields (want: A B RESULT FLAGS)");
  ck_assert_str_eq(parse_error("3F80000 3F800000 40000000 00\n"),
                   "operands and result must be exactly 8 hex digits");
  ck_assert_str_eq(parse_error("3F800000_3F800000 40000000 00\n"),
                   "fields must be separated by one space or tab");
  ck_assert_str_eq(parse_error("3F800000 3F800000 4000000G 00\n"),
                   "operands and result must be exactly 8 hex digits");
  ck_assert_str_eq(parse_error("3F800000 3F800000 40000000 0\n"),
                   "flags must be exactly 2 hex digits");
  ck_assert_str_eq(parse_error("3F800000 3F800000 40000000 000\n"), "field too long");
  ck_assert_str_eq(parse_error("3F800000 3F800000 40000000 00 x\n"),
                   "unexpected text after the flags");
  ck_assert_str_eq(parse_error("3F800000  3F800000 40000000 00\n"),
                   "operands and result must be exactly 8 hex digits");
  ck_assert_str_eq(parse_error("3F800000 3F800000 40000000 20\n"), "flags use bits above bit 4");
  ck_assert_str_eq(parse_error("3F800000 3F800000 40000000 00\r"),
                   "unexpected text after the flags");
}
END_TEST

START_TEST(test_format_round_trips) {
  const fpvec_vector_t vectors[] = {
      {0x00000000u, 0xFFFFFFFFu, 0x7FC00000u, 0x10u},
      {0x3F800001u, 0x007FFFFFu, 0x00800000u, 0x01u},
      {0xDEADBEEFu, 0x01234567u, 0x89ABCDEFu, 0x1Fu},
  };
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    char line[FPVEC_LINE_MAX];
    size_t length = fpvec_format_line(&vectors[i], line);
    ck_assert_uint_eq(length, strlen("AAAAAAAA BBBBBBBB RRRRRRRR FF\n"));
    fpvec_vector_t back = parse_ok(line);
    ck_assert_uint_eq(back.a, vectors[i].a);
    ck_assert_uint_eq(back.b, vectors[i].b);
    ck_assert_uint_eq(back.result, vectors[i].result);
    ck_assert_uint_eq(back.flags, vectors[i].flags);
  }
  char line[FPVEC_LINE_MAX];
  fpvec_format_line(&vectors[2], line);
  ck_assert_str_eq(line, "DEADBEEF 01234567 89ABCDEF 1F\n");
}
END_TEST

int main(void) {
  Suite *suite = suite_create("fpvec_format");
  TCase *tc = tcase_create("format");
  tcase_add_test(tc, test_parses_fields);
  tcase_add_test(tc, test_accepts_line_endings_and_tabs);
  tcase_add_test(tc, test_rejects_malformed);
  tcase_add_test(tc, test_format_round_trips);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
