#!/usr/bin/env bash
# `docker-compose config -q` on every combination of deploy/compose/ files that
# docs/deploy.md names: the files parse, the variables resolve, and compose
# v1.29 accepts every key. Needs docker-compose, not a daemon.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../../deploy/compose" && pwd)"
command -v docker-compose >/dev/null || { echo "error: docker-compose is not installed" >&2; exit 1; }
export GORL_ASSETS_DIR=/assets-on-host GORL_SECRETS_DIR=/secrets-on-host
export GORL_LEARNER_ADDR=10.0.0.5:50051
status=0
check() {
  local args=()
  for f in "$@"; do args+=(-f "$dir/$f"); done
  if docker-compose "${args[@]}" config -q; then echo "ok   $*"; else echo "FAIL $*"; status=1; fi
}
check docker-compose.yml
check docker-compose.yml docker-compose.gpu.yml
check docker-compose.yml docker-compose.ci.yml
check docker-compose.actors.yml
# A variable the files require is missing: compose must refuse, naming it.
if env -u GORL_ASSETS_DIR docker-compose -f "$dir/docker-compose.yml" config -q 2>/tmp/compose-err.$$; then
  echo "FAIL docker-compose.yml without GORL_ASSETS_DIR was accepted"; status=1
elif grep -q GORL_ASSETS_DIR /tmp/compose-err.$$; then
  echo "ok   docker-compose.yml without GORL_ASSETS_DIR is refused naming it"
else
  echo "FAIL the refusal does not name GORL_ASSETS_DIR: $(cat /tmp/compose-err.$$)"; status=1
fi
rm -f /tmp/compose-err.$$
exit "$status"
