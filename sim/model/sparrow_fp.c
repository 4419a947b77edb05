/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Binary32 add and multiply on bit patterns, computed by the host's IEEE arithmetic, with Sparrow's
 * conventions applied on top (see sparrow_fp.h).
 *
 * Why this is trustworthy: x86-64 SSE implements IEEE-754 binary32 with round-to-nearest-even,
 * gradual underflow and tininess detected after rounding, and raises exactly the IEEE flags. What
 * the host does differently from Sparrow (the default NaN 0xFFC00000, NaN payload propagation) is
 * canonicalized here. What could silently break it (fast-math, excess precision, contraction into
 * FMA, a non-default rounding mode, FTZ/DAZ bits set by some library) is refused at compile time or
 * detected at run time by sparrow_fp_selfcheck().
 */
#include "sparrow_fp.h"

#include <fenv.h>
#include <float.h>
#include <stddef.h>
#include <string.h>

#ifdef __FAST_MATH__
#error "sparrow_fp.c must not be compiled with -ffast-math: it relies on exact IEEE-754 semantics"
#endif
#if defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__
#error "sparrow_fp.c must not be compiled with -ffinite-math-only: it handles infinities and NaNs"
#endif
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "sparrow_fp.c needs FLT_EVAL_METHOD == 0: binary32 operations must be rounded to binary32"
#endif
#if !defined(FE_INEXACT) || !defined(FE_UNDERFLOW) || !defined(FE_OVERFLOW) || \
    !defined(FE_DIVBYZERO) || !defined(FE_INVALID) || !defined(FE_TONEAREST)
#error "sparrow_fp.c needs the IEEE exception flags and round-to-nearest in <fenv.h>"
#endif

_Static_assert(sizeof(float) == sizeof(uint32_t), "float must be 32 bits wide");
_Static_assert(FLT_RADIX == 2 && FLT_MANT_DIG == 24 && FLT_MAX_EXP == 128 && FLT_MIN_EXP == -125,
               "float must be IEEE-754 binary32");

#define SIGN_BIT 0x80000000u
#define EXPONENT_MASK 0x7F800000u
#define FRACTION_MASK 0x007FFFFFu

typedef enum { FP_OP_ADD, FP_OP_MUL } fp_op_t;

static float float_from_bits(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

static uint32_t bits_from_float(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
}

static int is_nan_bits(uint32_t bits) {
  return (bits & EXPONENT_MASK) == EXPONENT_MASK && (bits & FRACTION_MASK) != 0;
}

#if defined(__x86_64__) && defined(__SSE__)
#define SPARROW_FP_USE_MXCSR 1
#else
#define SPARROW_FP_USE_MXCSR 0
#endif

#if !SPARROW_FP_USE_MXCSR
/* Host <fenv.h> exceptions to Sparrow's flag bits (the host's bit values are its own business). */
static uint8_t sparrow_flags_from_host(int raised) {
  uint8_t flags = 0;
  if (raised & FE_INEXACT) {
    flags |= SPARROW_FP_NX;
  }
  if (raised & FE_UNDERFLOW) {
    flags |= SPARROW_FP_UF;
  }
  if (raised & FE_OVERFLOW) {
    flags |= SPARROW_FP_OF;
  }
  if (raised & FE_DIVBYZERO) {
    flags |= SPARROW_FP_DZ;
  }
  if (raised & FE_INVALID) {
    flags |= SPARROW_FP_NV;
  }
  return flags;
}
#endif

#if SPARROW_FP_USE_MXCSR
/*
 * On x86-64 the flags live in MXCSR: reading and writing it inline costs a few cycles, where the
 * <fenv.h> calls cost four library calls per operation (the golden model performs millions).
 * MXCSR status bits: IE 0, DE 1 (denormal operand: not an IEEE flag), ZE 2, OE 3, UE 4, PE 5.
 */
#include <xmmintrin.h>
#define MXCSR_FLAG_BITS 0x3Fu

static uint8_t sparrow_flags_from_mxcsr(unsigned int mxcsr) {
  uint8_t flags = 0;
  flags |= (mxcsr & (1u << 5)) ? SPARROW_FP_NX : 0;
  flags |= (mxcsr & (1u << 4)) ? SPARROW_FP_UF : 0;
  flags |= (mxcsr & (1u << 3)) ? SPARROW_FP_OF : 0;
  flags |= (mxcsr & (1u << 2)) ? SPARROW_FP_DZ : 0;
  flags |= (mxcsr & (1u << 0)) ? SPARROW_FP_NV : 0;
  return flags;
}
#endif

/*
 * One host operation between a clear and a test of the exception flags. The operands and the
 * result are volatile so that the compiler can neither evaluate the operation at compile time nor
 * move it out from between the flag accesses (-frounding-math alone does not promise the latter).
 * The caller's exception flags are restored afterwards.
 */
static uint32_t host_binary_op(fp_op_t op, uint32_t a, uint32_t b, uint8_t *flags) {
  volatile float operand_a = float_from_bits(a);
  volatile float operand_b = float_from_bits(b);
  volatile float result;
#if SPARROW_FP_USE_MXCSR
  unsigned int caller_mxcsr = _mm_getcsr();
  _mm_setcsr(caller_mxcsr & ~MXCSR_FLAG_BITS);
  if (op == FP_OP_ADD) {
    result = operand_a + operand_b;
  } else {
    result = operand_a * operand_b;
  }
  uint8_t raised_flags = sparrow_flags_from_mxcsr(_mm_getcsr());
  _mm_setcsr(caller_mxcsr);
#else
  fexcept_t caller_flags;
  int saved = fegetexceptflag(&caller_flags, FE_ALL_EXCEPT) == 0;

  feclearexcept(FE_ALL_EXCEPT);
  if (op == FP_OP_ADD) {
    result = operand_a + operand_b;
  } else {
    result = operand_a * operand_b;
  }
  uint8_t raised_flags = sparrow_flags_from_host(fetestexcept(FE_ALL_EXCEPT));
  if (saved) {
    fesetexceptflag(&caller_flags, FE_ALL_EXCEPT);
  }
#endif

  uint32_t bits = bits_from_float(result);
  /* The host returns its default NaN (0xFFC00000 on x86) or a quieted operand payload. */
  if (is_nan_bits(bits)) {
    bits = SPARROW_FP_CANONICAL_NAN;
  }
  if (flags != NULL) {
    *flags |= raised_flags;
  }
  return bits;
}

uint32_t sparrow_fp_add(uint32_t a, uint32_t b, uint8_t *flags) {
  return host_binary_op(FP_OP_ADD, a, b, flags);
}

uint32_t sparrow_fp_mul(uint32_t a, uint32_t b, uint8_t *flags) {
  return host_binary_op(FP_OP_MUL, a, b, flags);
}

/*
 * The PCU's MAC step in one flag window: every element is acc + a[r] * b[c], two roundings, exactly
 * what sparrow_fp_mul then sparrow_fp_add give, and the flags are read once at the end. Their OR
 * is what the per-operation calls collect, because every intermediate NaN is quiet: its payload
 * reaches neither a flag nor the (canonicalized) result. The memory barriers keep the operand
 * loads and the result stores, hence the arithmetic between them, inside the window. Clearing
 * MXCSR costs more than the arithmetic, so the golden model's GEMM spends its time here once per
 * beat instead of twice per multiply-add.
 */
void sparrow_fp_outer_mac(uint32_t rows, uint32_t cols, const uint32_t *a, const uint32_t *b,
                          uint32_t *acc, uint32_t acc_stride, uint8_t *flags) {
#if SPARROW_FP_USE_MXCSR
  unsigned int caller_mxcsr = _mm_getcsr();
  _mm_setcsr(caller_mxcsr & ~MXCSR_FLAG_BITS);
  __asm__ volatile("" ::: "memory");
  for (uint32_t r = 0; r < rows; r++) {
    float a_value = float_from_bits(a[r]);
    uint32_t *acc_row = acc + (size_t)r * acc_stride;
    for (uint32_t c = 0; c < cols; c++) {
      uint32_t bits = bits_from_float(float_from_bits(acc_row[c]) + a_value * float_from_bits(b[c]));
      acc_row[c] = is_nan_bits(bits) ? SPARROW_FP_CANONICAL_NAN : bits;
    }
  }
  __asm__ volatile("" ::: "memory");
  uint8_t raised_flags = sparrow_flags_from_mxcsr(_mm_getcsr());
  _mm_setcsr(caller_mxcsr);
  if (flags != NULL) {
    *flags |= raised_flags;
  }
#else
  for (uint32_t r = 0; r < rows; r++) {
    uint32_t *acc_row = acc + (size_t)r * acc_stride;
    for (uint32_t c = 0; c < cols; c++) {
      acc_row[c] = sparrow_fp_add(acc_row[c], sparrow_fp_mul(a[r], b[c], flags), flags);
    }
  }
#endif
}

/* ---------------------------------------------------------------------------------------------- */
/* Self-check. */

/*
 * A plain C expression a * b + c, which this translation unit must evaluate as two roundings.
 * With a = b = 1 + 2^-12 and c = -(1 + 2^-11): a * b = 1 + 2^-11 + 2^-24 rounds (a tie, to even)
 * to 1 + 2^-11, so the sum is exactly 0; a fused multiply-add keeps 2^-24. The operands are read
 * from volatiles so that the compiler cannot fold the expression, but the expression itself is
 * ordinary code that -ffp-contract=fast with an FMA target would fuse.
 */
static uint32_t unfused_multiply_add_probe(void) {
  volatile float source_a = float_from_bits(0x3F800800u); /* 1 + 2^-12 */
  volatile float source_c = float_from_bits(0xBF801000u); /* -(1 + 2^-11) */
  float a = source_a;
  float b = source_a;
  float c = source_c;
  volatile float result = a * b + c;
  return bits_from_float(result);
}

typedef struct {
  fp_op_t op;
  uint32_t a;
  uint32_t b;
  uint32_t result;
  uint8_t flags;
  const char *why; /* what it means when this case fails */
} selfcheck_case_t;

/* Each case has its own reason, so a failure names the host property that is wrong. */
static const selfcheck_case_t kSelfcheckCases[] = {
    /* Gradual underflow, in and out. */
    {FP_OP_MUL, 0x00800000u, 0x3F000000u, 0x00400000u, 0,
     "flush-to-zero: 0x00800000 * 0.5 did not give the subnormal 0x00400000 exactly"},
    {FP_OP_ADD, 0x00000001u, 0x00000001u, 0x00000002u, 0,
     "denormals-are-zero: 0x00000001 + 0x00000001 did not give 0x00000002 exactly"},
    {FP_OP_MUL, 0x00000001u, 0x3F800000u, 0x00000001u, 0,
     "denormals-are-zero: 0x00000001 * 1.0 did not give 0x00000001 exactly"},
    /* Round to nearest, ties to even, in both directions and both signs. */
    {FP_OP_ADD, 0x3F800000u, 0x33800000u, 0x3F800000u, SPARROW_FP_NX,
     "ties-to-even: 1 + 2^-24 (a tie) did not round down to the even 1.0 with inexact"},
    {FP_OP_ADD, 0x3F800001u, 0x33800000u, 0x3F800002u, SPARROW_FP_NX,
     "ties-to-even: (1 + 2^-23) + 2^-24 (a tie) did not round up to the even 0x3F800002"},
    {FP_OP_ADD, 0xBF800001u, 0xB3800000u, 0xBF800002u, SPARROW_FP_NX,
     "ties-to-even: -(1 + 2^-23) - 2^-24 (a tie) did not round to the even 0xBF800002"},
    {FP_OP_ADD, 0x3F800000u, 0x33800001u, 0x3F800001u, SPARROW_FP_NX,
     "round-to-nearest: 1 + (just above half an ulp) did not round up to 0x3F800001"},
    {FP_OP_ADD, 0xBF800000u, 0xB37FFFFFu, 0xBF800000u, SPARROW_FP_NX,
     "round-to-nearest: -1 - (just below half an ulp) did not round to -1.0"},
    {FP_OP_MUL, 0x3F800001u, 0x3FC00000u, 0x3FC00002u, SPARROW_FP_NX,
     "ties-to-even: (1 + 2^-23) * 1.5 (a tie) did not round up to the even 0x3FC00002"},
    {FP_OP_MUL, 0x3F800003u, 0x3FC00000u, 0x3FC00004u, SPARROW_FP_NX,
     "ties-to-even: (1 + 3 * 2^-23) * 1.5 (a tie) did not round down to the even 0x3FC00004"},
    /* Tininess after rounding: the exact product is below 2^-126 but rounds (with unbounded
       exponent) to 2^-126, so it is not tiny and must not raise underflow. */
    {FP_OP_MUL, 0x3F800001u, 0x007FFFFFu, 0x00800000u, SPARROW_FP_NX,
     "tininess before rounding: 0x3F800001 * 0x007FFFFF must give 0x00800000 with inexact only"},
    /* Tiny and inexact: underflow and inexact. 2^-150 is a tie between 0 and 2^-149, to even 0. */
    {FP_OP_MUL, 0x00000001u, 0x3F000000u, 0x00000000u, SPARROW_FP_UF | SPARROW_FP_NX,
     "underflow: 2^-149 * 0.5 did not give +0 with underflow and inexact"},
    /* Tiny but exact: no underflow. */
    {FP_OP_MUL, 0x3F7FFFFEu, 0x00800000u, 0x007FFFFFu, 0,
     "underflow: an exact subnormal product raised flags"},
    /* Overflow. */
    {FP_OP_MUL, 0x7F7FFFFFu, 0x40000000u, 0x7F800000u, SPARROW_FP_OF | SPARROW_FP_NX,
     "overflow: FLT_MAX * 2 did not give +inf with overflow and inexact"},
    {FP_OP_ADD, 0xFF7FFFFFu, 0xF3000000u, 0xFF800000u, SPARROW_FP_OF | SPARROW_FP_NX,
     "overflow: -FLT_MAX - (half an ulp) (a tie) did not round to -inf with overflow and inexact"},
    /* Signed zero. */
    {FP_OP_ADD, 0x3F800000u, 0xBF800000u, 0x00000000u, 0,
     "signed zero: 1 + -1 did not give +0 (wrong rounding mode?)"},
    /* NaNs: canonical result, invalid only for signalling operands and invalid operations. */
    {FP_OP_ADD, 0x7F800000u, 0xFF800000u, SPARROW_FP_CANONICAL_NAN, SPARROW_FP_NV,
     "invalid: inf - inf did not give the canonical NaN with invalid"},
    {FP_OP_MUL, 0x00000000u, 0xFF800000u, SPARROW_FP_CANONICAL_NAN, SPARROW_FP_NV,
     "invalid: 0 * -inf did not give the canonical NaN with invalid"},
    {FP_OP_ADD, 0x7F800001u, 0x3F800000u, SPARROW_FP_CANONICAL_NAN, SPARROW_FP_NV,
     "signalling NaN: sNaN + 1 did not give the canonical NaN with invalid"},
    {FP_OP_MUL, 0x3F800000u, 0xFFA00000u, SPARROW_FP_CANONICAL_NAN, SPARROW_FP_NV,
     "signalling NaN: 1 * -sNaN did not give the canonical NaN with invalid"},
    {FP_OP_ADD, 0xFFC12345u, 0x3F800000u, SPARROW_FP_CANONICAL_NAN, 0,
     "quiet NaN: -qNaN(payload) + 1 did not give the canonical NaN without flags"},
};

static int selfcheck_case_passes(const selfcheck_case_t *check) {
  uint8_t flags = 0;
  uint32_t result = check->op == FP_OP_ADD ? sparrow_fp_add(check->a, check->b, &flags)
                                           : sparrow_fp_mul(check->a, check->b, &flags);
  return result == check->result && flags == check->flags;
}

sparrow_fp_selfcheck_t sparrow_fp_selfcheck(const char **why) {
  const char *failure = NULL;

  if (fegetround() != FE_TONEAREST) {
    failure = "rounding mode: the host is not set to round to nearest";
  } else if (unfused_multiply_add_probe() != 0x00000000u) {
    failure =
        "contraction: a * b + c was fused into a multiply-add "
        "(build with -ffp-contract=off)";
  } else {
    for (size_t i = 0; i < sizeof kSelfcheckCases / sizeof kSelfcheckCases[0]; i++) {
      if (!selfcheck_case_passes(&kSelfcheckCases[i])) {
        failure = kSelfcheckCases[i].why;
        break;
      }
    }
  }

  if (why != NULL) {
    *why = failure;
  }
  return failure == NULL ? SPARROW_FP_SELFCHECK_OK : SPARROW_FP_SELFCHECK_FAILED;
}
