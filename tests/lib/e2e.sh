# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# The helpers of the end-to-end tests in tests/list.d/*.sh (the CLI, the benchmark and the
# trainer run as a user runs them, their output checked), defined once. A script writes its test
# as a function of checks and, run from the repository root, hands it to e2e_run:
#
#   source tests/lib/e2e.sh
#   e2e_run my_cli_e2e ARGS...
#
# e2e_run gives the function a fresh scratch folder in $work and the counters behind pass and
# fail, then prints the summary line "N passed, M failed" and returns non-zero if any check
# failed: tests/run.sh decides by that exit status; the "ok   NAME" and "FAIL NAME" lines are for
# the reader. The helpers reach e2e_run's locals (work, passed, failed) through bash's dynamic
# scoping, so they work only inside a test run by e2e_run.

# e2e_run FUNCTION ARGS...: runs FUNCTION ARGS... as one end-to-end test. The function's own
# status is not used: its checks count through pass and fail, which is what the summary reports.
e2e_run() {
  local work passed=0 failed=0
  if ! work=$(mktemp -d); then
    echo "e2e: cannot create a scratch folder" >&2
    return 1
  fi
  # A RETURN trap runs when the function that set it returns (the functions it calls do not
  # inherit it): the folder goes when e2e_run returns, and the trap with it.
  trap 'rm -rf "$work"; trap - RETURN' RETURN
  "$@"
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

# pass NAME, fail NAME: one check's verdict, counted and printed.
pass() {
  passed=$((passed + 1))
  echo "ok   $1"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL $1"
}

# json_ok FILE: FILE holds valid JSON.
json_ok() {
  python3 -c 'import json,sys; json.loads(open(sys.argv[1]).read())' "$1" 2>/dev/null
}

# jget FILE KEY: one field of the one-line JSON object in FILE, printed the Python way
# (True/False); fails when the field is missing.
jget() {
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read())[sys.argv[2]])' "$1" "$2"
}

# py FILE EXPR: evaluates the Python expression EXPR over the one-line JSON object r of FILE.
py() {
  python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); print(eval(sys.argv[2]))' \
    "$1" "$2"
}

# expect NAME STATUS PATTERN -- COMMAND...: COMMAND must exit with STATUS, print nothing on stdout
# and say on stderr what matches the extended regular expression PATTERN; the ok line quotes the
# first stderr line that matches.
expect() {
  local name="$1" want="$2" pattern="$3"
  if [[ $# -lt 5 || $4 != -- ]]; then
    fail "$name: expect NAME STATUS PATTERN -- COMMAND...: no '--' and command in '$*'"
    return 0
  fi
  shift 4
  local status=0
  "$@" >"$work/out" 2>"$work/err" || status=$?
  if [[ $status -eq $want ]] && grep -qE -- "$pattern" "$work/err" && [[ ! -s "$work/out" ]]; then
    pass "$name (exit $status: $(grep -E -- "$pattern" "$work/err" | head -1))"
  else
    fail "$name: exit $status (want $want), stdout $(wc -c <"$work/out") bytes, stderr:"
    sed 's/^/     /' "$work/err"
  fi
}

# run_json NAME FILE COMMAND...: COMMAND must exit 0 with exactly one line of valid JSON on
# stdout, which goes to FILE (stderr to FILE.err, and to $work/err until the next command). It
# counts only a failure: the checks on FILE that follow are the test. Returns non-zero on failure.
run_json() {
  local name="$1" file="$2"
  shift 2
  local status=0
  "$@" >"$file" 2>"$work/err" || status=$?
  cp "$work/err" "$file.err"
  if [[ $status -eq 0 && $(wc -l <"$file") -eq 1 ]] && json_ok "$file"; then
    return 0
  fi
  fail "$name: exit $status, stdout:"
  sed 's/^/     /' "$file" "$work/err"
  return 1
}

# run_json_pass NAME FILE COMMAND...: run_json, and a pass named NAME when it holds (for a command
# whose success is itself one of the checks).
run_json_pass() {
  run_json "$@" && pass "$1"
}
