#!/usr/bin/env bash
# End-to-end checks of the `gorl` binary: catalogue, evaluation, errors.
# Usage: tests/cli_test.sh path/to/gorl   (GORL_ASSETS must point at the assets)
set -u
gorl="$1"
# shellcheck source=tests/check.sh
source "$(dirname "$0")/check.sh"
tmp=$(mktemp -d); trap 'kill "${busy_pid:-}" 2> /dev/null; rm -rf "$tmp"' EXIT

"$gorl" tasks --json > "$tmp/tasks.json"
check "tasks --json lists 19 benchmark tasks and the two twin-peaks" \
  test "$(grep -c '"name"' "$tmp/tasks.json")" -eq 21
check "tasks --json gives humanoid-run's sizes" \
  grep -q '"name": "humanoid-run", "family": "dm_control", "obs_size": 67, "action_size": 21' "$tmp/tasks.json"
"$gorl" tasks > "$tmp/tasks.txt"
check "tasks prints a table with cartpole-balance" grep -q '^cartpole-balance' "$tmp/tasks.txt"

"$gorl" eval --task cartpole-balance --policy zero --episodes 3 --seed 1 --json > "$tmp/a.json"
"$gorl" eval --task cartpole-balance --policy zero --episodes 3 --seed 1 --json > "$tmp/b.json"
strip() { sed -e 's/"seconds": [0-9.]*//' "$1"; }
check "eval is reproducible for a fixed seed" test "$(strip "$tmp/a.json")" = "$(strip "$tmp/b.json")"
check "eval reports 1000-step episodes" grep -q '"mean_length": 1000.000' "$tmp/a.json"
"$gorl" eval --task cartpole-balance --policy random --episodes 3 --seed 2 --json > "$tmp/c.json"
check "a different seed and policy give a different return" \
  test "$(strip "$tmp/a.json")" != "$(strip "$tmp/c.json")"

"$gorl" eval --task cheetah-fly > /dev/null 2> "$tmp/err"; code=$?
check "unknown task exits 2" test "$code" -eq 2
check "unknown task names the known ones" grep -q 'known tasks:.*cheetah-run' "$tmp/err"

GORL_ASSETS=/nonexistent "$gorl" eval --task walker-walk > /dev/null 2> "$tmp/err"; code=$?
check "missing assets directory exits 2" test "$code" -eq 2
check "missing assets directory is named" grep -q '/nonexistent' "$tmp/err"

"$gorl" eval --task twin-peaks --policy greedy > /dev/null 2> "$tmp/err"; code=$?
check "unknown policy exits 2" test "$code" -eq 2
# The build names itself: in a checkout, a commit of this repository
# (git describe --always --dirty).
version=$("$gorl" --version); code=$?
check "--version exits 0 (got $code)" test "$code" -eq 0
check "--version prints 'gorl VERSION' (got '$version')" test "${version#gorl }" != "$version" -a -n "${version#gorl }"
root="$(dirname "$0")/.."
if git -C "$root" rev-parse --git-dir > /dev/null 2>&1; then
  commit=${version#gorl }
  commit=${commit%-dirty}
  check "... and in a checkout it is one of its commits ($commit)" git -C "$root" cat-file -e "${commit}^{commit}"
fi
"$gorl" frobnicate > /dev/null 2>&1; code=$?
check "unknown command exits 2" test "$code" -eq 2

"$gorl" bench envs --tasks twin-peaks --seconds 0.05 --rounds 1 > "$tmp/bench.txt"; code=$?
check "bench envs runs" test "$code" -eq 0
check "bench envs prints a row per task" grep -q '^twin-peaks' "$tmp/bench.txt"
"$gorl" bench actor --tasks cartpole-balance --algos ppo,gorl-fm --batch 4 --seconds 0.05 \
  --rounds 1 --json > "$tmp/actor.json" 2> "$tmp/err"; code=$?
check "bench actor runs" test "$code" -eq 0
check "bench actor prints a row per algorithm with its ratio and cost over raw physics" /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(not ([r["algo"] for r in rows] == ["ppo", "gorl-fm"] and
              all(r["actor_steps_per_s"] > 0 and r["raw_steps_per_s"] > 0 and
                  0 < r["ratio"] < 3 and r["batch"] == 4 and
                  abs(r["us_per_step_over_raw"] - (1e6 / r["actor_steps_per_s"] -
                                                   1e6 / r["raw_steps_per_s"])) < 0.01
                  for r in rows)))' "$tmp/actor.json"
"$gorl" bench actor --tasks cartpole-balance --algos fpo > /dev/null 2>&1
check "bench actor refuses the flow baselines (exit 2)" test "$?" -eq 2
"$gorl" bench > /dev/null 2>&1; code=$?
check "bench without a benchmark name exits 2" test "$code" -eq 2
# Both drivers, 2 short iterations each (the second gives the steady rate): ~5 s.
"$gorl" bench train --task twin-peaks --iterations 2 --rounds 1 > "$tmp/train.txt" 2> "$tmp/err"
code=$?
check "bench train runs in-process and over gRPC" test "$code" -eq 0
check "bench train prints positive gRPC/in-process ratios" awk '
  /^ratio grpc\/in-process / { found = 1; ok = $3 ~ /^[0-9]+\.[0-9]+$/ && $3 > 0 && $4 ~ /^[0-9]+\.[0-9]+$/ && $4 > 0 }
  END { exit !(found && ok) }' "$tmp/train.txt"

# The command line: per-command flags and help, usage errors (exit 2).
src_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$(cd "$(dirname "$gorl")/.." && pwd)
: > "$tmp/all_output"  # every help text and usage error, checked for build paths at the end
"$gorl" train --help > "$tmp/help" 2>&1; code=$?
cat "$tmp/help" >> "$tmp/all_output"
check "train --help exits 0" test "$code" -eq 0
check "train --help shows --preset with its default" grep -q -- '--preset TEXT=local' "$tmp/help"
check "train --help shows an example" grep -q '^  gorl train --' "$tmp/help"
check "train --help lists the algorithms, baselines included" \
  grep -q 'ppo, gorl-fm, gorl-diff, or the baselines fpo and dppo' "$tmp/help"
check "train --help shows only train's flags" bash -c '! grep -q -- "--actor_envs\|--listen\|--episodes" "$0"' "$tmp/help"
for command in tasks eval train learner refiner actor certs health sample sweep report "bench envs" "bench actor" "bench train" help; do
  # shellcheck disable=SC2086  # "bench envs" is two words
  "$gorl" $command --help > "$tmp/help" 2>&1; code=$?
  cat "$tmp/help" >> "$tmp/all_output"
  check "$command --help exits 0 with usage and examples" \
    bash -c '[ "$1" -eq 0 ] && grep -q "^Usage: gorl $2 " "$0" && grep -q "^Examples:" "$0"' \
    "$tmp/help" "$code" "$command"
done
"$gorl" help train > "$tmp/help_train"; "$gorl" train --help > "$tmp/train_help"
check "help train is train --help" cmp -s "$tmp/help_train" "$tmp/train_help"

"$gorl" --help > "$tmp/help" 2>&1; code=$?
cat "$tmp/help" >> "$tmp/all_output"
check "--help exits 0" test "$code" -eq 0
check "--help lists every command" bash -c 'for c in tasks eval train learner refiner actor sample sweep report bench help; do
  grep -q "^  $c  " "$0" || exit 1; done' "$tmp/help"
"$gorl" help > "$tmp/help2"; code=$?
check "help exits 0 and prints the same list" bash -c '[ "$1" -eq 0 ] && cmp -s "$0" "$2"' \
  "$tmp/help" "$code" "$tmp/help2"
"$gorl" > "$tmp/help3" 2>&1; code=$?
check "bare gorl lists the commands and exits 2" \
  bash -c '[ "$1" -eq 2 ] && cmp -s "$0" "$2"' "$tmp/help" "$code" "$tmp/help3"

"$gorl" actor --in_process > /dev/null 2> "$tmp/err"; code=$?
cat "$tmp/err" >> "$tmp/all_output"
check "a flag of another command exits 2" test "$code" -eq 2
check "the error names the command and the flag" grep -q '^gorl actor: unknown flag --in_process' "$tmp/err"
check "the error points at the command's help" grep -q "Run 'gorl actor --help'" "$tmp/err"
"$gorl" tasks --preset local > /dev/null 2> "$tmp/err"; code=$?
cat "$tmp/err" >> "$tmp/all_output"
check "tasks --preset exits 2 naming tasks and --preset" \
  bash -c '[ "$1" -eq 2 ] && grep -q "^gorl tasks: unknown flag --preset" "$0"' "$tmp/err" "$code"
"$gorl" eval --episodes abc > /dev/null 2> "$tmp/err"; code=$?
cat "$tmp/err" >> "$tmp/all_output"
check "a malformed flag value exits 2 naming the flag" \
  bash -c '[ "$1" -eq 2 ] && grep -q "^gorl eval: .*--episodes" "$0"' "$tmp/err" "$code"
"$gorl" train --start_timeout 0 > /dev/null 2> "$tmp/err"; code=$?
cat "$tmp/err" >> "$tmp/all_output"
check "train --start_timeout 0 exits 2 naming the flag" \
  bash -c '[ "$1" -eq 2 ] && grep -q "^gorl train: --start_timeout: Value 0 not in range 1 to 86400" "$0"' "$tmp/err" "$code"
"$gorl" frobnicate > /dev/null 2> "$tmp/err"
cat "$tmp/err" >> "$tmp/all_output"
check "unknown command is named" grep -q "unknown command 'frobnicate'" "$tmp/err"
"$gorl" train not-an-override > /dev/null 2> "$tmp/err"; code=$?
check "train: a word that is not path=value exits 2" \
  bash -c '[ "$1" -eq 2 ] && grep -q "not-an-override" "$0"' "$tmp/err" "$code"
"$gorl" train --resume "$tmp/no-run" --seed 3 > /dev/null 2> "$tmp/err"; code=$?
check "train --resume with --seed exits 2" test "$code" -eq 2

# gorl config: the file a deployment mounts; the roles read it back.
"$gorl" config --preset local --task twin-peaks --algo ppo total_env_steps=4096 --out "$tmp/run.textproto"
check "config writes a config file the flags describe" \
  bash -c 'grep -q "^task: \"twin-peaks\"" "$0" && grep -q "^total_env_steps: 4096" "$0"' "$tmp/run.textproto"
"$gorl" config --config "$tmp/run.textproto" > "$tmp/again.textproto"
check "config reads its own output back unchanged" cmp -s "$tmp/run.textproto" "$tmp/again.textproto"
"$gorl" config --task cheetah-fly > /dev/null 2> "$tmp/err"; code=$?
check "config with an unknown task exits 2" test "$code" -eq 2

# Bad config values exit 2 (they once crashed: SIGFPE, SIGABRT).
for bad in rollout.num_envs=0 rollout.unroll_length=0 encoder.hidden=-5 decoder.hidden=0; do
  "$gorl" train --in_process --task twin-peaks --run_dir "$tmp/bad-run" "$bad" > /dev/null 2> "$tmp/err"
  code=$?
  check "train $bad exits 2 naming the field" \
    bash -c '[ "$1" -eq 2 ] && grep -q "${2%%=*}" "$0"' "$tmp/err" "$code" "$bad"
done
# The baselines' settings are refused by name too.
for bad in fpo.draws=0 dppo.sigma=0; do
  "$gorl" train --in_process --task twin-peaks --algo "${bad%%.*}" --run_dir "$tmp/bad-run" "$bad" \
    > /dev/null 2> "$tmp/err"
  code=$?
  check "train --algo ${bad%%.*} $bad exits 2 naming the field" \
    bash -c '[ "$1" -eq 2 ] && grep -q "${2%%=*}" "$0"' "$tmp/err" "$code" "$bad"
done
# A tiny FPO run prints the baseline's settings and ends with an evaluation.
"$gorl" train --in_process --task twin-peaks --algo fpo --run_dir "$tmp/fpo-run" \
  total_env_steps=256 rollout.num_envs=8 rollout.unroll_length=8 rollout.num_threads=1 \
  ppo.batch_size=4 ppo.num_minibatches=2 encoder.critic_hidden=16 eval.episodes=1 \
  eval.every_env_steps=256 \
  > "$tmp/out" 2> "$tmp/err"
code=$?
check "train --algo fpo runs" test "$code" -eq 0
check "train --algo fpo prints the baseline's settings" \
  grep -q "fpo: lr 0.0003, clip 0.05, entropy 0 (none), grad clip off" "$tmp/err"
check "train --algo fpo runs one stage" grep -q "in 1 stage(s)" "$tmp/err"
"$gorl" train --in_process --task twin-peaks --config /dev/null --run_dir "$tmp/bad-run" > /dev/null 2>&1
check "train --config /dev/null exits 2" test "$?" -eq 2

# A run directory that holds a run is not reused silently.
tiny=(--in_process --task twin-peaks --algo ppo total_env_steps=256 rollout.num_envs=8
  rollout.unroll_length=8 ppo.batch_size=4 ppo.num_minibatches=2 eval.episodes=1
  eval.every_env_steps=256)
mkdir -p "$tmp/old-run"
echo '{"old": true}' > "$tmp/old-run/final_eval.json"
echo 'old' > "$tmp/old-run/decoder_stage3.pb"
echo 'old' > "$tmp/old-run/policy_stage3.pb"
echo '{"event": "update", "old": true}' > "$tmp/old-run/metrics.jsonl"
echo 'notes' > "$tmp/old-run/NOTES.txt"
"$gorl" train "${tiny[@]}" --run_dir "$tmp/old-run" > /dev/null 2> "$tmp/err"; code=$?
cat "$tmp/err" >> "$tmp/all_output"
check "train into a run directory that holds a run exits 2 naming --resume and --overwrite" \
  bash -c '[ "$1" -eq 2 ] && grep -q -- "--resume" "$0" && grep -q -- "--overwrite" "$0"' "$tmp/err" "$code"
check "the refused run changed nothing" \
  bash -c 'grep -q old "$0/metrics.jsonl" && [ ! -e "$0/config.textproto" ]' "$tmp/old-run"
"$gorl" learner --task twin-peaks --run_dir "$tmp/old-run" --listen 127.0.0.1:0 > /dev/null 2> "$tmp/err"
check "learner into a run directory that holds a run exits 2" test "$?" -eq 2
"$gorl" train --resume "$tmp/old-run" --overwrite > /dev/null 2>&1
check "train --resume with --overwrite exits 2" test "$?" -eq 2
"$gorl" train "${tiny[@]}" --run_dir "$tmp/old-run" --overwrite > /dev/null 2> "$tmp/err"; code=$?
check "train --overwrite replaces the run" test "$code" -eq 0
check "--overwrite removed the old run's files and kept others" \
  bash -c '! grep -q old "$0/metrics.jsonl" && ! grep -q old "$0/final_eval.json" &&
    [ ! -e "$0/decoder_stage3.pb" ] && [ ! -e "$0/policy_stage3.pb" ] && [ -e "$0/checkpoint.pb" ] &&
    [ -e "$0/NOTES.txt" ]' \
  "$tmp/old-run"

# gorl sample: the finished run's stage-0 policy at two observations.
policy="$tmp/old-run/policy_stage0.pb"
"$gorl" sample --policy "$policy" --obs 0 --obs 0.5 --samples 500 --bins 10 --seed 3 \
  > "$tmp/sample.json" 2> "$tmp/err"; code=$?
check "sample exits 0" test "$code" -eq 0
check "sample prints a line per observation whose histogram holds every sample" \
  python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert [r["obs"] for r in rows] == ["0", "0.5"], rows
assert all(sum(r["histogram"]) == 500 and len(r["histogram"]) == 10 for r in rows)
assert all(-1 <= r["mean"] <= 1 and r["std"] >= 0 for r in rows)' "$tmp/sample.json"
"$gorl" sample --policy "$policy" --obs 0 --obs 0.5 --samples 500 --bins 10 --seed 3 \
  --csv "$tmp/sample.csv" > "$tmp/sample2.json"
check "sample is reproducible for a fixed seed" cmp -s "$tmp/sample.json" "$tmp/sample2.json"
check "sample --csv writes every action" test "$(wc -l < "$tmp/sample.csv")" -eq 1001
"$gorl" sample --policy "$policy" --obs 0,1 > /dev/null 2> "$tmp/err"; code=$?
check "sample: an observation of the wrong size exits 2 naming the size" \
  bash -c '[ "$0" -eq 2 ] && grep -q "has 1" "$1"' "$code" "$tmp/err"
"$gorl" sample --policy "$tmp/old-run/config.textproto" --obs 0 > /dev/null 2> "$tmp/err"; code=$?
check "sample: a file that is not a policy exits 2" \
  bash -c '[ "$0" -eq 2 ] && grep -q "is not a policy" "$1"' "$code" "$tmp/err"
"$gorl" sample --policy "$policy" --obs 0,x > /dev/null 2> "$tmp/err"; code=$?
check "sample: a malformed --obs exits 2" test "$code" -eq 2
# --states_from: the states a policy visits on its task (gorl report's densities).
"$gorl" sample --policy "$policy" --states_from "$policy" --task twin-peaks --at_steps 0,10,99 \
  --samples 100 > "$tmp/visited.json" 2> "$tmp/err"; code=$?
check "sample --states_from samples at 3 distinct visited states" /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(not (len(rows) == 3 and len({r["obs"] for r in rows}) == 3 and
              all(r["samples"] == 100 for r in rows)))' "$tmp/visited.json"
"$gorl" sample --policy "$policy" --states_from "$policy" --task twin-peaks --at_steps 150 \
  > /dev/null 2> "$tmp/err"; code=$?
check "sample --states_from past the episode exits 2 saying where it ended" \
  bash -c '[ "$0" -eq 2 ] && grep -q "ended at step 101, before step 150" "$1"' "$code" "$tmp/err"
"$gorl" sample --policy "$policy" --states_from "$policy" --task cartpole-balance --at_steps 5 \
  > /dev/null 2> "$tmp/err"; code=$?
check "sample --states_from on a task of other sizes exits 2 naming them" \
  bash -c '[ "$0" -eq 2 ] && grep -q "cartpole-balance has 5 and 1" "$1"' "$code" "$tmp/err"
"$gorl" sample --policy "$policy" --states_from "$policy" --at_steps 5 > /dev/null 2>&1
check "sample --states_from without --task exits 2" test "$?" -eq 2
"$gorl" sample --policy "$policy" --obs 0 --states_from "$policy" --task twin-peaks \
  --at_steps 5 > /dev/null 2>&1
check "sample with both --obs and --states_from exits 2" test "$?" -eq 2

# --resume_if_present: one learner command for a first start and every
# restart (compose, Kubernetes). On the finished run above it resumes from the
# checkpoint (here: straight to the result); with a changed config it refuses.
learner_tiny=("${tiny[@]:1}" --listen "unix:$tmp/resume.sock" --refiner "unix:$tmp/none.sock")
timeout 120 "$gorl" learner "${learner_tiny[@]}" --run_dir "$tmp/old-run" --resume_if_present \
  > "$tmp/out" 2> "$tmp/err"; code=$?
check "learner --resume_if_present continues a run that has a checkpoint" \
  bash -c '[ "$1" -eq 0 ] && grep -q "\"env_steps\": 256" "$0"' "$tmp/out" "$code"
"$gorl" learner "${learner_tiny[@]}" --run_dir "$tmp/old-run" --resume_if_present \
  ppo.clip_epsilon=0.1 > /dev/null 2> "$tmp/err"; code=$?
check "learner --resume_if_present with a changed config exits 2 naming the field" \
  bash -c '[ "$1" -eq 2 ] && grep -q "another configuration.*ppo.clip_epsilon" "$0"' "$tmp/err" "$code"
"$gorl" learner "${learner_tiny[@]}" --resume_if_present > /dev/null 2> "$tmp/err"
check "learner --resume_if_present without --run_dir exits 2" test "$?" -eq 2

# gorl train --fork: a new run from a stopped GoRL-FM run's checkpoint (two
# or more iterations into stage 0) under changed settings; the source stays
# as it was.
src="$tmp/fork-src"
fm_tiny=(--in_process --task twin-peaks --algo gorl-fm rollout.num_envs=8 rollout.unroll_length=8
  ppo.batch_size=4 ppo.num_minibatches=2 encoder.critic_hidden=16 eval.episodes=1
  refine.num_pairs=256 refine.collect_envs=8 refine.epochs=1 refine.batch_size=64
  checkpoint_every_iterations=1)
# One writer per run directory: a second one is refused while the run trains
# (a run far too long to end during the checks).
busy="$tmp/busy-run"
"$gorl" train "${fm_tiny[@]}" total_env_steps=100000000 --run_dir "$busy" > /dev/null 2>&1 &
busy_pid=$!
for _ in $(seq 3000); do
  grep -q '"update"' "$busy/metrics.jsonl" 2> /dev/null && break
  sleep 0.1
done
"$gorl" train --resume "$busy" --in_process > /dev/null 2> "$tmp/err"; code=$?
check "--resume of a run that is training exits 2 naming the process" \
  bash -c '[ "$1" -eq 2 ] && grep -q "is in use by another gorl process (pid $2)" "$0"' \
  "$tmp/err" "$code" "$busy_pid"
"$gorl" train "${fm_tiny[@]}" --run_dir "$busy" --overwrite > /dev/null 2> "$tmp/err"; code=$?
check "--overwrite of a run that is training exits 2 and removes nothing" \
  bash -c '[ "$1" -eq 2 ] && grep -q "in use" "$0" && [ -e "$2/metrics.jsonl" ]' \
  "$tmp/err" "$code" "$busy"
kill -TERM "$busy_pid"; wait "$busy_pid"; code=$?; busy_pid=
check "... and the run it refused to touch stopped normally (143)" test "$code" -eq 143

"$gorl" train "${fm_tiny[@]}" total_env_steps=9600 eval.every_env_steps=3200 \
  stages.fractions=0.5,0.5 --run_dir "$src" > /dev/null 2> "$tmp/src.err" &
pid=$!
for _ in $(seq 3000); do
  [ "$(cat "$src/metrics.jsonl" 2> /dev/null | grep -c '"update"')" -ge 2 ] && break
  sleep 0.1
done
kill -TERM "$pid"; wait "$pid"; code=$?
check "the fork's source stopped on SIGTERM with a checkpoint" \
  bash -c '[ "$1" -eq 143 ] && [ -e "$0/checkpoint.pb" ]' "$src" "$code"
updates=$(grep -c '"update"' "$src/metrics.jsonl")
(cd "$src" && md5sum ./*) > "$tmp/src.md5"
# Without changes a fork continues as --resume of a copy of its source does.
cp -r "$src" "$tmp/src-copy"
"$gorl" train --resume "$tmp/src-copy" --in_process > /dev/null 2>&1
"$gorl" train --fork "$src" --run_dir "$tmp/fork-same" --in_process > /dev/null 2>&1; code=$?
check "a fork without changes ends like the resumed source, row for row" \
  /usr/bin/python3 -c '
import json, sys
def rows(d):
  out = []
  for line in open(d + "/metrics.jsonl"):
    r = json.loads(line)
    if r["event"] not in ("fork", "resume"):
      out.append({k: v for k, v in r.items() if not k.endswith("seconds")})
  return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert sys.argv[3] == "0" and len(a) > 100 and a == b, (sys.argv[3], len(a), len(b))' \
  "$tmp/src-copy" "$tmp/fork-same" "$code"
# 64 env steps per iteration: two stages of updates + 4 iterations each.
fork_total=$((128 * (updates + 4)))
"$gorl" train --fork "$src" --run_dir "$tmp/fork" --in_process total_env_steps=$fork_total \
  refine.epochs=2 seed=5 > "$tmp/out" 2> "$tmp/err"; code=$?
check "train --fork runs the fork to its end" \
  bash -c '[ "$1" -eq 0 ] && [ -e "$0/final_eval.json" ] && [ -e "$0/decoder_stage1.pb" ]' \
  "$tmp/fork" "$code"
check "the fork says what it forked and what changed" \
  grep -q "forked .*fork-src at [0-9]* env steps into .*fork (changes: .*seed: 0 -> 5" "$tmp/err"
check "the fork's metrics are the source's history, a fork row, then its own training" \
  /usr/bin/python3 -c '
import json, sys
src = open(sys.argv[1] + "/metrics.jsonl").read().splitlines()
fork = [json.loads(l) for l in open(sys.argv[2] + "/metrics.jsonl")]
at = [i for i, r in enumerate(fork) if r["event"] == "fork"]
assert len(at) == 1, at
head = open(sys.argv[2] + "/metrics.jsonl").read().splitlines()[:at[0]]
assert head == src[:len(head)] and len(head) >= 2, (len(head), len(src))
row = fork[at[0]]
assert row["changes"].split("; ") == [
    "refine.epochs: 1 -> 2", "seed: 0 -> 5", "total_env_steps: 9600 -> " + sys.argv[3]], row
after = fork[at[0] + 1:]
steps = [r["env_steps"] for r in after if r["event"] == "update"]
assert steps[0] == row["env_steps"] + 64 and steps[-1] == int(sys.argv[3]), steps
assert any(r["event"] == "refine" for r in after)
assert any(r["event"] == "update" and r["stage"] == 1 for r in after)' \
  "$src" "$tmp/fork" "$fork_total"
"$gorl" report "$tmp/fork" --out "$tmp/fork-report" --densities 0 > /dev/null 2>&1
check "the report names the fork's source and where it forked" /usr/bin/python3 -c '
import json, sys
run = json.load(open(sys.argv[1] + "/summary.json"))["runs"][0]
fork = [json.loads(l) for l in open(sys.argv[2] + "/metrics.jsonl") if "\"fork\"" in l][0]
assert run["forked_from"] == {"source": sys.argv[3], "env_steps": fork["env_steps"]}, run
assert run["resumes"] == 0, run' "$tmp/fork-report" "$tmp/fork" "$src"
check "the fork's config holds the changes" \
  bash -c 'grep -q "epochs: 2" "$0" && grep -q "^seed: 5" "$0"' "$tmp/fork/config.textproto"
# The position before each refinement is kept: a fork from it redoes that
# boundary, and without changes redoes the refinement exactly (in process;
# the next stage's unrolls differ, as after any resume: env states are not
# checkpointed).
check "a run keeps the checkpoint before its refinement" test -s "$tmp/fork/checkpoint_boundary0.pb"
"$gorl" train --fork "$tmp/fork" --boundary 0 --run_dir "$tmp/fork-b0" --in_process \
  > /dev/null 2>&1; code=$?
check "a fork from boundary 0 without changes redoes the refinement row for row, then finishes" \
  /usr/bin/python3 -c '
import json, os, sys
def rows(d):
  return [{k: v for k, v in r.items() if not k.endswith("seconds")}
          for r in map(json.loads, open(d + "/metrics.jsonl")) if r["event"] not in ("fork", "resume")]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
end = [i for i, r in enumerate(a) if r["event"] == "refine"][0] + 1
forks = [r for r in map(json.loads, open(sys.argv[2] + "/metrics.jsonl")) if r["event"] == "fork"]
assert sys.argv[3] == "0" and os.path.exists(sys.argv[2] + "/final_eval.json"), sys.argv[3]
assert a[:end] == b[:end] and "decoder_val_loss" in b[end - 1], (end, a[end - 1], b[end - 1])
assert forks[-1]["env_steps"] == a[end - 1]["env_steps"], (forks[-1], a[end - 1])' \
  "$tmp/fork" "$tmp/fork-b0" "$code"
"$gorl" train --fork "$tmp/fork" --boundary 1 --run_dir "$tmp/fork-bad" > /dev/null 2> "$tmp/err"
code=$?
check "a fork from a boundary the source has not kept exits 2 naming the kept ones" \
  bash -c '[ "$1" -eq 2 ] && grep -q "no checkpoint before boundary 1 (it has kept boundaries 0)" "$0" &&
    [ ! -e "$2" ]' "$tmp/err" "$code" "$tmp/fork-bad"
"$gorl" train --boundary 0 > /dev/null 2> "$tmp/err"; code=$?
check "--boundary without --fork exits 2" \
  bash -c '[ "$1" -eq 2 ] && grep -q "boundary requires --fork" "$0"' "$tmp/err" "$code"
check "the fork left its source as it was" \
  bash -c 'cd "$0" && md5sum --quiet -c "$1" && [ "$(ls | wc -l)" -eq "$(wc -l < "$1")" ]' \
  "$src" "$tmp/src.md5"
# FIELD=VALUE:the field the refusal names.
for case in task=cartpole-balance:task encoder.hidden=8:encoder \
  rollout.unroll_length=4:rollout ppo.normalize_observations=false:ppo.normalize_observations; do
  "$gorl" train --fork "$src" --run_dir "$tmp/fork-bad" "${case%%:*}" > /dev/null 2> "$tmp/err"
  code=$?
  check "train --fork ${case%%:*} exits 2 naming ${case##*:} and writes nothing" \
    bash -c '[ "$1" -eq 2 ] && grep -q "a fork cannot change $2:" "$0" && [ ! -e "$3" ]' \
    "$tmp/err" "$code" "${case##*:}" "$tmp/fork-bad"
done
"$gorl" train --fork "$src" --run_dir "$tmp/fork-bad" total_env_steps=64 > /dev/null 2> "$tmp/err"
code=$?
check "train --fork with a schedule that ends before the checkpoint exits 2 and writes nothing" \
  bash -c '[ "$1" -eq 2 ] && grep -q "schedule does not fit the checkpoint.*iteration [0-9]* is outside" "$0" &&
    [ ! -e "$2" ]' "$tmp/err" "$code" "$tmp/fork-bad"
"$gorl" train --fork "$src" --run_dir "$src" refine.epochs=2 > /dev/null 2> "$tmp/err"; code=$?
check "train --fork into its source exits 2 and names --resume" \
  bash -c '[ "$1" -eq 2 ] && grep -q "is the source run.*--resume" "$0"' "$tmp/err" "$code"
"$gorl" train --fork "$src" --run_dir "$tmp/fork" refine.epochs=2 > /dev/null 2> "$tmp/err"
check "train --fork into a directory that holds a run exits 2" test "$?" -eq 2
"$gorl" train --fork "$src" --seed 3 --run_dir "$tmp/fork-bad" > /dev/null 2> "$tmp/err"
code=$?
check "train --fork with --seed exits 2 and says to write seed=N" \
  bash -c '[ "$1" -eq 2 ] && grep -q "seed=3" "$0"' "$tmp/err" "$code"
"$gorl" train --fork "$tmp/no-run" --run_dir "$tmp/fork-bad" > /dev/null 2> "$tmp/err"
check "train --fork of a directory without a run exits 2" test "$?" -eq 2
# A source whose latest checkpoint is damaged: the fork starts from the
# previous one and leaves the source's files as they are.
cp -r "$src" "$tmp/src-damaged"
printf 'garbage' > "$tmp/src-damaged/checkpoint.pb"
(cd "$tmp/src-damaged" && md5sum ./*) > "$tmp/damaged.md5"
"$gorl" train --fork "$tmp/src-damaged" --run_dir "$tmp/fork-damaged" --in_process \
  total_env_steps=$fork_total > /dev/null 2> "$tmp/err"; code=$?
fork_at() {  # the env steps of RUN_DIR's fork row
  /usr/bin/python3 -c 'import json, sys
print([json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if "\"fork\"" in l][0]["env_steps"])' "$1"
}
check "a fork of a source with a damaged latest checkpoint runs from the previous one" \
  bash -c '[ "$0" -eq 0 ] && [ "$1" -lt "$2" ]' "$code" "$(fork_at "$tmp/fork-damaged")" \
  "$(fork_at "$tmp/fork")"
check "... and leaves the damaged source as it was" \
  bash -c 'cd "$0" && md5sum --quiet -c "$1" && [ "$(ls | wc -l)" -eq "$(wc -l < "$1")" ]' \
  "$tmp/src-damaged" "$tmp/damaged.md5"

# A diverging update (learning rate 1e3, the reported reproduction) stops the
# run with an error naming the metric instead of hanging; its checkpoint (the
# run's start) still loads, so --resume resumes (and diverges again).
timeout 600 "$gorl" train --task cartpole-swingup --algo ppo --actors 1 ppo.learning_rate=1e3 \
  total_env_steps=61440 --run_dir "$tmp/nan-run" > /dev/null 2> "$tmp/err"; code=$?
check "a non-finite update exits 1 (not a hang: 124)" test "$code" -eq 1
check "the error names the update and the non-finite metric" \
  grep -q "non-finite PPO update (update to encoder version 1.*\(_loss = \|grad_norm = \|non-finite values\)" "$tmp/err"
timeout 600 "$gorl" train --resume "$tmp/nan-run" > /dev/null 2> "$tmp/err"; code=$?
check "--resume of that run resumes from its checkpoint (and diverges again)" \
  bash -c '[ "$1" -eq 1 ] && grep -q "non-finite PPO update" "$0" && ! grep -q "does the config" "$0"' \
  "$tmp/err" "$code"

# A second SIGTERM ends the launcher at once; its socket directory goes too.
mkdir "$tmp/sockets"
TMPDIR="$tmp/sockets" "$gorl" train --task cartpole-swingup --algo ppo --actors 1 \
  --run_dir "$tmp/sig-run" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1200); do
  compgen -G "$tmp/sockets/gorl-*/learner.sock" > /dev/null && break
  sleep 0.1
done
check "the launcher made its socket directory under TMPDIR" \
  bash -c 'compgen -G "$0/gorl-*" > /dev/null' "$tmp/sockets"
kill -TERM "$pid"; kill -TERM "$pid"
wait "$pid"
check "two SIGTERMs leave no socket directory behind" bash -c '! compgen -G "$0/gorl-*"' "$tmp/sockets"

"$gorl" eval --task twin-peaks --episodes 1 --seed 3 --json > "$tmp/e1.json"; code=$?
check "eval --episodes 1 (space form) runs one episode" \
  bash -c '[ "$1" -eq 0 ] && grep -q "\"episodes\": 1, \"seed\": 3," "$0"' "$tmp/e1.json" "$code"
"$gorl" eval --task=twin-peaks --episodes=1 --seed=3 --json > "$tmp/e2.json"
check "eval --flag=value gives the same result" test "$(strip "$tmp/e1.json")" = "$(strip "$tmp/e2.json")"
"$gorl" tasks --json=false > "$tmp/tasks2.txt"
check "tasks --json=false prints the table" cmp -s "$tmp/tasks.txt" "$tmp/tasks2.txt"

# Transport security: plaintext TCP refused at start, `gorl certs`.
"$gorl" refiner --listen 127.0.0.1:0 > /dev/null 2> "$tmp/err"; code=$?
check "refiner on TCP without TLS or --insecure exits 2" test "$code" -eq 2
check "the refusal says what to pass" grep -q -- "--insecure" "$tmp/err"
"$gorl" refiner --listen 127.0.0.1:0 --tls_cert "$tmp/none.pem" > /dev/null 2> "$tmp/err"; code=$?
check "--tls_cert without --tls_key exits 2" test "$code" -eq 2
"$gorl" certs --out "$tmp/tls" --hosts learner.lan,10.9.8.7 --client_count 2 --days 3 > /dev/null
code=$?
check "certs writes a run's credentials" test "$code" -eq 0
check "certs: the directory is 0700" test "$(stat -c %a "$tmp/tls")" = 700
check "certs: every file is 0600" \
  bash -c 'for f in "$0"/*; do [ "$(stat -c %a "$f")" = 600 ] || exit 1; done' "$tmp/tls"
check "certs: server and clients verify against the CA" \
  bash -c 'openssl verify -CAfile "$0/ca.pem" "$0/server.pem" "$0/actor-0.pem" "$0/actor-1.pem" \
  > /dev/null' "$tmp/tls"
openssl x509 -in "$tmp/tls/server.pem" -noout -ext subjectAltName > "$tmp/san" 2>&1
check "certs: the server certificate lists --hosts" \
  bash -c 'grep -q "DNS:learner.lan" "$0" && grep -q "IP Address:10.9.8.7" "$0"' "$tmp/san"
cp "$tmp/tls/token" "$tmp/token.before"
"$gorl" certs --out "$tmp/tls" > /dev/null 2>&1; code=$?
check "certs refuses to overwrite without --force (exit 2)" test "$code" -eq 2
check "certs: a refused call changes nothing" cmp -s "$tmp/token.before" "$tmp/tls/token"
"$gorl" certs --out "$tmp/tls" --force > /dev/null; code=$?
check "certs --force replaces them" \
  bash -c '[ "$1" -eq 0 ] && ! cmp -s "$0" "$2"' "$tmp/token.before" "$code" "$tmp/tls/token"

check "no output names the build or source directory" \
  bash -c '! grep -q -F -e "$1" -e "$2" "$0"' "$tmp/all_output" "$build_dir" "$src_dir"

checks_summary
