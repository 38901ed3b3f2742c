#!/usr/bin/env bash
# Checks deploy/docker/runtime-packages.txt against a built `gorl`: every
# library the binary links directly (readelf NEEDED) must belong to a listed
# package (or libc6/libgcc, which every Debian image has).
#   deploy/docker/check_runtime_packages.sh build/cli/gorl
set -euo pipefail
binary="$1"
list="$(dirname "$0")/runtime-packages.txt"
listed="$(grep -v '^#' "$list" | sort -u)"
status=0
for lib in $(readelf -d "$binary" | awk '/NEEDED/{gsub(/[][]/, "", $5); print $5}'); do
  path="$(ldd "$binary" | awk -v l="$lib" '$1 == l {print $3}')"
  [ -n "$path" ] || { echo "error: $binary: $lib not found on this machine" >&2; status=1; continue; }
  # dpkg knows a file by the path its package ships (/lib or /usr/lib on a
  # merged-/usr system), so ask for both.
  owner="$({ dpkg -S "$path" || dpkg -S "$(realpath "$path")"; } 2>/dev/null | head -1 | cut -d: -f1 || true)"
  case "$owner" in libc6|libgcc-s1) continue ;; esac
  if ! grep -qx "$owner" <<<"$listed"; then
    echo "error: $lib (package $owner) is not in $list" >&2
    status=1
  fi
done
exit "$status"
