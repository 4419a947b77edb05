// SPDX-License-Identifier: Apache-2.0
//
// Device memory bookkeeping: an address-ordered array of blocks that tile [0, capacity) exactly.
// Every block starts and ends on the alignment, so first fit needs no padding; freeing merges a
// block with free neighbours at once, so two free blocks are never adjacent. The array stays small
// (one entry per live tensor plus the gaps); linear scans are cheap next to any device transfer.

#include "devmem.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "transport.h"  // sparrow_msgf

typedef struct block {
  uint64_t addr;
  uint64_t size;
  bool used;
} block_t;

struct sparrow_devmem {
  uint64_t capacity;
  uint64_t align;
  uint64_t used;
  block_t *blocks;
  size_t count;
  size_t cap;
};

sparrow_status_t sparrow_devmem_create(uint64_t size, uint64_t align, sparrow_devmem_t **out) {
  *out = NULL;
  if (align == 0 || (align & (align - 1)) != 0) {
    return SPARROW_E_ARG;
  }
  sparrow_devmem_t *mem = calloc(1, sizeof *mem);
  if (mem == NULL) {
    return SPARROW_E_NOMEM;
  }
  mem->capacity = size & ~(align - 1);
  mem->align = align;
  mem->cap = 16;
  mem->blocks = malloc(mem->cap * sizeof *mem->blocks);
  if (mem->blocks == NULL) {
    free(mem);
    return SPARROW_E_NOMEM;
  }
  if (mem->capacity > 0) {
    mem->blocks[0] = (block_t){.addr = 0, .size = mem->capacity, .used = false};
    mem->count = 1;
  }
  *out = mem;
  return SPARROW_OK;
}

void sparrow_devmem_destroy(sparrow_devmem_t *mem) {
  if (mem == NULL) {
    return;
  }
  free(mem->blocks);
  free(mem);
}

uint64_t sparrow_devmem_capacity(const sparrow_devmem_t *mem) {
  return mem->capacity;
}
uint64_t sparrow_devmem_used(const sparrow_devmem_t *mem) {
  return mem->used;
}
size_t sparrow_devmem_blocks(const sparrow_devmem_t *mem) {
  return mem->count;
}

uint64_t sparrow_devmem_largest_free(const sparrow_devmem_t *mem) {
  uint64_t largest = 0;
  for (size_t i = 0; i < mem->count; i++) {
    if (!mem->blocks[i].used && mem->blocks[i].size > largest) {
      largest = mem->blocks[i].size;
    }
  }
  return largest;
}

sparrow_status_t sparrow_devmem_alloc(sparrow_devmem_t *mem, uint64_t bytes, uint64_t *addr,
                                      char *msg, size_t msg_len) {
  if (bytes == 0) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len, "alloc: zero bytes");
  }
  // Rounded size; a request within one alignment of 2^64 cannot fit anyway.
  uint64_t size = bytes > UINT64_MAX - (mem->align - 1)
                      ? UINT64_MAX
                      : (bytes + mem->align - 1) & ~(mem->align - 1);
  size_t i = 0;
  while (i < mem->count && (mem->blocks[i].used || mem->blocks[i].size < size)) {
    i++;
  }
  if (i == mem->count) {
    return sparrow_msgf(SPARROW_E_DEVMEM, msg, msg_len,
                        "device memory full: asked %" PRIu64 " bytes, largest free block %" PRIu64,
                        bytes, sparrow_devmem_largest_free(mem));
  }
  if (mem->blocks[i].size > size) {
    // Split: the tail stays free.
    if (mem->count == mem->cap) {
      block_t *grown = realloc(mem->blocks, 2 * mem->cap * sizeof *grown);
      if (grown == NULL) {
        return sparrow_msgf(SPARROW_E_NOMEM, msg, msg_len, "alloc: out of host memory");
      }
      mem->blocks = grown;
      mem->cap *= 2;
    }
    memmove(&mem->blocks[i + 2], &mem->blocks[i + 1], (mem->count - i - 1) * sizeof *mem->blocks);
    mem->blocks[i + 1] = (block_t){
        .addr = mem->blocks[i].addr + size, .size = mem->blocks[i].size - size, .used = false};
    mem->blocks[i].size = size;
    mem->count++;
  }
  mem->blocks[i].used = true;
  mem->used += size;
  *addr = mem->blocks[i].addr;
  return SPARROW_OK;
}

static void remove_block(sparrow_devmem_t *mem, size_t i) {
  memmove(&mem->blocks[i], &mem->blocks[i + 1], (mem->count - i - 1) * sizeof *mem->blocks);
  mem->count--;
}

sparrow_status_t sparrow_devmem_free(sparrow_devmem_t *mem, uint64_t addr, char *msg,
                                     size_t msg_len) {
  // Binary search for the block starting at addr.
  size_t lo = 0, hi = mem->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (mem->blocks[mid].addr < addr) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == mem->count || mem->blocks[lo].addr != addr || !mem->blocks[lo].used) {
    return sparrow_msgf(SPARROW_E_ARG, msg, msg_len,
                        "free: 0x%" PRIx64 " is not the start of an allocated block%s", addr,
                        lo < mem->count && mem->blocks[lo].addr == addr ? " (double free?)" : "");
  }
  size_t i = lo;
  mem->blocks[i].used = false;
  mem->used -= mem->blocks[i].size;
  if (i + 1 < mem->count && !mem->blocks[i + 1].used) {
    mem->blocks[i].size += mem->blocks[i + 1].size;
    remove_block(mem, i + 1);
  }
  if (i > 0 && !mem->blocks[i - 1].used) {
    mem->blocks[i - 1].size += mem->blocks[i].size;
    remove_block(mem, i);
  }
  return SPARROW_OK;
}
