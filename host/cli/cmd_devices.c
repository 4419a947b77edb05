// SPDX-License-Identifier: Apache-2.0
//
// sparrow devices: the Sparrows this host can see on USB, one a line (URI, VID:PID, serial), so
// that a user can copy the URI into --device. Simulators are not "seen": they are started on
// demand (sim URIs) or by hand (unix:/tcp:), which a note on stderr recalls.

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "sparrow.h"

enum { kMaxListed = 64 };

static bool parse_hex16(const char *s, size_t len, uint16_t *out) {
  if (len == 0 || len > 4) {
    return false;
  }
  unsigned v = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                 : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                 : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                        : 16u;
    if (d == 16u) {
      return false;
    }
    v = v * 16 + d;
  }
  *out = (uint16_t)v;
  return true;
}

int sparrow_cli_devices(int argc, char **argv) {
  bool json = false;
  uint16_t vid = 0x1209, pid = 0x0001;
  for (int i = 0; i < argc; ++i) {
    const char *value = NULL;
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (sparrow_cli_opt(argc, argv, &i, "--usb", &value)) {
      const char *colon = value != NULL ? strchr(value, ':') : NULL;
      if (colon == NULL || !parse_hex16(value, (size_t)(colon - value), &vid) ||
          !parse_hex16(colon + 1, strlen(colon + 1), &pid)) {
        sparrow_cli_error("--usb needs VID:PID in hex, e.g. --usb 1209:0001");
        return SPARROW_CLI_EXIT_USAGE;
      }
    } else {
      sparrow_cli_error("devices: unknown option '%s' (try 'sparrow help')", argv[i]);
      return SPARROW_CLI_EXIT_USAGE;
    }
  }
  static sparrow_usb_device_t found[kMaxListed];
  size_t count = 0;
  char msg[256] = "";
  sparrow_status_t st = sparrow_usb_list(vid, pid, found, kMaxListed, &count, msg, sizeof msg);
  if (st != SPARROW_OK) {
    sparrow_cli_error("devices: %s: %s", sparrow_status_name(st), msg);
    return SPARROW_CLI_EXIT_FAIL;
  }
  size_t shown = count < kMaxListed ? count : kMaxListed;
  if (json) {
    printf("{\"usb\":[");
    for (size_t i = 0; i < shown; i++) {
      const sparrow_usb_device_t *d = &found[i];
      char vidpid[16];
      snprintf(vidpid, sizeof vidpid, "%04x:%04x", d->vid, d->pid);
      printf("%s{\"uri\":", i > 0 ? "," : "");
      sparrow_json_write_string(stdout, d->uri);
      printf(",\"vid_pid\":");
      sparrow_json_write_string(stdout, vidpid);
      printf(",\"serial\":");
      sparrow_json_write_string(stdout, d->serial);
      printf(",\"product\":");
      sparrow_json_write_string(stdout, d->product);
      printf(",\"bus\":%u,\"address\":%u,\"problem\":", d->bus, d->address);
      sparrow_json_write_string(stdout, d->problem);
      printf("}");
    }
    printf("],\"count\":%zu}\n", count);
    fflush(stdout);
    return SPARROW_CLI_EXIT_OK;
  }
  for (size_t i = 0; i < shown; i++) {
    const sparrow_usb_device_t *d = &found[i];
    printf("%s  %04x:%04x  serial %s  bus %03u device %03u  %s%s%s\n", d->uri, d->vid, d->pid,
           d->serial[0] != '\0' ? d->serial : "?", d->bus, d->address,
           d->product[0] != '\0' ? d->product : "", d->problem[0] != '\0' ? "  problem: " : "",
           d->problem);
  }
  if (count > shown) {
    sparrow_cli_log("... and %zu more", count - shown);
  }
  if (count == 0) {
    sparrow_cli_log("no Sparrow %04x:%04x on USB", vid, pid);
  }
  sparrow_cli_log(
      "simulators are not listed: use --device sim (spawned), or unix:PATH / "
      "tcp:HOST:PORT for a running sparrow-sim");
  return SPARROW_CLI_EXIT_OK;
}
