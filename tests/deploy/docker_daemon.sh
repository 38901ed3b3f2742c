#!/usr/bin/env bash
# Starts or stops a Docker daemon for the deploy tests (ctest fixture
# `docker`). Debian's docker.io does not start dockerd by itself and CI has no
# init system: `start` runs it in the background and records its PID; `stop`
# stops only a daemon that `start` started. With no Docker at all, `start`
# fails with a message saying so: the deploy tests must never pass silently.
#   tests/deploy/docker_daemon.sh start|stop
set -euo pipefail
state="${GORL_DOCKER_STATE:-/tmp/gorl-dockerd}"
docker_cmd="${DOCKER:-$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)}"

case "${1:-}" in
  start)
    if "$docker_cmd" info >/dev/null 2>&1; then
      echo "a Docker daemon is already running; using it"
      exit 0
    fi
    command -v dockerd >/dev/null || {
      echo "error: Docker cannot run here: no dockerd (apt-get install docker.io docker-compose)" >&2
      exit 1
    }
    [ "$(id -u)" -eq 0 ] || { echo "error: starting dockerd needs root" >&2; exit 1; }
    mkdir -p "$state"
    # setsid and no inherited output: ctest must not wait for the daemon.
    setsid dockerd >"$state/dockerd.log" 2>&1 </dev/null &
    echo $! > "$state/pid"
    for _ in $(seq 120); do
      if "$docker_cmd" info >/dev/null 2>&1; then echo "dockerd started (pid $(cat "$state/pid"))"; exit 0; fi
      kill -0 "$(cat "$state/pid")" 2>/dev/null || break
      sleep 0.5
    done
    echo "error: Docker cannot run here: dockerd did not come up; its log:" >&2
    tail -20 "$state/dockerd.log" >&2
    exit 1
    ;;
  stop)
    [ -f "$state/pid" ] || { echo "no daemon started by the tests"; exit 0; }
    pid="$(cat "$state/pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$state/pid"
    echo "dockerd stopped"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
