// SPDX-License-Identifier: Apache-2.0
//
// The DRAM model's rules (sim/platform/sim_dram.h, docs/simulator.md): capacity, latency counted
// from the service slot, bandwidth shared in arrival order with round-robin among simultaneous
// requests, one answer per port per edge in order, reads of a cycle before its writes, and
// accesses beyond the capacity.

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/platform/sim_dram.h"
#include "sparrow_hw.h"

static sparrow_dram_t *make(uint64_t bytes, uint32_t bw, uint32_t latency, uint32_t ports,
                            uint32_t beat) {
  sparrow_dram_config_t c = {
      .bytes = bytes, .bw = bw, .latency = latency, .ports = ports, .beat_bytes = beat};
  sparrow_dram_t *d = sparrow_dram_create(&c);
  ck_assert_ptr_nonnull(d);
  return d;
}

static void tick(sparrow_dram_t *d) {
  ck_assert(sparrow_dram_tick(d));
}

static void read_req(sparrow_dram_t *d, uint32_t port, uint64_t addr) {
  ck_assert(sparrow_dram_read_request(d, port, addr));
}

// Fills [addr, addr + n) through the backdoor with bytes seed, seed + 1, ...
static void fill(sparrow_dram_t *d, uint64_t addr, uint32_t n, uint8_t seed) {
  uint8_t buf[256];
  for (uint32_t i = 0; i < n; i++) {
    buf[i] = (uint8_t)(seed + i);
  }
  ck_assert(sparrow_dram_backdoor_write(d, addr, buf, n));
}

// Ticks until port has a read response staged; returns the tick index (0-based count of ticks
// done before this call plus the ticks taken), or -1 after limit ticks.
static int ticks_until_response(sparrow_dram_t *d, uint32_t port, int limit, int *ticks_done) {
  for (int i = 0; i < limit; i++) {
    tick(d);
    int t = (*ticks_done)++;
    if (sparrow_dram_read_response(d, port) != NULL) {
      return t;
    }
  }
  return -1;
}

START_TEST(test_create_checks_config) {
  sparrow_dram_config_t ok = {.bytes = 1024, .bw = 64, .latency = 1, .ports = 2, .beat_bytes = 16};
  sparrow_dram_config_t c = ok;
  c.bw = 0;
  ck_assert_ptr_null(sparrow_dram_create(&c));
  c = ok;
  c.latency = 0;
  ck_assert_ptr_null(sparrow_dram_create(&c));
  c = ok;
  c.ports = 0;
  ck_assert_ptr_null(sparrow_dram_create(&c));
  c = ok;
  c.ports = SPARROW_MAX_TILES + 1;
  ck_assert_ptr_null(sparrow_dram_create(&c));
  c = ok;
  c.bytes = 0;
  ck_assert_ptr_null(sparrow_dram_create(&c));
  ck_assert_ptr_null(sparrow_dram_create(NULL));
  sparrow_dram_t *d = sparrow_dram_create(&ok);
  ck_assert_ptr_nonnull(d);
  ck_assert_uint_eq(sparrow_dram_bytes(d), 1024);
  // Zeroed storage.
  for (int i = 0; i < 1024; i++) {
    ck_assert_uint_eq(sparrow_dram_data(d)[i], 0);
  }
  sparrow_dram_destroy(d);
}
END_TEST

START_TEST(test_backdoor_range) {
  sparrow_dram_t *d = make(4096, 64, 10, 1, 16);
  uint8_t buf[32] = {1, 2, 3};
  ck_assert(sparrow_dram_backdoor_write(d, 4096 - 32, buf, 32));
  ck_assert(!sparrow_dram_backdoor_write(d, 4096 - 31, buf, 32));
  ck_assert(!sparrow_dram_backdoor_write(d, UINT64_MAX - 8, buf, 32));  // would wrap
  ck_assert(!sparrow_dram_backdoor_read(d, 4096, buf, 1));
  ck_assert(sparrow_dram_backdoor_read(d, 4096, buf, 0));
  uint8_t back[32];
  ck_assert(sparrow_dram_backdoor_read(d, 4096 - 32, back, 32));
  ck_assert_mem_eq(back, buf, 32);
  sparrow_dram_destroy(d);
}
END_TEST

// A request made at rising edge n is served at cycle n and answered at edge n + latency: the
// response is staged by tick n + latency - 1 and only then.
START_TEST(test_read_latency) {
  for (uint32_t latency = 1; latency <= 7; latency += 3) {
    sparrow_dram_t *d = make(4096, 64, latency, 2, 16);
    fill(d, 256, 16, 0x40);
    tick(d);              // cycle 0 passes idle
    read_req(d, 1, 256);  // edge 1
    int done = 1;
    int at = ticks_until_response(d, 1, 100, &done);
    ck_assert_int_eq(at, 1 + (int)latency - 1);
    const uint8_t *data = sparrow_dram_read_response(d, 1);
    for (int i = 0; i < 16; i++) {
      ck_assert_uint_eq(data[i], 0x40 + i);
    }
    ck_assert_ptr_null(sparrow_dram_read_response(d, 0));
    tick(d);  // one edge only
    ck_assert_ptr_null(sparrow_dram_read_response(d, 1));
    ck_assert_uint_eq(sparrow_dram_in_flight(d), 0);
    sparrow_dram_destroy(d);
  }
}
END_TEST

START_TEST(test_write_lands_at_service_and_acks_after_latency) {
  sparrow_dram_t *d = make(4096, 64, 5, 1, 16);
  uint8_t beat[16];
  for (int i = 0; i < 16; i++) {
    beat[i] = (uint8_t)(0xa0 + i);
  }
  ck_assert(sparrow_dram_write_request(d, 0, 512, beat));
  ck_assert_uint_eq(sparrow_dram_in_flight(d), 1);
  tick(d);  // served now
  ck_assert_mem_eq(sparrow_dram_data(d) + 512, beat, 16);
  for (int t = 1; t < 4; t++) {
    ck_assert(!sparrow_dram_write_ack(d, 0));
    tick(d);
  }
  ck_assert(!sparrow_dram_write_ack(d, 0));
  tick(d);  // tick 4 = latency - 1 stages the ack for edge 5
  ck_assert(sparrow_dram_write_ack(d, 0));
  tick(d);
  ck_assert(!sparrow_dram_write_ack(d, 0));
  sparrow_dram_stats_t s;
  sparrow_dram_get_stats(d, &s);
  ck_assert_uint_eq(s.wr_beats, 1);
  ck_assert_uint_eq(s.rd_beats, 0);
  ck_assert_uint_eq(s.errors, 0);
  sparrow_dram_destroy(d);
}
END_TEST

// Four simultaneous reads at 32 bytes/cycle with 16-byte beats: two per cycle, ports in rotating
// order (cycle 0 starts at port 0).
START_TEST(test_bandwidth_shared_by_ports) {
  sparrow_dram_t *d = make(4096, 32, 1, 4, 16);
  for (uint32_t p = 0; p < 4; p++) {
    read_req(d, p, 64 * p);
  }
  tick(d);
  ck_assert_ptr_nonnull(sparrow_dram_read_response(d, 0));
  ck_assert_ptr_nonnull(sparrow_dram_read_response(d, 1));
  ck_assert_ptr_null(sparrow_dram_read_response(d, 2));
  ck_assert_ptr_null(sparrow_dram_read_response(d, 3));
  tick(d);
  ck_assert_ptr_null(sparrow_dram_read_response(d, 0));
  ck_assert_ptr_nonnull(sparrow_dram_read_response(d, 2));
  ck_assert_ptr_nonnull(sparrow_dram_read_response(d, 3));
  sparrow_dram_stats_t s;
  sparrow_dram_get_stats(d, &s);
  ck_assert_uint_eq(s.busy_cycles, 2);
  ck_assert_uint_eq(s.max_queue, 4);
  sparrow_dram_destroy(d);
}
END_TEST

// One beat per cycle: simultaneous requests are served starting one port later each cycle.
START_TEST(test_round_robin_rotates) {
  sparrow_dram_t *d = make(4096, 16, 1, 4, 16);
  tick(d);  // cycle 0 idle: the requests below arrive in cycle 1, which starts at port 1
  for (uint32_t p = 0; p < 4; p++) {
    read_req(d, p, 0);
  }
  static const uint32_t kOrder[4] = {1, 2, 3, 0};
  for (int i = 0; i < 4; i++) {
    tick(d);
    for (uint32_t p = 0; p < 4; p++) {
      ck_assert_msg((sparrow_dram_read_response(d, p) != NULL) == (p == kOrder[i]),
                    "tick %d port %u", i, p);
    }
  }
  sparrow_dram_destroy(d);
}
END_TEST

// A bandwidth below one beat: a 32-byte beat every 4 cycles at 8 bytes/cycle.
START_TEST(test_bandwidth_below_one_beat) {
  sparrow_dram_t *d = make(4096, 8, 1, 3, 32);
  for (uint32_t p = 0; p < 3; p++) {
    read_req(d, p, 32 * p);
  }
  int seen = 0;
  for (int t = 0; t < 12; t++) {
    tick(d);
    for (uint32_t p = 0; p < 3; p++) {
      if (sparrow_dram_read_response(d, p) != NULL) {
        ck_assert_int_eq(t, 3 + 4 * (int)p);
        seen++;
      }
    }
  }
  ck_assert_int_eq(seen, 3);
  sparrow_dram_destroy(d);
}
END_TEST

// Idle cycles bank no bandwidth, not even the remainder of a busy cycle: 48 bytes/cycle with
// 32-byte beats serves 1, then 2.
START_TEST(test_idle_banks_nothing) {
  sparrow_dram_t *d = make(4096, 48, 1, 3, 32);
  read_req(d, 0, 0);  // cycle 0: one beat served, 16 bytes of budget left over and dropped
  for (int t = 0; t < 10; t++) {
    tick(d);
  }
  for (uint32_t p = 0; p < 3; p++) {
    read_req(d, p, 0);  // cycle 10: order 1, 2, 0
  }
  tick(d);
  ck_assert_ptr_nonnull(sparrow_dram_read_response(d, 1));
  ck_assert_ptr_null(sparrow_dram_read_response(d, 2));
  ck_assert_ptr_null(sparrow_dram_read_response(d, 0));
  tick(d);
  ck_assert_ptr_nonnull(sparrow_dram_read_response(d, 2));
  ck_assert_ptr_nonnull(sparrow_dram_read_response(d, 0));
  sparrow_dram_destroy(d);
}
END_TEST

// Answers served together for one port leave on consecutive edges, in request order.
START_TEST(test_one_answer_per_port_per_edge) {
  sparrow_dram_t *d = make(4096, 64, 2, 1, 16);
  fill(d, 0, 48, 0);
  read_req(d, 0, 0);
  read_req(d, 0, 16);
  read_req(d, 0, 32);
  tick(d);  // all three served in cycle 0, due at edge 2
  ck_assert_ptr_null(sparrow_dram_read_response(d, 0));
  for (int i = 0; i < 3; i++) {
    tick(d);
    const uint8_t *r = sparrow_dram_read_response(d, 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r[0], 16 * i);
  }
  tick(d);
  ck_assert_ptr_null(sparrow_dram_read_response(d, 0));
  ck_assert_uint_eq(sparrow_dram_in_flight(d), 0);
  sparrow_dram_destroy(d);
}
END_TEST

// In one cycle a port's read is queued before its write: the read sees the old bytes. Requests of
// later cycles see earlier writes (arrival order).
START_TEST(test_read_before_write_in_a_cycle) {
  sparrow_dram_t *d = make(4096, 64, 1, 2, 16);
  fill(d, 128, 16, 1);
  uint8_t beat[16];
  memset(beat, 0xee, sizeof(beat));
  ck_assert(sparrow_dram_write_request(d, 0, 128, beat));
  read_req(d, 0, 128);  // reported after the write, still queued before it
  tick(d);
  ck_assert_uint_eq(sparrow_dram_read_response(d, 0)[0], 1);
  ck_assert(sparrow_dram_write_ack(d, 0));
  read_req(d, 1, 128);
  tick(d);
  ck_assert_uint_eq(sparrow_dram_read_response(d, 1)[0], 0xee);
  sparrow_dram_destroy(d);
}
END_TEST

START_TEST(test_beyond_capacity) {
  sparrow_dram_t *d = make(1024, 64, 1, 1, 16);
  fill(d, 1024 - 8, 8, 0x10);
  read_req(d, 0, 1024 - 8);  // straddles the end
  tick(d);
  const uint8_t *r = sparrow_dram_read_response(d, 0);
  for (int i = 0; i < 16; i++) {
    ck_assert_uint_eq(r[i], i < 8 ? 0x10 + i : 0);
  }
  read_req(d, 0, 0xfffffff0u);  // far beyond
  tick(d);
  r = sparrow_dram_read_response(d, 0);
  for (int i = 0; i < 16; i++) {
    ck_assert_uint_eq(r[i], 0);
  }
  uint8_t beat[16];
  memset(beat, 0x77, sizeof(beat));
  ck_assert(sparrow_dram_write_request(d, 0, 1024 - 4, beat));
  tick(d);
  ck_assert(sparrow_dram_write_ack(d, 0));  // still answered: the fabric must not hang
  ck_assert_uint_eq(sparrow_dram_data(d)[1023], 0x77);
  sparrow_dram_stats_t s;
  sparrow_dram_get_stats(d, &s);
  ck_assert_uint_eq(s.errors, 3);
  ck_assert_uint_eq(s.first_error_addr, 1024 - 8);
  ck_assert(!s.first_error_write);
  sparrow_dram_destroy(d);
}
END_TEST

START_TEST(test_bad_port_refused) {
  sparrow_dram_t *d = make(1024, 64, 1, 2, 16);
  ck_assert(!sparrow_dram_read_request(d, 2, 0));
  uint8_t beat[16] = {0};
  ck_assert(!sparrow_dram_write_request(d, 7, 0, beat));
  ck_assert(!sparrow_dram_write_request(d, 0, 0, NULL));
  ck_assert_ptr_null(sparrow_dram_read_response(d, 5));
  ck_assert(!sparrow_dram_write_ack(d, 5));
  sparrow_dram_destroy(d);
}
END_TEST

// A long stream keeps arrival order across queue growth: 1000 reads from two ports at one beat
// per cycle come back in order, each with its own data.
START_TEST(test_long_stream_in_order) {
  sparrow_dram_t *d = make(1 << 20, 16, 3, 2, 16);
  for (uint32_t i = 0; i < 1000; i++) {
    uint8_t v[16];
    memset(v, 0, sizeof(v));
    memcpy(v, &i, sizeof(i));
    ck_assert(sparrow_dram_backdoor_write(d, 16 * i, v, 16));
  }
  uint32_t next[2] = {0, 1};  // port p reads beats p, p + 2, p + 4, ...
  uint32_t expect[2] = {0, 1};
  int t = 0;
  while (expect[0] < 1000 || expect[1] < 1000) {
    for (uint32_t p = 0; p < 2; p++) {
      if (next[p] < 1000) {
        read_req(d, p, 16 * next[p]);
        next[p] += 2;
      }
    }
    tick(d);
    for (uint32_t p = 0; p < 2; p++) {
      const uint8_t *r = sparrow_dram_read_response(d, p);
      if (r != NULL) {
        uint32_t got;
        memcpy(&got, r, sizeof(got));
        ck_assert_uint_eq(got, expect[p]);
        expect[p] += 2;
      }
    }
    ck_assert_int_lt(++t, 5000);
  }
  // 1000 beats at one per cycle, plus the latency.
  ck_assert_int_eq(t, 1000 + 3 - 1);
  sparrow_dram_destroy(d);
}
END_TEST

int main(void) {
  Suite *s = suite_create("sim_dram");
  TCase *tc = tcase_create("dram");
  tcase_add_test(tc, test_create_checks_config);
  tcase_add_test(tc, test_backdoor_range);
  tcase_add_test(tc, test_read_latency);
  tcase_add_test(tc, test_write_lands_at_service_and_acks_after_latency);
  tcase_add_test(tc, test_bandwidth_shared_by_ports);
  tcase_add_test(tc, test_round_robin_rotates);
  tcase_add_test(tc, test_bandwidth_below_one_beat);
  tcase_add_test(tc, test_idle_banks_nothing);
  tcase_add_test(tc, test_one_answer_per_port_per_edge);
  tcase_add_test(tc, test_read_before_write_in_a_cycle);
  tcase_add_test(tc, test_beyond_capacity);
  tcase_add_test(tc, test_bad_port_refused);
  tcase_add_test(tc, test_long_stream_in_order);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
