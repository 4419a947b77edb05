#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs Sparrow's test list and ends with the line "N passed, N failed".
#   tests/run.sh quick   what `make test` runs (CI)
#   tests/run.sh long    what `make test-long` runs
# Each test's output goes to build/test-logs/NAME.log; a failing test's log is printed.
set -uo pipefail
cd "$(dirname "$0")/.."

suite="${1:-quick}"
BIN=build/bin
TBIN=build/tests
LOGS=build/test-logs
mkdir -p "$LOGS"

passed=0
failed=0
failed_names=()

# run_test NAME COMMAND...: runs COMMAND (through bash -c when it is one string with pipes).
run_test() {
  local name="$1"
  shift
  local log="$LOGS/$name.log"
  local start_ms elapsed
  start_ms=$(date +%s%3N)
  if bash -o pipefail -c "$*" >"$log" 2>&1; then
    elapsed=$(seconds_since "$start_ms")
    passed=$((passed + 1))
    printf 'PASS  %-28s %7ss  %s\n' "$name" "$elapsed" "$(summary_of "$log")"
  else
    elapsed=$(seconds_since "$start_ms")
    failed=$((failed + 1))
    failed_names+=("$name")
    printf 'FAIL  %-28s %7ss\n' "$name" "$elapsed"
    sed 's/^/      | /' "$log" | tail -40
  fi
}

seconds_since() {
  local ms=$(($(date +%s%3N) - $1))
  printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# The line worth showing from a test's log: a vector summary, or Check's percentage line.
summary_of() {
  grep -E '^(sparrow-fpvec|[0-9]+%: Checks|[0-9]+ passed)' "$1" | tail -1
}

case "$suite" in
  quick)
    run_test unit-sparrow-fp      "$TBIN/test_sparrow_fp"
    run_test unit-fpvec-format    "$TBIN/test_fpvec_format"
    run_test fpvec-cli            tests/fp/test_fpvec_cli.sh
    run_test fpgen-cli            tests/fp/test_fpgen_cli.sh
    run_test rtl-mutants          tests/fp/mutants.sh
    for op in add mul; do
      # Four million random vectors over the encoding space, plus the targeted classes.
      run_test "rtl-$op-4M-targeted" \
        "$BIN/sparrow-fpgen $op --count 4000000 --seed 1 | $BIN/sparrow-fpvec $op"
    done
    ;;
  long)
    for op in add mul; do
      for seed in 2 3 4 5; do
        run_test "rtl-$op-100M-seed$seed" \
          "$BIN/sparrow-fpgen $op --count 100000000 --seed $seed | $BIN/sparrow-fpvec $op"
      done
    done
    ;;
  *)
    echo "usage: tests/run.sh quick|long" >&2
    exit 2
    ;;
esac

# Each part of the tree adds its own tests in tests/list.d/PART.sh, which calls run_test for the
# suite in $suite ("quick" or "long").
for list in tests/list.d/*.sh; do
  [[ -e "$list" ]] || continue
  # shellcheck source=/dev/null
  source "$list"
done

if [[ $failed -gt 0 ]]; then
  echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
