#!/usr/bin/env bash
# End-to-end checks of the `gorl` binary: catalogue, evaluation, errors.
# Usage: tests/cli_test.sh path/to/gorl   (GORL_ASSETS must point at the assets)
set -u
gorl="$1"
failures=0
total=0
check() {  # check NAME CONDITION-COMMAND...
  local name="$1"; shift
  total=$((total + 1))
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$gorl" tasks --json > "$tmp/tasks.json"
check "tasks --json lists 19 benchmark tasks and twin-peaks" \
  test "$(grep -c '"name"' "$tmp/tasks.json")" -eq 20
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
"$gorl" frobnicate > /dev/null 2>&1; code=$?
check "unknown command exits 2" test "$code" -eq 2

"$gorl" bench envs --tasks twin-peaks --seconds 0.05 --rounds 1 > "$tmp/bench.txt"; code=$?
check "bench envs runs" test "$code" -eq 0
check "bench envs prints a row per task" grep -q '^twin-peaks' "$tmp/bench.txt"
"$gorl" bench > /dev/null 2>&1; code=$?
check "bench without a benchmark name exits 2" test "$code" -eq 2
# Both drivers, 2 short iterations each (the second gives the steady rate): ~5 s.
"$gorl" bench train --task twin-peaks --iterations 2 --rounds 1 > "$tmp/train.txt" 2> "$tmp/err"
code=$?
check "bench train runs in-process and over gRPC" test "$code" -eq 0
check "bench train prints positive gRPC/in-process ratios" awk '
  /^ratio grpc\/in-process / { found = 1; ok = $3 ~ /^[0-9]+\.[0-9]+$/ && $3 > 0 && $4 ~ /^[0-9]+\.[0-9]+$/ && $4 > 0 }
  END { exit !(found && ok) }' "$tmp/train.txt"

passed=$(( total - failures ))
echo "$passed passed, $failures failed"
test "$failures" -eq 0
