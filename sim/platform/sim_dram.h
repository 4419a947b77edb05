// SPDX-License-Identifier: Apache-2.0
//
// The platform's DRAM: a byte array with a capacity, a latency and a bandwidth shared by all AGCU
// ports (docs/simulator.md, "DRAM model"). Plain C so that its timing rules are unit-tested without
// a simulator; sim/platform/dram_module.h clocks it inside SystemC.
//
// One call of sparrow_dram_tick() is one fabric cycle. Per cycle the fabric's requests (at most one
// read and one write per port, sampled at the rising edge) are queued; the tick serves queued beats
// in arrival order at the bandwidth, and stages the responses due at the next rising edge.

#ifndef SPARROW_SIM_PLATFORM_SIM_DRAM_H_
#define SPARROW_SIM_PLATFORM_SIM_DRAM_H_

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sparrow_dram_config {
  uint64_t bytes;       // capacity
  uint32_t bw;          // bytes per cycle, >= 1
  uint32_t latency;     // cycles from a beat's service slot to its response, >= 1
  uint32_t ports;       // AGCUs, 1 .. SPARROW_MAX_TILES
  uint32_t beat_bytes;  // lanes * 4
} sparrow_dram_config_t;

typedef struct sparrow_dram_stats {
  uint64_t cycles;    // ticks so far
  uint64_t rd_beats;  // beats served
  uint64_t wr_beats;
  uint64_t busy_cycles;  // cycles that served at least one beat
  uint64_t max_queue;    // deepest request queue seen (beats)
  uint64_t errors;       // beats that reached beyond the capacity
  uint64_t first_error_addr;
  bool first_error_write;
} sparrow_dram_stats_t;

typedef struct sparrow_dram sparrow_dram_t;

// NULL when the configuration is out of range or memory is short. The storage is zeroed and
// allocated lazily by the operating system (calloc), so an untouched page costs nothing.
sparrow_dram_t *sparrow_dram_create(const sparrow_dram_config_t *config);
void sparrow_dram_destroy(sparrow_dram_t *dram);

// The byte array itself (shared with the golden model) and its length.
uint8_t *sparrow_dram_data(sparrow_dram_t *dram);
uint64_t sparrow_dram_bytes(const sparrow_dram_t *dram);

// The firmware's DMA path: untimed copies. False (and nothing copied) when [addr, addr + len) is
// not inside the array.
bool sparrow_dram_backdoor_read(const sparrow_dram_t *dram, uint64_t addr, uint8_t *dst,
                                uint64_t len) __attribute__((warn_unused_result));
bool sparrow_dram_backdoor_write(sparrow_dram_t *dram, uint64_t addr, const uint8_t *src,
                                 uint64_t len) __attribute__((warn_unused_result));

// A beat request from a port in the current cycle; data is beat_bytes long (lane 0 first). Always
// accepted; false only for a port out of range or when memory for the queue runs out.
bool sparrow_dram_read_request(sparrow_dram_t *dram, uint32_t port, uint64_t addr)
    __attribute__((warn_unused_result));
bool sparrow_dram_write_request(sparrow_dram_t *dram, uint32_t port, uint64_t addr,
                                const uint8_t *data) __attribute__((warn_unused_result));

// Ends the current cycle: queues this cycle's requests (round-robin across ports, starting one
// port later each cycle; a port's reads before its writes), serves up to the bandwidth, and stages
// the responses for the next rising edge. False when memory for the queues runs out.
bool sparrow_dram_tick(sparrow_dram_t *dram) __attribute__((warn_unused_result));

// What the last tick staged for the next rising edge: a port's read data (NULL if none) and
// whether a write acknowledgement is due.
const uint8_t *sparrow_dram_read_response(const sparrow_dram_t *dram, uint32_t port);
bool sparrow_dram_write_ack(const sparrow_dram_t *dram, uint32_t port);

// Beats queued or served but not yet answered: 0 when the DRAM is idle.
uint64_t sparrow_dram_in_flight(const sparrow_dram_t *dram);

void sparrow_dram_get_stats(const sparrow_dram_t *dram, sparrow_dram_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_SIM_PLATFORM_SIM_DRAM_H_
