#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The vector generator: deterministic from its seed, exact about counts, clear about bad usage and
# write failures, and its targeted suite really reaches every class of operand, result and flag.
set -uo pipefail
cd "$(dirname "$0")/../.."

FPGEN=build/bin/sparrow-fpgen
FPVEC=build/bin/sparrow-fpvec
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

# Determinism and counts.
"$FPGEN" add --count 5000 --seed 42 --suite random >"$WORK/a1"
"$FPGEN" add --count 5000 --seed 42 --suite random >"$WORK/a2"
"$FPGEN" add --count 5000 --seed 43 --suite random >"$WORK/a3"
check "same seed, same vectors"           'cmp -s "$WORK/a1" "$WORK/a2"'
check "other seed, other vectors"         '! cmp -s "$WORK/a1" "$WORK/a3"'
check "--count is exact"                  '[[ $(wc -l <"$WORK/a1") -eq 5000 ]]'
check "format is TestFloat's"             '! grep -vqE "^[0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8} [01][0-9A-F]$" "$WORK/a1"'
"$FPGEN" mul --suite targeted --seed 9 >"$WORK/t1"
"$FPGEN" mul --suite targeted --seed 9 --count 12345 >"$WORK/t2"
check "targeted ignores --count"          'cmp -s "$WORK/t1" "$WORK/t2"'
"$FPGEN" mul --count 100 --seed 9 >"$WORK/all"
check "all = random + targeted"           '[[ $(wc -l <"$WORK/all") -eq $(( $(wc -l <"$WORK/t1") + 100 )) ]]'

# The targeted suites reach every class of operand and result and raise every flag add/mul can raise.
for op in add mul; do
  "$FPGEN" "$op" --suite targeted | "$FPVEC" "$op" --coverage >"$WORK/cov-$op" 2>&1
  check "$op targeted suite passes the RTL" 'grep -q " 0 result mismatches, 0 flag mismatches" "$WORK/cov-$op"'
  bins=("operands zero" "operands subnormal" "operands normal" "operands inf" "operands qnan"
        "operands snan" "results zero" "results subnormal" "results normal" "results inf"
        "results qnan" "flags nx" "flags of" "flags nv")
  # A sum of two binary32 values below 2^-126 is exactly representable (both are multiples of
  # 2^-149), so add can never underflow; mul must.
  [[ $op == mul ]] && bins+=("flags uf")
  for bin in "${bins[@]}"; do
    part="${bin%% *}" name="${bin#* }"
    count=$(sed -n "s/.*$part[^;]* $name=\([0-9]*\).*/\1/p" "$WORK/cov-$op")
    check "$op targeted covers $bin (${count:-none})" '[[ ${count:-0} -gt 0 ]]'
  done
  # add and mul can never raise divide-by-zero, and never return a signalling NaN.
  check "$op never expects dz or an snan"  'grep -q " dz=0" "$WORK/cov-$op" && grep -q "results [^;]*snan=0" "$WORK/cov-$op"'
  [[ $op == add ]] && check "add never expects uf" 'grep -q " uf=0" "$WORK/cov-add"'
done
"$FPGEN" add --classes 2>"$WORK/classes" >"$WORK/classes-out"
check "--classes lists classes on stderr" '[[ $(wc -l <"$WORK/classes") -ge 5 && ! -s "$WORK/classes-out" ]]'

# Bad usage and write errors.
expect "no operation"        2 '.' -- "$FPGEN"
expect "unknown operation"   2 'div' -- "$FPGEN" div
expect "bad count"           2 'count' -- "$FPGEN" add --count ten
expect "negative count"      2 'count' -- "$FPGEN" add --count -5
expect "bad seed"            2 'seed' -- "$FPGEN" add --seed x1
expect "unknown suite"       2 'suite' -- "$FPGEN" add --suite fuzzy
expect "unknown flag"        2 'bogus' -- "$FPGEN" add --bogus
if [[ -w /dev/full ]]; then
  expect "disk full"         1 '.' -- sh -c "$FPGEN add --count 100000 --suite random > /dev/full"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
