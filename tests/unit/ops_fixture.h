// SPDX-License-Identifier: Apache-2.0
//
// The test fixture shared by the ops library's Check suites that run device programs on the golden
// model in-process (test_ops_gemm.c, test_ops_sparse.c, test_simd_ops.c, test_attention.c,
// test_ln_embed.c, test_loss_adamw.c): the fabric a configuration presents to the ops library,
// binary32 constants and helpers, word buffers, launching programs through the model's CSR window
// (as the firmware drives the fabric) with the counters read back, and the comparisons with the
// references (exact, flags, normwise tolerance). ops_fixture.c needs the ops library's core, the
// references and the model; the SIMD jobs, the executor and the normwise comparison are in
// ops_fixture_simd.h.

#ifndef SPARROW_TESTS_UNIT_OPS_FIXTURE_H_
#define SPARROW_TESTS_UNIT_OPS_FIXTURE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program.h"
#include "sparrow_model.h"
#include "sparrow_ops.h"

// The DRAM the suites model (the cost model's figures; the model is given the same).
#define DRAM_BW 64u
#define DRAM_LATENCY 100u
#define WATCHDOG 1000000u  // cycles without progress before a launch aborts
#define FILL 0xA5u         // DRAM fill: a stray write shows

#define F_ONE 0x3F800000u
#define F_MAX 0x7F7FFFFFu
#define F_INF 0x7F800000u
#define F_NINF 0xFF800000u
#define F_QNAN 0x7FC00000u

// The configuration of that name (the test fails when there is none).
const sparrow_hw_config_t *config_named(const char *name);
// The fabric a device of the configuration reports, with the DRAM above.
sparrow_ops_fabric_t fabric_of(const sparrow_hw_config_t *cfg);
// Whether the host's FP status is observable, so that golden flags can be compared.
bool host_flags_observable(void);

uint32_t fbits(float f);
float bitsf(uint32_t b);
// count zeroed words (one more, so that count may be 0); the test fails when out of memory.
uint32_t *words(size_t count);
// Uniform in [-2^exp2, 2^exp2): the reference's generator times a power of two (exact).
void fill(uint64_t seed, size_t count, int exp2, uint32_t *w);

// What launches on the model measured, summed over them.
typedef struct model_run {
  uint64_t cycles, est_cycles, macs, dram_rd, dram_wr;
  uint32_t fp_status, launches;
  size_t entries;
} model_run_t;

// Runs every program of progs in order on the model: each (at most max_entries long) loaded
// through the CSR window after a CLEAR, with the watchdog (0: off), launched and waited for; DONE
// is asserted (`what` names the programs in the message, with the launch's index). The launches'
// counters are added to *run (est_cycles is the caller's).
void launch_programs(sparrow_model_t *model, const sparrow_ops_programs_t *progs,
                     size_t max_entries, uint32_t watchdog, const char *what, model_run_t *run);

// Bits equal, with the first difference printed.
void expect_exact(const char *what, size_t count, const uint32_t *dev, const uint32_t *gold);
// FP_STATUS equal to the golden flags, where the host lets the reference see them.
void expect_flags(const char *what, uint32_t device, uint8_t golden);

// ---------------------------------------------------------------------------------------------------
// Program invariants (test_ops_gemm.c, test_ops_sparse.c): the registers a program sets, read back
// from its entries independently of the model.

typedef struct unit_regs {
  uint32_t r[SPARROW_OPS_PROG_REGS];
} unit_regs_t;

// The words a loop generator walks: the product of its counts (a count of 0 is 1).
uint64_t agen_total(const uint32_t *regs, uint32_t count_reg);
// A tile's AGCU channel and PMU port register blocks.
uint32_t *agcu_chan(unit_regs_t *units, uint32_t t, uint32_t chan);
uint32_t *pmu_port(unit_regs_t *units, uint32_t t, uint32_t port);

// Beats a switch source or destination moves in the phase (0 when idle); ctx is the suite's.
typedef uint64_t (*port_beats_fn)(void *ctx, uint32_t port);
// The routes of phase `phase` (sw: the switch's registers): every beat a source produces is taken
// by each destination routed to it, an enabled source is routed, and a destination that takes
// beats is routed, to a source that makes as many.
void check_routes(const uint32_t *sw, uint32_t tiles, uint64_t phase, port_beats_fn source_beats,
                  port_beats_fn dest_beats, void *ctx);

// Every unit disabled (the enables end with a phase): the AGCU channels, PMU ports and PCUs of
// the tiles.
void disable_units(unit_regs_t *units, uint32_t tiles);

// Reads one program's n entries as the fabric does: the registers start as garbage the builder
// cannot know (all ones) with every unit disabled; CFG entries set registers (reserved bits zero,
// the register within the unit's count), each RUN calls phase(ctx) on the registers as they are
// then, and END is last and only last.
typedef void (*phase_fn)(void *ctx);
void walk_program(unit_regs_t *units, uint32_t tiles, const uint64_t *entries, size_t n,
                  phase_fn phase, void *ctx);

#endif  // SPARROW_TESTS_UNIT_OPS_FIXTURE_H_
