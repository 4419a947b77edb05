// SPDX-License-Identifier: Apache-2.0
//
// sparrow-sim's command line: "--name value" or "--name=value"; every value checked.

#include "sim_options.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char kUsage[] =
    "usage: sparrow-sim (--listen unix:PATH | --listen tcp:[HOST:]PORT | --fd N) [options]\n"
    "\n"
    "The simulated Sparrow device: frames from the host go to the firmware, which drives the\n"
    "fabric (Verilated RTL or C golden model) and the DRAM model. docs/simulator.md has details.\n"
    "\n"
    "  --listen unix:PATH      serve connections on a Unix socket, one after another\n"
    "  --listen tcp:HOST:PORT  the same on TCP (HOST defaults to 127.0.0.1; PORT 0 picks a free\n"
    "                          port); the address is printed as \"listening on ...\" on stderr\n"
    "  --fd N                  serve the already-connected socket N; exit when it closes\n"
    "  --fabric rtl|model      fabric implementation (default rtl)\n"
    "  --config S|M            hardware configuration (default M)\n"
    "  --dram-mb N             DRAM capacity in MiB, 1..4096 (default 256)\n"
    "  --dram-bw N             DRAM bandwidth in bytes per cycle, 1..65536 (default 64)\n"
    "  --dram-latency N        DRAM latency in cycles, 1..1000000 (default 100)\n"
    "  --trace FILE.fst        write an FST waveform of the RTL fabric\n"
    "  --trace-start C         first traced cycle (default 0)\n"
    "  --trace-cycles N        number of traced cycles (default: until exit)\n"
    "  --frame-timeout-ms N    drop a connection whose frame stops arriving for this long,\n"
    "                          once its first byte came (default 10000)\n"
    "  --help                  this text\n";

const char *sparrow_sim_usage(void) {
  return kUsage;
}

static bool fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail(char *err, size_t cap, const char *fmt, ...) {
  if (err != NULL && cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return false;
}

// Strict unsigned decimal: digits only, no sign, no overflow, within [lo, hi].
static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (s == NULL || *s == '\0') {
    return false;
  }
  uint64_t v = 0;
  for (const char *p = s; *p != '\0'; p++) {
    if (*p < '0' || *p > '9') {
      return false;
    }
    unsigned digit = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - digit) / 10) {
      return false;
    }
    v = v * 10 + digit;
  }
  if (v < lo || v > hi) {
    return false;
  }
  *out = v;
  return true;
}

typedef struct number_option {
  const char *name;
  uint64_t lo;
  uint64_t hi;
} number_option_t;

static bool number(const number_option_t *o, const char *value, uint64_t *out, char *err,
                   size_t cap) {
  if (!parse_u64(value, o->lo, o->hi, out)) {
    return fail(err, cap, "%s: '%s' is not a whole number in %llu..%llu", o->name, value,
                (unsigned long long)o->lo, (unsigned long long)o->hi);
  }
  return true;
}

static const sparrow_hw_config_t *find_config(const char *name) {
  for (unsigned i = 0; i < SPARROW_HW_CONFIG_COUNT; i++) {
    if (strcmp(kSparrowHwConfigs[i].name, name) == 0) {
      return &kSparrowHwConfigs[i];
    }
  }
  return NULL;
}

static const sparrow_hw_config_t *default_config(void) {
  const sparrow_hw_config_t *m = find_config("M");
  return m != NULL ? m : &kSparrowHwConfigs[0];
}

static bool listen_spec_ok(const char *spec) {
  if (strncmp(spec, "unix:", 5) == 0) {
    return spec[5] != '\0';
  }
  if (strncmp(spec, "tcp:", 4) == 0) {
    const char *colon = strrchr(spec + 4, ':');
    const char *port = colon != NULL ? colon + 1 : spec + 4;
    uint64_t v = 0;
    return parse_u64(port, 0, 65535, &v);
  }
  return false;
}

// Applies one option and its value.
static bool apply(sparrow_sim_options_t *o, const char *name, const char *value, char *err,
                  size_t cap) {
  uint64_t v = 0;
  if (strcmp(name, "--listen") == 0) {
    if (!listen_spec_ok(value)) {
      return fail(err, cap, "--listen: '%s' is neither unix:PATH nor tcp:[HOST:]PORT", value);
    }
    o->listen = value;
  } else if (strcmp(name, "--fd") == 0) {
    static const number_option_t kFd = {"--fd", 0, 1000000};
    if (!number(&kFd, value, &v, err, cap)) {
      return false;
    }
    o->fd = (int)v;
  } else if (strcmp(name, "--fabric") == 0) {
    if (strcmp(value, "rtl") == 0) {
      o->fabric = kSparrowSimFabricRtl;
    } else if (strcmp(value, "model") == 0) {
      o->fabric = kSparrowSimFabricModel;
    } else {
      return fail(err, cap, "--fabric: '%s' is neither rtl nor model", value);
    }
  } else if (strcmp(name, "--config") == 0) {
    o->config = find_config(value);
    if (o->config == NULL) {
      return fail(err, cap, "--config: no hardware configuration named '%s' (S or M)", value);
    }
  } else if (strcmp(name, "--dram-mb") == 0) {
    static const number_option_t kMb = {"--dram-mb", 1, SPARROW_SIM_MAX_DRAM_MB};
    if (!number(&kMb, value, &v, err, cap)) {
      return false;
    }
    o->dram_mb = (uint32_t)v;
  } else if (strcmp(name, "--dram-bw") == 0) {
    static const number_option_t kBw = {"--dram-bw", 1, 65536};
    if (!number(&kBw, value, &v, err, cap)) {
      return false;
    }
    o->dram_bw = (uint32_t)v;
  } else if (strcmp(name, "--dram-latency") == 0) {
    static const number_option_t kLat = {"--dram-latency", 1, 1000000};
    if (!number(&kLat, value, &v, err, cap)) {
      return false;
    }
    o->dram_latency = (uint32_t)v;
  } else if (strcmp(name, "--trace") == 0) {
    if (*value == '\0') {
      return fail(err, cap, "--trace: the file name is empty");
    }
    o->trace = value;
  } else if (strcmp(name, "--trace-start") == 0) {
    static const number_option_t kStart = {"--trace-start", 0, UINT64_MAX};
    if (!number(&kStart, value, &o->trace_start, err, cap)) {
      return false;
    }
  } else if (strcmp(name, "--trace-cycles") == 0) {
    static const number_option_t kCycles = {"--trace-cycles", 1, UINT64_MAX};
    if (!number(&kCycles, value, &o->trace_cycles, err, cap)) {
      return false;
    }
  } else if (strcmp(name, "--frame-timeout-ms") == 0) {
    static const number_option_t kTimeout = {"--frame-timeout-ms", 1, 3600000};
    if (!number(&kTimeout, value, &v, err, cap)) {
      return false;
    }
    o->frame_timeout_ms = (uint32_t)v;
  } else {
    return fail(err, cap, "unknown option '%s'", name);
  }
  return true;
}

bool sparrow_sim_options_parse(int argc, char *const argv[], sparrow_sim_options_t *o, char *err,
                               size_t cap) {
  *o = (sparrow_sim_options_t){
      .help = false,
      .listen = NULL,
      .fd = -1,
      .fabric = kSparrowSimFabricRtl,
      .config = default_config(),
      .dram_mb = SPARROW_SIM_DEFAULT_DRAM_MB,
      .dram_bw = SPARROW_SIM_DEFAULT_DRAM_BW,
      .dram_latency = SPARROW_SIM_DEFAULT_DRAM_LATENCY,
      .trace = NULL,
      .trace_start = 0,
      .trace_cycles = UINT64_MAX,
      .frame_timeout_ms = SPARROW_SIM_DEFAULT_FRAME_TIMEOUT_MS,
  };
  bool trace_window = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      o->help = true;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0) {
      return fail(err, cap, "unexpected argument '%s'", arg);
    }
    // "--name=value" or "--name value".
    char name[32];
    const char *value = NULL;
    const char *eq = strchr(arg, '=');
    size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    if (name_len >= sizeof(name)) {
      return fail(err, cap, "unknown option '%s'", arg);
    }
    memcpy(name, arg, name_len);
    name[name_len] = '\0';
    if (eq != NULL) {
      value = eq + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return fail(err, cap, "%s needs a value", name);
    }
    if (!apply(o, name, value, err, cap)) {
      return false;
    }
    if (strncmp(name, "--trace-", 8) == 0) {
      trace_window = true;
    }
  }
  if (o->help) {
    return true;
  }
  if ((o->listen == NULL) == (o->fd < 0)) {
    return fail(err, cap, "give exactly one of --listen unix:PATH, --listen tcp:HOST:PORT, --fd N");
  }
  if (o->trace != NULL && o->fabric != kSparrowSimFabricRtl) {
    return fail(err, cap, "--trace records the RTL fabric's signals; it needs --fabric rtl");
  }
  if (trace_window && o->trace == NULL) {
    return fail(err, cap, "--trace-start and --trace-cycles need --trace FILE.fst");
  }
  return true;
}
