// SPDX-License-Identifier: Apache-2.0
//
// Host-side bookkeeping of device memory: first-fit over [0, size) with a fixed power-of-two
// alignment, free blocks coalesced with their neighbours. No device access; unit-testable alone.

#ifndef SPARROW_DRIVER_SRC_DEVMEM_H_
#define SPARROW_DRIVER_SRC_DEVMEM_H_

#include <stddef.h>
#include <stdint.h>

#include "../include/sparrow.h"

typedef struct sparrow_devmem sparrow_devmem_t;

// Manages [0, size) rounded down to a multiple of align (a power of two). SPARROW_E_ARG for a bad
// align, SPARROW_E_NOMEM when the host is out of memory.
sparrow_status_t sparrow_devmem_create(uint64_t size, uint64_t align, sparrow_devmem_t **out)
    __attribute__((warn_unused_result));
void sparrow_devmem_destroy(sparrow_devmem_t *mem);

// First fit of bytes (rounded up to the alignment). SPARROW_E_ARG for 0 bytes; SPARROW_E_DEVMEM
// "device memory full: asked N bytes, largest free block M" when nothing fits.
sparrow_status_t sparrow_devmem_alloc(sparrow_devmem_t *mem, uint64_t bytes, uint64_t *addr,
                                      char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
// Frees the block starting at addr; SPARROW_E_ARG when addr does not start an allocated block.
sparrow_status_t sparrow_devmem_free(sparrow_devmem_t *mem, uint64_t addr, char *msg,
                                     size_t msg_len) __attribute__((warn_unused_result));

// Statistics (for reports and tests).
uint64_t sparrow_devmem_capacity(const sparrow_devmem_t *mem);
uint64_t sparrow_devmem_used(const sparrow_devmem_t *mem);
uint64_t sparrow_devmem_largest_free(const sparrow_devmem_t *mem);
size_t sparrow_devmem_blocks(const sparrow_devmem_t *mem);  // free and allocated blocks, in total

#endif  // SPARROW_DRIVER_SRC_DEVMEM_H_
