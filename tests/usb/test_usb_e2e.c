// SPDX-License-Identifier: Apache-2.0
//
// The usb transport through libsparrow's public API, run under sparrow-usb-fake
// (tests/usb/usb_e2e.sh):
//   test_usb_e2e roundtrip URI
//       raw MEM_WRITE/MEM_READ round trips of sizes around the 512-byte packet and the frame
//       limit (frames that are whole packets need a ZLP in both directions), more than a frame,
//       unaligned addresses; every byte compared
//   test_usb_e2e expect URI STATUS TEXT MAX_MS [TIMEOUT_MS]
//       opens URI and moves data until something fails; passes when the first failure has status
//       STATUS, its message contains TEXT, and it came within MAX_MS of wall time
// The last line is "test_usb_e2e: N passed, M failed".

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sparrow.h"

static int g_passed, g_failed;

static void check(int ok, const char *what) {
  if (ok) {
    g_passed++;
    printf("ok   %s\n", what);
  } else {
    g_failed++;
    printf("FAIL %s\n", what);
  }
}

static int finish(void) {
  printf("test_usb_e2e: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int roundtrip(const char *uri) {
  sparrow_dev_t *dev = NULL;
  char msg[512] = "";
  sparrow_status_t st = sparrow_open(uri, &dev, msg, sizeof msg);
  check(st == SPARROW_OK, "open");
  if (st != SPARROW_OK) {
    printf("     %s: %s\n", sparrow_status_name(st), msg);
    return finish();
  }
  printf("     device: %s\n", sparrow_describe(dev));
  // MEM_WRITE frames are 28 + n bytes, MEM_READ answers 20 + n: n = 484 and 492 make frames of
  // exactly one 512-byte packet, 996 and 1004 of two; 65528 and 65536 are the largest frames.
  static const size_t kSizes[] = {1,    3,    484,   492,   511,   512,    513,   996,
                                  1004, 4096, 65527, 65528, 65536, 131077, 300001};
  size_t max = 300001;
  uint8_t *src = malloc(max), *dst = malloc(max);
  if (src == NULL || dst == NULL) {
    check(0, "host memory");
    return finish();
  }
  uint32_t x = 12345;
  for (size_t i = 0; i < max; i++) {
    x = x * 1103515245u + 12345u;
    src[i] = (uint8_t)(x >> 16);
  }
  uint64_t addr = 0x1003;  // unaligned on purpose
  for (size_t k = 0; k < sizeof kSizes / sizeof kSizes[0]; k++) {
    size_t n = kSizes[k];
    memset(dst, 0xA5, n);
    char what[128];
    st = sparrow_write(dev, addr, src + k, n);
    if (st == SPARROW_OK) {
      st = sparrow_read(dev, addr, dst, n);
    }
    snprintf(what, sizeof what, "write+read %zu bytes at 0x%" PRIx64 ": bit-identical", n, addr);
    check(st == SPARROW_OK && memcmp(src + k, dst, n) == 0, what);
    if (st != SPARROW_OK) {
      printf("     %s: %s\n", sparrow_status_name(st), sparrow_last_error(dev));
      break;
    }
    addr += n + 17;
  }
  // A device error over USB leaves the connection usable (it is a well-formed answer).
  sparrow_info_t info;
  if (sparrow_info(dev, &info) == SPARROW_OK) {
    st = sparrow_read(dev, info.dram_bytes - 4, dst, 8);
    check(st == SPARROW_E_DEVMEM, "read past the end of DRAM: SPARROW_E_DEVMEM");
    check(sparrow_reset(dev) == SPARROW_OK, "RESET afterwards: connection still usable");
  }
  free(src);
  free(dst);
  sparrow_close(dev);
  return finish();
}

static int expect(const char *uri, const char *want_status, const char *text, double max_ms,
                  uint32_t timeout_ms) {
  double t0 = now_ms();
  sparrow_dev_t *dev = NULL;
  char msg[512] = "";
  sparrow_status_t st = sparrow_open(uri, &dev, msg, sizeof msg);
  const char *where = "open";
  if (st == SPARROW_OK) {
    sparrow_set_timeout(dev, timeout_ms);
    static uint8_t buf[100000];
    for (int i = 0; i < 50 && st == SPARROW_OK; i++) {
      st = sparrow_write(dev, 4096, buf, sizeof buf);
      if (st == SPARROW_OK) {
        st = sparrow_read(dev, 4096, buf, sizeof buf);
      }
    }
    snprintf(msg, sizeof msg, "%s", sparrow_last_error(dev));
    where = "transfer";
  }
  double took = now_ms() - t0;
  printf("     %s failed after %.0f ms: %s: %s\n", where, took, sparrow_status_name(st), msg);
  char what[256];
  snprintf(what, sizeof what, "status %s (got %s)", want_status, sparrow_status_name(st));
  check(strcmp(sparrow_status_name(st), want_status) == 0, what);
  snprintf(what, sizeof what, "message says '%s'", text);
  check(strstr(msg, text) != NULL, what);
  snprintf(what, sizeof what, "reported within %.0f ms (took %.0f ms)", max_ms, took);
  check(took <= max_ms, what);
  if (dev != NULL) {
    // Once broken, every later call fails at once with the same status.
    sparrow_status_t again = sparrow_reset(dev);
    check(again == st, "later calls fail the same way");
    sparrow_close(dev);
  }
  return finish();
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "roundtrip") == 0) {
    return roundtrip(argv[2]);
  }
  if ((argc == 6 || argc == 7) && strcmp(argv[1], "expect") == 0) {
    return expect(argv[2], argv[3], argv[4], atof(argv[5]),
                  argc == 7 ? (uint32_t)strtoul(argv[6], NULL, 10) : 30000u);
  }
  fprintf(stderr,
          "usage: test_usb_e2e roundtrip URI\n"
          "       test_usb_e2e expect URI STATUS TEXT MAX_MS [TIMEOUT_MS]\n");
  return 2;
}
