// SPDX-License-Identifier: Apache-2.0
//
// Check suite for libsparrow's device-memory allocator (driver/src/devmem.c): alignment, first fit,
// coalescing, exhaustion, bad frees, and a randomized run checked against a shadow model.

#include <check.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../driver/src/devmem.h"

static char msg[256];

static sparrow_devmem_t *make(uint64_t size) {
  sparrow_devmem_t *mem = NULL;
  ck_assert_int_eq(sparrow_devmem_create(size, 64, &mem), SPARROW_OK);
  ck_assert_ptr_nonnull(mem);
  return mem;
}

static uint64_t alloc_ok(sparrow_devmem_t *mem, uint64_t bytes) {
  uint64_t addr = UINT64_MAX;
  msg[0] = '\0';
  ck_assert_msg(sparrow_devmem_alloc(mem, bytes, &addr, msg, sizeof msg) == SPARROW_OK,
                "alloc %" PRIu64 ": %s", bytes, msg);
  ck_assert_uint_eq(addr % 64, 0);
  return addr;
}

static void free_ok(sparrow_devmem_t *mem, uint64_t addr) {
  ck_assert_msg(sparrow_devmem_free(mem, addr, msg, sizeof msg) == SPARROW_OK,
                "free 0x%" PRIx64 ": %s", addr, msg);
}

START_TEST(test_create_rejects_bad_alignment) {
  sparrow_devmem_t *mem = (sparrow_devmem_t *)&mem;
  ck_assert_int_eq(sparrow_devmem_create(4096, 0, &mem), SPARROW_E_ARG);
  ck_assert_ptr_null(mem);
  ck_assert_int_eq(sparrow_devmem_create(4096, 48, &mem), SPARROW_E_ARG);
  ck_assert_int_eq(sparrow_devmem_create(4096 + 63, 64, &mem), SPARROW_OK);
  ck_assert_uint_eq(sparrow_devmem_capacity(mem), 4096);  // rounded down to the alignment
  sparrow_devmem_destroy(mem);
  sparrow_devmem_destroy(NULL);
}
END_TEST

START_TEST(test_alignment_and_first_fit) {
  sparrow_devmem_t *mem = make(1 << 20);
  ck_assert_uint_eq(alloc_ok(mem, 1), 0);
  ck_assert_uint_eq(alloc_ok(mem, 64), 64);
  ck_assert_uint_eq(alloc_ok(mem, 65), 128);
  ck_assert_uint_eq(alloc_ok(mem, 100), 256);
  ck_assert_uint_eq(sparrow_devmem_used(mem), 64 + 64 + 128 + 128);
  free_ok(mem, 64);
  // First fit: a 64-byte request reuses the hole; a larger one goes past it.
  ck_assert_uint_eq(alloc_ok(mem, 65), 384);
  ck_assert_uint_eq(alloc_ok(mem, 10), 64);
  sparrow_devmem_destroy(mem);
}
END_TEST

START_TEST(test_coalescing) {
  sparrow_devmem_t *mem = make(64 * 10);
  uint64_t a[10];
  for (int i = 0; i < 10; i++) {
    a[i] = alloc_ok(mem, 64);
  }
  ck_assert_uint_eq(sparrow_devmem_largest_free(mem), 0);
  // Free 1, 3, 2: the middle one must merge both neighbours into one 192-byte block.
  free_ok(mem, a[1]);
  free_ok(mem, a[3]);
  ck_assert_uint_eq(sparrow_devmem_largest_free(mem), 64);
  free_ok(mem, a[2]);
  ck_assert_uint_eq(sparrow_devmem_largest_free(mem), 192);
  ck_assert_uint_eq(alloc_ok(mem, 192), a[1]);
  // Free everything in an interleaved order: one block covering all memory remains.
  // (a[1..3] are now one 192-byte block, freed through a[1].)
  for (int i = 0; i < 10; i += 4) {
    free_ok(mem, a[i]);
  }
  free_ok(mem, a[1]);
  for (int i = 5; i < 10; i += 2) {
    free_ok(mem, a[i]);
  }
  free_ok(mem, a[6]);
  ck_assert_uint_eq(sparrow_devmem_blocks(mem), 1);
  ck_assert_uint_eq(sparrow_devmem_used(mem), 0);
  ck_assert_uint_eq(sparrow_devmem_largest_free(mem), 640);
  sparrow_devmem_destroy(mem);
}
END_TEST

START_TEST(test_full) {
  sparrow_devmem_t *mem = make(4096);
  uint64_t a = alloc_ok(mem, 4000);
  uint64_t addr = 12345;
  ck_assert_int_eq(sparrow_devmem_alloc(mem, 100, &addr, msg, sizeof msg), SPARROW_E_DEVMEM);
  ck_assert_str_eq(msg, "device memory full: asked 100 bytes, largest free block 64");
  ck_assert_uint_eq(addr, 12345);  // untouched on failure
  ck_assert_int_eq(sparrow_devmem_alloc(mem, UINT64_MAX, &addr, msg, sizeof msg), SPARROW_E_DEVMEM);
  ck_assert_str_eq(msg,
                   "device memory full: asked 18446744073709551615 bytes, largest free block 64");
  ck_assert_int_eq(sparrow_devmem_alloc(mem, UINT64_MAX - 10, &addr, msg, sizeof msg),
                   SPARROW_E_DEVMEM);
  ck_assert_int_eq(sparrow_devmem_alloc(mem, 0, &addr, msg, sizeof msg), SPARROW_E_ARG);
  ck_assert_str_eq(msg, "alloc: zero bytes");
  free_ok(mem, a);
  ck_assert_uint_eq(alloc_ok(mem, 4096), 0);  // exactly everything
  sparrow_devmem_destroy(mem);
}
END_TEST

START_TEST(test_bad_frees) {
  sparrow_devmem_t *mem = make(4096);
  uint64_t a = alloc_ok(mem, 128);
  uint64_t b = alloc_ok(mem, 128);
  ck_assert_int_eq(sparrow_devmem_free(mem, a + 64, msg, sizeof msg), SPARROW_E_ARG);
  ck_assert_str_eq(msg, "free: 0x40 is not the start of an allocated block");
  ck_assert_int_eq(sparrow_devmem_free(mem, 1 << 20, msg, sizeof msg), SPARROW_E_ARG);
  free_ok(mem, b);
  ck_assert_int_eq(sparrow_devmem_free(mem, b, msg, sizeof msg), SPARROW_E_ARG);  // double free
  ck_assert_str_eq(msg, "free: 0x80 is not the start of an allocated block (double free?)");
  ck_assert_uint_eq(sparrow_devmem_used(mem), 128);  // the failed frees changed nothing
  free_ok(mem, a);
  ck_assert_int_eq(sparrow_devmem_free(mem, a, msg, sizeof msg), SPARROW_E_ARG);
  ck_assert_uint_eq(sparrow_devmem_used(mem), 0);
  sparrow_devmem_destroy(mem);
}
END_TEST

START_TEST(test_fragmentation) {
  // 32 blocks of 1 KiB, every other one freed: 16 KiB free, yet no 2 KiB block fits.
  sparrow_devmem_t *mem = make(32 * 1024);
  uint64_t a[32];
  for (int i = 0; i < 32; i++) {
    a[i] = alloc_ok(mem, 1024);
  }
  for (int i = 0; i < 32; i += 2) {
    free_ok(mem, a[i]);
  }
  uint64_t addr;
  ck_assert_int_eq(sparrow_devmem_alloc(mem, 2048, &addr, msg, sizeof msg), SPARROW_E_DEVMEM);
  ck_assert_str_eq(msg, "device memory full: asked 2048 bytes, largest free block 1024");
  free_ok(mem, a[1]);  // joins blocks 0, 1 and 2
  ck_assert_uint_eq(alloc_ok(mem, 2048), 0);
  ck_assert_uint_eq(alloc_ok(mem, 1024), 2048);
  sparrow_devmem_destroy(mem);
}
END_TEST

// Random allocations and frees against a byte-map shadow: no two live blocks overlap, every block
// is inside memory, and once everything is freed one block covers all memory again.
START_TEST(test_random_against_shadow) {
  enum { kSize = 1 << 16, kSlots = 64 };
  sparrow_devmem_t *mem = make(kSize);
  static uint8_t owner[kSize];
  memset(owner, 0, sizeof owner);
  uint64_t addr[kSlots], size[kSlots];
  int live[kSlots] = {0};
  uint32_t rng = 12345;
  int allocs = 0, fulls = 0;
  for (int step = 0; step < 20000; step++) {
    rng = rng * 1664525u + 1013904223u;
    int slot = (int)((rng >> 8) % kSlots);
    if (live[slot]) {
      free_ok(mem, addr[slot]);
      memset(owner + addr[slot], 0, size[slot]);
      live[slot] = 0;
      continue;
    }
    uint64_t bytes = 1 + (rng >> 16) % 4000;
    uint64_t a;
    sparrow_status_t status = sparrow_devmem_alloc(mem, bytes, &a, msg, sizeof msg);
    if (status == SPARROW_E_DEVMEM) {
      ck_assert(sparrow_devmem_largest_free(mem) < bytes);
      fulls++;
      continue;
    }
    ck_assert_int_eq(status, SPARROW_OK);
    ck_assert_uint_eq(a % 64, 0);
    ck_assert(a + bytes <= kSize);
    ck_assert_msg(memchr(owner + a, 1, bytes) == NULL, "block at 0x%" PRIx64 " overlaps", a);
    memset(owner + a, 1, bytes);
    addr[slot] = a;
    size[slot] = bytes;
    live[slot] = 1;
    allocs++;
  }
  ck_assert_int_gt(allocs, 1000);
  ck_assert_int_gt(fulls, 0);  // the run did reach exhaustion
  for (int s = 0; s < kSlots; s++) {
    if (live[s]) {
      free_ok(mem, addr[s]);
    }
  }
  ck_assert_uint_eq(sparrow_devmem_blocks(mem), 1);
  ck_assert_uint_eq(sparrow_devmem_largest_free(mem), kSize);
  sparrow_devmem_destroy(mem);
}
END_TEST

int main(void) {
  Suite *suite = suite_create("driver_devmem");
  TCase *tc = tcase_create("devmem");
  tcase_add_test(tc, test_create_rejects_bad_alignment);
  tcase_add_test(tc, test_alignment_and_first_fit);
  tcase_add_test(tc, test_coalescing);
  tcase_add_test(tc, test_full);
  tcase_add_test(tc, test_bad_frees);
  tcase_add_test(tc, test_fragmentation);
  tcase_add_test(tc, test_random_against_shadow);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
