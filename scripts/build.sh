#!/usr/bin/env bash
# Installs the build packages and builds (GORL_BUILD_TARGETS: only these
# targets; GORL_BUILD_DIR: where). The image's builder stage runs this.
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_packages "${GORL_BUILD_PACKAGES[@]}"
build_project
