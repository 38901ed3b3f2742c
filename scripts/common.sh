# Shared by the scripts in this folder: paths, the package list, helpers.
# shellcheck shell=bash
GORL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GORL_BUILD_DIR="${GORL_BUILD_DIR:-$GORL_ROOT/build}"

# Debian 12 packages (docs/toolchain.md says why each is here). OpenBLAS's
# OpenMP flavour matters: the reference BLAS makes LibTorch ~15x slower and
# the pthread flavour ignores torch::set_num_threads.
# What building the `gorl` binary needs (the README's first command and the
# image's builder stage, deploy/docker/Dockerfile):
GORL_BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ca-certificates curl
  libtorch-dev libopenblas0-openmp libblas-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libssl-dev openssl
  libmujoco-dev libqhull-dev
  libabsl-dev libcli11-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# What the test suite adds: a real Prometheus, the clang tools (lint, locking
# analysis, fuzzers), Docker with compose and debootstrap (the image and the
# compose end-to-end test, deploy/), Node.js for the offline manifest and
# dashboard checks (tools/deploy-check), numpy and matplotlib for `gorl
# report` (tools/report).
GORL_TEST_PACKAGES=(
  prometheus python3-numpy python3-matplotlib
  clang clang-format clang-tidy libclang-rt-14-dev
  docker.io docker-compose debootstrap jq iproute2
)

log() { printf '\033[1m[gorl]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[gorl] error:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@";
  elif command -v sudo >/dev/null; then sudo "$@";
  else die "need root to run: $* (run as root or install sudo)"; fi
}

# Installs whatever of the given packages is missing; does nothing when all
# are there. `--error-on=any`: a plain `apt-get update` exits 0 when the mirror
# is unreachable, and the install then fails with a less helpful message.
install_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "all $# Debian packages present"
    return
  fi
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  as_root apt-get update -qq --error-on=any || die "apt-get update failed: is the Debian mirror reachable?"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Node.js 18 or newer with npm for tools/deploy-check (ctest deploy_*).
# Checked by command, not by package: a machine may have Node.js from
# elsewhere (NodeSource), and Debian's npm package would conflict with it.
# Then `npm ci` from the lock file when node_modules is missing.
install_deploy_check() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    install_packages nodejs npm
  fi
  if [ ! -d "$GORL_ROOT/tools/deploy-check/node_modules" ]; then
    log "npm ci in tools/deploy-check (versions pinned by its package-lock.json)"
    (cd "$GORL_ROOT/tools/deploy-check" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# kubectl, for `kubectl kustomize` in tools/deploy-check (ctest deploy_k8s).
# Checked by command, like Node.js: a machine may have a newer kubectl from
# elsewhere, whose file Debian's kubernetes-client (1.20, kustomize v2.0.3,
# enough for deploy/k8s) would collide with.
install_kubectl() {
  if command -v kubectl >/dev/null; then return; fi
  install_packages kubernetes-client
}

# Configures (Release, Ninja) once and builds incrementally.
build_project() {
  if [ ! -f "$GORL_BUILD_DIR/build.ninja" ]; then
    log "configuring in $GORL_BUILD_DIR"
    # GORL_CMAKE_ARGS: extra arguments, e.g. -DGORL_BUILD_TESTS=OFF.
    # shellcheck disable=SC2086
    cmake -S "$GORL_ROOT" -B "$GORL_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${GORL_CMAKE_ARGS:-} >/dev/null
  fi
  log "building (a cold build takes about 12 minutes on 2 cores)"
  # GORL_BUILD_TARGETS: only these (the image builds just `gorl`).
  local targets=()
  for t in ${GORL_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
  cmake --build "$GORL_BUILD_DIR" "${targets[@]}" -- -j"${GORL_JOBS:-$(nproc)}"
}

# Sets GORL_ASSETS: kept if set; else ../shared/assets beside the checkout
# (CI's layout); else the fetch script's default directory.
locate_assets() {
  if [ -n "${GORL_ASSETS:-}" ]; then :
  elif [ -d "$GORL_ROOT/../shared/assets/dm_control" ]; then
    GORL_ASSETS="$(cd "$GORL_ROOT/../shared/assets" && pwd)"
  else
    GORL_ASSETS="${XDG_DATA_HOME:-$HOME/.local/share}/gorl/assets"
  fi
  export GORL_ASSETS
  if [ ! -f "$GORL_ASSETS/dm_control/cheetah.xml" ] || [ ! -f "$GORL_ASSETS/gym/hopper.xml" ]; then
    log "model files not found under $GORL_ASSETS; fetching them"
    "$GORL_ROOT/scripts/fetch_assets.sh" "$GORL_ASSETS" \
      || die "no model assets: run scripts/fetch_assets.sh DIR on a machine with internet access and set GORL_ASSETS=DIR"
  fi
  log "model assets: $GORL_ASSETS"
}
