/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The natural logarithm of the PCU's SIMD mode (sparrow_fp_log.h, docs/numerics.md "log").
 *
 * Written the way sparrow_fp_special.c writes its functions, whose machinery this file repeats
 * (that file keeps it private): the body is written once against two operations fadd() and fmul()
 * and plain integer bit manipulation, and instantiated twice:
 *   - the definition, where fadd/fmul are sparrow_fp_add/sparrow_fp_mul (each collects its flags);
 *   - the fast form, where they are the host's binary32 add and multiply inside one MXCSR flag
 *     window (sparrow_fp_selfcheck() proves the host computes what sparrow_fp_add/mul compute);
 *     intermediate NaNs are canonicalized after every host operation, so even their bits agree.
 * tests/unit/test_fp_log.c checks the two forms against each other and both against libm's log.
 *
 * The algorithm (every step is one operation of the SIMD lanes, host/ops/simd_special.c):
 *   x = 2^k m with m in [sqrt(1/2), sqrt(2)) (integer operations on the bits; a subnormal x is
 *   first scaled by 2^64, exactly); f = m - 1, exact (Sterbenz); then
 *     log(x) = k ln2 + log1p(f),   log1p(f) = f - f^2/2 + f^3 Q(f),
 *   Q of degree 7 (tests/fp/log_coeffs.py). The quadratic term is computed exactly in three parts,
 *   f_h^2/2 + f_h f_l + f_l^2/2 with f_h = f's 12 leading bits and f_l = f - f_h (the first two
 *   exact products, the third tiny), and the terms are added smallest first, f and the exact
 *   k LN2_HI last: so the result carries about one rounding of its own size (the last add) plus
 *   small ones (measured: below one ulp everywhere, docs/numerics.md).
 */
#include "sparrow_fp_log.h"

#include "sparrow_fp.h"

#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifdef __FAST_MATH__
#error "sparrow_fp_log.c must not be compiled with -ffast-math: it relies on exact IEEE-754"
#endif
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "sparrow_fp_log.c needs FLT_EVAL_METHOD == 0: binary32 operations must round to binary32"
#endif

#define SIGN_BIT 0x80000000u
#define ABS_MASK 0x7FFFFFFFu
#define FRACTION_MASK 0x007FFFFFu
#define EXPONENT_SHIFT 23
#define EXPONENT_BIAS 127
#define INF_BITS 0x7F800000u
#define MIN_NORMAL_BITS 0x00800000u
#define HIGH12_MASK 0xFFFFF000u /* 12 significant bits: the hidden bit, 11 of the fraction */

#define F_ZERO 0x00000000u
#define F_ONE 0x3F800000u
#define F_NEG_ONE 0xBF800000u
#define F_HALF 0x3F000000u
#define F_MAX 0x7F7FFFFFu  /* FLT_MAX * FLT_MAX is +inf with OF|NX: how a pole signals */
#define F_2P64 0x5F800000u /* 2^64: brings a subnormal input into the normal range, exactly */

/* The reduction: adding LOG_REDUCE_OFFSET to the bits carries into the exponent exactly when the
   significand is at least sqrt(2) (bits 0x3504F3 and up), and the fraction plus LOG_SQRT_HALF is
   then m in [sqrt(1/2), sqrt(2)): musl's logf reduction, all integer operations. */
#define LOG_SQRT_HALF 0x3F3504F3u     /* sqrt(1/2) rounded down */
#define LOG_REDUCE_OFFSET 0x004AFB0Du /* F_ONE - LOG_SQRT_HALF */
#define LOG_SUBNORMAL_EXTRA 64u       /* the 2^64 scaling of a subnormal input */
/* k as a binary32 number: (SHIFTER's bits + k) is 1.5 * 2^23 + k exactly, minus SHIFTER exact. */
#define LOG_SHIFTER 0x4B400000u
#define LOG_NEG_SHIFTER 0xCB400000u
#define LOG_LN2_HI 0x3F317200u /* ln2 to 15 bits: k LN2_HI is exact for |k| < 2^9 */
#define LOG_LN2_LO 0x35BFBE8Eu /* ln2 - LN2_HI, rounded */
/* Q(f) ~ (log1p(f) - f + f^2/2) / f^3 on [sqrt(1/2) - 1, sqrt(2) - 1], weighted relative to
   log1p(f): 2^-27.3 (tests/fp/log_coeffs.py). */
#define LOG_Q0 0x3EAAAAAAu
#define LOG_Q1 0xBE800114u
#define LOG_Q2 0x3E4CD01Cu
#define LOG_Q3 0xBE2A38F8u
#define LOG_Q4 0x3E116AABu
#define LOG_Q5 0xBE06C1C6u
#define LOG_Q6 0x3E02BF5Au
#define LOG_Q7 0xBD9C8EDEu

static inline bool is_nan(uint32_t x) {
  return (x & ABS_MASK) > INF_BITS;
}

static inline uint32_t negate(uint32_t x) {
  return x ^ SIGN_BIT;
}

/* ---------------------------------------------------------------------------------------------- */
/* The two backends (as in sparrow_fp_special.c). */

#if defined(__x86_64__) && defined(__SSE__)
#define LOG_HOST_BACKEND 1
#else
#define LOG_HOST_BACKEND 0 /* the fast form is the definition */
#endif

typedef struct {
  bool host;       /* a constant in every instantiation: the host's arithmetic, flags read later */
  uint8_t flags;   /* the definition's flags, collected operation by operation */
  uint32_t anchor; /* host: an opaque 0 produced inside the flag window (see fadd) */
} ctx_t;

#define ALWAYS_INLINE static inline __attribute__((always_inline))

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

/* Host operations hide their operands from the optimizer behind an empty asm that depends on
   ctx->anchor, so that no operation on constants is folded or moved out of the flag window. */
ALWAYS_INLINE uint32_t fadd(ctx_t *ctx, uint32_t a, uint32_t b) {
  if (ctx->host) {
    float fa = float_from_bits(a);
    float fb = float_from_bits(b);
#if LOG_HOST_BACKEND
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
#if LOG_HOST_BACKEND
    __asm__("" : "+x"(fa), "+x"(fb) : "r"(ctx->anchor));
#endif
    return host_canonical(fa * fb);
  }
  return sparrow_fp_mul(a, b, &ctx->flags);
}

#if LOG_HOST_BACKEND
/* MXCSR status bits: IE 0, DE 1 (not an IEEE flag), ZE 2, OE 3, UE 4, PE 5. */
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
#endif

/* ---------------------------------------------------------------------------------------------- */
/* log. */

ALWAYS_INLINE uint32_t log_body(ctx_t *ctx, uint32_t x) {
  if (is_nan(x)) {
    return fadd(ctx, x, F_ZERO); /* the canonical NaN, NV exactly when x signals */
  }
  if ((x & ABS_MASK) == 0) {
    return SIGN_BIT | fmul(ctx, F_MAX, F_MAX); /* the pole: -inf with OF|NX */
  }
  if ((x & SIGN_BIT) != 0) {
    return fadd(ctx, INF_BITS, negate(INF_BITS)); /* outside the domain: inf - inf, NaN with NV */
  }
  if (x == INF_BITS) {
    return INF_BITS; /* exact, no flags */
  }
  bool subnormal = x < MIN_NORMAL_BITS;
  uint32_t a = fmul(ctx, x, subnormal ? F_2P64 : F_ONE); /* exact */
  uint32_t reduced = a + LOG_REDUCE_OFFSET;
  /* k: the exponent of the reduced bits, unbiased (and unscaled); m: their fraction with the
     exponent of sqrt(1/2) added back, in [sqrt(1/2), sqrt(2)). */
  uint32_t k_bits = (reduced >> EXPONENT_SHIFT) - EXPONENT_BIAS;
  if (subnormal) {
    k_bits -= LOG_SUBNORMAL_EXTRA;
  }
  uint32_t m = (reduced & FRACTION_MASK) + LOG_SQRT_HALF;
  uint32_t f = fadd(ctx, m, F_NEG_ONE); /* exact */

  /* f^2/2 = f_h^2/2 + f_h f_l + f_l^2/2: the first two exact, the last tiny. */
  uint32_t f_h = f & HIGH12_MASK;
  uint32_t f_l = fadd(ctx, f, negate(f_h)); /* exact */
  uint32_t hh = fmul(ctx, fmul(ctx, f_h, F_HALF), f_h);
  uint32_t hl = fmul(ctx, f_h, f_l);
  uint32_t ll = fmul(ctx, fmul(ctx, f_l, F_HALF), f_l);

  /* f^3 Q(f), Q by Horner from Q7. */
  uint32_t f3 = fmul(ctx, fmul(ctx, f, f), f);
  uint32_t q = fmul(ctx, LOG_Q7, f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q6), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q5), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q4), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q3), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q2), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q1), f);
  q = fadd(ctx, q, LOG_Q0);
  uint32_t t = fmul(ctx, f3, q);

  /* Smallest terms first: ((t - (hl + ll)) - hh) + k LN2_LO, then f, then k LN2_HI (exact). */
  uint32_t w = fadd(ctx, t, negate(fadd(ctx, hl, ll)));
  w = fadd(ctx, w, negate(hh));
  uint32_t k = fadd(ctx, LOG_SHIFTER + k_bits, LOG_NEG_SHIFTER); /* k as a float, exact */
  w = fadd(ctx, w, fmul(ctx, k, LOG_LN2_LO));
  uint32_t v = fadd(ctx, f, w);
  return fadd(ctx, v, fmul(ctx, k, LOG_LN2_HI));
}

#if LOG_HOST_BACKEND
uint32_t sparrow_fp_log_fast(uint32_t x, uint8_t *flags) {
  unsigned caller = host_window_open();
  uint32_t anchor = 0;
  __asm__ volatile("" : "+r"(x), "+r"(anchor));
  ctx_t ctx = {.host = true, .flags = 0, .anchor = anchor};
  uint32_t result = log_body(&ctx, x);
  __asm__ volatile("" : "+r"(result));
  uint8_t raised = host_window_close(caller);
  if (flags != NULL) {
    *flags |= raised;
  }
  return result;
}
#else
uint32_t sparrow_fp_log_fast(uint32_t x, uint8_t *flags) {
  return sparrow_fp_log(x, flags);
}
#endif

uint32_t sparrow_fp_log(uint32_t x, uint8_t *flags) {
  ctx_t ctx = {.host = false, .flags = 0, .anchor = 0};
  uint32_t result = log_body(&ctx, x);
  if (flags != NULL) {
    *flags |= ctx.flags;
  }
  return result;
}
