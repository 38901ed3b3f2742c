#!/usr/bin/env bash
# First command of the README: install the Debian packages, build, and run
# the main job. Safe to run again: it only does what is missing.
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_packages
build_project
locate_assets

gorl="$GORL_BUILD_DIR/cli/gorl"
log "task catalogue:"
"$gorl" tasks
log "main job: evaluate a random policy on cheetah-run"
"$gorl" eval --task cheetah-run --policy random --episodes 10 --seed 0 --threads "$(nproc)"
