#!/usr/bin/env bash
# The runtime and integration suites under load: runs them N times (default
# 5, or $GORL_STRESS_RUNS) while two busy loops saturate both cores, the way
# a shared CI machine looks on a bad day. Tests there wait on observable
# state with generous deadlines, never on timing, so every run must pass.
# Prints each run's result and the slowest test, then "stress: P passed, F
# failed". Exit status 1 if any run failed.
#
#   scripts/stress_tests.sh            # builds what is missing first
#   GORL_STRESS_RUNS=2 scripts/stress_tests.sh --gtest_filter='MultiProcess*'
set -euo pipefail
source "$(dirname "$0")/common.sh"

runs="${GORL_STRESS_RUNS:-5}"
# ctest runs this after the build (GORL_STRESS_NO_BUILD=1): do not rebuild.
[ -n "${GORL_STRESS_NO_BUILD:-}" ] || build_project >/dev/null
locate_assets
suites=("$GORL_BUILD_DIR/tests/gorl_runtime_test" "$GORL_BUILD_DIR/tests/gorl_integration_test")
for suite in "${suites[@]}"; do
  [ -x "$suite" ] || die "missing $suite (configure with GORL_BUILD_TESTS=ON)"
done

logs="$(mktemp -d "${TMPDIR:-/tmp}/gorl-stress.XXXXXX")"
busy=()
stop_busy() { [ "${#busy[@]}" -eq 0 ] || kill "${busy[@]}" 2>/dev/null || true; }
trap stop_busy EXIT
for _ in 1 2; do
  ( while :; do :; done ) &
  busy+=("$!")
done
log "stress: ${#suites[@]} suites x $runs runs beside ${#busy[@]} busy loops; logs in $logs"

passed=0
failed=0
for run in $(seq 1 "$runs"); do
  ok=1
  start=$SECONDS
  for suite in "${suites[@]}"; do
    out="$logs/run$run-$(basename "$suite").log"
    if ! "$suite" "$@" >"$out" 2>&1; then
      ok=0
      log "run $run: $(basename "$suite") FAILED; failures:"
      grep -E '^\[  FAILED  \]|Failure|error:' "$out" | head -20 >&2 || true
    fi
  done
  if [ "$ok" -eq 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  log "run $run: $([ "$ok" -eq 1 ] && echo passed || echo FAILED) in $((SECONDS - start)) s"
done
stop_busy
busy=()

# The slowest single test over all runs, from GoogleTest's "[       OK ] Name (N ms)".
slowest="$(grep -hE '^\[       OK \] .* \([0-9]+ ms\)$' "$logs"/*.log |
  sed -E 's/^\[       OK \] (.*) \(([0-9]+) ms\)$/\2 \1/' | sort -n | tail -1)"
[ -n "$slowest" ] && log "slowest test under load: ${slowest#* } (${slowest%% *} ms)"
echo "stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
