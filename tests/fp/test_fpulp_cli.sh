#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# sparrow-fpulp's command line: help, one function at a time, a reproducible table, and a clear
# error with exit status 2 for every kind of bad usage.
set -uo pipefail
cd "$(dirname "$0")/../.."

FPULP=build/bin/sparrow-fpulp
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

# expect NAME WANT_STATUS STDERR_PATTERN -- COMMAND...
expect() {
  local name="$1" want_status="$2" pattern="$3"
  shift 4
  local status=0
  "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
  if [[ $status -eq $want_status ]] && grep -qE -- "$pattern" "$WORK/err"; then
    pass "$name (exit $status)"
  else
    fail "$name: exit $status (want $want_status), stderr:"
    sed 's/^/     /' "$WORK/err"
  fi
}

check "--help prints usage, exit 0" '"$FPULP" --help | grep -q "^usage: sparrow-fpulp"'

# One function: one row; the same seed gives the same row whatever the threads (the header and
# summary lines name the threads and the speed, so only the rows are compared).
"$FPULP" rsqrt --count 20000 --seed 5 >"$WORK/a" 2>/dev/null
"$FPULP" rsqrt --count 20000 --seed 5 --threads 3 >"$WORK/b" 2>/dev/null
"$FPULP" rsqrt --count 20000 --seed 6 >"$WORK/c" 2>/dev/null
row() { grep "^rsqrt " "$1"; }
check "one function, one row"                 '[[ $(grep -c "^rsqrt " "$WORK/a") -eq 1 && $(grep -cE "^(exp|recip|tanh) " "$WORK/a") -eq 0 ]]'
check "same seed, same row, any threads"      '[[ "$(row "$WORK/a")" == "$(row "$WORK/b")" ]]'
check "other seed, other inputs"              '[[ "$(row "$WORK/a")" != "$(row "$WORK/c")" ]]'
check "summary line, no failures"             'grep -qE "^sparrow-fpulp: [0-9]+ inputs, 0 failures" "$WORK/a"'

# A range: exactly its patterns, and the prescribed values in it (the 2^23 NaNs of one sign).
"$FPULP" exp --exhaustive --from 0x7F800001 --to 0x7FFFFFFF >"$WORK/r" 2>/dev/null
check "--from/--to: exactly that range"       'grep -qE "^exp +8388607 .* 8388607 " "$WORK/r"'

expect "unknown function"        2 "unknown function \(exp, recip, rsqrt or tanh\): cosh" -- "$FPULP" cosh
expect "unknown option"          2 "unknown option --fast"                 -- "$FPULP" --fast
expect "--count not a number"    2 "--count needs a whole number"          -- "$FPULP" --count ten
expect "--count zero"            2 "--count needs a whole number"          -- "$FPULP" --count 0
expect "--count missing"         2 "--count needs a whole number .*nothing" -- "$FPULP" --count
expect "--count negative"        2 "--count needs a whole number"          -- "$FPULP" --count -5
expect "--seed trailing junk"    2 "--seed needs a whole number"           -- "$FPULP" --seed 12x
expect "--threads zero"          2 "--threads needs a whole number from 1 to 64" -- "$FPULP" --threads 0
expect "--threads too many"      2 "--threads needs a whole number from 1 to 64" -- "$FPULP" --threads 65
expect "--from without --exhaustive" 2 "--from and --to need --exhaustive" -- "$FPULP" --from 5
expect "--from above --to"       2 "--from must not be above --to"         -- "$FPULP" --exhaustive --from 9 --to 8
expect "--to too large"          2 "--to needs a bit pattern"              -- "$FPULP" --exhaustive --to 0x100000000
expect "--compare-every zero"    2 "--compare-every needs a whole number"  -- "$FPULP" --exhaustive --compare-every 0

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
