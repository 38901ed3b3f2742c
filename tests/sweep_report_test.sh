#!/usr/bin/env bash
# `gorl sweep` and `gorl report` end to end, on two small real twin-peaks
# runs (Gaussian PPO and a 2-stage GoRL-FM, in process): the sweep is
# interrupted (SIGINT) once its first run has checkpointed, rerun, and must
# resume that run rather than restart it (and keep its own configuration
# when only the preset changed under it); then the report it writes must
# hold real PNGs and a table equal to the runs' own final evaluations.
# Every wait is on files the runs write, bounded by a deadline.
# Usage: tests/sweep_report_test.sh path/to/gorl
set -u
gorl="$1"
python=${GORL_PYTHON:-/usr/bin/python3}
# shellcheck source=tests/check.sh
source "$(dirname "$0")/check.sh"
tmp=$(mktemp -d); trap 'kill "${sweep_pid:-}" "${fork_pid:-}" 2>/dev/null; rm -rf "$tmp"' EXIT
# wait_for SECONDS CONDITION-COMMAND...: polls the condition; 1 at the deadline.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

sweep_dir="$tmp/sweep"
# ~150k env steps per run: long enough that the interrupt lands mid-run
# after 3 of its ~60 updates, short enough for CI.
sweep=("$gorl" sweep --dir "$sweep_dir" --tasks twin-peaks --algos ppo,gorl-fm --seeds 0
  --in_process
  total_env_steps=150000 stages.fractions=0.5,0.5 checkpoint_every_iterations=2
  learner_threads=1 rollout.num_envs=32 rollout.unroll_length=20 ppo.batch_size=32
  ppo.num_minibatches=4 ppo.updates_per_batch=2 encoder.critic_hidden=64,64
  eval.episodes=8 eval.every_env_steps=50000 refine.num_pairs=4000 refine.collect_envs=32
  refine.epochs=2 refine.batch_size=512 refine.fidelity_states=16 refine.fidelity_samples=16)
first="$sweep_dir/twin-peaks-ppo-s0"
second="$sweep_dir/twin-peaks-gorl-fm-s0"

updates_in() {  # update rows in RUN_DIR's metrics.jsonl (0 when none)
  local n
  n=$(grep -c '"event": "update"' "$1/metrics.jsonl" 2>/dev/null) || true
  echo "${n:-0}"
}
has_updates() { [ "$(updates_in "$first")" -ge "$1" ]; }

"${sweep[@]}" > "$tmp/sweep1.out" 2> "$tmp/sweep1.err" &
sweep_pid=$!
check "the first run checkpoints and updates" wait_for 300 has_updates 3
kill -INT "$sweep_pid"
wait "$sweep_pid"; code=$?
sweep_pid=
check "an interrupted sweep exits 130 (got $code)" test "$code" -eq 130
check "the interrupted run left a checkpoint" test -f "$first/checkpoint.pb"
check "the interrupted run did not finish" test ! -f "$first/final_eval.json"
check "the second run did not start" test ! -f "$second/metrics.jsonl"
head -n 1 "$first/metrics.jsonl" > "$tmp/first_row"
stopped_at=$(updates_in "$first")

# A changed grid setting is another sweep: refused, nothing touched.
"${sweep[@]}" ppo.entropy_cost=0.5 > /dev/null 2> "$tmp/mismatch.err"; code=$?
check "a sweep with another configuration is refused (exit 2, got $code)" test "$code" -eq 2
check "the refusal names the run directory" grep -q "twin-peaks-ppo-s0 holds a run of another configuration" "$tmp/mismatch.err"
check "the refused sweep left the run as it was" test "$(updates_in "$first")" -eq "$stopped_at"

# A newer gorl whose preset changed under an unchanged command: the run
# continues with its own configuration. The drift is made by forking the
# stopped run with one setting the command does not set (ppo.entropy_cost),
# as an older preset would have given it.
check "the sweep recorded the command it started the run with" grep -q '"overrides": "total_env_steps=150000' "$first/sweep_cell.json"
mv "$first" "$tmp/before_drift"
"$gorl" train --fork "$tmp/before_drift" --run_dir "$first" --in_process ppo.entropy_cost=0.0123 \
  > /dev/null 2> "$tmp/fork.err" &
fork_pid=$!
forked() { grep -q '"event": "fork"' "$first/metrics.jsonl" 2>/dev/null && [ -f "$first/checkpoint.pb" ]; }
check "the drifted copy of the run is written" wait_for 120 forked
kill -INT "$fork_pid"; wait "$fork_pid"
"${sweep[@]}" > /dev/null 2> "$tmp/unrecorded.err"; code=$?
check "a drifted run the sweep has no record of is refused (exit 2, got $code)" test "$code" -eq 2
check "... with the command that continues it" grep -q "continue the run alone with \`gorl train --resume $first\`" "$tmp/unrecorded.err"
cp "$tmp/before_drift/sweep_cell.json" "$first/"

# A rebuild during a sweep writes a new file at the binary's path; the
# sweep's later runs must still run the binary the sweep started as. The
# rerun runs from a copy, which is replaced, once the first run has resumed,
# by a wrapper that leaves a mark when asked to train.
cp "$gorl" "$tmp/gorl"
resumes_before=$(grep -c '"event": "resume"' "$first/metrics.jsonl")  # the fork wrote one
"$tmp/gorl" "${sweep[@]:1}" > "$tmp/sweep2.out" 2> "$tmp/sweep2.err" &
sweep_pid=$!
resumed() { [ "$(grep -c '"event": "resume"' "$first/metrics.jsonl")" -gt "$resumes_before" ]; }
check "the rerun resumes the first run" wait_for 300 resumed
printf '#!/bin/sh\n[ "$1" = train ] && touch "%s"\nexec "%s" "$@"\n' "$tmp/rebuilt_trained" "$gorl" \
  > "$tmp/gorl.rebuilt"
chmod +x "$tmp/gorl.rebuilt"
mv -f "$tmp/gorl.rebuilt" "$tmp/gorl"
check "... and the binary was replaced before the second run started" test ! -f "$second/metrics.jsonl"
wait "$sweep_pid"; code=$?
sweep_pid=
check "the rerun finishes the sweep (exit 0, got $code)" test "$code" -eq 0
check "the run started after the rebuild ran the binary the sweep started as" test ! -f "$tmp/rebuilt_trained"
check "the rerun names what the preset changed" grep -q "twin-peaks-ppo-s0: the local preset has changed since this run started (saved -> now: ppo.entropy_cost: 0.0123 -> " "$tmp/sweep2.err"
check "the drifted run kept its own configuration" grep -q "entropy_cost: 0.0123" "$first/config.textproto"
check "both runs finished" test -f "$first/final_eval.json" -a -f "$second/final_eval.json"
check "the interrupted run was resumed, not restarted" grep -q '"event": "resume"' "$first/metrics.jsonl"
resumes=$(grep -c '"event": "resume"' "$first/metrics.jsonl")
check "its first rows were kept" test "$(head -n 1 "$first/metrics.jsonl")" = "$(cat "$tmp/first_row")"
reached_total() {  # within two iterations of 150k (each stage rounds to whole iterations)
  "$python" -c 'import json, sys; sys.exit(abs(json.load(open(sys.argv[1]))["env_steps"] - 150000) > 5120)' "$1"
}
check "the finished run reached its total" reached_total "$first/final_eval.json"

"${sweep[@]}" --no_report > /dev/null 2> "$tmp/sweep3.err"; code=$?
check "a finished sweep reruns as a no-op (exit 0)" test "$code" -eq 0
check "... starting nothing" test "$(grep -c '"event": "resume"' "$first/metrics.jsonl")" -eq "$resumes"

# The report the sweep wrote at its end.
report="$sweep_dir/report"
png_ok() {  # png_ok FILE: PNG signature, IHDR width and height in 200..4000
  "$python" - "$1" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read(32)
ok = data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
w, h = struct.unpack(">II", data[16:24]) if ok else (0, 0)
sys.exit(0 if ok and 200 <= w <= 4000 and 200 <= h <= 4000 else 1)
EOF
}
for png in curves_steps.png curves_wall.png fidelity.png densities_twin-peaks_gorl-fm.png; do
  check "the report has $png, a real PNG" png_ok "$report/$png"
  check "$png is under 300 KB" test "$(stat -c %s "$report/$png" 2>/dev/null || echo 999999)" -lt 307200
done
table_matches() {  # the table's mean for ALGO equals the run's final_eval.json
  "$python" - "$report/summary.json" "$1" "$2" <<'EOF'
import json, sys
summary, algo, final = json.load(open(sys.argv[1])), sys.argv[2], json.load(open(sys.argv[3]))
rows = [r for r in summary["table"] if r["algo"] == algo and r["task"] == "twin-peaks"]
sys.exit(0 if len(rows) == 1 and abs(rows[0]["mean"] - final["return_mean"]) < 1e-6 else 1)
EOF
}
check "the table's PPO return is the run's final evaluation" table_matches ppo "$first/final_eval.json"
check "the table's GoRL-FM return is the run's final evaluation" table_matches gorl-fm "$second/final_eval.json"
check "summary.md has the results table" grep -q '| twin-peaks | gorl-fm |' "$report/summary.md"
wall_ratio_matches() {  # GoRL-FM's wall / PPO's, from the two final_eval.json files
  "$python" - "$report/summary.json" "$first/final_eval.json" "$second/final_eval.json" <<'EOF'
import json, sys
table = json.load(open(sys.argv[1]))["table"]
ppo, fm = (json.load(open(p))["wall_seconds"] for p in sys.argv[2:])
row = next(r for r in table if r["algo"] == "gorl-fm")
sys.exit(0 if abs(row["wall_vs_ppo"] - fm / ppo) < 1e-9 else 1)
EOF
}
check "the table's wall / PPO's is the runs' own wall-clock ratio" wall_ratio_matches
builds_match() {  # every run names the one build that ran all its sessions
  "$python" - "$report/summary.json" "$("$gorl" --version)" <<'EOF'
import json, sys
runs, version = json.load(open(sys.argv[1]))["runs"], sys.argv[2].removeprefix("gorl ")
sys.exit(0 if len(runs) == 2 and all(r["gorl_builds"] == [version] for r in runs) else 1)
EOF
}
check "the report names the build that ran each run" builds_match
check "... in summary.md too" grep -q "gorl \`$("$gorl" --version | cut -d' ' -f2)\`" "$report/summary.md"
tally_matches() {  # the fidelity tally counts the GoRL-FM run's refine rows and their ratios
  "$python" - "$report/summary.json" "$second/metrics.jsonl" <<'EOF'
import json, sys
tally = json.load(open(sys.argv[1]))["fidelity_goal"]
rows = [json.loads(l) for l in open(sys.argv[2]) if '"event": "refine"' in l]
ratios = [r["refined_stochastic_return"] / r["collecting_stochastic_return"] for r in rows]
sys.exit(0 if len(tally) == 1 and tally[0]["boundaries"] == len(rows) == 1 and
         tally[0]["at_goal"] == sum(x >= 0.95 for x in ratios) else 1)
EOF
}
check "the fidelity tally counts the run's boundaries and those at the goal" tally_matches
interval_matches() {  # the ratio's 95% interval, from the refine row's means and spreads
  "$python" - "$report/summary.json" "$second/metrics.jsonl" <<'EOF'
import json, math, sys
run = next(r for r in json.load(open(sys.argv[1]))["runs"] if r["algo"] == "gorl-fm")
row = next(json.loads(l) for l in open(sys.argv[2]) if '"event": "refine"' in l)
c, r = row["collecting_stochastic_return"], row["refined_stochastic_return"]
sc, sr, n = (row["collecting_stochastic_return_std"], row["refined_stochastic_return_std"],
             row["fidelity_eval_episodes"])
half = 1.96 * math.sqrt(sr**2 / c**2 + r**2 * sc**2 / c**4) / math.sqrt(n)
lo, hi = run["boundaries"][0]["ratio_ci95"]
sys.exit(0 if sc > 0 and sr > 0 and abs(lo - (r / c - half)) < 1e-9 and abs(hi - (r / c + half)) < 1e-9
         else 1)
EOF
}
check "each boundary has its ratio's 95% interval from the logged spreads" interval_matches

# The archive keeps what the report reads, without checkpoints, and the report
# reads it as it reads the runs.
archive_runs=("$python" "$(dirname "$0")/../tools/report/archive_runs.py")
archive="$tmp/archive"
"${archive_runs[@]}" --policies "$archive" "$sweep_dir" > /dev/null 2> "$tmp/archive.err"; code=$?
check "archiving the sweep succeeds (got $code)" test "$code" -eq 0
check "... names the sweep's report directory as no run" grep -q "archive_runs.py: skipping $report: " "$tmp/archive.err"
check "the archive keeps the gzipped metrics and the policies" \
  test -f "$archive/twin-peaks-gorl-fm-s0/metrics.jsonl.gz" -a -f "$archive/twin-peaks-gorl-fm-s0/policy_stage1.pb"
check "... and no checkpoint" test -z "$(find "$archive" -name 'checkpoint*')"
"$gorl" report "$archive" --out "$tmp/report-archive" --densities 0 > /dev/null 2>&1; code=$?
check "a report over the archive succeeds (got $code)" test "$code" -eq 0
report_tables_equal() {
  "$python" -c 'import json, sys
a, b = (json.load(open(p))["table"] for p in sys.argv[1:])
sys.exit(0 if a == b and len(a) == 2 else 1)' "$report/summary.json" "$tmp/report-archive/summary.json"
}
check "... with the same table as the report over the runs" report_tables_equal
tree_digest() { (cd "$archive" && find . -type f | sort | xargs sha256sum); }
before=$(tree_digest)
"${archive_runs[@]}" --policies "$archive" "$sweep_dir" > /dev/null 2>&1
check "archiving the same runs again changes no byte" test "$(tree_digest)" = "$before"
echo "seed: 7" >> "$archive/twin-peaks-ppo-s0/config.textproto"  # seed 0 has no line
before=$(tree_digest)
"${archive_runs[@]}" "$archive" "$first" > /dev/null 2> "$tmp/conflict.err"; code=$?
check "a run of another configuration under the same name is refused (exit 1, got $code)" test "$code" -eq 1
check "... naming the archived run" grep -q "$archive/twin-peaks-ppo-s0 holds a run of another configuration" "$tmp/conflict.err"
check "... and leaving it as it was" test "$(tree_digest)" = "$before"
damaged="$tmp/damaged-archive/twin-peaks-gorl-fm-s0"
mkdir -p "$damaged" && cp "$archive/twin-peaks-gorl-fm-s0/config.textproto" "$damaged/"
head -c 300 "$archive/twin-peaks-gorl-fm-s0/metrics.jsonl.gz" > "$damaged/metrics.jsonl.gz"
"$gorl" report "$first" "$damaged" --out "$tmp/report-damaged" --densities 0 > /dev/null 2> "$tmp/damaged.err"
code=$?
check "a truncated archived metrics file does not stop the report (got $code)" test "$code" -eq 0
check "... which names it" grep -q "skipping $damaged: metrics.jsonl unreadable" "$tmp/damaged.err"

# Two PPO seeds whose configs differ only in a section PPO never reads (a preset
# that gained a decoder field between them) are one experiment of two seeds;
# a difference PPO reads makes two.
other_seed="$tmp/twin-peaks-ppo-s1"
cp -r "$first" "$other_seed"
sed -i '/^seed:/d; s/^\(  steps: \)[0-9]*/\17/' "$other_seed/config.textproto"
echo "seed: 1" >> "$other_seed/config.textproto"
seeds_of() {  # seeds_of ALGO DIR...: prints "n:variant" of the twin-peaks ALGO rows
  local algo=$1; shift
  "$gorl" report "$@" --out "$tmp/report-seeds" --densities 0 > /dev/null 2>&1
  "$python" -c 'import json, sys
rows = [r for r in json.load(open(sys.argv[1]))["table"] if r["algo"] == sys.argv[2]]
print(" ".join("%d:%s" % (r["n_seeds"], r["variant"] or "-") for r in rows))' \
    "$tmp/report-seeds/summary.json" "$algo"
}
seeds_of_ppo() { seeds_of ppo "$@"; }
check "seeds differing only in a field PPO does not read are one experiment" \
  test "$(seeds_of_ppo "$first" "$other_seed")" = "2:-"
# GoRL-FM reads the refinement's settings, but not the episodes that only
# measure its hand-over.
other_fm="$tmp/twin-peaks-gorl-fm-s1"
cp -r "$second" "$other_fm"
sed -i '/^seed:/d; s/^\(  fidelity_samples: .*\)$/\1\n  fidelity_episodes: 64/' "$other_fm/config.textproto"
echo "seed: 1" >> "$other_fm/config.textproto"
check "the copy asks for 64 hand-over episodes" grep -q "^  fidelity_episodes: 64" "$other_fm/config.textproto"
check "... and is a second seed of the same GoRL-FM experiment" \
  test "$(seeds_of gorl-fm "$second" "$other_fm")" = "2:-"
sed -i 's/^\(  learning_rate: \).*/\10.0123/' "$other_seed/config.textproto"
check "... and a field PPO reads makes two" \
  test "$(seeds_of_ppo "$first" "$other_seed" | wc -w)" -eq 2

# A directory that is not a run is named, and the report covers the rest.
mkdir -p "$tmp/junk" && echo 'not a config' > "$tmp/junk/config.textproto"
"$gorl" report "$first" "$tmp/junk" --out "$tmp/report2" --densities 0 > /dev/null 2> "$tmp/report2.err"
code=$?
check "a report with a broken run directory still succeeds (got $code)" test "$code" -eq 0
check "... and names it" grep -q "$tmp/junk" "$tmp/report2.err"
check "... and reports the good one" png_ok "$tmp/report2/curves_steps.png"
"$gorl" report "$tmp/junk" --out "$tmp/report3" > /dev/null 2>&1; code=$?
check "a report with no usable run fails (got $code)" test "$code" -ne 0

checks_summary
