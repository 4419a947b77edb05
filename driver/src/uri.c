// SPDX-License-Identifier: Apache-2.0
//
// Device URI parsing:
//   sim[:rtl|:model][,config=S|M][,dram_bw=N][,dram_latency=N][,dram_mb=N]
//   unix:PATH
//   tcp:HOST:PORT          (HOST may be [IPv6])
//   usb[:VID:PID[:SERIAL]] (hex VID and PID)

#include "uri.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

// Decimal, no sign, no leading '+', within [lo, hi].
static bool parse_decimal(const char *s, size_t len, uint32_t lo, uint32_t hi, uint32_t *out) {
  if (len == 0 || len > 10) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v < lo || v > hi) {
    return false;
  }
  *out = (uint32_t)v;
  return true;
}

static bool parse_hex16(const char *s, size_t len, uint16_t *out) {
  if (len == 0 || len > 4) {
    return false;
  }
  uint32_t v = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    uint32_t d;
    if (c >= '0' && c <= '9') {
      d = (uint32_t)(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = (uint32_t)(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = (uint32_t)(c - 'A' + 10);
    } else {
      return false;
    }
    v = v * 16 + d;
  }
  *out = (uint16_t)v;
  return true;
}

// One "name=value" sim option (len bytes at opt).
static sparrow_status_t parse_sim_option(const char *opt, size_t len, sparrow_sim_params_t *sim,
                                         unsigned *seen, char *msg, size_t msg_len) {
  const char *eq = memchr(opt, '=', len);
  if (eq == NULL) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "sim option '%.*s' is not NAME=VALUE",
                        (int)len, opt);
  }
  size_t name_len = (size_t)(eq - opt);
  const char *value = eq + 1;
  size_t value_len = len - name_len - 1;
  static const struct {
    const char *name;
    uint32_t lo, hi;
  } kOptions[] = {
      {"config", 0, 0},
      {"dram_bw", 1, SPARROW_URI_MAX_DRAM_BW},
      {"dram_latency", 1, SPARROW_URI_MAX_DRAM_LATENCY},
      {"dram_mb", 1, SPARROW_URI_MAX_DRAM_MB},
  };
  for (unsigned i = 0; i < sizeof kOptions / sizeof kOptions[0]; i++) {
    if (strlen(kOptions[i].name) != name_len || memcmp(kOptions[i].name, opt, name_len) != 0) {
      continue;
    }
    if (*seen & (1u << i)) {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "sim option '%s' given twice",
                          kOptions[i].name);
    }
    *seen |= 1u << i;
    if (i == 0) {
      if (value_len != 1 || (value[0] != 'S' && value[0] != 'M')) {
        return sparrow_msgf(SPARROW_E_ARG, msg, msg_len,
                            "sim option config=%.*s: expected config=S or config=M", (int)value_len,
                            value);
      }
      sim->config[0] = value[0];
      sim->config[1] = '\0';
      return SPARROW_OK;
    }
    uint32_t v = 0;
    if (!parse_decimal(value, value_len, kOptions[i].lo, kOptions[i].hi, &v)) {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len,
                          "sim option %s=%.*s: expected a decimal integer in [%u, %u]",
                          kOptions[i].name, (int)value_len, value, (unsigned)kOptions[i].lo,
                          (unsigned)kOptions[i].hi);
    }
    if (i == 1) {
      sim->dram_bw = v;
    } else if (i == 2) {
      sim->dram_latency = v;
    } else {
      sim->dram_mb = v;
    }
    return SPARROW_OK;
  }
  return sparrow_msgf(SPARROW_E_ARG, msg, msg_len,
                      "unknown sim option '%.*s' (known: config, dram_bw, dram_latency, dram_mb)",
                      (int)name_len, opt);
}

static sparrow_status_t parse_sim(const char *rest, sparrow_uri_t *out, char *msg, size_t msg_len) {
  sparrow_sim_params_t *sim = &out->sim;
  sim->fabric = "rtl";
  sim->config[0] = 'M';
  sim->config[1] = '\0';
  if (rest[0] == ':') {
    rest++;
    size_t flen = strcspn(rest, ",");
    if (flen == 3 && strncmp(rest, "rtl", 3) == 0) {
      sim->fabric = "rtl";
    } else if (flen == 5 && strncmp(rest, "model", 5) == 0) {
      sim->fabric = "model";
    } else {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len,
                          "sim fabric '%.*s': expected sim:rtl or sim:model", (int)flen, rest);
    }
    rest += flen;
  }
  unsigned seen = 0;
  while (rest[0] == ',') {
    rest++;
    size_t olen = strcspn(rest, ",");
    if (olen == 0) {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "empty sim option (stray comma)");
    }
    sparrow_status_t status = parse_sim_option(rest, olen, sim, &seen, msg, msg_len);
    if (status != SPARROW_OK) {
      return status;
    }
    rest += olen;
  }
  if (rest[0] != '\0') {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "unexpected '%s' in a sim URI", rest);
  }
  return SPARROW_OK;
}

static sparrow_status_t parse_tcp(const char *rest, sparrow_uri_t *out, char *msg, size_t msg_len) {
  const char *host = rest;
  size_t host_len;
  const char *after;
  if (rest[0] == '[') {
    const char *close = strchr(rest, ']');
    if (close == NULL) {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "tcp: unterminated '[' in the host");
    }
    host = rest + 1;
    host_len = (size_t)(close - host);
    after = close + 1;
    if (after[0] != ':') {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "tcp: expected tcp:[HOST]:PORT");
    }
  } else {
    after = strrchr(rest, ':');
    if (after == NULL) {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "tcp: expected tcp:HOST:PORT");
    }
    host_len = (size_t)(after - rest);
    if (memchr(rest, ':', host_len) != NULL) {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len,
                          "tcp: an IPv6 host needs brackets: tcp:[ADDR]:PORT");
    }
  }
  if (host_len == 0 || host_len >= sizeof out->host) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "tcp: host empty or too long");
  }
  const char *port = after + 1;
  uint32_t port_num = 0;
  if (!parse_decimal(port, strlen(port), 1, 65535, &port_num)) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "tcp: port '%s' is not a number in [1, 65535]",
                        port);
  }
  memcpy(out->host, host, host_len);
  out->host[host_len] = '\0';
  snprintf(out->port, sizeof out->port, "%u", (unsigned)port_num);
  return SPARROW_OK;
}

static sparrow_status_t parse_usb(const char *rest, sparrow_uri_t *out, char *msg, size_t msg_len) {
  out->usb_vid = 0x1209;
  out->usb_pid = 0x0001;
  if (rest[0] == '\0') {
    return SPARROW_OK;
  }
  if (rest[0] != ':') {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "usb: expected usb or usb:VID:PID[:SERIAL]");
  }
  rest++;
  size_t vid_len = strcspn(rest, ":");
  const char *pid = rest + vid_len;
  size_t pid_len = pid[0] == ':' ? strcspn(pid + 1, ":") : 0;
  if (pid[0] != ':' || !parse_hex16(rest, vid_len, &out->usb_vid) ||
      !parse_hex16(pid + 1, pid_len, &out->usb_pid)) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len,
                        "usb: expected usb:VID:PID[:SERIAL] with hex VID and PID (e.g. 1209:0001)");
  }
  const char *serial = pid + 1 + pid_len;
  if (serial[0] == ':') {
    serial++;
    if (serial[0] == '\0' || strlen(serial) >= sizeof out->usb_serial) {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "usb: serial empty or too long");
    }
    snprintf(out->usb_serial, sizeof out->usb_serial, "%s", serial);
  }
  return SPARROW_OK;
}

sparrow_status_t sparrow_uri_parse(const char *uri, sparrow_uri_t *out, char *msg, size_t msg_len) {
  if (uri == NULL || out == NULL) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "no device URI");
  }
  memset(out, 0, sizeof *out);
  if (strcmp(uri, "sim") == 0 || starts_with(uri, "sim:") || starts_with(uri, "sim,")) {
    out->kind = kSparrowUriSim;
    return parse_sim(uri + 3, out, msg, msg_len);
  }
  if (starts_with(uri, "unix:")) {
    out->kind = kSparrowUriUnix;
    const char *path = uri + 5;
    if (path[0] == '\0' || strlen(path) >= sizeof out->path) {
      return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "unix: path empty or longer than %zu bytes",
                          sizeof out->path - 1);
    }
    snprintf(out->path, sizeof out->path, "%s", path);
    return SPARROW_OK;
  }
  if (starts_with(uri, "tcp:")) {
    out->kind = kSparrowUriTcp;
    return parse_tcp(uri + 4, out, msg, msg_len);
  }
  if (strcmp(uri, "usb") == 0 || starts_with(uri, "usb:")) {
    out->kind = kSparrowUriUsb;
    return parse_usb(uri + 3, out, msg, msg_len);
  }
  return sparrow_msgf(SPARROW_E_ARG, msg, msg_len,
                      "unknown device URI '%s' (expected sim[:rtl|:model][,...], unix:PATH, "
                      "tcp:HOST:PORT or usb[:VID:PID])",
                      uri);
}
