// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the trainer's data (host/train/data.c): load errors with their messages
// (missing, unreadable, a directory, empty, too short for either split, at the exact boundary),
// vocabulary and split, deterministic batches that stay inside their split, verse-reference
// stripping, and the default corpus (generated from Debian's bible-kjv, and the message when the
// `bible` command is missing).

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "rng.h"

static char g_dir[256];
static char msg[1024];

static void path_in_dir(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", g_dir, name);
}

static void write_file(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(text, 1, len, f), len);
  fclose(f);
}

static void setup(void) {
  snprintf(g_dir, sizeof(g_dir), "/tmp/sparrow-test-train-data-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
  ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_missing_file) {
  char path[300];
  path_in_dir(path, sizeof(path), "nope.txt");
  sparrow_train_data_t d;
  ck_assert_int_eq(sparrow_train_data_load(path, 8, &d, msg, sizeof(msg)), SPARROW_TRAIN_E_IO);
  printf("missing: %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, path));
  ck_assert_ptr_nonnull(strstr(msg, "No such file"));
}
END_TEST

START_TEST(test_directory_is_unreadable) {
  sparrow_train_data_t d;
  ck_assert_int_eq(sparrow_train_data_load(g_dir, 8, &d, msg, sizeof(msg)), SPARROW_TRAIN_E_IO);
  printf("directory: %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "cannot read data file"));
  ck_assert_ptr_nonnull(strstr(msg, g_dir));
}
END_TEST

START_TEST(test_permission_denied) {
  char path[300];
  path_in_dir(path, sizeof(path), "secret.txt");
  write_file(path, "some text that is long enough for a tiny context\n", 50);
  ck_assert_int_eq(chmod(path, 0), 0);
  sparrow_train_data_t d;
  sparrow_train_status_t st = sparrow_train_data_load(path, 2, &d, msg, sizeof(msg));
  if (geteuid() == 0) {
    // root reads any file: the permission path cannot be exercised; the directory test covers
    // the read-failure path.
    printf("permission denied: not testable as root (the file was read: %s)\n",
           sparrow_train_status_name(st));
    if (st == SPARROW_TRAIN_OK) {
      sparrow_train_data_free(&d);
    }
    return;
  }
  ck_assert_int_eq(st, SPARROW_TRAIN_E_IO);
  printf("unreadable: %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "Permission denied"));
}
END_TEST

START_TEST(test_empty_file) {
  char path[300];
  path_in_dir(path, sizeof(path), "empty.txt");
  write_file(path, "", 0);
  sparrow_train_data_t d;
  ck_assert_int_eq(sparrow_train_data_load(path, 8, &d, msg, sizeof(msg)), SPARROW_TRAIN_E_DATA);
  printf("empty: %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "is empty"));
  ck_assert_ptr_nonnull(strstr(msg, path));
}
END_TEST

START_TEST(test_too_short_boundaries) {
  // Context 64: each split needs 65 bytes; the validation split is the last n/10 bytes, so 650
  // bytes is the shortest text that works and 649 fails (its validation split has 64).
  char path[300];
  path_in_dir(path, sizeof(path), "short.txt");
  char text[700];
  for (size_t i = 0; i < sizeof(text); i++) {
    text[i] = (char)('a' + i % 7);
  }
  sparrow_train_data_t d;
  write_file(path, text, 649);
  ck_assert_int_eq(sparrow_train_data_load(path, 64, &d, msg, sizeof(msg)), SPARROW_TRAIN_E_DATA);
  printf("too short: %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "too short"));
  ck_assert_ptr_nonnull(strstr(msg, path));
  ck_assert_ptr_nonnull(strstr(msg, "64 for validation"));
  write_file(path, text, 650);
  ck_assert_int_eq(sparrow_train_data_load(path, 64, &d, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_uint_eq(d.n, 650);
  ck_assert_uint_eq(d.n - d.n_train, 65);
  sparrow_train_data_free(&d);
  // A text of 100 bytes cannot serve context 64 in either split.
  write_file(path, text, 100);
  ck_assert_int_eq(sparrow_train_data_load(path, 64, &d, msg, sizeof(msg)), SPARROW_TRAIN_E_DATA);
  ck_assert_ptr_nonnull(strstr(msg, "90 for training and 10 for validation"));
}
END_TEST

START_TEST(test_vocabulary_and_split) {
  char path[300];
  path_in_dir(path, sizeof(path), "text.txt");
  const char *text = "the cat sat on the mat. THE END\nthe cat sat on the mat. THE END\n";
  size_t n = strlen(text);
  write_file(path, text, n);
  sparrow_train_data_t d;
  ck_assert_int_eq(sparrow_train_data_load(path, 4, &d, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  // Distinct bytes, ascending: "\n", " ", ".", "D", "E", "H", "N", "T", "a", "c", "e", "h", "m",
  // "n", "o", "s", "t".
  const char *want = "\n .DEHNTacehmnost";
  ck_assert_uint_eq(d.vocab, strlen(want));
  ck_assert_int_eq(memcmp(d.chars, want, d.vocab), 0);
  for (size_t i = 0; i < n; i++) {
    ck_assert_uint_eq(d.chars[d.ids[i]], (unsigned char)text[i]);
  }
  ck_assert_int_eq(d.id_of['z'], -1);
  ck_assert_uint_eq(d.n, n);
  ck_assert_uint_eq(d.n_train, n - n / 10);
  ck_assert_uint_eq(d.hash, sparrow_train_fnv1a(SPARROW_TRAIN_FNV_INIT, text, n));
  sparrow_train_data_free(&d);
}
END_TEST

START_TEST(test_batches_deterministic_and_inside_split) {
  char path[300];
  path_in_dir(path, sizeof(path), "long.txt");
  size_t n = 5000;
  char *text = malloc(n);
  uint64_t r = 99;
  for (size_t i = 0; i < n; i++) {
    text[i] = (char)('a' + sparrow_train_rng_below(&r, 26));
  }
  write_file(path, text, n);
  sparrow_train_data_t d;
  ck_assert_int_eq(sparrow_train_data_load(path, 16, &d, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  enum { B = 4, T = 16 };
  uint32_t in1[B * T], tg1[B * T], in2[B * T], tg2[B * T];
  for (int split = 0; split < 2; split++) {
    uint64_t s1 = 7, s2 = 7, s3 = 8, expect = 7;
    sparrow_train_data_batch(&d, (sparrow_train_split_t)split, &s1, B, T, in1, tg1);
    sparrow_train_data_batch(&d, (sparrow_train_split_t)split, &s2, B, T, in2, tg2);
    ck_assert_int_eq(memcmp(in1, in2, sizeof(in1)), 0);  // same seed, same batch
    ck_assert_int_eq(memcmp(tg1, tg2, sizeof(tg1)), 0);
    ck_assert_uint_eq(s1, s2);
    sparrow_train_data_batch(&d, (sparrow_train_split_t)split, &s3, B, T, in2, tg2);
    ck_assert_int_ne(memcmp(in1, in2, sizeof(in1)), 0);  // another seed, another batch
    // Each row is the window at the offset the sampler draws, inside the split; the targets are
    // the inputs shifted by one; the state advanced by exactly B draws.
    uint64_t base = split == 0 ? 0 : d.n_train;
    uint64_t len = split == 0 ? d.n_train : d.n - d.n_train;
    for (int b = 0; b < B; b++) {
      uint64_t off = base + sparrow_train_rng_below(&expect, len - T);
      ck_assert(off + T < base + len);
      for (int t = 0; t < T; t++) {
        ck_assert_uint_eq(in1[b * T + t], d.ids[off + t]);
        ck_assert_uint_eq(tg1[b * T + t], d.ids[off + t + 1]);
      }
    }
    ck_assert_uint_eq(expect, s1);
  }
  sparrow_train_data_free(&d);
  free(text);
}
END_TEST

START_TEST(test_batches_reach_every_offset) {
  // A split with exactly 3 possible windows: all are drawn, none outside.
  char path[300];
  path_in_dir(path, sizeof(path), "tiny.txt");
  char text[200];
  for (size_t i = 0; i < sizeof(text); i++) {
    text[i] = (char)('A' + i % 50);  // ids are positions mod 50: the offset is visible
  }
  write_file(path, text, sizeof(text));  // validation: the last 20 bytes
  sparrow_train_data_t d;
  ck_assert_int_eq(sparrow_train_data_load(path, 17, &d, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  bool seen[50] = {false};
  uint64_t s = 1;
  for (int i = 0; i < 200; i++) {
    uint32_t in[17], tg[17];
    sparrow_train_data_batch(&d, SPARROW_TRAIN_SPLIT_VAL, &s, 1, 17, in, tg);
    uint32_t off = (in[0] + 50 - 180 % 50) % 50;  // offset within the split
    ck_assert_uint_lt(off, 3);
    seen[off] = true;
  }
  ck_assert(seen[0] && seen[1] && seen[2]);
  sparrow_train_data_free(&d);
}
END_TEST

START_TEST(test_strip_reference) {
  char a[] = "Ge1:1 In the beginning God created the heaven and the earth.\n";
  ck_assert(sparrow_train_strip_reference(a));
  ck_assert_str_eq(a, "In the beginning God created the heaven and the earth.\n");
  char b[] = "1Chr12:40 Moreover they that were nigh them\n";
  ck_assert(sparrow_train_strip_reference(b));
  ck_assert_str_eq(b, "Moreover they that were nigh them\n");
  char c[] = "Rev22:21 The grace of our Lord\n";
  ck_assert(sparrow_train_strip_reference(c));
  ck_assert_str_eq(c, "The grace of our Lord\n");
  const char *keep[] = {"Hello world\n",   "12:3 no book\n",    "Ge1: no verse\n",
                        "Ge1:1no space\n", "Ge:1 no chapter\n", ""};
  for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
    char buf[64];
    strcpy(buf, keep[i]);
    ck_assert(!sparrow_train_strip_reference(buf));
    ck_assert_str_eq(buf, keep[i]);
  }
}
END_TEST

START_TEST(test_default_corpus) {
  char path[300];
  path_in_dir(path, sizeof(path), "cache/data/kjv.txt");
  ck_assert_int_eq(sparrow_train_data_default_corpus(path, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  char line[4096], last[4096] = "";
  ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
  ck_assert_str_eq(line, "In the beginning God created the heaven and the earth.\n");
  unsigned lines = 1;
  while (fgets(line, sizeof(line), f) != NULL) {
    lines++;
    strcpy(last, line);
  }
  fclose(f);
  printf("default corpus: %u verses, the last: %s", lines, last);
  ck_assert_uint_eq(lines, 31102);  // every verse of the KJV, one a line
  ck_assert_str_eq(last, "The grace of our Lord Jesus Christ be with you all. Amen.\n");
  // Cached: a second call leaves the file as it is.
  struct stat before, after;
  ck_assert_int_eq(stat(path, &before), 0);
  ck_assert_int_eq(sparrow_train_data_default_corpus(path, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  ck_assert_int_eq(stat(path, &after), 0);
  ck_assert(before.st_ino == after.st_ino && before.st_mtime == after.st_mtime);
  // It loads: vocabulary of 63 bytes, padded by the model to 64.
  sparrow_train_data_t d;
  ck_assert_int_eq(sparrow_train_data_load(path, 64, &d, msg, sizeof(msg)), SPARROW_TRAIN_OK);
  printf("default corpus: %llu bytes, vocabulary %u\n", (unsigned long long)d.n, d.vocab);
  ck_assert_uint_eq(d.vocab, 63);
  sparrow_train_data_free(&d);
}
END_TEST

START_TEST(test_default_corpus_without_bible) {
  char path[300];
  path_in_dir(path, sizeof(path), "kjv-missing.txt");
  const char *old = getenv("PATH");
  char *saved = old != NULL ? strdup(old) : NULL;
  setenv("PATH", "/nonexistent", 1);
  sparrow_train_status_t st = sparrow_train_data_default_corpus(path, msg, sizeof(msg));
  if (saved != NULL) {
    setenv("PATH", saved, 1);
    free(saved);
  }
  ck_assert_int_eq(st, SPARROW_TRAIN_E_UNSUPPORTED);
  printf("no bible command: %s\n", msg);
  ck_assert_ptr_nonnull(strstr(msg, "bible-kjv"));
  ck_assert_ptr_nonnull(strstr(msg, "--data"));
  ck_assert_int_ne(access(path, F_OK), 0);  // nothing left behind
}
END_TEST

int main(void) {
  Suite *suite = suite_create("train_data");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_missing_file);
  tcase_add_test(tc, test_directory_is_unreadable);
  tcase_add_test(tc, test_permission_denied);
  tcase_add_test(tc, test_empty_file);
  tcase_add_test(tc, test_too_short_boundaries);
  tcase_add_test(tc, test_vocabulary_and_split);
  tcase_add_test(tc, test_batches_deterministic_and_inside_split);
  tcase_add_test(tc, test_batches_reach_every_offset);
  tcase_add_test(tc, test_strip_reference);
  tcase_add_test(tc, test_default_corpus);
  tcase_add_test(tc, test_default_corpus_without_bible);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? 0 : 1;
}
