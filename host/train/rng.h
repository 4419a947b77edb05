// SPDX-License-Identifier: Apache-2.0
//
// The trainer's random numbers: splitmix64 (Steele, Lea and Flood, 2014). One 64-bit state, so a
// checkpoint can store it and a resumed run draws exactly the numbers the uninterrupted run would.
// Every draw is a pure function of the state: the same seed gives the same batches, weights and
// masks on every host (the C library's rand() is not used anywhere).

#ifndef SPARROW_HOST_TRAIN_RNG_H_
#define SPARROW_HOST_TRAIN_RNG_H_

#include <math.h>
#include <stdint.h>

static inline uint64_t sparrow_train_rng_next(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, n) for n > 0, without modulo bias (rejection of the short last interval).
static inline uint64_t sparrow_train_rng_below(uint64_t *state, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = sparrow_train_rng_next(state);
  } while (x >= limit);
  return x % n;
}

// Uniform in [0, 1) with 53 random bits.
static inline double sparrow_train_rng_uniform(uint64_t *state) {
  return (double)(sparrow_train_rng_next(state) >> 11) * 0x1.0p-53;
}

// Standard normal (Box-Muller; one of the pair is used so that the state advances by two draws).
static inline double sparrow_train_rng_normal(uint64_t *state) {
  double u1 = sparrow_train_rng_uniform(state);
  double u2 = sparrow_train_rng_uniform(state);
  return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

#endif  // SPARROW_HOST_TRAIN_RNG_H_
