#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The vector runner's contract at its edges: every bad input gets a clear message and a non-zero exit,
# and a single wrong result bit or flag bit among thousands of vectors is caught and located.
set -uo pipefail
cd "$(dirname "$0")/../.."

FPVEC=build/bin/sparrow-fpvec
FPGEN=build/bin/sparrow-fpgen
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0

# expect NAME WANT_STATUS STDERR_PATTERN -- COMMAND...
expect() {
  local name="$1" want_status="$2" pattern="$3"
  shift 4
  local status=0
  "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
  if [[ $status -eq $want_status ]] && grep -qE -- "$pattern" "$WORK/out" "$WORK/err"; then
    passed=$((passed + 1))
    echo "ok   $name (exit $status)"
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $status (want $want_status), output:"
    cat "$WORK/out" "$WORK/err" | sed 's/^/     /'
  fi
}

# with_flipped_bits FILE LINE FIELD MASK: FILE with MASK xored into field 3 (result) or 4 (flags) of
# one line, so the line stays well formed but is wrong.
with_flipped_bits() {
  local file="$1" line_no="$2" field="$3" mask="$4" a b result flags
  read -r a b result flags < <(sed -n "${line_no}p" "$file")
  case "$field" in
    3) result=$(printf '%08X' $((0x$result ^ mask))) ;;
    4) flags=$(printf '%02X' $((0x$flags ^ mask))) ;;
  esac
  sed "${line_no}s/.*/$a $b $result $flags/" "$file"
}

"$FPGEN" add --count 4000 --suite random --seed 7 >"$WORK/add.vec"
"$FPGEN" mul --count 4000 --suite random --seed 7 >"$WORK/mul.vec"

expect "clean add file"         0 ' 4000 vectors, 0 result mismatches, 0 flag mismatches' -- "$FPVEC" add "$WORK/add.vec"
expect "clean mul on stdin"     0 ' 4000 vectors, 0 result mismatches, 0 flag mismatches' -- sh -c "$FPVEC mul < $WORK/mul.vec"

# One flipped result bit on line 1234 (the lowest bit of the result field, so it stays well formed).
with_flipped_bits "$WORK/add.vec" 1234 3 1 >"$WORK/bad-result.vec"
expect "wrong result located"   1 '^line 1234: add .*\[result\]' -- "$FPVEC" add "$WORK/bad-result.vec"
expect "wrong result counted"   1 '1 result mismatches, 0 flag mismatches' -- "$FPVEC" add "$WORK/bad-result.vec"

# One flipped flag bit (underflow) on line 77.
with_flipped_bits "$WORK/mul.vec" 77 4 2 >"$WORK/bad-flags.vec"
expect "wrong flags located"    1 '^line 77: mul .*\[flags\]$' -- "$FPVEC" mul "$WORK/bad-flags.vec"
expect "wrong flags counted"    1 '0 result mismatches, 1 flag mismatches' -- "$FPVEC" mul "$WORK/bad-flags.vec"

# The wrong operation for the file: almost every vector differs; --show bounds the report.
expect "wrong op detected"      1 'result mismatches' -- "$FPVEC" mul "$WORK/add.vec" --show 3
expect "--show bounds report"   1 '^line' -- "$FPVEC" mul "$WORK/add.vec" --show 3
lines=$(grep -c '^line' "$WORK/err")
if [[ $lines -eq 3 ]]; then passed=$((passed + 1)); echo "ok   --show 3 prints 3 lines"; else failed=$((failed + 1)); echo "FAIL --show 3 printed $lines lines"; fi

# NaN conventions: x86 returns 0xFFC00000 for inf-inf; Sparrow returns the canonical 0x7FC00000.
printf '7F800000 FF800000 FFC00000 10\n' >"$WORK/x86-nan.vec"
expect "foreign NaN mismatches" 1 '1 result mismatches' -- "$FPVEC" add "$WORK/x86-nan.vec"
expect "--nan-any accepts it"   0 '0 result mismatches, 0 flag mismatches' -- "$FPVEC" add "$WORK/x86-nan.vec" --nan-any
printf '3F800000 3F800000 FFC00000 00\n' >"$WORK/nan-for-number.vec"
expect "--nan-any keeps numbers" 1 '1 result mismatches' -- "$FPVEC" add "$WORK/nan-for-number.vec" --nan-any

# Malformed input: the message names the line and the defect, and nothing is reported as passing.
{ head -n 20 "$WORK/add.vec"; echo "3F800000 3F800000 40000000"; tail -n 5 "$WORK/add.vec"; } >"$WORK/short.vec"
expect "missing field"          2 'short.vec:21: malformed line: too few fields' -- "$FPVEC" add "$WORK/short.vec"
{ head -n 2 "$WORK/add.vec"; echo "3F800000 3F8000Z0 40000000 00"; } >"$WORK/hex.vec"
expect "bad hex digit"          2 'hex.vec:3: malformed line: operands and result must be exactly 8 hex digits' -- "$FPVEC" add "$WORK/hex.vec"
{ head -n 9 "$WORK/add.vec"; echo; } >"$WORK/blank.vec"
expect "blank line"             2 'blank.vec:10: malformed line: empty line' -- "$FPVEC" add "$WORK/blank.vec"
{ head -n 4 "$WORK/add.vec"; printf '%0200d\n' 0; } >"$WORK/long.vec"
expect "overlong line"          2 'long.vec:5: malformed line: longer than 64 characters' -- "$FPVEC" add "$WORK/long.vec"
head -c 100 /dev/urandom >"$WORK/binary.vec"
expect "binary garbage"         2 'binary.vec:1: malformed line' -- "$FPVEC" add "$WORK/binary.vec"

# No input, missing files, bad usage.
: >"$WORK/empty.vec"
expect "empty file"             2 'empty.vec: no vectors' -- "$FPVEC" add "$WORK/empty.vec"
expect "empty stdin"            2 '<stdin>: no vectors' -- sh -c "$FPVEC add < /dev/null"
expect "missing file"           2 "cannot open '$WORK/nope.vec': No such file" -- "$FPVEC" add "$WORK/nope.vec"
expect "directory"              2 'read error|cannot open' -- "$FPVEC" add "$WORK"
expect "no operation"           2 'which operation' -- "$FPVEC"
expect "unknown operation"      2 "unknown operation 'div'" -- "$FPVEC" div "$WORK/add.vec"
expect "unknown option"         2 "unknown option '--fast'" -- "$FPVEC" add --fast
expect "bad --show"             2 "--show wants a count" -- "$FPVEC" add --show many
expect "--show without a count" 2 "--show needs a count" -- "$FPVEC" add --show
expect "help"                   0 'usage: sparrow-fpvec' -- "$FPVEC" --help

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
