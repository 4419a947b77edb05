// SPDX-License-Identifier: Apache-2.0
//
// A fake chip for the firmware core's tests: the control block's CSR map (parameters of
// configuration S), a program memory behind the PROG_* window, a launch that completes (or fails)
// a scripted number of cycles after CTRL.launch as sparrow_hal_wait_cycles advances time, and a
// DRAM byte array between two guard regions. Anything the firmware does that a real chip would not
// accept (a write to a read-only CSR, a program entry past the end, a DRAM access out of range) is
// counted in `violations`.

#ifndef SPARROW_TESTS_UNIT_TEST_FW_HAL_H_
#define SPARROW_TESTS_UNIT_TEST_FW_HAL_H_

#include <stdbool.h>
#include <stdint.h>

#include "../../firmware/hal/sparrow_hal.h"

#define FAKE_DRAM_BYTES (256u * 1024u)
#define FAKE_GUARD_BYTES 4096u
#define FAKE_GUARD_FILL 0xA5u
#define FAKE_CSR_WORDS 1024u  // the 4 KiB CSR space
#define FAKE_PROG_MAX 4096u
#define FAKE_NEVER UINT64_MAX

typedef struct fake_chip {
  uint32_t csr[FAKE_CSR_WORDS];  // read values of plain registers (parameters, counters, ...)
  uint64_t prog[FAKE_PROG_MAX];
  uint32_t prog_entries;  // the size the fake enforces (PARAM_PROG_ENTRIES)
  uint32_t prog_addr;
  uint32_t prog_lo;
  uint32_t prog_writes;  // entries stored through PROG_DATA_HI

  bool busy, done, error;
  uint64_t since_launch;  // fabric cycles since CTRL.launch
  uint64_t done_after;    // a launch is done this many cycles after it starts
  uint64_t fail_after;    // ... or fails at this cycle (FAKE_NEVER: it does not)
  uint32_t fail_code, fail_entry;

  uint64_t cycles_waited;  // all fabric time the firmware let pass
  uint64_t wait_calls;
  uint32_t launches, resets, clears;
  uint32_t violations;
  bool refuse_dram;  // the platform refuses every DRAM copy

  sparrow_hal_platform_t platform;
  uint8_t mem[FAKE_GUARD_BYTES + FAKE_DRAM_BYTES + FAKE_GUARD_BYTES];
} fake_chip_t;

extern fake_chip_t g_fake;

// Power-on state: configuration S parameters, idle fabric, DRAM zeroed, guards filled.
void fake_reset(void);
uint8_t *fake_dram(void);
bool fake_guards_intact(void);
void fake_set_counter(uint32_t lo_addr, uint64_t value);
uint32_t fake_csr(uint32_t addr);

#endif  // SPARROW_TESTS_UNIT_TEST_FW_HAL_H_
