#!/bin/bash
# Scrapes the metrics endpoints of a real learner, refiner and actor, started
# by `gorl train --metrics_port P` on a tiny run over loopback, into OUT_DIR:
#   <role>.early.prom  the first scrape that answers (before any update: every
#                      family a dashboard or rule names must be there already)
#   <role>.late.prom   a scrape after the learner's first PPO update
# check_promql.mjs compares the metric names of the dashboards and alert rules
# with these files. No network beyond loopback.
#
# With a COMMAND, a real Prometheus (Debian's /usr/bin/prometheus) then
# scrapes the three roles every second as jobs gorl-learner, gorl-refiner and
# gorl-actor (honor_labels, as deploy/prometheus/prometheus.yml), and COMMAND
# runs while all of them do, with GORL_PROMETHEUS_URL set to its address;
# the script exits with COMMAND's status.
#
# Usage: scrape_roles.sh GORL_BINARY OUT_DIR [COMMAND...]
set -euo pipefail

usage="usage: scrape_roles.sh GORL_BINARY OUT_DIR [COMMAND...]"
gorl=${1:?$usage}
out=${2:?$usage}
shift 2
mkdir -p "$out"
work=$(mktemp -d)
launcher=""
prometheus=""
cleanup() {
  local pid
  for pid in "$prometheus" "$launcher"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Four consecutive free loopback ports (learner P, refiner P+1, actor P+2;
# Prometheus P+3): the launcher numbers its own from --metrics_port.
base=$(python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randrange(20000, 60000)
    socks = []
    try:
        for q in range(p, p + 4):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            socks.append(s)
        print(p)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
EOF
)
[[ -n "$base" ]] || { echo "scrape_roles: no 4 free consecutive ports" >&2; exit 1; }

# A run far longer than the test (no refinement happens), tiny networks.
OMP_NUM_THREADS=1 "$gorl" train --actors 1 --metrics_port "$base" --run_dir "$work/run" \
  --task twin-peaks --algo gorl-fm total_env_steps=16000000 rollout.num_envs=8 \
  rollout.unroll_length=10 ppo.batch_size=8 ppo.num_minibatches=2 ppo.updates_per_batch=1 \
  encoder.hidden=16,16 encoder.critic_hidden=16,16 decoder.hidden=16,16 decoder.steps=2 \
  eval.episodes=4 learner_threads=1 >"$work/train.out" 2>"$work/train.err" &
launcher=$!

declare -A port=([learner]=$base [refiner]=$((base + 1)) [actor]=$((base + 2)))

# Polls `what` (a shell test) every 0.1 s until it holds or `seconds` pass;
# the launcher dying ends the wait at once with its log.
wait_for() {
  local seconds=$1 what=$2
  local deadline=$((SECONDS + seconds))
  until eval "$what"; do
    if ! kill -0 "$launcher" 2>/dev/null; then
      echo "scrape_roles: gorl train exited early:" >&2
      tail -20 "$work/train.err" >&2
      exit 1
    fi
    if ((SECONDS > deadline)); then
      echo "scrape_roles: timed out waiting for: $what" >&2
      tail -20 "$work/train.err" >&2
      exit 1
    fi
    sleep 0.1
  done
}

scrape() {  # role file
  curl -sf --max-time 5 "http://127.0.0.1:${port[$1]}/metrics" -o "$2.tmp" && mv "$2.tmp" "$2"
}

for role in learner refiner actor; do
  wait_for 120 "scrape $role '$out/$role.early.prom'"
done
# The learner's first PPO update, as its own exporter counts it.
wait_for 180 "scrape learner '$work/learner.prom' &&
  grep -Eq '^gorl_ppo_updates_total\\{[^}]*\\} [1-9]' '$work/learner.prom'"
for role in learner refiner actor; do
  wait_for 60 "scrape $role '$out/$role.late.prom'"
done
echo "scraped learner, refiner and actor on ports $base..$((base + 2)) into $out"
(($# == 0)) && exit 0

prom_port=$((base + 3))
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gorl-learner
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:${port[learner]}']}]
  - job_name: gorl-refiner
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:${port[refiner]}']}]
  - job_name: gorl-actor
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:${port[actor]}']}]
EOF
/usr/bin/prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
prometheus=$!
prometheus_ready() {
  curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$prom_port/-/ready" && return 0
  if ! kill -0 "$prometheus" 2>/dev/null; then
    echo "scrape_roles: prometheus exited:" >&2
    tail -5 "$work/prometheus.log" >&2
    exit 1
  fi
  return 1
}
wait_for 60 prometheus_ready
status=0
GORL_PROMETHEUS_URL="http://127.0.0.1:$prom_port" "$@" || status=$?
exit "$status"
