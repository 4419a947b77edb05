// SPDX-License-Identifier: Apache-2.0
//
// The DRAM model's storage and timing (sim_dram.h). Queues grow on demand: the fabric bounds its
// requests in flight, but the model does not rely on that to stay correct.

#include "sim_dram.h"

#include <stdlib.h>
#include <string.h>

#include "sparrow_hw.h"

// A FIFO of fixed-size records that doubles when full.
typedef struct ring {
  uint8_t *buf;
  size_t rec;  // bytes per record
  size_t cap;  // records
  size_t head;
  size_t count;
} ring_t;

static uint8_t *ring_at(const ring_t *r, size_t i) {
  return r->buf + ((r->head + i) % r->cap) * r->rec;
}

static uint8_t *ring_push(ring_t *r) {
  if (r->count == r->cap) {
    size_t cap = r->cap == 0 ? 16 : r->cap * 2;
    uint8_t *buf = malloc(cap * r->rec);
    if (buf == NULL) {
      return NULL;
    }
    for (size_t i = 0; i < r->count; i++) {
      memcpy(buf + i * r->rec, ring_at(r, i), r->rec);
    }
    free(r->buf);
    r->buf = buf;
    r->cap = cap;
    r->head = 0;
  }
  r->count++;
  return ring_at(r, r->count - 1);
}

static void ring_pop(ring_t *r) {
  r->head = (r->head + 1) % r->cap;
  r->count--;
}

// Request record: this header, then the write data (beat_bytes; unused for reads).
typedef struct request {
  uint64_t addr;
  uint32_t port;
  uint32_t write;
} request_t;

// Read response record: this header, then the data. Write acknowledgements are just the header.
typedef struct response {
  uint64_t due;  // the rising edge at which the fabric sees it
} response_t;

typedef struct port_state {
  ring_t rd_rsp;
  ring_t wr_ack;
  bool rd_staged;
  bool ack_staged;
} port_state_t;

struct sparrow_dram {
  sparrow_dram_config_t config;
  uint8_t *data;
  ring_t incoming;  // this cycle's requests, in the order the fabric reported them
  ring_t queue;     // waiting for a service slot, in arrival order
  uint64_t credit;  // bytes of bandwidth not yet spent while beats wait
  uint64_t cycle;
  uint64_t answers_pending;  // served, response not yet staged
  port_state_t ports[SPARROW_MAX_TILES];
  uint8_t *staged_data;  // ports * beat_bytes: read data for the next rising edge
  sparrow_dram_stats_t stats;
};

sparrow_dram_t *sparrow_dram_create(const sparrow_dram_config_t *config) {
  if (config == NULL || config->bytes == 0 || config->bw == 0 || config->latency == 0 ||
      config->ports == 0 || config->ports > SPARROW_MAX_TILES || config->beat_bytes == 0) {
    return NULL;
  }
  if (config->bytes > SIZE_MAX) {
    return NULL;
  }
  sparrow_dram_t *d = calloc(1, sizeof(*d));
  if (d == NULL) {
    return NULL;
  }
  d->config = *config;
  d->data = calloc((size_t)config->bytes, 1);
  d->staged_data = calloc(config->ports, config->beat_bytes);
  if (d->data == NULL || d->staged_data == NULL) {
    sparrow_dram_destroy(d);
    return NULL;
  }
  d->incoming.rec = sizeof(request_t) + config->beat_bytes;
  d->queue.rec = sizeof(request_t) + config->beat_bytes;
  for (uint32_t p = 0; p < config->ports; p++) {
    d->ports[p].rd_rsp.rec = sizeof(response_t) + config->beat_bytes;
    d->ports[p].wr_ack.rec = sizeof(response_t);
  }
  return d;
}

void sparrow_dram_destroy(sparrow_dram_t *d) {
  if (d == NULL) {
    return;
  }
  for (uint32_t p = 0; p < SPARROW_MAX_TILES; p++) {
    free(d->ports[p].rd_rsp.buf);
    free(d->ports[p].wr_ack.buf);
  }
  free(d->incoming.buf);
  free(d->queue.buf);
  free(d->staged_data);
  free(d->data);
  free(d);
}

uint8_t *sparrow_dram_data(sparrow_dram_t *d) {
  return d->data;
}

uint64_t sparrow_dram_bytes(const sparrow_dram_t *d) {
  return d->config.bytes;
}

static bool in_range(const sparrow_dram_t *d, uint64_t addr, uint64_t len) {
  return len <= d->config.bytes && addr <= d->config.bytes - len;
}

bool sparrow_dram_backdoor_read(const sparrow_dram_t *d, uint64_t addr, uint8_t *dst,
                                uint64_t len) {
  if (!in_range(d, addr, len) || (dst == NULL && len > 0)) {
    return false;
  }
  if (len > 0) {
    memcpy(dst, d->data + addr, (size_t)len);
  }
  return true;
}

bool sparrow_dram_backdoor_write(sparrow_dram_t *d, uint64_t addr, const uint8_t *src,
                                 uint64_t len) {
  if (!in_range(d, addr, len) || (src == NULL && len > 0)) {
    return false;
  }
  if (len > 0) {
    memcpy(d->data + addr, src, (size_t)len);
  }
  return true;
}

static bool add_request(sparrow_dram_t *d, uint32_t port, uint64_t addr, const uint8_t *data) {
  if (port >= d->config.ports) {
    return false;
  }
  uint8_t *slot = ring_push(&d->incoming);
  if (slot == NULL) {
    return false;
  }
  request_t rq = {.addr = addr, .port = port, .write = data != NULL};
  memcpy(slot, &rq, sizeof(rq));
  if (data != NULL) {
    memcpy(slot + sizeof(rq), data, d->config.beat_bytes);
  }
  return true;
}

bool sparrow_dram_read_request(sparrow_dram_t *d, uint32_t port, uint64_t addr) {
  return add_request(d, port, addr, NULL);
}

bool sparrow_dram_write_request(sparrow_dram_t *d, uint32_t port, uint64_t addr,
                                const uint8_t *data) {
  if (data == NULL) {
    return false;
  }
  return add_request(d, port, addr, data);
}

// Moves this cycle's requests into the queue: ports in rotating order (so no AGCU is always
// first); within a port its reads, then its writes (a read and a write of the same address in one
// cycle read the old data, as a PMU line does), each kind in the order reported.
static bool admit_incoming(sparrow_dram_t *d) {
  uint32_t ports = d->config.ports;
  uint32_t first = (uint32_t)(d->cycle % ports);
  for (uint32_t k = 0; k < ports; k++) {
    uint32_t port = (first + k) % ports;
    for (uint32_t write = 0; write <= 1; write++) {
      for (size_t i = 0; i < d->incoming.count; i++) {
        const uint8_t *src = ring_at(&d->incoming, i);
        request_t rq;
        memcpy(&rq, src, sizeof(rq));
        if (rq.port != port || rq.write != write) {
          continue;
        }
        uint8_t *dst = ring_push(&d->queue);
        if (dst == NULL) {
          return false;
        }
        memcpy(dst, src, d->queue.rec);
      }
    }
  }
  d->incoming.count = 0;
  d->incoming.head = 0;
  if (d->queue.count > d->stats.max_queue) {
    d->stats.max_queue = d->queue.count;
  }
  return true;
}

static void note_error(sparrow_dram_t *d, uint64_t addr, bool write) {
  if (d->stats.errors == 0) {
    d->stats.first_error_addr = addr;
    d->stats.first_error_write = write;
  }
  d->stats.errors++;
}

// Bytes of a beat at addr that lie inside the array.
static uint64_t bytes_inside(const sparrow_dram_t *d, uint64_t addr) {
  if (addr >= d->config.bytes) {
    return 0;
  }
  uint64_t room = d->config.bytes - addr;
  return room < d->config.beat_bytes ? room : d->config.beat_bytes;
}

// Performs the beat at the head of the queue and schedules its answer.
static bool serve_one(sparrow_dram_t *d) {
  const uint8_t *slot = ring_at(&d->queue, 0);
  request_t rq;
  memcpy(&rq, slot, sizeof(rq));
  uint32_t beat = d->config.beat_bytes;
  uint64_t inside = bytes_inside(d, rq.addr);
  if (inside < beat) {
    note_error(d, rq.addr, rq.write != 0);
  }
  response_t rsp = {.due = d->cycle + d->config.latency};
  port_state_t *ps = &d->ports[rq.port];
  if (rq.write != 0) {
    uint8_t *ack = ring_push(&ps->wr_ack);
    if (ack == NULL) {
      return false;
    }
    memcpy(ack, &rsp, sizeof(rsp));
    if (inside > 0) {
      memcpy(d->data + rq.addr, slot + sizeof(rq), (size_t)inside);  // the rest is dropped
    }
    d->stats.wr_beats++;
  } else {
    uint8_t *out = ring_push(&ps->rd_rsp);
    if (out == NULL) {
      return false;
    }
    memcpy(out, &rsp, sizeof(rsp));
    memset(out + sizeof(rsp), 0, beat);  // reads beyond the end return zeros
    if (inside > 0) {
      memcpy(out + sizeof(rsp), d->data + rq.addr, (size_t)inside);
    }
    d->stats.rd_beats++;
  }
  d->answers_pending++;
  ring_pop(&d->queue);
  return true;
}

// A port takes at most one read response and one write acknowledgement per edge; answers due
// together for one port (served in the same cycle) go out on consecutive edges, in order.
static void stage_answers(sparrow_dram_t *d) {
  uint64_t edge = d->cycle + 1;
  for (uint32_t p = 0; p < d->config.ports; p++) {
    port_state_t *ps = &d->ports[p];
    ps->rd_staged = false;
    ps->ack_staged = false;
    if (ps->rd_rsp.count > 0) {
      const uint8_t *front = ring_at(&ps->rd_rsp, 0);
      response_t rsp;
      memcpy(&rsp, front, sizeof(rsp));
      if (rsp.due <= edge) {
        memcpy(d->staged_data + (size_t)p * d->config.beat_bytes, front + sizeof(rsp),
               d->config.beat_bytes);
        ps->rd_staged = true;
        ring_pop(&ps->rd_rsp);
        d->answers_pending--;
      }
    }
    if (ps->wr_ack.count > 0) {
      response_t rsp;
      memcpy(&rsp, ring_at(&ps->wr_ack, 0), sizeof(rsp));
      if (rsp.due <= edge) {
        ps->ack_staged = true;
        ring_pop(&ps->wr_ack);
        d->answers_pending--;
      }
    }
  }
}

bool sparrow_dram_tick(sparrow_dram_t *d) {
  if (!admit_incoming(d)) {
    return false;
  }
  // Bandwidth as a byte budget: it grows by bw each cycle while beats wait and pays for whole
  // beats, so a bw below one beat still moves data at bw bytes per cycle on average. An idle
  // cycle banks nothing, so a cycle serves fewer than bw + beat bytes; when bw is a multiple of
  // the beat, exactly bw / beat beats per busy cycle.
  uint32_t beat = d->config.beat_bytes;
  if (d->queue.count == 0) {
    d->credit = 0;
  } else {
    d->credit += d->config.bw;
    bool served = false;
    while (d->queue.count > 0 && d->credit >= beat) {
      if (!serve_one(d)) {
        return false;
      }
      d->credit -= beat;
      served = true;
    }
    if (served) {
      d->stats.busy_cycles++;
    }
    if (d->queue.count == 0) {
      d->credit = 0;
    }
  }
  stage_answers(d);
  d->cycle++;
  d->stats.cycles = d->cycle;
  return true;
}

const uint8_t *sparrow_dram_read_response(const sparrow_dram_t *d, uint32_t port) {
  if (port >= d->config.ports || !d->ports[port].rd_staged) {
    return NULL;
  }
  return d->staged_data + (size_t)port * d->config.beat_bytes;
}

bool sparrow_dram_write_ack(const sparrow_dram_t *d, uint32_t port) {
  return port < d->config.ports && d->ports[port].ack_staged;
}

uint64_t sparrow_dram_in_flight(const sparrow_dram_t *d) {
  return d->incoming.count + d->queue.count + d->answers_pending;
}

void sparrow_dram_get_stats(const sparrow_dram_t *d, sparrow_dram_stats_t *stats) {
  *stats = d->stats;
}
