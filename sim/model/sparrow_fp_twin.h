/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The machinery shared by the golden model's SIMD special functions (sparrow_fp_special.c) and
 * log (sparrow_fp_log.c); private to those two files.
 *
 * A function body is written once, against two operations fadd() and fmul() and plain integer bit
 * manipulation, and SPARROW_FP_TWIN_DEFINE(name) instantiates name##_body twice:
 *   - the definition sparrow_fp_<name>, where fadd/fmul are sparrow_fp_add/sparrow_fp_mul (each
 *     collects its flags);
 *   - the fast form sparrow_fp_<name>_fast, where they are the host's binary32 add and multiply
 *     inside one MXCSR flag window (sparrow_fp_selfcheck() proves the host computes what
 *     sparrow_fp_add/mul compute): the flags read once at the end are the OR of every operation's,
 *     which is what the definition collects. Intermediate NaNs are canonicalized after every host
 *     operation, so even their bits agree.
 * The bodies are always inlined with a constant backend, so each form compiles to straight code.
 */
#ifndef SPARROW_SIM_MODEL_SPARROW_FP_TWIN_H_
#define SPARROW_SIM_MODEL_SPARROW_FP_TWIN_H_

#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sparrow_fp.h"

#ifdef __FAST_MATH__
#error \
    "the SIMD special functions must not be compiled with -ffast-math: they rely on exact IEEE-754"
#endif
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error \
    "the SIMD special functions need FLT_EVAL_METHOD == 0: binary32 operations must round to binary32"
#endif

#define SIGN_BIT 0x80000000u
#define ABS_MASK 0x7FFFFFFFu
#define EXPONENT_MASK 0x7F800000u
#define FRACTION_MASK 0x007FFFFFu
#define QUIET_BIT 0x00400000u
#define EXPONENT_SHIFT 23
#define EXPONENT_BIAS 127
#define INF_BITS 0x7F800000u
#define MIN_NORMAL_BITS 0x00800000u
#define HIGH12_MASK 0xFFFFF000u /* 12 significant bits: the hidden bit, 11 of the fraction */

#define F_ZERO 0x00000000u
#define F_ONE 0x3F800000u  /* 1.0 */
#define F_HALF 0x3F000000u /* 0.5 */
#define F_MAX 0x7F7FFFFFu  /* FLT_MAX: FLT_MAX * FLT_MAX is +inf with OF|NX, how a pole signals */
#define F_2P64 0x5F800000u /* 2^64: brings a subnormal input into the normal range, exactly */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

static inline bool is_nan(uint32_t x) {
  return (x & ABS_MASK) > INF_BITS;
}

static inline uint32_t negate(uint32_t x) {
  return x ^ SIGN_BIT;
}

#if defined(__x86_64__) && defined(__SSE__)
#define SPARROW_FP_TWIN_HOST 1
#else
#define SPARROW_FP_TWIN_HOST 0 /* the fast forms are the definition */
#endif

typedef struct {
  bool host;       /* a constant in every instantiation: the host's arithmetic, flags read later */
  uint8_t flags;   /* the definition's flags, collected operation by operation */
  uint32_t anchor; /* host: an opaque 0 produced inside the flag window (see fadd) */
} ctx_t;

ALWAYS_INLINE float float_from_bits(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

ALWAYS_INLINE uint32_t bits_from_float(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
}

ALWAYS_INLINE uint32_t host_canonical(float value) {
  uint32_t bits = bits_from_float(value);
  return is_nan(bits) ? SPARROW_FP_CANONICAL_NAN : bits;
}

/*
 * Host operations hide their operands from the optimizer behind an empty asm that also depends on
 * ctx->anchor: so an operation on constants (FLT_MAX * FLT_MAX) is neither folded at compile time
 * nor scheduled before the flag window opens, and its flags are raised where the definition raises
 * them.
 */
ALWAYS_INLINE uint32_t fadd(ctx_t *ctx, uint32_t a, uint32_t b) {
  if (ctx->host) {
    float fa = float_from_bits(a);
    float fb = float_from_bits(b);
#if SPARROW_FP_TWIN_HOST
    __asm__("" : "+x"(fa), "+x"(fb) : "r"(ctx->anchor));
#endif
    return host_canonical(fa + fb);
  }
  return sparrow_fp_add(a, b, &ctx->flags);
}

ALWAYS_INLINE uint32_t fmul(ctx_t *ctx, uint32_t a, uint32_t b) {
  if (ctx->host) {
    float fa = float_from_bits(a);
    float fb = float_from_bits(b);
#if SPARROW_FP_TWIN_HOST
    __asm__("" : "+x"(fa), "+x"(fb) : "r"(ctx->anchor));
#endif
    return host_canonical(fa * fb);
  }
  return sparrow_fp_mul(a, b, &ctx->flags);
}

#if SPARROW_FP_TWIN_HOST
/*
 * The flag window around one host sequence. MXCSR status bits: IE 0, DE 1 (not an IEEE flag),
 * ZE 2, OE 3, UE 4, PE 5. The empty asm statements in SPARROW_FP_TWIN_DEFINE tie the data to the
 * window: the operands pass through one after the flags are cleared (so no operation can be
 * scheduled before the clear) and the result through one before they are read (so every operation
 * that fed it is done). Volatile asm statements keep their order among themselves.
 */
#define MXCSR_FLAG_BITS 0x3Fu

static inline unsigned host_window_open(void) {
  unsigned caller;
  __asm__ volatile("stmxcsr %0" : "=m"(caller));
  unsigned cleared = caller & ~MXCSR_FLAG_BITS;
  __asm__ volatile("ldmxcsr %0" : : "m"(cleared));
  return caller;
}

static inline uint8_t host_window_close(unsigned caller) {
  unsigned status;
  __asm__ volatile("stmxcsr %0" : "=m"(status));
  __asm__ volatile("ldmxcsr %0" : : "m"(caller));
  uint8_t flags = 0;
  flags |= (status & (1u << 5)) ? SPARROW_FP_NX : 0;
  flags |= (status & (1u << 4)) ? SPARROW_FP_UF : 0;
  flags |= (status & (1u << 3)) ? SPARROW_FP_OF : 0;
  flags |= (status & (1u << 2)) ? SPARROW_FP_DZ : 0;
  flags |= (status & (1u << 0)) ? SPARROW_FP_NV : 0;
  return flags;
}

#define SPARROW_FP_TWIN_DEFINE_FAST(name)                         \
  uint32_t sparrow_fp_##name##_fast(uint32_t x, uint8_t *flags) { \
    unsigned caller = host_window_open();                         \
    uint32_t anchor = 0;                                          \
    __asm__ volatile("" : "+r"(x), "+r"(anchor));                 \
    ctx_t ctx = {.host = true, .flags = 0, .anchor = anchor};     \
    uint32_t result = name##_body(&ctx, x);                       \
    __asm__ volatile("" : "+r"(result));                          \
    uint8_t raised = host_window_close(caller);                   \
    if (flags != NULL) {                                          \
      *flags |= raised;                                           \
    }                                                             \
    return result;                                                \
  }
#else
#define SPARROW_FP_TWIN_DEFINE_FAST(name)                         \
  uint32_t sparrow_fp_##name##_fast(uint32_t x, uint8_t *flags) { \
    return sparrow_fp_##name(x, flags);                           \
  }
#endif

/* sparrow_fp_<name> (the definition) and sparrow_fp_<name>_fast from name##_body. */
#define SPARROW_FP_TWIN_DEFINE(name)                       \
  uint32_t sparrow_fp_##name(uint32_t x, uint8_t *flags) { \
    ctx_t ctx = {.host = false, .flags = 0, .anchor = 0};  \
    uint32_t result = name##_body(&ctx, x);                \
    if (flags != NULL) {                                   \
      *flags |= ctx.flags;                                 \
    }                                                      \
    return result;                                         \
  }                                                        \
  SPARROW_FP_TWIN_DEFINE_FAST(name)

#endif /* SPARROW_SIM_MODEL_SPARROW_FP_TWIN_H_ */
