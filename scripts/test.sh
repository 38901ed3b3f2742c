#!/usr/bin/env bash
# Second command of the README (and what CI runs): install what is missing,
# build, and run the whole test suite.
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_packages
build_project
locate_assets

log "running the test suite"
cd "$GORL_BUILD_DIR"
ctest --output-on-failure --timeout 1500 "$@"
