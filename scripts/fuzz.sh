#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang, AddressSanitizer and
# UBSan in a build directory of their own, and runs each for a bounded time,
# starting from its committed seed corpus (tests/fuzz/corpus/<target>/).
# Fails on any crash, sanitizer report, leak, out-of-memory or timeout and
# prints the reproducer's path. docs/toolchain.md §4.1 says how to run one
# longer and how to replay a crash.
#
#   scripts/fuzz.sh                  # every target, GORL_FUZZ_SECONDS each
#   scripts/fuzz.sh config           # only these targets
#
# Environment:
#   GORL_FUZZ_SECONDS    seconds per target (default 30)
#   GORL_FUZZ_BUILD_DIR  build directory (default $GORL_BUILD_DIR-fuzz, i.e. build-fuzz)
#   GORL_FUZZ_ARGS       extra libFuzzer flags for every target
#   GORL_JOBS            build jobs, and targets fuzzed at once (default: nproc)
set -euo pipefail
source "$(dirname "$0")/common.sh"

fuzz_dir="${GORL_FUZZ_BUILD_DIR:-${GORL_BUILD_DIR}-fuzz}"
seconds="${GORL_FUZZ_SECONDS:-30}"
jobs="${GORL_JOBS:-$(nproc)}"
all_targets=(message_checks tensor_codec config checkpoint)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
for target in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $target "* ]] ||
    die "unknown fuzz target '$target' (targets: ${all_targets[*]})"
done
command -v clang++ >/dev/null || die "clang++ not found (apt-get install clang)"
probe="$(mktemp -d "${TMPDIR:-/tmp}/gorl-fuzz.XXXXXX")"
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' >"$probe/p.cc"
clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cc" -o "$probe/p" 2>"$probe/err" ||
  die "clang cannot link a fuzzer (apt-get install libclang-rt-14-dev): $(head -c 300 "$probe/err")"

# 1. Build: every library instrumented (CMakeLists.txt, GORL_FUZZ), -O1 with
# line tables, so that reports have file:line and the build stays short.
if [ ! -f "$fuzz_dir/build.ninja" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  log "configuring the fuzz build in $fuzz_dir"
  cmake -S "$GORL_ROOT" -B "$fuzz_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DGORL_FUZZ=ON -DGORL_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
fi
log "building ${#targets[@]} fuzz targets with clang, ASan and UBSan"
ninja -C "$fuzz_dir" -j"$jobs" "${targets[@]/#/gorl_fuzz_}"

# 2. Run. New inputs go to $fuzz_dir/corpus/<target> (kept between runs, so a
# local corpus grows), the committed seeds are read only.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
artifacts="$fuzz_dir/artifacts"
mkdir -p "$artifacts"
read -r -a extra <<<"${GORL_FUZZ_ARGS:-}"

run_target() {
  local target="$1" corpus="$fuzz_dir/corpus/$1"
  mkdir -p "$corpus"
  "$fuzz_dir/tests/fuzz/gorl_fuzz_$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
    "${extra[@]}" "$corpus" "$GORL_ROOT/tests/fuzz/corpus/$target" >"$fuzz_dir/$target.log" 2>&1
}

log "fuzzing ${targets[*]} for ${seconds}s each, $jobs at a time (logs: $fuzz_dir/<target>.log)"
failed=()
pending=("${targets[@]}")
while [ "${#pending[@]}" -gt 0 ]; do
  batch=("${pending[@]:0:$jobs}")
  pending=("${pending[@]:$jobs}")
  declare -A pids=()
  for target in "${batch[@]}"; do
    rm -f "$artifacts/$target-"*
    run_target "$target" &
    pids[$target]=$!
  done
  for target in "${batch[@]}"; do
    if wait "${pids[$target]}"; then
      runs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$fuzz_dir/$target.log")"
      log "fuzz $target: ok (${runs:-?} inputs in ${seconds}s)"
    else
      failed+=("$target")
      printf '\n----- %s (last 60 lines of %s) -----\n' "$target" "$fuzz_dir/$target.log" >&2
      tail -n 60 "$fuzz_dir/$target.log" >&2
      for artifact in "$artifacts/$target-"*; do
        [ -e "$artifact" ] || continue
        log "reproducer: $artifact"
        log "  replay: $fuzz_dir/tests/fuzz/gorl_fuzz_$target $artifact"
      done
    fi
  done
  unset pids
done
[ "${#failed[@]}" -eq 0 ] || die "fuzzing found a problem in: ${failed[*]}"
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a crash, leak or timeout"
