#!/usr/bin/env bash
# Makes the base image `debian:bookworm-slim` locally with debootstrap, for
# machines that cannot pull from a registry (CI here). On a machine that can,
# `docker pull debian:bookworm-slim` does the same job and this is not needed.
#
# Usage: deploy/docker/make_base_image.sh [IMAGE_TAG]   (default debian:bookworm-slim)
# Env:   GORL_DEBIAN_MIRROR (default: the first mirror apt is configured with)
#        DOCKER (default: docker)
set -euo pipefail
tag="${1:-debian:bookworm-slim}"
# Debian's docker.io client (/usr/bin/docker, 20.10) builds with the daemon's
# BuildKit; a newer client found first on PATH may insist on buildx.
docker_cmd="${DOCKER:-$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)}"

if "$docker_cmd" image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present" >&2
  exit 0
fi
command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

mirror="${GORL_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  # deb822 sources (Debian 12's default) first, then the one-line format.
  mirror="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)"
  [ -n "$mirror" ] || mirror="$(grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1 || true)"
  [ -n "$mirror" ] || mirror="http://deb.debian.org/debian"
fi

root="$(mktemp -d /tmp/gorl-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap --variant=minbase bookworm from $mirror (about a minute)" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# What the official slim image also leaves out: apt lists and caches.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | "$docker_cmd" import --change 'CMD ["bash"]' - "$tag" >/dev/null
echo "made $tag ($("$docker_cmd" image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))" >&2
