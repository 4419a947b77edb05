#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Derives the polynomial coefficients of Sparrow's natural logarithm (sim/model/sparrow_fp_log.c,
docs/numerics.md "log").

    tests/fp/log_coeffs.py [DEGREE]

log(x) = k ln2 + log1p(f) with f = m - 1, m in [sqrt(1/2), sqrt(2)); the definition computes
log1p(f) = f - f^2/2 + f^3 Q(f) with f^2/2 split exactly, so the polynomial is Q(f) ~ g(f) =
(log1p(f) - f + f^2/2) / f^3 = 1/3 - f/4 + f^2/5 - ..., fitted on f in [sqrt(1/2) - 1, sqrt(2) - 1]
with the error weighted relative to log1p(f): f^3 (Q - g) / log1p(f). Prints Q's binary32
coefficients in hex (Q0 first) and the approximation error with those rounded coefficients.
Not run by the build: the constants are fixed in the C source; this documents where they come
from. The fit (weighted Remez exchange, coefficients rounded to binary32 one at a time with the
rest refitted) is special_coeffs.py's. Plain Python, no third-party modules.
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from special_coeffs import f32_hex, max_error, remez_rounded  # noqa: E402

LOW = math.sqrt(0.5) - 1.0
HIGH = math.sqrt(2.0) - 1.0


def g(f):
    """(log1p(f) - f + f^2/2) / f^3 by its series (no cancellation near 0); |f| < 0.42 converges
    like 0.42^k, so 120 terms are far beyond double precision."""
    return sum((-1) ** k * f ** k / (k + 3) for k in range(120))


def weight(f):
    return abs(f ** 3 / math.log1p(f)) if f != 0.0 else 0.0


def fit(degree):
    basis = [lambda f, k=k: f ** k for k in range(degree + 1)]
    coeffs = remez_rounded(basis, g, weight, LOW, HIGH)
    poly = lambda f: sum(c * f ** k for k, c in enumerate(coeffs))
    worst, at = max_error(poly, g, weight, LOW, HIGH)
    print("log Q(f), degree %d, f in [%.6f, %.6f]:" % (degree, LOW, HIGH))
    for i, c in enumerate(coeffs):
        print("  Q%d = %s  (%.9e)" % (i, f32_hex(c), c))
    print("  max error relative to log1p(f) %.3e = 2^%.2f (at f = %.6f)" %
          (worst, math.log2(worst), at))


if __name__ == "__main__":
    fit(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
