#!/usr/bin/env bash
# Style checks CI runs: clang-format (Google, 100 columns: .clang-format) on
# every C++ file, and clang-tidy (.clang-tidy) on the C++ files changed
# since $GORL_LINT_BASE (default: the previous commit), or on every file
# with --all. clang-tidy reads the compile commands of the build directory,
# so the project must have been configured (scripts/test.sh does).
#
#   scripts/lint.sh          # format check + tidy on the last commit's files
#   scripts/lint.sh --all    # tidy on every file (slow: LibTorch headers)
#   scripts/lint.sh --fix    # rewrite files with clang-format instead
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$GORL_ROOT"

mode="changed"
case "${1:-}" in
  --all) mode="all" ;;
  --fix) mode="fix" ;;
  "") ;;
  *) die "usage: scripts/lint.sh [--all|--fix]" ;;
esac

mapfile -t sources < <(git ls-files '*.cc' '*.h' | grep -v '^tools/')
if [ "$mode" = fix ]; then
  clang-format -i "${sources[@]}"
  log "formatted ${#sources[@]} files"
  exit 0
fi
log "clang-format: ${#sources[@]} files"
clang-format --dry-run --Werror "${sources[@]}"

[ -f "$GORL_BUILD_DIR/compile_commands.json" ] ||
  die "no $GORL_BUILD_DIR/compile_commands.json: configure first (scripts/test.sh)"
if [ "$mode" = all ]; then
  mapfile -t tidy < <(printf '%s\n' "${sources[@]}" | grep '\.cc$')
else
  base="${GORL_LINT_BASE:-HEAD~1}"
  mapfile -t tidy < <(git diff --name-only --diff-filter=AMR "$base" -- '*.cc' 2>/dev/null |
    grep -v '^tools/' || true)
fi
# The fuzz targets are compiled only in the fuzz build (scripts/fuzz.sh),
# so their compile commands are there.
mapfile -t fuzz_tidy < <(printf '%s\n' "${tidy[@]}" | grep '^tests/fuzz/' || true)
mapfile -t tidy < <(printf '%s\n' "${tidy[@]}" | grep -v '^tests/fuzz/' | grep . || true)
fuzz_dir="${GORL_FUZZ_BUILD_DIR:-${GORL_BUILD_DIR}-fuzz}"
if [ "${#fuzz_tidy[@]}" -gt 0 ] && [ -f "$fuzz_dir/compile_commands.json" ]; then
  log "clang-tidy: ${#fuzz_tidy[@]} fuzz target files"
  clang-tidy -p "$fuzz_dir" --quiet "${fuzz_tidy[@]}"
fi
if [ "${#tidy[@]}" -eq 0 ]; then
  log "clang-tidy: no changed C++ sources"
else
  log "clang-tidy: ${#tidy[@]} files"
  clang-tidy -p "$GORL_BUILD_DIR" --quiet "${tidy[@]}"
fi
echo "lint: passed"
