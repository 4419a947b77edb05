# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154,SC2015
# (SC2154: $suite, $BIN and $TBIN come from tests/run.sh, $work from e2e_run in
# tests/lib/e2e.sh; SC2015: `CHECK && pass ... || fail ...` is meant: pass always succeeds.)
#
# Execution modes and the KBK-vs-DF study (issue 7; docs/training.md "Execution modes",
# docs/results.md "Execution-mode study"), end to end on sparrow-sim's golden model, configuration
# S: `sparrow bench --study` on a shrunken micro model (six one-step runs, a few seconds): the JSON
# object and its six rows with every field, the speedup and Amdahl figures recomputed from the rows,
# the bit-identity verdicts, the files (CSV with a header and six rows, Markdown, a PNG) and their
# agreement with the JSON; bad presets, devices, options and output folders refused clearly with
# nothing written; `sparrow train --mode` (bad values refused, df gives the same losses as kbk,
# the JSON's mode, pcu_util and dram_busy) and `sparrow sample --mode`.
# Sourced by tests/run.sh with $suite set; run as `bash tests/list.d/study.sh --study-e2e` it is the
# end-to-end test itself.

study_e2e() {
  local S=build/bin/sparrow
  local model="sim:model,config=S"
  local small=(--preset micro --width 32 --heads 2 --context 16 --batch 2)

  # 1. The study: six configurations, every field, the figures consistent with each other.
  local out="$work/study"
  if run_json_pass "bench --study ${small[*]} --device $model --json" "$work/study.json" \
       $S bench --study "${small[@]}" --device "$model" --out "$out" --json; then
    python3 - "$work/study.json" <<'PY' && pass "JSON: 6 rows (sparsity x mode) with every field; dense kbk speedup exactly 1; speedups, utilization, DRAM-busy and Amdahl figures recomputed from the counters; cycles_by_op sums to cycles" || fail "JSON content: $(cat "$work/study.json")"
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["preset"] == "micro" and r["device"] == "sim:model,config=S" and r["config"] == "S", r
assert r["steps"] == 1 and r["model"]["width"] == 32 and r["model"]["context"] == 16, r
rows = r["rows"]
assert [(x["sparsity"], x["mode"]) for x in rows] == [
    (0, "kbk"), (0, "df"), (0.75, "kbk"), (0.75, "df"), (0.875, "kbk"), (0.875, "df")], rows
fields = ["sparsity", "mode", "cycles", "dram_bytes", "pcu_util", "dram_busy", "speedup", "loss",
          "cycles_by_op", "amdahl_at_density"]
kinds = ["embedding", "layernorm", "linear", "bias", "attention", "gelu", "residual", "lm_head",
         "loss", "optimizer", "section"]
dense = rows[0]
assert dense["speedup"] == 1, dense
C, L = dense["cycles"], dense["cycles_by_op"]["linear"]
assert 0 < L < C
assert abs(r["amdahl_bound"] - C / (C - L)) < 1e-5, (r["amdahl_bound"], C, L)
for x in rows:
    for f in fields:
        assert f in x, (f, x)
    assert x["cycles"] > 0 and x["dram_bytes"] > 0 and math.isfinite(x["loss"]) and x["loss"] > 0, x
    assert sorted(x["cycles_by_op"]) == sorted(kinds) and sum(x["cycles_by_op"].values()) == x["cycles"], x
    assert sum(x["dram_bytes_by_op"].values()) == x["dram_bytes"], x
    assert 0 < x["pcu_util"] <= 1 and 0 < x["dram_busy"] <= 1, x
    # Exact recomputations (the JSON prints 6 decimals).
    assert abs(x["pcu_util"] - x["pcu_busy_cycles"] / (r["tiles"] * x["cycles"])) < 1e-6, x
    assert x["dram_busy_cycles"] == -(-x["dram_bytes"] // r["dram_bw"]), x
    assert abs(x["dram_busy"] - x["dram_busy_cycles"] / x["cycles"]) < 1e-6, x
    assert abs(x["speedup"] - C / x["cycles"]) < 1e-6, x
    s = x["sparsity"]
    assert abs(x["amdahl_at_density"] - C / (C - L + L * (1 - s))) < 1e-6, x
# DF runs its sections (and only DF): fewer DRAM bytes than KBK at every sparsity.
for k in (0, 2, 4):
    kbk, df = rows[k], rows[k + 1]
    assert kbk["cycles_by_op"]["section"] == 0 and df["cycles_by_op"]["section"] > 0, (kbk, df)
    assert df["dram_bytes"] < kbk["dram_bytes"], (kbk, df)
# The sparse steps are shorter, their linear layers cheaper.
for k in (2, 4):
    assert rows[k]["cycles"] < C and rows[k]["cycles_by_op"]["linear"] < L, rows[k]
PY
    [[ $(py "$work/study.json" 'r["identical"] == {"0": True, "0.75": True, "0.875": True} and all(r["rows"][i]["loss"] == r["rows"][i + 1]["loss"] for i in (0, 2, 4))') == True ]] &&
      pass "bit identity: kbk = df at every sparsity (losses $(py "$work/study.json" '[x["loss"] for x in r["rows"][::2]]'))" ||
      fail "identity: $(py "$work/study.json" 'r["identical"]')"
    # The targets, each met or missed.
    [[ $(py "$work/study.json" 'len(r["targets"]) == 3 and all(t["status"] in ("met", "missed") for t in r["targets"])') == True ]] &&
      pass "targets: $(py "$work/study.json" '[t["name"] + ": " + t["status"] for t in r["targets"]]')" ||
      fail "targets: $(py "$work/study.json" 'r["targets"]')"
    # The files: CSV (header + 6 rows, the same figures as the JSON), Markdown, PNG; no leftovers.
    python3 - "$work/study.json" "$out/study.csv" <<'PY' && pass "study.csv: header and 6 rows, the JSON's figures" || fail "study.csv: $(cat "$out/study.csv")"
import csv, json, sys
r = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
assert len(lines) == 7, len(lines)
rows = list(csv.DictReader(lines))
for c, j in zip(rows, r["rows"]):
    assert float(c["sparsity"]) == j["sparsity"] and c["mode"] == j["mode"], (c, j)
    assert int(c["cycles"]) == j["cycles"] and int(c["dram_bytes"]) == j["dram_bytes"], (c, j)
    assert int(c["cycles_linear"]) == j["cycles_by_op"]["linear"], (c, j)
    assert float(c["loss"]) == j["loss"], (c, j)
PY
    [[ -s "$out/study.md" ]] && grep -q "^| 0.875 | df | $(py "$work/study.json" 'r["rows"][5]["cycles"]') |" "$out/study.md" &&
      grep -q "Sparse 0.875 DF against dense KBK" "$out/study.md" && grep -q "memory-bound" "$out/study.md" &&
      pass "study.md: the table and the three targets" || fail "study.md: $(cat "$out/study.md")"
    [[ $(head -c 4 "$out/study.png" | od -An -c | tr -d ' ') == '211PNG' ]] &&
      pass "study.png is a PNG ($(wc -c <"$out/study.png") bytes)" || fail "study.png missing or not a PNG"
    [[ -z $(find "$out" -name '.*') ]] && pass "no temporary files left" || fail "leftovers: $(ls -A "$out")"
    # The same study again: the same simulated counters and losses (the JSON minus wall times).
    if run_json_pass "the study again, same seed" "$work/again.json" \
         $S bench --study "${small[@]}" --device "$model" --out "$work/again" --json; then
      strip='[{k: v for k, v in x.items() if k != "wall_s"} for x in r["rows"]]'
      [[ $(py "$work/study.json" "$strip") == "$(py "$work/again.json" "$strip")" ]] &&
        pass "repeatable: the same cycles, bytes and losses" || fail "a second study differs"
    fi
    # Without --json: the table on stdout.
    local status=0
    $S bench --study "${small[@]}" --device "$model" --out "$work/table" >"$work/table.txt" 2>"$work/table.err" || status=$?
    [[ $status -eq 0 ]] && grep -q "^0.875 *df " "$work/table.txt" && grep -q "^Amdahl bound" "$work/table.txt" &&
      [[ $(grep -c "^sparrow: study \[" "$work/table.err") -eq 6 ]] &&
      pass "table on stdout, one progress line per configuration on stderr" ||
      { fail "table: exit $status"; sed 's/^/     /' "$work/table.txt" "$work/table.err"; }
  fi

  # 2. Bad input: a clear message, nothing on stdout, no output folder.
  touch "$work/file"
  expect "--preset huge"         2 "unknown preset 'huge'" -- $S bench --study --preset huge --device "$model" --out "$work/bad1" --json
  expect "--device bogus"        2 "device 'bogus' is neither ref" -- $S bench --study --device bogus --out "$work/bad2" --json
  expect "--device config=X"     2 "expected config=S or config=M" -- $S bench --study --device sim:model,config=X --out "$work/bad3" --json
  expect "--device ref"          2 "the CPU reference .* has none" -- $S bench --study --device ref --out "$work/bad4" --json
  expect "unreachable device"    1 "cannot open device 'tcp:127.0.0.1:1'" -- $S bench --study --device tcp:127.0.0.1:1 --out "$work/bad5" --json
  expect "unknown option"        2 "unknown option '--quick'" -- $S bench --study --quick --device "$model" --out "$work/bad6"
  expect "--out under a file"    1 "cannot create the output folder" -- $S bench --study "${small[@]}" --device "$model" --out "$work/file/sub" --json
  expect "--out is a file"       1 "cannot create the output folder .*Not a directory" -- $S bench --study "${small[@]}" --device "$model" --out "$work/file" --json
  expect "--out without a value" 2 "--out needs a value" -- $S bench --study --device "$model" --out
  [[ -z $(ls -d "$work"/bad* 2>/dev/null) ]] && pass "nothing written for bad input" || fail "written: $(ls -d "$work"/bad*)"

  # 3. sparrow train --mode: df gives exactly kbk's losses (the KBK = DF check of a 2-step run);
  # the JSON reports the mode and the utilization figures; bad values are refused.
  local two=(--preset micro --steps 2 --val-batches 1 --device "$model" --json)
  if run_json_pass "train --mode kbk" "$work/kbk.json" $S train "${two[@]}" --mode kbk --out "$work/kbk" &&
     run_json_pass "train --mode df" "$work/df.json" $S train "${two[@]}" --mode df --out "$work/df"; then
    [[ $(py "$work/kbk.json" 'r["train_loss"], r["val_loss"]') == "$(py "$work/df.json" 'r["train_loss"], r["val_loss"]')" &&
       $(py "$work/kbk.json" 'r["mode"]') == kbk && $(py "$work/df.json" 'r["mode"]') == df ]] &&
      pass "train --mode df: the same losses as kbk bit for bit ($(py "$work/df.json" 'r["train_loss"]'), validation $(py "$work/df.json" 'r["val_loss"]'))" ||
      fail "kbk $(py "$work/kbk.json" 'r["train_loss"]') vs df $(py "$work/df.json" 'r["train_loss"]')"
    [[ $(py "$work/kbk.json" '0 < r["pcu_util"] <= 1 and 0 < r["dram_busy"] <= 1') == True ]] &&
      pass "train JSON: pcu_util $(py "$work/kbk.json" 'r["pcu_util"]'), dram_busy $(py "$work/kbk.json" 'r["dram_busy"]')" ||
      fail "train JSON utilization: $(cat "$work/kbk.json")"
    [[ $(head -1 "$work/df/metrics.csv") == "step,train_loss,val_loss,lr,cycles,dram_bytes,wall_s" ]] &&
      pass "metrics.csv unchanged" || fail "metrics.csv header: $(head -1 "$work/df/metrics.csv")"
    # The mode is not part of the run: a kbk checkpoint resumes in df.
    if run_json_pass "resume a kbk checkpoint with --mode df" "$work/resumed.json" \
         $S train --resume "$work/kbk/checkpoint.bin" --steps 3 --mode df --device "$model" --json; then
      [[ $(py "$work/resumed.json" 'r["mode"] == "df" and r["first_step"] == 3 and len(r["train_loss"]) == 1') == True ]] &&
        pass "resumed in df mode at step 3 (loss $(py "$work/resumed.json" 'r["train_loss"]'))" ||
        fail "resume in df: $(cat "$work/resumed.json")"
    fi
    # sample --mode: the same text in either mode.
    if $S sample --ckpt "$work/kbk/checkpoint.bin" --device "$model" --mode kbk --tokens 8 --seed 2 >"$work/s1" 2>"$work/err" &&
       $S sample --ckpt "$work/kbk/checkpoint.bin" --device "$model" --mode df --tokens 8 --seed 2 >"$work/s2" 2>>"$work/err"; then
      cmp -s "$work/s1" "$work/s2" && pass "sample --mode df prints kbk's text: $(head -c 20 "$work/s1" | tr '\n' '|')" ||
        fail "sample: $(cat "$work/s1" "$work/s2")"
    else
      fail "sample --mode: $(cat "$work/err")"
    fi
  fi
  # 4. The RTL fabric in df mode gives the golden model's kbk losses bit for bit (a shrunken micro
  # model, sparse, two steps: every section of the plan runs on the RTL).
  local rtl_two=("${small[@]}" --sparsity 0.875 --steps 2 --val-batches 1 --json)
  if run_json_pass "train --mode df on the RTL" "$work/rtl_df.json" \
       $S train "${rtl_two[@]}" --device sim:rtl,config=S --mode df --out "$work/rtl_df" &&
     run_json_pass "train --mode kbk on the model" "$work/model_kbk.json" \
       $S train "${rtl_two[@]}" --device "$model" --mode kbk --out "$work/model_kbk"; then
    [[ $(py "$work/rtl_df.json" 'r["train_loss"], r["val_loss"]') == "$(py "$work/model_kbk.json" 'r["train_loss"], r["val_loss"]')" &&
       $(py "$work/rtl_df.json" 'r["cycles_by_op"]["section"] > 0') == True ]] &&
      pass "RTL df = model kbk bit for bit ($(py "$work/rtl_df.json" 'r["train_loss"]'); RTL sections $(py "$work/rtl_df.json" 'r["cycles_by_op"]["section"]') cycles)" ||
      fail "RTL df $(py "$work/rtl_df.json" 'r["train_loss"]') vs model kbk $(py "$work/model_kbk.json" 'r["train_loss"]')"
  fi

  expect "train --mode bogus"    2 "--mode: mode 'bogus' is neither kbk .* nor df" -- $S train --mode bogus --device ref --json
  expect "train --mode DF"       2 "--mode: mode 'DF' is neither kbk" -- $S train --mode DF --device ref --json
  expect "train --mode, no value" 2 "--mode needs a value" -- $S train --device ref --json --mode
  expect "sample --mode bogus"   2 "--mode: mode 'bogus'" -- $S sample --ckpt "$work/none.bin" --mode bogus
}

if [[ "${1:-}" == "--study-e2e" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  # shellcheck source=/dev/null
  source tests/lib/e2e.sh
  e2e_run study_e2e
  exit $?
fi

case "$suite" in
  quick)
    run_test study                     "bash tests/list.d/study.sh --study-e2e"
    ;;
  long)
    # The full micro model on the RTL, configuration M, one sparse step in DF mode: the golden
    # model's KBK losses bit for bit (a few minutes).
    run_test study-rtl-m-df \
      "m=\$(mktemp -d) && trap 'rm -rf \$m' EXIT && \
       $BIN/sparrow train --preset micro --sparsity 0.875 --steps 1 --val-batches 1 --mode df --device sim --out \$m/rtl --json >\$m/rtl.json && \
       $BIN/sparrow train --preset micro --sparsity 0.875 --steps 1 --val-batches 1 --mode kbk --device sim:model --out \$m/model --json >\$m/model.json && \
       python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); print(a[\"train_loss\"], a[\"val_loss\"], a[\"cycles_by_op\"][\"section\"]); \
                   assert (a[\"train_loss\"], a[\"val_loss\"]) == (b[\"train_loss\"], b[\"val_loss\"]) and a[\"cycles_by_op\"][\"section\"] > 0' \$m/rtl.json \$m/model.json"
    ;;
esac
