#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Derives the polynomial coefficients of Sparrow's special functions (docs/numerics.md).

    tests/fp/special_coeffs.py

Prints, for each polynomial, its binary32 coefficients in hex (as sim/model/sparrow_fp_special.c
uses them) and the approximation error of the polynomial with those rounded coefficients, evaluated
exactly (in double, on a dense grid). It is not run by the build: the constants are fixed in the C
source, and this script only documents where they come from. Plain Python, no third-party modules.

Each fit is a weighted minimax (Remez exchange) on a dense grid, with the coefficients rounded to
binary32 one at a time and the rest refitted after each rounding:
  exp   e^r = 1 + r + r^2 S(r),  S of degree 4, |r| <= 0.35, error relative to e^r;
  recip 1/m ~ R(m), R of degree 4, m in [1, 2], error relative (m R(m) - 1);
  tanh  tanh(a) = a + a^3 T(a^2), T of degree 5, a in [0, 0.5625], error relative to tanh(a);
        tanh(a) = M(a - c), M of degree 8 with M(0) = M0 + M0_LO = tanh(c) to about 2^-55 (two
        binary32 numbers, added last, so that a = c is inexact too), a in [0.5625, 1.25], relative to
        tanh(a). The centre c = 457/512 is a point near the middle whose tanh lies within 2^-30.8
        (relative) of a binary32 number M0.
"""

import math
import struct
from fractions import Fraction


def f32(value):
    """value rounded to binary32 (to nearest), returned as a Python float."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def f32_hex(value):
    return "0x%08X" % struct.unpack("<I", struct.pack("<f", value))[0]


def solve(matrix, rhs):
    """Gaussian elimination with partial pivoting (small dense systems)."""
    n = len(rhs)
    a = [row[:] + [rhs[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for row in range(col + 1, n):
            factor = a[row][col] / a[col][col]
            for k in range(col, n + 1):
                a[row][k] -= factor * a[col][k]
    x = [0.0] * n
    for row in range(n - 1, -1, -1):
        x[row] = (a[row][n] - sum(a[row][k] * x[k] for k in range(row + 1, n))) / a[row][row]
    return x


def remez(basis, target, weight, low, high, grid=20000, rounds=40):
    """Coefficients c minimizing max |weight(x) * (sum c_j basis_j(x) - target(x))| on [low, high]."""
    n = len(basis)
    xs = [low + (high - low) * i / grid for i in range(grid + 1)]
    fx = [target(x) for x in xs]
    wx = [weight(x) for x in xs]
    bx = [[b(x) for b in basis] for x in xs]
    # Chebyshev nodes of the first kind: never the endpoints, where a weight may vanish.
    nodes = sorted(
        min(range(grid + 1), key=lambda i: abs(xs[i] - (low + high) / 2 - (high - low) / 2 *
                                               math.cos((2 * k + 1) * math.pi / (2 * (n + 1)))))
        for k in range(n + 1))
    coeffs = None
    for _ in range(rounds):
        matrix = [[wx[i] * bx[i][j] for j in range(n)] + [(-1.0) ** k] for k, i in enumerate(nodes)]
        rhs = [wx[i] * fx[i] for i in nodes]
        solution = solve(matrix, rhs)
        coeffs = solution[:n]
        err = [wx[i] * (sum(c * b for c, b in zip(coeffs, bx[i])) - fx[i]) for i in range(grid + 1)]
        # One extremum per run of equal sign, then keep n + 1 alternating ones.
        extrema = []
        i = 0
        while i <= grid:
            if err[i] == 0.0:
                i += 1
                continue
            sign = err[i] > 0
            best = i
            while i <= grid and err[i] != 0.0 and (err[i] > 0) == sign:
                if abs(err[i]) > abs(err[best]):
                    best = i
                i += 1
            # A zero of the weight splits a run without a sign change: merge such neighbours.
            if extrema and (err[extrema[-1]] > 0) == sign:
                if abs(err[best]) > abs(err[extrema[-1]]):
                    extrema[-1] = best
            else:
                extrema.append(best)
        while len(extrema) > n + 1:
            if abs(err[extrema[0]]) < abs(err[extrema[-1]]):
                extrema.pop(0)
            else:
                extrema.pop()
        if len(extrema) < n + 1 or extrema == nodes:
            break
        nodes = extrema
    return coeffs


def remez_rounded(basis, target, weight, low, high):
    """remez(), then binary32 coefficients: each in turn (lowest degree first, where rounding costs
    most) is rounded and fixed, and the ones after it are fitted again to absorb its rounding (unless
    the refit is worse than keeping the previous solution, which happens when the exchange fails on
    a residual that is mostly rounding noise)."""
    def error_of(coeffs):
        poly = lambda x: sum(c * b(x) for c, b in zip(coeffs, basis))
        return max_error(poly, target, weight, low, high, grid=4000)[0]

    current = remez(basis, target, weight, low, high)
    for k in range(len(basis)):
        done = current[:k]
        residual = lambda x, done=done: target(x) - sum(c * b(x) for c, b in zip(done, basis))
        refit = done + remez(basis[k:], residual, weight, low, high)
        if error_of(refit) < error_of(current):
            current = refit
        current = current[:k] + [f32(current[k])] + current[k + 1:]
    return current


def max_error(poly, target, weight, low, high, grid=200000):
    worst = 0.0
    at = low
    for i in range(grid + 1):
        x = low + (high - low) * i / grid
        e = abs(weight(x) * (poly(x) - target(x)))
        if e > worst:
            worst, at = e, x
    return worst, at


def report(name, coeffs_f32, worst, at):
    print("%s:" % name)
    for i, c in enumerate(coeffs_f32):
        print("  c%d = %s  (%.9e)" % (i, f32_hex(c), c))
    print("  max approximation error %.3e = 2^%.2f (at %.6f)" % (worst, math.log2(worst), at))


# ---------------------------------------------------------------------------------------------
# exp: S(r) ~ (e^r - 1 - r) / r^2 = sum r^k / (k + 2)!, weighted so that the error is relative to
# e^r: r^2 (S - h) / e^r.
def exp_h(r):
    return sum(r ** k / math.factorial(k + 2) for k in range(25))


def fit_exp():
    R = 0.35
    basis = [lambda r, k=k: r ** k for k in range(5)]
    weight = lambda r: r * r / math.exp(r)
    coeffs = remez_rounded(basis, exp_h, weight, -R, R)
    poly = lambda r: sum(c * r ** k for k, c in enumerate(coeffs))
    worst, at = max_error(poly, exp_h, weight, -R, R)
    report("exp S(r), |r| <= 0.35", coeffs, worst, at)


# ---------------------------------------------------------------------------------------------
# recip seed: R(m) ~ 1/m on [1, 2], error m R(m) - 1.
def fit_recip():
    basis = [lambda m, k=k: m ** k for k in range(5)]
    coeffs = remez_rounded(basis, lambda m: 1.0 / m, lambda m: m, 1.0, 2.0)
    poly = lambda m: sum(c * m ** k for k, c in enumerate(coeffs))
    worst, at = max_error(poly, lambda m: 1.0 / m, lambda m: m, 1.0, 2.0)
    report("recip seed R(m), m in [1, 2]", coeffs, worst, at)


# ---------------------------------------------------------------------------------------------
# tanh: T(z) ~ g(z) = (tanh(a) - a) / a^3 with z = a^2, from the Maclaurin series of tanh (exact
# rational coefficients from the Bernoulli numbers; converges for z < pi^2 / 4).
def bernoulli(n_max):
    b = [Fraction(0)] * (n_max + 1)
    b[0] = Fraction(1)
    for m in range(1, n_max + 1):
        b[m] = -sum(Fraction(math.comb(m + 1, k)) * b[k] for k in range(m)) / (m + 1)
    return b


def tanh_series(terms=40):
    """Coefficients t_n of tanh(a) = sum t_n a^(2n - 1), n >= 1."""
    b = bernoulli(2 * terms)
    return [float(Fraction(2 ** (2 * n) * (2 ** (2 * n) - 1)) * b[2 * n] /
                  math.factorial(2 * n)) for n in range(1, terms + 1)]


TANH_T = tanh_series()


def tanh_g(z):
    return sum(TANH_T[n] * z ** (n - 1) for n in range(1, len(TANH_T)))


def fit_tanh():
    A = 0.5625
    Z = A * A
    basis = [lambda z, k=k: z ** k for k in range(6)]
    # Relative error of the result: a^3 (T - g) / tanh(a) = z (T - g) / (tanh(a) / a).
    weight = lambda z: z / (1.0 + z * tanh_g(z)) if z > 0 else 0.0
    coeffs = remez_rounded(basis, tanh_g, weight, 0.0, Z)
    poly = lambda z: sum(c * z ** k for k, c in enumerate(coeffs))
    worst, at = max_error(poly, tanh_g, weight, 0.0, Z)
    report("tanh T(z), z = a^2 in [0, 0.5625^2]", coeffs, worst, at)


def fit_tanh_mid():
    low, high, centre = 0.5625, 1.25, 457.0 / 512.0
    m0 = f32(math.tanh(centre))
    m0_lo = f32(math.tanh(centre) - m0)
    basis = [lambda d, k=k: d ** k for k in range(1, 9)]
    target = lambda d: math.tanh(centre + d) - m0 - m0_lo
    weight = lambda d: 1.0 / math.tanh(centre + d)
    coeffs = [m0] + remez_rounded(basis, target, weight, low - centre, high - centre)
    poly = lambda d: m0_lo + sum(c * d ** k for k, c in enumerate(coeffs))
    worst, at = max_error(poly, lambda d: math.tanh(centre + d), weight, low - centre, high - centre)
    report("tanh M(d), d = a - 457/512, a in [0.5625, 1.25]", coeffs, worst, at + centre)
    print("  M0_LO = %s  (%.9e), added to M0 last" % (f32_hex(m0_lo), m0_lo))


if __name__ == "__main__":
    fit_exp()
    fit_recip()
    fit_tanh()
    fit_tanh_mid()
