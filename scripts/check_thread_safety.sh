#!/usr/bin/env bash
# Compiles every LibTorch-free library (where all of gorl's locking lives:
# common/, envs/, runtime/, bench/) with Debian's clang and
# -Werror=thread-safety, so that the ABSL_GUARDED_BY /
# ABSL_EXCLUSIVE_LOCKS_REQUIRED annotations are checked, not decorative.
# First it proves the check is on: a deliberate violation must fail to
# compile. Build directory: $GORL_BUILD_DIR-clang (default build-clang).
set -euo pipefail
source "$(dirname "$0")/common.sh"

clang_dir="${GORL_CLANG_BUILD_DIR:-${GORL_BUILD_DIR}-clang}"
flags="-Wthread-safety -Werror=thread-safety"
command -v clang++ >/dev/null || die "clang++ not found (apt-get install clang)"

# 1. The analysis rejects an unguarded access.
probe="$(mktemp -d "${TMPDIR:-/tmp}/gorl-tsa.XXXXXX")"
trap 'rm -rf "$probe"' EXIT
cat >"$probe/violation.cc" <<'CC'
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
class Counter {
 public:
  void Add() { ++value_; }  // no lock held: the analysis must refuse this
 private:
  absl::Mutex mu_;
  int value_ ABSL_GUARDED_BY(mu_) = 0;
};
int main() { Counter c; c.Add(); }
CC
if clang++ -std=c++17 $flags -fsyntax-only "$probe/violation.cc" 2>"$probe/err"; then
  die "thread-safety analysis is not active: a guarded write without its lock compiled"
fi
grep -q "requires holding mutex" "$probe/err" || die "unexpected clang output: $(cat "$probe/err")"
log "thread-safety analysis is active (a planted violation is refused)"

# 2. The project's torch-free libraries, warnings as errors for the analysis.
if [ ! -f "$clang_dir/build.ninja" ]; then
  cmake -S "$GORL_ROOT" -B "$clang_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS="$flags" -DGORL_BUILD_TESTS=OFF >/dev/null
fi
# Their object files only: building the library targets would also compile
# the LibTorch libraries they link, which hold no locks.
mapfile -t objects < <(ninja -C "$clang_dir" -t targets all |
  sed -nE 's#^((common|envs|runtime|bench)/CMakeFiles/gorl_(common|envs|runtime|bench)\.dir/[^:]*\.o):.*#\1#p')
[ "${#objects[@]}" -gt 40 ] || die "found only ${#objects[@]} object files to check"
log "compiling ${#objects[@]} files of common, envs, runtime and bench with clang $flags"
ninja -C "$clang_dir" -j"${GORL_JOBS:-$(nproc)}" "${objects[@]}"
echo "thread-safety: clang build passed"
