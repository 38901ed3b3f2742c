#!/usr/bin/env bash
# Builds the gorl image (deploy/docker/Dockerfile) and checks that it runs.
#
#   deploy/docker/build_image.sh [--from-host] [--tag TAG] [--torch cuda]
#
# --from-host: the runtime-prebuilt target, from build/cli/gorl (GORL_BUILD_DIR)
#              built on this Debian 12 machine; otherwise the builder stage
#              compiles it (about 12 minutes on 2 cores).
# The base image debian:bookworm-slim is pulled by docker or, where no
# registry is reachable, made with deploy/docker/make_base_image.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# Debian's docker.io client (/usr/bin/docker, 20.10) builds with the daemon's
# BuildKit; a newer client found first on PATH may insist on buildx.
docker_cmd="${DOCKER:-$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)}"
tag="gorl:latest"
target="runtime"
torch="debian"
while [ $# -gt 0 ]; do
  case "$1" in
    --from-host) target="runtime-prebuilt" ;;
    --tag) tag="$2"; shift ;;
    --torch) torch="$2"; shift ;;
    *) echo "usage: $0 [--from-host] [--tag TAG] [--torch debian|cuda]" >&2; exit 2 ;;
  esac
  shift
done

if ! "$docker_cmd" image inspect debian:bookworm-slim >/dev/null 2>&1; then
  "$docker_cmd" pull debian:bookworm-slim >/dev/null 2>&1 || "$here/make_base_image.sh"
fi

context="$root"
if [ "$target" = runtime-prebuilt ]; then
  build_dir="${GORL_BUILD_DIR:-$root/build}"
  [ -x "$build_dir/cli/gorl" ] || { echo "error: no $build_dir/cli/gorl: build it first (scripts/build.sh)" >&2; exit 1; }
  "$here/check_runtime_packages.sh" "$build_dir/cli/gorl"
  # A small context of its own: the binary from any build directory, and
  # the package list; not the whole repository.
  context="$(mktemp -d /tmp/gorl-image-context.XXXXXX)"
  trap 'rm -rf "$context"' EXIT
  mkdir -p "$context/build/cli" "$context/deploy/docker"
  cp "$build_dir/cli/gorl" "$context/build/cli/gorl"
  cp "$here/runtime-packages.txt" "$context/deploy/docker/"
fi

# The context holds no .git: the builder stage gets the version from here
# (a prebuilt binary already carries its own).
version="$(git -C "$root" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
start=$(date +%s)
DOCKER_BUILDKIT=1 "$docker_cmd" build --file "$here/Dockerfile" --target "$target" \
  --build-arg GORL_TORCH="$torch" --build-arg GORL_VERSION="$version" --tag "$tag" "$context"
echo "built $tag ($target) in $(( $(date +%s) - start )) s:" \
  "$("$docker_cmd" image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')" >&2

# The image runs as its non-root user on a read-only root filesystem, with
# every library found.
"$docker_cmd" run --rm --read-only --entrypoint sh "$tag" -c \
  '! ldd /usr/local/bin/gorl | grep "not found"' \
  || { echo "error: $tag lacks libraries (above); fix deploy/docker/runtime-packages.txt" >&2; exit 1; }
"$docker_cmd" run --rm --read-only --tmpfs /tmp "$tag" tasks >/dev/null
[ "$("$docker_cmd" run --rm --entrypoint id "$tag" -u)" = 10001 ]
echo "checked $tag: libraries resolve, \`gorl tasks\` runs as uid 10001 on a read-only root" >&2
