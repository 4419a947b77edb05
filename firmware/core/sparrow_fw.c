// SPDX-License-Identifier: Apache-2.0
//
// The firmware core (docs/protocol.md): one request frame in, one response frame out. Every field
// of a request is checked before anything touches the fabric or DRAM, and every refusal carries a
// reason that names the offending value. Freestanding: no libc; numbers are formatted by the small
// text builder below.

#include "sparrow_fw.h"

#include "../hal/sparrow_hal.h"
#include "../proto/sparrow_proto.h"
#include "sparrow_hw.h"

// WAIT polls STATUS between slices of fabric time. Slices start short, so a kernel that is about to
// finish is noticed quickly, and double up to a ceiling, so a long kernel costs few polls.
#define FW_WAIT_FIRST_SLICE 16u
#define FW_WAIT_MAX_SLICE 4096u

#define FW_STATUS_BUSY (1u << SPARROW_STATUS_BUSY_BIT)
#define FW_STATUS_DONE (1u << SPARROW_STATUS_DONE_BIT)
#define FW_STATUS_ERROR (1u << SPARROW_STATUS_ERROR_BIT)

// ---------------------------------------------------------------------------------------------------
// Reason text: bounded to SPARROW_PROTO_MAX_REASON bytes, silently truncated beyond.

typedef struct fw_text {
  char buf[SPARROW_PROTO_MAX_REASON];
  uint32_t len;
} fw_text_t;

static void text_char(fw_text_t *t, char c) {
  if (t->len < SPARROW_PROTO_MAX_REASON) {
    t->buf[t->len++] = c;
  }
}

static void text_str(fw_text_t *t, const char *s) {
  for (; *s != '\0'; s++) {
    text_char(t, *s);
  }
}

// Decimal without division: rv32 has no 64-bit divide, and this keeps libgcc's __udivdi3 out of the
// bare-metal image. Each digit is found by subtracting its power of ten (at most 9 times).
static void text_dec(fw_text_t *t, uint64_t v) {
  static const uint64_t kPow10[20] = {1ull,
                                      10ull,
                                      100ull,
                                      1000ull,
                                      10000ull,
                                      100000ull,
                                      1000000ull,
                                      10000000ull,
                                      100000000ull,
                                      1000000000ull,
                                      10000000000ull,
                                      100000000000ull,
                                      1000000000000ull,
                                      10000000000000ull,
                                      100000000000000ull,
                                      1000000000000000ull,
                                      10000000000000000ull,
                                      100000000000000000ull,
                                      1000000000000000000ull,
                                      10000000000000000000ull};
  bool started = false;
  for (int i = 19; i >= 0; i--) {
    char digit = '0';
    while (v >= kPow10[i]) {
      v -= kPow10[i];
      digit++;
    }
    if (digit != '0' || started || i == 0) {
      started = true;
      text_char(t, digit);
    }
  }
}

// "0x" and at least min_digits hex digits (addresses are shown with 8, as in docs/protocol.md).
static void text_hex(fw_text_t *t, uint64_t v, int min_digits) {
  static const char kDigits[] = "0123456789abcdef";
  int digits = 16;
  while (digits > min_digits && digits > 1 && ((v >> (4 * (digits - 1))) & 0xFu) == 0) {
    digits--;
  }
  text_str(t, "0x");
  for (int i = digits - 1; i >= 0; i--) {
    text_char(t, kDigits[(v >> (4 * i)) & 0xFu]);
  }
}

// ---------------------------------------------------------------------------------------------------
// Fabric access.

static uint32_t csr_read(uint32_t addr) {
  return sparrow_hal_csr_read(addr);
}
static void csr_write(uint32_t addr, uint32_t value) {
  sparrow_hal_csr_write(addr, value);
}

// A 64-bit counter as a LO/HI pair: re-read when HI changes under us (a running launch may carry
// into HI between the two reads). Bounded: a counter that keeps carrying gets the last sample.
static uint64_t read_counter(uint32_t lo_addr) {
  uint32_t hi = csr_read(lo_addr + 4);
  uint32_t lo = csr_read(lo_addr);
  for (int attempt = 0; attempt < 3; attempt++) {
    uint32_t hi_again = csr_read(lo_addr + 4);
    if (hi_again == hi) {
      break;
    }
    hi = hi_again;
    lo = csr_read(lo_addr);
  }
  return ((uint64_t)hi << 32) | lo;
}

static uint64_t dram_bytes(void) {
  sparrow_hal_platform_t info = {0};
  sparrow_hal_platform_info(&info);
  return info.dram_bytes;
}

// CTRL.reset | CTRL.clear, then DRAM_LIMIT: the AGCUs refuse beats past the platform's DRAM
// (docs/fabric.md). The CSR is 32-bit like AGCU addresses; a DRAM of 4 GiB or more cannot be
// overrun by them, so the check is left off (0) there.
static void reset_fabric(void) {
  csr_write(SPARROW_CSR_CTRL, (1u << SPARROW_CTRL_RESET_BIT) | (1u << SPARROW_CTRL_CLEAR_BIT));
  uint64_t bytes = dram_bytes();
  csr_write(SPARROW_CSR_DRAM_LIMIT, bytes > UINT32_MAX ? 0u : (uint32_t)bytes);
}

void sparrow_fw_init(sparrow_fw_t *fw) {
  fw->tiles = csr_read(SPARROW_CSR_PARAM_TILES);
  fw->lanes = csr_read(SPARROW_CSR_PARAM_LANES);
  fw->pmu_words = csr_read(SPARROW_CSR_PARAM_PMU_WORDS);
  fw->agcu_outstanding = csr_read(SPARROW_CSR_PARAM_AGCU_OUTSTANDING);
  fw->prog_entries = csr_read(SPARROW_CSR_PARAM_PROG_ENTRIES);
  // The unit ids leave room for SPARROW_MAX_TILES tiles per kind; a fabric claiming more would make
  // unit ids collide and the COUNTERS answer outgrow its bound, so it is taken at its limit.
  if (fw->tiles > SPARROW_MAX_TILES) {
    fw->tiles = SPARROW_MAX_TILES;
  }
  fw->launched = false;
  reset_fabric();
}

// ---------------------------------------------------------------------------------------------------
// One request being handled: its payload, the room for the response payload (inside the response
// frame, after the header) and the reason text of a refusal.

typedef struct fw_request {
  uint8_t cmd;
  const uint8_t *payload;
  uint32_t length;
  uint8_t *out;
  size_t out_cap;
  uint32_t out_len;
  fw_text_t why;
} fw_request_t;

// Starts a reason with the command's name: "MEM_READ: ...".
static fw_text_t *why(fw_request_t *rq) {
  text_str(&rq->why, sparrow_proto_cmd_name(rq->cmd));
  text_str(&rq->why, ": ");
  return &rq->why;
}

static sparrow_rc_t need_exact_length(fw_request_t *rq, uint32_t want) {
  if (rq->length == want) {
    return kSparrowRcOk;
  }
  fw_text_t *t = why(rq);
  text_str(t, "payload must be ");
  text_dec(t, want);
  text_str(t, " bytes, got ");
  text_dec(t, rq->length);
  return kSparrowRcBadLength;
}

static sparrow_rc_t need_room(fw_request_t *rq, uint64_t bytes) {
  if (bytes <= rq->out_cap) {
    return kSparrowRcOk;
  }
  fw_text_t *t = why(rq);
  text_str(t, "response of ");
  text_dec(t, bytes);
  text_str(t, " bytes does not fit the port's buffer (");
  text_dec(t, rq->out_cap);
  text_str(t, ")");
  return kSparrowRcBadArgument;
}

static sparrow_rc_t refuse_if_busy(fw_request_t *rq) {
  uint32_t status = csr_read(SPARROW_CSR_STATUS);
  if ((status & FW_STATUS_BUSY) == 0) {
    return kSparrowRcOk;
  }
  fw_text_t *t = why(rq);
  text_str(t, "a launch is running (STATUS ");
  text_hex(t, status, 1);
  text_str(t, "); WAIT for it or RESET");
  return kSparrowRcBusy;
}

// [addr, addr + bytes) must lie inside DRAM, computed without u64 overflow.
static sparrow_rc_t check_dram_range(fw_request_t *rq, uint64_t addr, uint64_t bytes) {
  uint64_t limit = dram_bytes();
  if (addr + bytes < addr) {
    fw_text_t *t = why(rq);
    text_dec(t, bytes);
    text_str(t, " bytes at ");
    text_hex(t, addr, 8);
    text_str(t, " wrap around the 64-bit address space");
    return kSparrowRcBadAddress;
  }
  if (addr > limit || bytes > limit - addr) {
    fw_text_t *t = why(rq);
    text_dec(t, bytes);
    text_str(t, " bytes at ");
    text_hex(t, addr, 8);
    text_str(t, " run past the end of DRAM (");
    text_hex(t, limit, 8);
    text_str(t, ")");
    return kSparrowRcBadAddress;
  }
  return kSparrowRcOk;
}

static sparrow_rc_t platform_refused(fw_request_t *rq, uint64_t addr, uint32_t bytes) {
  fw_text_t *t = why(rq);
  text_str(t, "the platform refused ");
  text_dec(t, bytes);
  text_str(t, " bytes at ");
  text_hex(t, addr, 8);
  return kSparrowRcBadAddress;
}

// ---------------------------------------------------------------------------------------------------
// Commands.

static const char *config_name(const sparrow_fw_t *fw) {
  for (uint32_t i = 0; i < SPARROW_HW_CONFIG_COUNT; i++) {
    const sparrow_hw_config_t *c = &kSparrowHwConfigs[i];
    if (c->tiles == fw->tiles && c->lanes == fw->lanes && c->pmu_words == fw->pmu_words &&
        c->agcu_outstanding == fw->agcu_outstanding && c->prog_entries == fw->prog_entries) {
      return c->name;
    }
  }
  return "?";
}

static sparrow_rc_t do_hello(sparrow_fw_t *fw, fw_request_t *rq) {
  sparrow_rc_t rc = need_exact_length(rq, 0);
  if (rc == kSparrowRcOk) {
    rc = need_room(rq, SPARROW_PROTO_HELLO_BYTES);
  }
  if (rc != kSparrowRcOk) {
    return rc;
  }
  sparrow_hal_platform_t info = {0};
  sparrow_hal_platform_info(&info);
  sparrow_hello_t hello = {
      .proto_version = SPARROW_PROTO_VERSION,
      .hw_version = csr_read(SPARROW_CSR_VERSION),
      .fw_version = SPARROW_FW_VERSION,
      .fabric = info.fabric,
      .tiles = fw->tiles,
      .lanes = fw->lanes,
      .pmu_words = fw->pmu_words,
      .agcu_outstanding = fw->agcu_outstanding,
      .prog_entries = fw->prog_entries,
      .dram_bw = info.dram_bw,
      .dram_latency = info.dram_latency,
      .max_payload = SPARROW_PROTO_MAX_PAYLOAD,
      .dram_bytes = info.dram_bytes,
  };
  const char *name = config_name(fw);
  for (int i = 0; i < 7 && name[i] != '\0'; i++) {
    hello.config[i] = name[i];
  }
  sparrow_proto_hello_encode(&hello, rq->out);
  rq->out_len = SPARROW_PROTO_HELLO_BYTES;
  return kSparrowRcOk;
}

static sparrow_rc_t do_reset(sparrow_fw_t *fw, fw_request_t *rq) {
  sparrow_rc_t rc = need_exact_length(rq, 0);
  if (rc != kSparrowRcOk) {
    return rc;
  }
  reset_fabric();
  fw->launched = false;
  return kSparrowRcOk;
}

static sparrow_rc_t do_mem_write(fw_request_t *rq) {
  if (rq->length < 8) {
    fw_text_t *t = why(rq);
    text_str(t, "payload of ");
    text_dec(t, rq->length);
    text_str(t, " bytes is shorter than its 8-byte address");
    return kSparrowRcBadLength;
  }
  uint64_t addr = sparrow_get_u64(rq->payload);
  uint32_t bytes = rq->length - 8;
  if (bytes == 0) {
    text_str(why(rq), "no data bytes after the address (length 0)");
    return kSparrowRcBadArgument;
  }
  sparrow_rc_t rc = check_dram_range(rq, addr, bytes);
  if (rc == kSparrowRcOk) {
    rc = refuse_if_busy(rq);
  }
  if (rc != kSparrowRcOk) {
    return rc;
  }
  if (!sparrow_hal_dram_write(addr, rq->payload + 8, bytes)) {
    return platform_refused(rq, addr, bytes);
  }
  return kSparrowRcOk;
}

static sparrow_rc_t do_mem_read(fw_request_t *rq) {
  sparrow_rc_t rc = need_exact_length(rq, 12);
  if (rc != kSparrowRcOk) {
    return rc;
  }
  uint64_t addr = sparrow_get_u64(rq->payload);
  uint32_t bytes = sparrow_get_u32(rq->payload + 8);
  if (bytes == 0 || bytes > SPARROW_PROTO_MAX_PAYLOAD) {
    fw_text_t *t = why(rq);
    text_str(t, "length ");
    text_dec(t, bytes);
    text_str(t, " is out of range (1 .. ");
    text_dec(t, SPARROW_PROTO_MAX_PAYLOAD);
    text_str(t, ")");
    return kSparrowRcBadArgument;
  }
  rc = check_dram_range(rq, addr, bytes);
  if (rc == kSparrowRcOk) {
    rc = need_room(rq, bytes);
  }
  if (rc == kSparrowRcOk) {
    rc = refuse_if_busy(rq);
  }
  if (rc != kSparrowRcOk) {
    return rc;
  }
  if (!sparrow_hal_dram_read(addr, rq->out, bytes)) {
    return platform_refused(rq, addr, bytes);
  }
  rq->out_len = bytes;
  return kSparrowRcOk;
}

static void text_unit(fw_text_t *t, uint32_t unit) {
  if (unit == SPARROW_UNIT_SWITCH) {
    text_str(t, "switch");
    return;
  }
  static const struct {
    uint32_t base;
    const char *name;
  } kKinds[] = {
      {SPARROW_UNIT_AGCU, "agcu "},
      {SPARROW_UNIT_PMU, "pmu "},
      {SPARROW_UNIT_PCU, "pcu "},
  };
  for (uint32_t i = 0; i < sizeof kKinds / sizeof kKinds[0]; i++) {
    if (unit >= kKinds[i].base && unit < kKinds[i].base + SPARROW_MAX_TILES) {
      text_str(t, kKinds[i].name);
      text_dec(t, unit - kKinds[i].base);
      return;
    }
  }
  text_str(t, "unit");
}

// Number of config registers of a unit in this configuration; 0 when the unit is absent. The
// switch has one register per destination id (tile * dst_per_tile + kind).
static uint32_t unit_reg_count(const sparrow_fw_t *fw, uint32_t unit) {
  if (unit == SPARROW_UNIT_SWITCH) {
    return fw->tiles * SPARROW_SWITCH_DST_PER_TILE;
  }
  if (unit >= SPARROW_UNIT_AGCU && unit < SPARROW_UNIT_AGCU + fw->tiles) {
    return SPARROW_AGCU_REG_COUNT;
  }
  if (unit >= SPARROW_UNIT_PMU && unit < SPARROW_UNIT_PMU + fw->tiles) {
    return SPARROW_PMU_REG_COUNT;
  }
  if (unit >= SPARROW_UNIT_PCU && unit < SPARROW_UNIT_PCU + fw->tiles) {
    return SPARROW_PCU_REG_COUNT;
  }
  return 0;
}

// The checks the fabric would make at run time (docs/fabric.md, Programs), made at load time.
// index is the entry's place in program memory, position its place in the request.
static sparrow_rc_t check_entry(const sparrow_fw_t *fw, fw_request_t *rq, uint32_t index,
                                uint32_t position, uint64_t entry) {
  uint32_t op = (uint32_t)(entry >> 60);
  uint32_t unit = (uint32_t)(entry >> 48) & 0xFFu;
  uint32_t reg = (uint32_t)(entry >> 32) & 0xFFFFu;
  uint32_t count = unit_reg_count(fw, unit);
  if (op == SPARROW_OP_RUN || op == SPARROW_OP_END || (op == SPARROW_OP_CFG && reg < count)) {
    return kSparrowRcOk;
  }
  fw_text_t *t = why(rq);
  text_str(t, "entry ");
  text_dec(t, index);
  text_str(t, " (request entry ");
  text_dec(t, position);
  text_str(t, ", ");
  text_hex(t, entry, 16);
  text_str(t, "): ");
  if (op != SPARROW_OP_CFG) {
    text_str(t, "unknown opcode ");
    text_dec(t, op);
  } else if (count == 0) {
    text_str(t, "unit ");
    text_hex(t, unit, 2);
    text_str(t, " is not in this configuration (");
    text_dec(t, fw->tiles);
    text_str(t, " tiles)");
  } else {
    text_str(t, "register ");
    text_dec(t, reg);
    text_str(t, " is out of range for ");
    text_unit(t, unit);
    text_str(t, " (");
    text_dec(t, count);
    text_str(t, " registers)");
  }
  return kSparrowRcBadProgram;
}

static sparrow_rc_t do_prog_load(const sparrow_fw_t *fw, fw_request_t *rq) {
  if (rq->length < 16 || (rq->length - 8) % 8 != 0) {
    fw_text_t *t = why(rq);
    text_str(t, "payload of ");
    text_dec(t, rq->length);
    text_str(t, " bytes is not 8 + a nonzero multiple of 8 (u32 first, u32 0, u64 entries)");
    return kSparrowRcBadLength;
  }
  uint32_t first = sparrow_get_u32(rq->payload);
  uint32_t reserved = sparrow_get_u32(rq->payload + 4);
  uint32_t count = (rq->length - 8) / 8;
  if (reserved != 0) {
    fw_text_t *t = why(rq);
    text_str(t, "the word after the first entry index must be 0, got ");
    text_hex(t, reserved, 8);
    return kSparrowRcBadArgument;
  }
  if ((uint64_t)first + count > fw->prog_entries) {
    fw_text_t *t = why(rq);
    text_str(t, "entries ");
    text_dec(t, first);
    text_str(t, " .. ");
    text_dec(t, (uint64_t)first + count - 1);
    text_str(t, " run past the end of program memory (");
    text_dec(t, fw->prog_entries);
    text_str(t, " entries)");
    return kSparrowRcBadProgram;
  }
  const uint8_t *entries = rq->payload + 8;
  for (uint32_t i = 0; i < count; i++) {
    sparrow_rc_t rc = check_entry(fw, rq, first + i, i, sparrow_get_u64(entries + 8 * i));
    if (rc != kSparrowRcOk) {
      return rc;
    }
  }
  sparrow_rc_t rc = refuse_if_busy(rq);
  if (rc != kSparrowRcOk) {
    return rc;
  }
  csr_write(SPARROW_CSR_PROG_ADDR, first);
  for (uint32_t i = 0; i < count; i++) {
    uint64_t entry = sparrow_get_u64(entries + 8 * i);
    csr_write(SPARROW_CSR_PROG_DATA_LO, (uint32_t)entry);
    csr_write(SPARROW_CSR_PROG_DATA_HI, (uint32_t)(entry >> 32));
  }
  return kSparrowRcOk;
}

static sparrow_rc_t do_launch(sparrow_fw_t *fw, fw_request_t *rq) {
  sparrow_rc_t rc = need_exact_length(rq, 4);
  if (rc == kSparrowRcOk) {
    rc = refuse_if_busy(rq);
  }
  if (rc != kSparrowRcOk) {
    return rc;
  }
  csr_write(SPARROW_CSR_WATCHDOG, sparrow_get_u32(rq->payload));
  // Clear first: the previous launch's done/error bits and counters must not be mistaken for this
  // launch's (WAIT would otherwise return at once), and each launch's counters start at 0.
  csr_write(SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_CLEAR_BIT);
  csr_write(SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_LAUNCH_BIT);
  fw->launched = true;
  return kSparrowRcOk;
}

static const char *fabric_error_name(uint32_t code) {
  switch (code) {
    case SPARROW_FABRIC_ERR_NONE:
      return "none";
    case SPARROW_FABRIC_ERR_BAD_OPCODE:
      return "bad_opcode";
    case SPARROW_FABRIC_ERR_BAD_UNIT:
      return "bad_unit";
    case SPARROW_FABRIC_ERR_BAD_REGISTER:
      return "bad_register";
    case SPARROW_FABRIC_ERR_NO_END:
      return "no_end";
    case SPARROW_FABRIC_ERR_WATCHDOG:
      return "watchdog";
    case SPARROW_FABRIC_ERR_BAD_ADDRESS:
      return "bad_address";
    default:
      return "unknown";
  }
}

static sparrow_rc_t do_wait(const sparrow_fw_t *fw, fw_request_t *rq) {
  sparrow_rc_t rc = need_exact_length(rq, 8);
  if (rc == kSparrowRcOk) {
    rc = need_room(rq, 16);
  }
  if (rc != kSparrowRcOk) {
    return rc;
  }
  uint64_t timeout = sparrow_get_u64(rq->payload);
  if (timeout == 0) {
    text_str(why(rq), "timeout 0 is out of range (at least 1 cycle)");
    return kSparrowRcBadArgument;
  }
  if (!fw->launched) {
    text_str(why(rq), "nothing launched since the last reset");
    return kSparrowRcNotLaunched;
  }
  uint64_t waited = 0;
  uint32_t slice = FW_WAIT_FIRST_SLICE;
  uint32_t status = csr_read(SPARROW_CSR_STATUS);
  while ((status & (FW_STATUS_DONE | FW_STATUS_ERROR)) == 0 && waited < timeout) {
    uint64_t left = timeout - waited;
    uint32_t step = left < slice ? (uint32_t)left : slice;
    sparrow_hal_wait_cycles(step);
    waited += step;
    if (slice < FW_WAIT_MAX_SLICE) {
      slice *= 2;
    }
    status = csr_read(SPARROW_CSR_STATUS);
  }
  if ((status & FW_STATUS_ERROR) != 0) {
    uint32_t code = csr_read(SPARROW_CSR_ERROR_CODE);
    uint32_t entry = csr_read(SPARROW_CSR_ERROR_ENTRY);
    fw_text_t *t = why(rq);
    text_str(t, "the launch failed: ");
    text_str(t, fabric_error_name(code));
    text_str(t, " at program entry ");
    text_dec(t, entry);
    text_str(t, " (ERROR_CODE ");
    text_dec(t, code);
    text_str(t, ", ERROR_ENTRY ");
    text_dec(t, entry);
    text_str(t, ")");
    return kSparrowRcFabricError;
  }
  if ((status & FW_STATUS_DONE) == 0) {
    fw_text_t *t = why(rq);
    text_str(t, "not done after ");
    text_dec(t, waited);
    text_str(t, " cycles (STATUS ");
    text_hex(t, status, 1);
    text_str(t, "); the launch keeps running");
    return kSparrowRcTimeout;
  }
  sparrow_put_u32(rq->out, status);
  sparrow_put_u32(rq->out + 4, csr_read(SPARROW_CSR_FP_STATUS));
  sparrow_put_u64(rq->out + 8, read_counter(SPARROW_CSR_CYCLES_LO));
  rq->out_len = 16;
  return kSparrowRcOk;
}

static sparrow_rc_t do_counters(const sparrow_fw_t *fw, fw_request_t *rq) {
  uint32_t units = 3 * fw->tiles;
  uint32_t bytes = 40 + 16 * units;
  sparrow_rc_t rc = need_exact_length(rq, 0);
  if (rc == kSparrowRcOk) {
    rc = need_room(rq, bytes);
  }
  if (rc != kSparrowRcOk) {
    return rc;
  }
  uint8_t *p = rq->out;
  sparrow_put_u64(p + 0, read_counter(SPARROW_CSR_CYCLES_LO));
  sparrow_put_u64(p + 8, read_counter(SPARROW_CSR_DRAM_RD_LO));
  sparrow_put_u64(p + 16, read_counter(SPARROW_CSR_DRAM_WR_LO));
  sparrow_put_u64(p + 24, read_counter(SPARROW_CSR_MACS_LO));
  sparrow_put_u32(p + 32, units);
  sparrow_put_u32(p + 36, 0);
  for (uint32_t u = 0; u < units; u++) {
    uint32_t base = SPARROW_CSR_UNIT_COUNTERS + 16 * u;
    sparrow_put_u64(p + 40 + 16 * u, read_counter(base));
    sparrow_put_u64(p + 48 + 16 * u, read_counter(base + 8));
  }
  rq->out_len = bytes;
  return kSparrowRcOk;
}

static sparrow_rc_t do_status(fw_request_t *rq) {
  sparrow_rc_t rc = need_exact_length(rq, 0);
  if (rc == kSparrowRcOk) {
    rc = need_room(rq, 16);
  }
  if (rc != kSparrowRcOk) {
    return rc;
  }
  sparrow_put_u32(rq->out + 0, csr_read(SPARROW_CSR_STATUS));
  sparrow_put_u32(rq->out + 4, csr_read(SPARROW_CSR_FP_STATUS));
  sparrow_put_u32(rq->out + 8, csr_read(SPARROW_CSR_ERROR_CODE));
  sparrow_put_u32(rq->out + 12, csr_read(SPARROW_CSR_ERROR_ENTRY));
  rq->out_len = 16;
  return kSparrowRcOk;
}

static sparrow_rc_t dispatch(sparrow_fw_t *fw, fw_request_t *rq) {
  switch (rq->cmd) {
    case kSparrowCmdHello:
      return do_hello(fw, rq);
    case kSparrowCmdReset:
      return do_reset(fw, rq);
    case kSparrowCmdMemWrite:
      return do_mem_write(rq);
    case kSparrowCmdMemRead:
      return do_mem_read(rq);
    case kSparrowCmdProgLoad:
      return do_prog_load(fw, rq);
    case kSparrowCmdLaunch:
      return do_launch(fw, rq);
    case kSparrowCmdWait:
      return do_wait(fw, rq);
    case kSparrowCmdCounters:
      return do_counters(fw, rq);
    case kSparrowCmdStatus:
      return do_status(rq);
    default:
      break;
  }
  fw_text_t *t = &rq->why;
  if ((rq->cmd & SPARROW_PROTO_RESPONSE_BIT) != 0) {
    text_str(t, "kind ");
    text_hex(t, rq->cmd, 2);
    text_str(t, " is a response kind (");
    text_str(t, sparrow_proto_cmd_name(rq->cmd & (uint8_t)~SPARROW_PROTO_RESPONSE_BIT));
    text_str(t, "), not a request");
  } else {
    text_str(t, "unknown command ");
    text_hex(t, rq->cmd, 2);
  }
  return kSparrowRcUnknownCommand;
}

// ---------------------------------------------------------------------------------------------------
// Frames.

// An error response; the reason is cut to whatever fits a (contract-breaking) small buffer.
static size_t error_frame(uint8_t kind, uint32_t seq, sparrow_rc_t rc, const fw_text_t *t,
                          uint8_t *rsp, size_t cap) {
  uint32_t len = t->len;
  size_t room = cap - SPARROW_PROTO_HEADER_BYTES - SPARROW_PROTO_CRC_BYTES;
  if (len > room) {
    len = (uint32_t)room;
  }
  return sparrow_proto_encode(kind, (uint16_t)rc, seq, (const uint8_t *)t->buf, len, rsp, cap);
}

// The answer to a header whose stream cannot be followed (bad magic, oversized length), or 0 when
// the header is not such a one.
static size_t reject(const uint8_t *header, uint8_t *rsp, size_t cap) {
  sparrow_frame_header_t h = {0};
  sparrow_rc_t rc = sparrow_proto_parse_header(header, &h);
  fw_text_t t = {.len = 0};
  if (rc == kSparrowRcBadMagic) {
    text_str(&t, "bad magic ");
    text_hex(&t, sparrow_get_u32(header), 8);
    text_str(&t, " (want ");
    text_hex(&t, SPARROW_PROTO_MAGIC, 8);
    text_str(&t, "); closing the connection");
    return error_frame(SPARROW_PROTO_RESPONSE_BIT, 0, rc, &t, rsp, cap);
  }
  if (rc == kSparrowRcBadLength) {
    text_str(&t, "payload length ");
    text_dec(&t, h.length);
    text_str(&t, " exceeds the maximum ");
    text_dec(&t, SPARROW_PROTO_MAX_PAYLOAD);
    text_str(&t, "; closing the connection");
    return error_frame(h.kind | SPARROW_PROTO_RESPONSE_BIT, h.seq, rc, &t, rsp, cap);
  }
  return 0;
}

size_t sparrow_fw_reject_header(const uint8_t *header, uint8_t *rsp, size_t cap) {
  if (header == NULL || rsp == NULL || cap < SPARROW_PROTO_HEADER_BYTES + SPARROW_PROTO_CRC_BYTES) {
    return 0;
  }
  return reject(header, rsp, cap);
}

size_t sparrow_fw_handle_frame(sparrow_fw_t *fw, const uint8_t *req, size_t len, uint8_t *rsp,
                               size_t cap, bool *close_after) {
  bool close_dummy = false;
  if (close_after == NULL) {
    close_after = &close_dummy;
  }
  *close_after = false;
  if (rsp == NULL || cap < SPARROW_PROTO_HEADER_BYTES + SPARROW_PROTO_CRC_BYTES) {
    return 0;
  }
  fw_text_t t = {.len = 0};
  if (req == NULL || len < SPARROW_PROTO_HEADER_BYTES) {
    // Not even a header: the port lost track of the stream.
    *close_after = true;
    text_str(&t, "frame of ");
    text_dec(&t, req == NULL ? 0 : len);
    text_str(&t, " bytes is shorter than the 16-byte header");
    return error_frame(SPARROW_PROTO_RESPONSE_BIT, 0, kSparrowRcBadLength, &t, rsp, cap);
  }
  size_t rejected = reject(req, rsp, cap);
  if (rejected > 0) {
    *close_after = true;
    return rejected;
  }

  sparrow_frame_header_t h = {0};
  const uint8_t *payload = NULL;
  sparrow_rc_t rc = sparrow_proto_decode(req, len, &h, &payload);
  uint8_t kind = h.kind | SPARROW_PROTO_RESPONSE_BIT;
  if (rc == kSparrowRcBadLength) {
    text_str(&t, "frame is ");
    text_dec(&t, len);
    text_str(&t, " bytes but its header announces a ");
    text_dec(&t, h.length);
    text_str(&t, "-byte payload (");
    text_dec(&t, (uint64_t)h.length + SPARROW_PROTO_HEADER_BYTES + SPARROW_PROTO_CRC_BYTES);
    text_str(&t, " bytes in all)");
    return error_frame(kind, h.seq, rc, &t, rsp, cap);
  }
  if (rc == kSparrowRcBadVersion) {
    text_str(&t, "protocol version ");
    text_dec(&t, req[4]);
    text_str(&t, " is not supported (this firmware speaks ");
    text_dec(&t, SPARROW_PROTO_VERSION);
    text_str(&t, ")");
    return error_frame(kind, h.seq, rc, &t, rsp, cap);
  }
  if (rc == kSparrowRcBadCrc) {
    size_t body = SPARROW_PROTO_HEADER_BYTES + h.length;
    text_str(&t, "frame CRC ");
    text_hex(&t, sparrow_get_u32(req + body), 8);
    text_str(&t, " does not match its bytes (CRC ");
    text_hex(&t, sparrow_proto_crc32(0, req, body), 8);
    text_str(&t, ")");
    return error_frame(kind, h.seq, rc, &t, rsp, cap);
  }
  if (rc != kSparrowRcOk) {
    // decode() has no other outcomes after reject(); answered anyway rather than assumed.
    text_str(&t, "frame rejected: ");
    text_str(&t, sparrow_proto_rc_name((uint16_t)rc));
    return error_frame(kind, h.seq, rc, &t, rsp, cap);
  }
  if (h.status != 0) {
    text_str(&t, "status field of a request must be 0, got ");
    text_dec(&t, h.status);
    return error_frame(kind, h.seq, kSparrowRcBadArgument, &t, rsp, cap);
  }

  fw_request_t rq = {
      .cmd = h.kind,
      .payload = payload,
      .length = h.length,
      .out = rsp + SPARROW_PROTO_HEADER_BYTES,
      .out_cap = cap - SPARROW_PROTO_HEADER_BYTES - SPARROW_PROTO_CRC_BYTES,
      .out_len = 0,
      .why = {.len = 0},
  };
  rc = dispatch(fw, &rq);
  if (rc != kSparrowRcOk) {
    return error_frame(kind, h.seq, rc, &rq.why, rsp, cap);
  }
  return sparrow_proto_encode(kind, kSparrowRcOk, h.seq, rq.out, rq.out_len, rsp, cap);
}
