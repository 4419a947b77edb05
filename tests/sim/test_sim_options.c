// SPDX-License-Identifier: Apache-2.0
//
// sparrow-sim's command line (sim/platform/sim_options.h): defaults, both option forms, and a clear
// refusal of every bad value.

#include <check.h>
#include <string.h>

#include "../../sim/platform/sim_options.h"

static sparrow_sim_options_t g_opts;
static char g_err[256];

// Parses a NULL-ended argument list (without argv[0]).
static bool parse(const char *const *args) {
  char *argv[32];
  int argc = 0;
  argv[argc++] = (char *)"sparrow-sim";
  for (int i = 0; args[i] != NULL; i++) {
    argv[argc++] = (char *)args[i];
  }
  g_err[0] = '\0';
  return sparrow_sim_options_parse(argc, argv, &g_opts, g_err, sizeof(g_err));
}

START_TEST(test_defaults) {
  static const char *const kArgs[] = {"--fd", "3", NULL};
  ck_assert(parse(kArgs));
  ck_assert_int_eq(g_opts.fd, 3);
  ck_assert_ptr_null(g_opts.listen);
  ck_assert_int_eq(g_opts.fabric, kSparrowSimFabricRtl);
  ck_assert_str_eq(g_opts.config->name, "M");
  ck_assert_uint_eq(g_opts.dram_mb, 256);
  ck_assert_uint_eq(g_opts.dram_bw, 64);
  ck_assert_uint_eq(g_opts.dram_latency, 100);
  ck_assert_ptr_null(g_opts.trace);
  ck_assert_uint_eq(g_opts.frame_timeout_ms, 10000);
  ck_assert(!g_opts.help);
}
END_TEST

START_TEST(test_every_option_both_forms) {
  static const char *const kArgs[] = {"--listen=unix:/tmp/x.sock",
                                      "--fabric",
                                      "rtl",
                                      "--config=S",
                                      "--dram-mb",
                                      "4096",
                                      "--dram-bw=1",
                                      "--dram-latency",
                                      "1000000",
                                      "--trace",
                                      "w.fst",
                                      "--trace-start=5",
                                      "--trace-cycles",
                                      "7",
                                      "--frame-timeout-ms=250",
                                      NULL};
  ck_assert_msg(parse(kArgs), "%s", g_err);
  ck_assert_str_eq(g_opts.listen, "unix:/tmp/x.sock");
  ck_assert_int_eq(g_opts.fd, -1);
  ck_assert_str_eq(g_opts.config->name, "S");
  ck_assert_uint_eq(g_opts.config->tiles, 2);
  ck_assert_uint_eq(g_opts.dram_mb, 4096);
  ck_assert_uint_eq(g_opts.dram_bw, 1);
  ck_assert_uint_eq(g_opts.dram_latency, 1000000);
  ck_assert_str_eq(g_opts.trace, "w.fst");
  ck_assert_uint_eq(g_opts.trace_start, 5);
  ck_assert_uint_eq(g_opts.trace_cycles, 7);
  ck_assert_uint_eq(g_opts.frame_timeout_ms, 250);
}
END_TEST

START_TEST(test_listen_forms) {
  static const char *const kOk[][3] = {
      {"--listen", "tcp:127.0.0.1:0", NULL},
      {"--listen", "tcp:8000", NULL},
      {"--listen", "tcp:[::1]:65535", NULL},
      {"--listen", "tcp:0.0.0.0:7", NULL},
  };
  for (size_t i = 0; i < sizeof(kOk) / sizeof(kOk[0]); i++) {
    ck_assert_msg(parse(kOk[i]), "%s: %s", kOk[i][1], g_err);
  }
  static const char *const kBad[][3] = {
      {"--listen", "tcp:127.0.0.1:65536", NULL},
      {"--listen", "tcp:host:", NULL},
      {"--listen", "unix:", NULL},
      {"--listen", "/tmp/sock", NULL},
  };
  for (size_t i = 0; i < sizeof(kBad) / sizeof(kBad[0]); i++) {
    ck_assert_msg(!parse(kBad[i]), "%s accepted", kBad[i][1]);
    ck_assert_ptr_nonnull(strstr(g_err, "--listen"));
  }
}
END_TEST

START_TEST(test_model_fabric) {
  static const char *const kArgs[] = {"--fd", "0", "--fabric", "model", NULL};
  ck_assert(parse(kArgs));
  ck_assert_int_eq(g_opts.fabric, kSparrowSimFabricModel);
  ck_assert_int_eq(g_opts.fd, 0);
}
END_TEST

// Each bad command line and a word its message must contain.
START_TEST(test_refusals) {
  static const struct {
    const char *args[6];
    const char *says;
  } kCases[] = {
      {{NULL}, "exactly one of"},
      {{"--fd", "3", "--listen", "tcp:1", NULL}, "exactly one of"},
      {{"--fd", "-1", NULL}, "--fd"},
      {{"--fd", "3", "--fabric", "fpga", NULL}, "--fabric"},
      {{"--fd", "3", "--config", "L", NULL}, "'L'"},
      {{"--fd", "3", "--dram-mb", "0", NULL}, "1..4096"},
      {{"--fd", "3", "--dram-mb", "4097", NULL}, "1..4096"},
      {{"--fd", "3", "--dram-bw", "12x", NULL}, "--dram-bw"},
      {{"--fd", "3", "--dram-bw", "", NULL}, "--dram-bw"},
      {{"--fd", "3", "--dram-latency", "0", NULL}, "--dram-latency"},
      {{"--fd", "3", "--dram-latency", "99999999999999999999999", NULL}, "--dram-latency"},
      {{"--fd", "3", "--trace-cycles", "5", NULL}, "need --trace"},
      {{"--fd", "3", "--trace", "x.fst", "--fabric=model", NULL}, "--fabric rtl"},
      {{"--fd", "3", "--trace-cycles=0", "--trace", "x.fst", NULL}, "--trace-cycles"},
      {{"--fd", "3", "--frame-timeout-ms", "0", NULL}, "--frame-timeout-ms"},
      {{"--fd", "3", "--dram-bw", NULL}, "needs a value"},
      {{"--fd", "3", "--bogus", "1", NULL}, "unknown option '--bogus'"},
      {{"--fd", "3", "stray", NULL}, "unexpected argument 'stray'"},
  };
  for (size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    ck_assert_msg(!parse(kCases[i].args), "case %zu accepted", i);
    ck_assert_msg(strstr(g_err, kCases[i].says) != NULL, "case %zu: '%s' lacks '%s'", i, g_err,
                  kCases[i].says);
  }
}
END_TEST

START_TEST(test_help) {
  static const char *const kArgs[] = {"--help", NULL};
  ck_assert(parse(kArgs));
  ck_assert(g_opts.help);
  ck_assert_ptr_nonnull(strstr(sparrow_sim_usage(), "--listen unix:PATH"));
  ck_assert_ptr_nonnull(strstr(sparrow_sim_usage(), "--trace-cycles"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("sim_options");
  TCase *tc = tcase_create("options");
  tcase_add_test(tc, test_defaults);
  tcase_add_test(tc, test_every_option_both_forms);
  tcase_add_test(tc, test_listen_forms);
  tcase_add_test(tc, test_model_fabric);
  tcase_add_test(tc, test_refusals);
  tcase_add_test(tc, test_help);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
