#!/usr/bin/env bash
# Second command of the README (and what CI runs): install what is missing,
# build, and run the whole test suite.
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_packages "${GORL_BUILD_PACKAGES[@]}" "${GORL_TEST_PACKAGES[@]}"
install_deploy_check
install_kubectl
build_project
locate_assets

# Style and locking checks first: they fail in seconds, the suite in minutes.
"$GORL_ROOT/scripts/lint.sh"
"$GORL_ROOT/scripts/check_thread_safety.sh"
# The fuzzers, briefly (30 s each, two at a time; their clang build is its
# own directory): GORL_FUZZ_SECONDS=0 skips them.
if [ "${GORL_FUZZ_SECONDS:-30}" != 0 ]; then "$GORL_ROOT/scripts/fuzz.sh"; fi

log "running the test suite (with the stress runs: scripts/stress_tests.sh)"
cd "$GORL_BUILD_DIR"
ctest --output-on-failure --timeout 2400 "$@"
