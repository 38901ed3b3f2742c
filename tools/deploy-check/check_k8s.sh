#!/usr/bin/env bash
# ctest deploy_k8s: the Kubernetes manifests of deploy/k8s rendered by
# kustomize and checked offline (check_k8s.mjs), then the tests that prove
# those checks reject broken manifests (k8s/check_k8s.test.mjs). Schema
# validation, not a server dry run. Needs Node.js 18+ with npm and kubectl
# (set KUBECTL to use another one); installs the pinned npm packages
# (package-lock.json) when node_modules is missing. Fails, never skips,
# when something is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
die() { printf 'deploy_k8s: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null \
  || die "node not found: install Node.js 18 or newer (scripts/test.sh does; Debian 12: apt-get install nodejs npm)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' \
  || die "Node.js $(node --version) is too old: 18 or newer is needed"
command -v "${KUBECTL:-kubectl}" >/dev/null \
  || die "${KUBECTL:-kubectl} not found: install kubectl (scripts/test.sh does; Debian 12: apt-get install kubernetes-client, whose kustomize v2.0.3 renders these manifests) or set KUBECTL=/path/to/kubectl"

if [ ! -f "$here/node_modules/.package-lock.json" ]; then
  command -v npm >/dev/null \
    || die "npm not found: install it (scripts/test.sh does: install_deploy_check in scripts/common.sh; Debian 12: apt-get install npm)"
  echo "deploy_k8s: installing the pinned npm packages (npm ci)" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $here"
fi

node "$here/check_k8s.mjs"
node --test "$here/k8s/check_k8s.test.mjs"
