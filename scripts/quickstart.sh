#!/usr/bin/env bash
# First command of the README: install the Debian packages, build, and run
# the main job. Safe to run again: it only does what is missing.
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_packages "${GORL_BUILD_PACKAGES[@]}"
build_project
locate_assets

gorl="$GORL_BUILD_DIR/cli/gorl"
log "task catalogue:"
"$gorl" tasks
log "main job: train GoRL-FM on cheetah-run with the local preset (about 20 minutes on 2 cores)"
"$gorl" train --preset local --algo gorl-fm --task cheetah-run --seed 0 "$@"
