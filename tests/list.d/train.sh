# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154,SC2015
# (SC2154: $suite, $BIN and $TBIN come from tests/run.sh, $work from e2e_run in
# tests/lib/e2e.sh; SC2015: `CHECK && pass ... || fail ...` is meant: pass always succeeds.)
#
# The GPT trainer (docs/training.md): its unit suites (gradients against finite differences, data,
# checkpoints and resume), the data and checkpoint suites under valgrind, `sparrow train` /
# `sparrow sample` end to end on the CPU reference (--device ref), and on the chip (sparrow-sim,
# configuration S: checks against the reference, RTL = golden model bit for bit, resume, sampling).
#
# Sourced by tests/run.sh with $suite set; run as `bash tests/list.d/train.sh --train-cli-e2e` (the
# reference) or `--train-chip-e2e` (the chip) it is that end-to-end test itself.

train_cli_e2e() {
  local S=build/bin/sparrow

  # 1. The micro model learns on the default corpus: 30 steps, the loss falls by more than 0.3.
  if run_json_pass "train --preset micro --steps 30 --device ref --json" "$work/m30.json" \
       $S train --preset micro --steps 30 --device ref --json --out "$work/m30"; then
    local drop
    drop=$(py "$work/m30.json" 'round(r["train_loss"][0] - r["train_loss"][-1], 4)')
    [[ $(py "$work/m30.json" 'len(r["train_loss"]) == 30 and r["train_loss"][0] - r["train_loss"][-1] > 0.3') == True ]] &&
      pass "loss falls by $drop nats in 30 steps ($(py "$work/m30.json" 'r["train_loss"][0]') -> $(py "$work/m30.json" 'r["train_loss"][-1]'), validation $(py "$work/m30.json" 'r["val_loss"]'))" ||
      fail "loss falls by only $drop nats: $(cat "$work/m30.json")"
    [[ $(py "$work/m30.json" 'r["preset"] == "micro" and r["device"] == "ref" and r["steps"] == 30 and r["sparsity"] == 0 and r["mode"] == "kbk" and r["checks"] == 0 and r["checks_failed"] == 0 and r["cycles"] == 0 and r["dram_bytes"] == 0 and r["wall_s"] > 0 and r["val_loss"] > 0 and r["vocab"] == 63 and r["vocab_padded"] == 64') == True ]] &&
      pass "JSON fields (preset, device, steps, sparsity, mode, checks, cycles, dram_bytes, wall_s, val_loss, vocabulary 63 padded to 64)" ||
      fail "JSON fields: $(cat "$work/m30.json")"
    [[ $(wc -l <"$work/m30/metrics.csv") -eq 31 && $(head -1 "$work/m30/metrics.csv") == "step,train_loss,val_loss,lr,cycles,dram_bytes,wall_s" ]] &&
      pass "metrics.csv: header and 30 rows" || fail "metrics.csv: $(head -3 "$work/m30/metrics.csv")"
    [[ $(head -c 4 "$work/m30/loss.png" | od -An -c | tr -d ' ') == '211PNG' ]] &&
      pass "loss.png is a PNG ($(wc -c <"$work/m30/loss.png") bytes)" || fail "loss.png missing or not a PNG"
    cmp -s "$work/m30.json" "$work/m30/summary.json" && pass "summary.json is the JSON line" ||
      fail "summary.json differs from stdout"
    # Same command, same losses (the reference is deterministic).
    run_json_pass "train again, same seed" "$work/m30b.json" \
      $S train --preset micro --steps 30 --device ref --json --out "$work/m30b" &&
      [[ $(py "$work/m30.json" 'r["train_loss"]') == "$(py "$work/m30b.json" 'r["train_loss"]')" ]] &&
      pass "same seed: the same 30 losses bit for bit" || fail "same seed, other losses"

    # sparrow sample: the prompt, then the tokens; the same seed prints the same text.
    if $S sample --ckpt "$work/m30/checkpoint.bin" --device ref --prompt "In the" --tokens 40 \
         --seed 5 >"$work/s1" 2>"$work/err" &&
       $S sample --ckpt "$work/m30/checkpoint.bin" --device ref --prompt "In the" --tokens 40 \
         --seed 5 >"$work/s2" 2>>"$work/err"; then
      [[ $(head -c 6 "$work/s1") == "In the" && $(wc -c <"$work/s1") -ge 47 ]] && cmp -s "$work/s1" "$work/s2" &&
        pass "sample: prompt + 40 bytes, deterministic: $(head -c 60 "$work/s1" | tr '\n' '|')" ||
        fail "sample output: $(cat "$work/s1" "$work/s2")"
    else
      fail "sample failed: $(cat "$work/err")"
    fi
  fi

  # 2. Kill and resume. A run of 160 steps (a smaller width and context, sparse 0.75 with masks
  # in force from step 20, checkpoints every 10 steps) is killed with SIGKILL once it is past step
  # 25 and resumed from its last checkpoint in place; another is stopped with SIGINT (it writes a
  # checkpoint at once) and resumed. Both must repeat the uninterrupted run's losses bit for bit.
  local small=(--preset micro --width 32 --context 32 --steps 160 --sparsity 0.75 --dense-steps 20
               --eval-every 40 --ckpt-every 10 --device ref)
  run_json_pass "uninterrupted 160-step run" "$work/full.json" $S train "${small[@]}" --json --out "$work/full"
  local sig
  for sig in KILL INT; do
    local dir="$work/kill-$sig"
    $S train "${small[@]}" --json --out "$dir" >"$work/killed.out" 2>"$work/killed.err" &
    local pid=$! rows=0
    for _ in $(seq 400); do
      rows=$(($( { wc -l <"$dir/metrics.csv"; } 2>/dev/null || echo 1) - 1))
      [[ $rows -ge 25 ]] && break
      sleep 0.02
    done
    kill -"$sig" "$pid" 2>/dev/null
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    local at
    at=$(python3 -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1],"rb").read(), 96)[0])' "$dir/checkpoint.bin" 2>/dev/null || echo none)
    if [[ $status -ne 0 && $at != none && $at -lt 160 && ! -s "$work/killed.out" ]]; then
      pass "SIG$sig after $rows steps: exit $status, checkpoint at step $at"
    else
      fail "SIG$sig: exit $status, checkpoint at '$at', stdout $(wc -c <"$work/killed.out") bytes: $(tail -2 "$work/killed.err")"
      continue
    fi
    [[ $sig == INT ]] && { grep -q "interrupted after step $at; continue with" "$work/killed.err" &&
      pass "SIGINT: the message says how to continue" || fail "SIGINT message: $(tail -1 "$work/killed.err")"; }
    if run_json_pass "resume from step $at (SIG$sig)" "$work/resumed.json" \
         $S train --resume "$dir/checkpoint.bin" --device ref --json; then
      [[ $(py "$work/resumed.json" 'r["first_step"]') == $((at + 1)) &&
         $(py "$work/full.json" 'r["train_loss"]['"$at"':]') == "$(py "$work/resumed.json" 'r["train_loss"]')" &&
         $(py "$work/full.json" 'r["val_loss"]') == "$(py "$work/resumed.json" 'r["val_loss"]')" ]] &&
        pass "SIG$sig: steps $((at + 1))..160 after resume equal the uninterrupted run's bit for bit (last loss $(py "$work/resumed.json" 'r["train_loss"][-1]'), validation $(py "$work/resumed.json" 'r["val_loss"]'))" ||
        fail "SIG$sig: losses after resume differ: $(cat "$work/resumed.json")"
      # The metrics of the run, continued in place, are the uninterrupted run's (wall time aside).
      cmp -s <(cut -d, -f1-6 "$work/full/metrics.csv") <(cut -d, -f1-6 "$dir/metrics.csv") &&
        pass "SIG$sig: metrics.csv continued in place: the same 160 rows" ||
        fail "SIG$sig: metrics.csv differs: $(diff <(cut -d, -f1-6 "$work/full/metrics.csv") <(cut -d, -f1-6 "$dir/metrics.csv") | head -5)"
    fi
  done

  # 3. Bad input: a clear message, nothing on stdout; exit 2 for usage, 1 for what cannot run.
  printf '' >"$work/empty.txt"
  printf 'too short\n' >"$work/short.txt"
  expect "--device bogus"         2 "device 'bogus' is neither ref" -- $S train --steps 2 --device bogus --json
  expect "sample --device bogus"  2 "device 'bogus' is neither ref" -- $S sample --device bogus --ckpt "$work/m30/checkpoint.bin"
  expect "missing data"           1 "cannot open data file '$work/none.txt'" -- $S train --device ref --data "$work/none.txt" --json
  expect "empty data"             1 "is empty" -- $S train --device ref --data "$work/empty.txt" --json
  expect "short data"             1 "too short" -- $S train --device ref --data "$work/short.txt" --json
  expect "data is a directory"    1 "cannot read data file" -- $S train --device ref --data "$work" --json
  expect "--sparsity 0.3"         2 "not one of 0, 0.5, 0.75, 0.875" -- $S train --device ref --sparsity 0.3
  expect "--preset huge"          2 "unknown preset 'huge'" -- $S train --device ref --preset huge
  expect "--heads 3"              2 "not a multiple of the number of heads" -- $S train --device ref --heads 3
  expect "--block 12"             2 "block size 12" -- $S train --device ref --block 12
  expect "--steps 0"              2 "out of range" -- $S train --device ref --steps 0
  expect "--lr abc"               2 "not a number" -- $S train --device ref --lr abc
  expect "--check-tol 2"          2 "out of range" -- $S train --device ref --check 1 --check-tol 2
  expect "--mask bogus"           2 "not random or magnitude" -- $S train --device ref --sparsity 0.5 --mask bogus
  expect "--dense-steps, dense"   2 "needs --sparsity" -- $S train --device ref --dense-steps 5
  expect "--dense-steps >= steps" 2 "leaves no sparse step" -- $S train --device ref --sparsity 0.5 --steps 10 --dense-steps 10
  expect "unknown option"         2 "unknown option '--frobnicate'" -- $S train --device ref --frobnicate
  expect "missing resume file"    1 "cannot open checkpoint" -- $S train --device ref --resume "$work/none.bin"
  expect "resume not a ckpt"      1 "not a Sparrow checkpoint" -- $S train --device ref --resume "$work/m30/metrics.csv"
  expect "resume with --width"    2 "cannot be given with --resume" -- $S train --device ref --resume "$work/m30/checkpoint.bin" --width 32
  expect "sample without --ckpt"  2 "which checkpoint" -- $S sample --device ref
  expect "sample bad prompt"      2 "not in the model's vocabulary" -- $S sample --device ref --ckpt "$work/m30/checkpoint.bin" --prompt "{"
}

# The chip backend end to end (docs/training.md, "The chip backend"): every operator of the step on
# sparrow-sim through the driver, configuration S, a small model (width 32, 2 heads, context 16,
# batch 2) so that a step takes well under a second on the golden model.
train_chip_e2e() {
  local S=build/bin/sparrow
  # max_err LOG WHAT: the largest error printed by the checks on lines "check WHAT...".
  max_err() { grep -E "^sparrow: check $2" "$1" | grep -oE 'error [0-9.e+-]+' | awk '{print $2}' | sort -g | tail -1; }
  local tiny=(--preset micro --width 32 --heads 2 --context 16 --batch 2 --val-batches 2)
  local model="sim:model,config=S" rtl="sim:rtl,config=S"

  # 1. Dense, with a check every 2 steps: each check compares the loss and all 29 gradient tensors
  # (1 + 4 + 12 per layer, 2 layers) with the reference and prints their errors.
  if run_json_pass "chip: 4 dense steps on $model with --check 2" "$work/dense.json" \
       $S train "${tiny[@]}" --steps 4 --check 2 --device "$model" --json --out "$work/dense"; then
    local lines bad
    lines=$(grep -c "^sparrow: check " "$work/dense.json.err")
    bad=$(grep "^sparrow: check " "$work/dense.json.err" | grep -c FAILED)
    [[ $(py "$work/dense.json" 'r["checks"] == 2 and r["checks_failed"] == 0 and r["device"] == "'"$model"'" and r["mode"] == "kbk" and r["cycles"] > 0 and r["dram_bytes"] > 0 and len(r["train_loss"]) == 4 and r["val_loss"] > 0') == True && $lines -eq 58 && $bad -eq 0 ]] &&
      pass "2 checks passed, 58 errors printed, every one within tolerance (largest gradient error $(max_err "$work/dense.json.err" '[hwl][^o]'), loss $(max_err "$work/dense.json.err" loss)); $(py "$work/dense.json" 'r["cycles"]') cycles, $(py "$work/dense.json" 'r["dram_bytes"]') DRAM bytes" ||
      { fail "checks: $lines lines, $bad failed: $(cat "$work/dense.json")"; sed 's/^/     /' "$work/dense.json.err"; }
    # The counters in metrics.csv are the cumulative sums, growing every step.
    python3 - "$work/dense/metrics.csv" <<'PY' && pass "metrics.csv: cycles and DRAM bytes grow every step" || fail "metrics.csv counters: $(cat "$work/dense/metrics.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
c = [int(r["cycles"]) for r in rows]
d = [int(r["dram_bytes"]) for r in rows]
sys.exit(0 if len(rows) == 4 and all(0 < a < b for a, b in zip(c, c[1:])) and all(0 < a < b for a, b in zip(d, d[1:])) else 1)
PY
  fi

  # 2. Sparse (0.5, random masks from step 0): spmm, spmm_t and sddmm, checked the same way.
  if run_json_pass "chip: 3 sparse (0.5) steps on $model with --check 3" "$work/sparse.json" \
       $S train "${tiny[@]}" --steps 3 --check 3 --sparsity 0.5 --device "$model" --json --out "$work/sparse"; then
    [[ $(py "$work/sparse.json" 'r["checks"] == 1 and r["checks_failed"] == 0 and r["sparsity"] == 0.5') == True &&
       $(grep "^sparrow: check " "$work/sparse.json.err" | grep -c FAILED) -eq 0 ]] &&
      pass "sparse: the check passed (largest gradient error $(max_err "$work/sparse.json.err" '[hwl][^o]'))" ||
      { fail "sparse check: $(cat "$work/sparse.json")"; sed 's/^/     /' "$work/sparse.json.err"; }
  fi

  # A check beyond its tolerance (here made impossibly tight) stops the run before the step: exit 1,
  # the tensor named, and the JSON still printed with checks_failed 1.
  local status=0
  $S train "${tiny[@]}" --steps 3 --check 1 --check-tol 1e-9 --device "$model" --json \
    --out "$work/tight" >"$work/tight.json" 2>"$work/tight.err" || status=$?
  if [[ $status -eq 1 && $(wc -l <"$work/tight.json") -eq 1 ]] &&
     [[ $(py "$work/tight.json" 'r["checks"] == 1 and r["checks_failed"] == 1 and r["train_loss"] == []') == True ]] &&
     grep -q "check before step 1 failed: gradient .* exceeds its tolerance" "$work/tight.err" &&
     grep -q "FAILED" "$work/tight.err"; then
    pass "a check beyond tolerance stops the run (exit 1): $(grep -o 'check before step 1 failed.*' "$work/tight.err")"
  else
    fail "failed check: exit $status, stdout $(cat "$work/tight.json"), stderr: $(tail -3 "$work/tight.err")"
  fi

  # 3. The RTL and the golden model compute the same arithmetic: the same losses bit for bit.
  if run_json_pass "chip: 2 steps on $model" "$work/m2.json" \
       $S train "${tiny[@]}" --steps 2 --eval-every 2 --device "$model" --json --out "$work/m2" &&
     run_json_pass "chip: 2 steps on $rtl" "$work/r2.json" \
       $S train "${tiny[@]}" --steps 2 --eval-every 2 --device "$rtl" --json --out "$work/r2"; then
    [[ $(py "$work/m2.json" 'repr(r["train_loss"]) + repr(r["val_loss"])') == "$(py "$work/r2.json" 'repr(r["train_loss"]) + repr(r["val_loss"])')" ]] &&
      pass "RTL and golden model: the same losses bit for bit ($(py "$work/r2.json" 'r["train_loss"]'), validation $(py "$work/r2.json" 'r["val_loss"]')); cycles RTL $(py "$work/r2.json" 'r["cycles"]'), model $(py "$work/m2.json" 'r["cycles"]')" ||
      fail "RTL $(py "$work/r2.json" 'r["train_loss"]') vs model $(py "$work/m2.json" 'r["train_loss"]')"
  fi

  # 4. Kill and resume on the chip: a run of 8 steps checkpointing every step, killed with SIGKILL
  # after its second step and resumed, repeats the uninterrupted run's losses bit for bit.
  local eight=("${tiny[@]}" --steps 8 --eval-every 8 --ckpt-every 1 --device "$model")
  if run_json_pass "chip: uninterrupted 8-step run" "$work/full.json" $S train "${eight[@]}" --json --out "$work/full"; then
    local dir="$work/killed"
    $S train "${eight[@]}" --json --out "$dir" >"$work/killed.out" 2>"$work/killed.err" &
    local pid=$! rows=0
    for _ in $(seq 1000); do
      rows=$(($( { wc -l <"$dir/metrics.csv"; } 2>/dev/null || echo 1) - 1))
      [[ $rows -ge 2 ]] && break
      sleep 0.02
    done
    kill -KILL "$pid" 2>/dev/null
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    local at
    at=$(python3 -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1],"rb").read(), 96)[0])' "$dir/checkpoint.bin" 2>/dev/null || echo none)
    if [[ $status -ne 0 && $at != none && $at -ge 1 && $at -lt 8 ]]; then
      pass "SIGKILL after $rows steps: checkpoint at step $at"
      if run_json_pass "chip: resume from step $at" "$work/resumed.json" \
           $S train --resume "$dir/checkpoint.bin" --device "$model" --json; then
        [[ $(py "$work/full.json" 'r["train_loss"]['"$at"':]') == "$(py "$work/resumed.json" 'r["train_loss"]')" &&
           $(py "$work/full.json" 'r["val_loss"]') == "$(py "$work/resumed.json" 'r["val_loss"]')" ]] &&
          pass "steps $((at + 1))..8 after resume equal the uninterrupted run's bit for bit (validation $(py "$work/resumed.json" 'r["val_loss"]'))" ||
          fail "losses after resume differ: $(py "$work/resumed.json" 'r["train_loss"]') vs $(py "$work/full.json" 'r["train_loss"]')"
        # The checkpoint carries the run's counters: metrics.csv continues with the same cycles
        # and DRAM bytes, and the totals are the uninterrupted run's.
        cmp -s <(cut -d, -f1-6 "$work/full/metrics.csv") <(cut -d, -f1-6 "$dir/metrics.csv") &&
          [[ $(py "$work/full.json" 'r["cycles"], r["dram_bytes"]') == "$(py "$work/resumed.json" 'r["cycles"], r["dram_bytes"]')" ]] &&
          pass "metrics.csv continued in place with the same cumulative cycles and DRAM bytes ($(py "$work/resumed.json" 'r["cycles"]') cycles in all)" ||
          fail "metrics after resume: $(diff <(cut -d, -f1-6 "$work/full/metrics.csv") <(cut -d, -f1-6 "$dir/metrics.csv") | head -5)"
      fi
    else
      fail "SIGKILL: exit $status, checkpoint at '$at': $(tail -2 "$work/killed.err")"
    fi
    # Sampling on the chip: the prompt, then the bytes; the same seed prints the same text.
    if $S sample --ckpt "$work/full/checkpoint.bin" --device "$model" --prompt "And" --tokens 12 \
         --seed 3 >"$work/s1" 2>"$work/err" &&
       $S sample --ckpt "$work/full/checkpoint.bin" --device "$model" --prompt "And" --tokens 12 \
         --seed 3 >"$work/s2" 2>>"$work/err"; then
      [[ $(head -c 3 "$work/s1") == "And" && $(wc -c <"$work/s1") -ge 16 ]] && cmp -s "$work/s1" "$work/s2" &&
        pass "sample on the chip: prompt + 12 bytes, deterministic: $(head -c 40 "$work/s1" | tr '\n' '|')" ||
        fail "sample output: $(cat "$work/s1" "$work/s2")"
    else
      fail "sample on the chip failed: $(cat "$work/err")"
    fi
  fi

  # 5. A device that cannot be reached: a clear message, exit 1, nothing on stdout.
  local status=0
  $S train "${tiny[@]}" --steps 2 --device tcp:127.0.0.1:1 --json >"$work/out" 2>"$work/err" || status=$?
  [[ $status -eq 1 && ! -s "$work/out" ]] && grep -q "device 'tcp:127.0.0.1:1'" "$work/err" &&
    pass "unreachable device (exit 1: $(head -1 "$work/err"))" ||
    fail "unreachable device: exit $status: $(cat "$work/err")"
}

if [[ "${1:-}" == "--train-chip-e2e" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  # shellcheck source=/dev/null
  source tests/lib/e2e.sh
  e2e_run train_chip_e2e
  exit $?
fi

if [[ "${1:-}" == "--train-cli-e2e" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  # shellcheck source=/dev/null
  source tests/lib/e2e.sh
  e2e_run train_cli_e2e
  exit $?
fi

TRAIN_VALGRIND="CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all"

case "$suite" in
  quick)
    run_test unit-train-layers         "$TBIN/test_train_layers"
    run_test unit-train-data           "$TBIN/test_train_data"
    run_test unit-train-ckpt           "$TBIN/test_train_ckpt"
    run_test unit-train-chip           "$TBIN/test_train_chip"
    run_test unit-train-data-valgrind  "$TRAIN_VALGRIND $TBIN/test_train_data"
    run_test unit-train-ckpt-valgrind  "$TRAIN_VALGRIND $TBIN/test_train_ckpt"
    run_test unit-train-chip-valgrind  "$TRAIN_VALGRIND $TBIN/test_train_chip"
    run_test train-cli                 "bash tests/list.d/train.sh --train-cli-e2e"
    run_test train-chip                "bash tests/list.d/train.sh --train-chip-e2e"
    ;;
esac
