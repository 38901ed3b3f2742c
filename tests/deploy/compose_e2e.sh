#!/usr/bin/env bash
# The compose topology for real (deploy/compose/): learner, refiner, 2 actors
# and Prometheus from the gorl image, on a small config that crosses stage
# boundaries, then what a deployment lives through:
#   1. every Prometheus target up, and the learner's env-step counter rising;
#   2. `docker kill` of an actor: training goes on without it;
#   3. `--scale actor=3` mid-run: the new actors join;
#   4. a second compose project, standing for another host, runs actors only
#      and joins the learner by its published address;
#   5. the learner's process killed (a crash): Docker restarts it, it resumes
#      from the checkpoint in the run volume and its env-step counter goes on
#      from there;
#   6. the run finishes with a final evaluation; everything is torn down.
# Every wait is on observable state (Prometheus' API, container state, the
# run directory), bounded; a failure prints the roles' logs.
#
# Needs a running Docker daemon (tests/deploy/docker_daemon.sh start), the
# images gorl:latest and gorl-prometheus:debian (deploy/docker/build_image.sh,
# the `deploy_image` test), docker-compose, curl and jq.
#   tests/deploy/compose_e2e.sh path/to/gorl     (GORL_ASSETS: the model files)
set -euo pipefail
gorl_host_binary="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
compose_dir="$root/deploy/compose"
docker_cmd="${DOCKER:-$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)}"
image="${GORL_IMAGE:-gorl:latest}"
started=$(date +%s)

log() { printf '[compose-e2e %3ds] %s\n' "$(( $(date +%s) - started ))" "$*"; }
for tool in docker-compose curl jq; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done
"$docker_cmd" info >/dev/null 2>&1 \
  || { echo "error: Docker cannot run here: no daemon answers (tests/deploy/docker_daemon.sh start)" >&2; exit 1; }
for img in "$image" gorl-prometheus:debian; do
  "$docker_cmd" image inspect "$img" >/dev/null 2>&1 \
    || { echo "error: image $img is missing (deploy/docker/build_image.sh --from-host)" >&2; exit 1; }
done
[ -f "${GORL_ASSETS:-}/dm_control/cartpole.xml" ] || { echo "error: set GORL_ASSETS" >&2; exit 1; }

tmp="$(mktemp -d /tmp/gorl-compose-e2e.XXXXXX)"
project="gorle2e$$"
hostb="${project}hostb"
export COMPOSE_PROJECT_NAME="$project"
export GORL_IMAGE="$image" GORL_ASSETS_DIR="$GORL_ASSETS" GORL_PROMETHEUS_IMAGE=gorl-prometheus:debian
export GORL_SECRETS_DIR="$tmp/secrets/tls" GORL_CONFIG_FILE="$tmp/run.textproto" GORL_RUN_NAME=e2e
# Container ports only: Docker picks free host ports (read back below).
export GORL_LEARNER_PUBLISH=50051 GORL_PROMETHEUS_PUBLISH=9090
compose=(docker-compose -f "$compose_dir/docker-compose.yml" -f "$compose_dir/docker-compose.ci.yml")
# The other host's project needs GORL_LEARNER_ADDR even to be torn down or to
# print its logs; it is set to the learner's published address in step 4.
hostb_learner_addr="not-started:0"
compose_b() { GORL_LEARNER_ADDR="$hostb_learner_addr" docker-compose -f "$compose_dir/docker-compose.actors.yml" -p "$hostb" "$@"; }
services=(learner refiner actor prometheus)  # Grafana: no Debian package, left out

dump_logs() {
  echo "---- docker-compose ps ----"; "${compose[@]}" ps || true
  for s in learner refiner actor prometheus; do
    echo "---- logs: $s (last 40 lines) ----"; "${compose[@]}" logs --no-color --tail=40 "$s" 2>&1 || true
  done
  echo "---- logs: $hostb actor ----"; compose_b logs --no-color --tail=20 2>&1 || true
}
teardown() {
  local code=$?
  [ "$code" -eq 0 ] || dump_logs
  compose_b down -v --remove-orphans >/dev/null 2>&1 || true
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$tmp"
  log "torn down (exit $code)"
  exit "$code"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local what="$1" limit="$2"; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then log "FAIL: timed out after ${limit}s waiting for: $what"; return 1; fi
    sleep 2
  done
  log "ok: $what"
}

# --- The run: cartpole-balance with GoRL-FM, 4 stages over 240k env steps
# (3 refinements), a checkpoint every 10 iterations (10,240 env steps). Each
# actor is capped at 750 env steps/s (GORL_ACTOR_MAX_ENV_STEPS_PER_SECOND), so
# that the run's length does not depend on the machine: uncapped, a fast one
# finished it before step 3 could scale the actors. The learner is killed in
# step 5 at about 50k env steps (a minute in); at most 4 actors (3,000
# steps/s) leave the checks after it over a minute of training to watch.
export GORL_ACTOR_MAX_ENV_STEPS_PER_SECOND="${GORL_E2E_ACTOR_STEPS_PER_SECOND:-750}"
steps_per_iteration=1024
checkpoint_every=10
total_env_steps=240000
"$gorl_host_binary" config --preset local --task cartpole-balance --algo gorl-fm --seed 0 \
  total_env_steps=$total_env_steps rollout.num_envs=16 rollout.unroll_length=16 ppo.batch_size=16 \
  ppo.num_minibatches=4 ppo.updates_per_batch=1 refine.num_pairs=4096 refine.epochs=3 \
  refine.collect_envs=16 eval.episodes=2 eval.every_env_steps=100000 \
  checkpoint_every_iterations=$checkpoint_every --out "$GORL_CONFIG_FILE"
chmod 0644 "$GORL_CONFIG_FILE"
# Credentials made by the image itself, as its user (uid 10001), so the
# 0600 files are readable in the containers.
mkdir -p "$tmp/secrets" && chmod 0777 "$tmp/secrets"
"$docker_cmd" run --rm --read-only -v "$tmp/secrets:/out" "$image" \
  certs --out /out/tls --hosts learner,refiner,localhost >/dev/null

log "up: ${services[*]} with 2 actors"
"${compose[@]}" up -d --scale actor=2 "${services[@]}" >"$tmp/up.log" 2>&1 \
  || { cat "$tmp/up.log"; exit 1; }
prom="http://$("${compose[@]}" port prometheus 9090)"
learner_port="$("${compose[@]}" port learner 50051 | sed 's/.*://')"

# query PROMQL: prints the first sample's value ("" when none).
query() {
  curl -sf "$prom/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'
}
# Targets of a job that are up.
targets_up() { query "count(up{job=\"$1\"} == 1)"; }
# The run's position (PPO env steps; from the checkpoint after a resume), and
# the learner's counter of env steps received (a counter: restarts at zero).
env_steps() { query 'max(gorl_run_env_steps{job="gorl-learner"})'; }
steps_received() { query 'sum(gorl_env_steps_total{job="gorl-learner"})'; }
connected() { query 'max(gorl_connected_actors{job="gorl-learner"})'; }
value_at_least() { local v; v="$("$1")"; [ -n "$v" ] && awk -v v="$v" -v t="$2" 'BEGIN{exit !(v >= t)}'; }
value_equals() { [ "$("$1")" = "$2" ]; }
learner_targets() { targets_up gorl-learner; }
refiner_targets() { targets_up gorl-refiner; }
actor_targets() { targets_up gorl-actor; }
# awk, not head: head exits at the first line and, under pipefail, the
# SIGPIPE of a writer with more lines to give would fail the test.
container_id() { "${compose[@]}" ps -q "$1" | awk 'NR == 1'; }
inspect() { "$docker_cmd" inspect -f "$1" "$2"; }

# --- 1. Targets up, steps rising.
wait_for "the learner healthy (SERVING)" 180 \
  bash -c "[ \"\$($docker_cmd inspect -f '{{.State.Health.Status}}' $(container_id learner))\" = healthy ]"
wait_for "learner target up" 120 value_equals learner_targets 1
wait_for "refiner target up" 120 value_equals refiner_targets 1
wait_for "both actor targets up (found by DNS)" 120 value_equals actor_targets 2
wait_for "2 actors connected" 120 value_equals connected 2
wait_for "env steps past 5,000" 240 value_at_least env_steps 5000
before="$(steps_received)"
wait_for "gorl_env_steps_total rising (past $before)" 120 \
  value_at_least steps_received $(( ${before%.*} + 2 * steps_per_iteration ))

# --- 2. An actor killed: training goes on.
victim="$(container_id actor)"
"$docker_cmd" kill "$victim" >/dev/null
log "killed actor ${victim:0:12}"
wait_for "the learner sees 1 actor" 120 value_equals connected 1
before="$(env_steps)"
wait_for "env steps rising with one actor (past $before)" 180 \
  value_at_least env_steps $(( ${before%.*} + 2 * steps_per_iteration ))

# --- 3. Scaled to 3 actors mid-run.
"${compose[@]}" up -d --no-recreate --scale actor=3 actor >>"$tmp/up.log" 2>&1
wait_for "3 actors connected after --scale actor=3" 180 value_equals connected 3
wait_for "3 actor targets up" 120 value_equals actor_targets 3

# --- 4. Another "host": actors only, joining the learner's published port
# through the host's address (not the compose network).
host_ip="$(ip -4 -o addr show docker0 | awk '{print $4}' | cut -d/ -f1)"
hostb_learner_addr="$host_ip:$learner_port"
compose_b up -d --scale actor=1 >>"$tmp/up.log" 2>&1
wait_for "the other host's actor joined (4 connected)" 180 value_equals connected 4

# --- 5. The learner crashes: its process is killed with SIGKILL from the
# host. (`docker kill` would not do: Docker treats it as a manual stop and
# does not apply the restart policy to it.)
learner="$(container_id learner)"
restarts_before="$(inspect '{{.RestartCount}}' "$learner")"
steps_at_kill="$(env_steps)"
kill -9 "$(inspect '{{.State.Pid}}' "$learner")"
log "killed the learner's process at ~${steps_at_kill%.*} env steps"
wait_for "Docker restarted the learner" 120 \
  bash -c "[ \"\$($docker_cmd inspect -f '{{.RestartCount}}' $learner)\" -gt $restarts_before ]"
wait_for "the restarted learner healthy (checkpoint loaded)" 180 \
  bash -c "[ \"\$($docker_cmd inspect -f '{{.State.Health.Status}}' $learner)\" = healthy ]"
# It resumed from the checkpoint in the volume: metrics.jsonl has a resume
# event whose env steps are within one checkpoint interval of where it was
# killed (plus the iterations between Prometheus' last scrape and the kill):
# not zero, not a new run.
read_run_file() {
  "$docker_cmd" run --rm -v "${project}_runs:/runs:ro" --entrypoint cat "$image" "/runs/e2e/$1"
}
resume_steps() { read_run_file metrics.jsonl | jq -r 'select(.event == "resume") | .env_steps' | tail -1; }
has_resume() { [ -n "$(resume_steps)" ]; }
wait_for "a resume event in the run's metrics.jsonl" 120 has_resume
resumed_at="$(resume_steps)"
floor=$(( ${steps_at_kill%.*} - (checkpoint_every + 3) * steps_per_iteration ))
ceiling=$(( ${steps_at_kill%.*} + 16 * steps_per_iteration ))
if [ "$resumed_at" -le 0 ] || [ "$resumed_at" -lt "$floor" ] || [ "$resumed_at" -gt "$ceiling" ]; then
  log "FAIL: resumed at $resumed_at env steps; killed at ~${steps_at_kill%.*} (expected $floor..$ceiling)"
  exit 1
fi
log "ok: resumed from the checkpoint at $resumed_at env steps (killed at ~${steps_at_kill%.*})"
# A machine fast enough can finish the run between two of the checks below
# (the learner then leaves Prometheus); a run that finished is proof enough
# that actors rejoined and trained on, since step 6 checks its final
# evaluation at total_env_steps, past $resumed_at.
learner_finished() { [ "$(inspect '{{.State.Status}}:{{.State.ExitCode}}' "$learner")" = exited:0 ]; }
unless_finished() { learner_finished || "$@"; }
wait_for "the restarted learner's counter continues from $resumed_at" 120 \
  unless_finished value_at_least env_steps "$resumed_at"
wait_for "actors rejoined the restarted learner" 180 unless_finished value_at_least connected 1
before="$(env_steps)"
wait_for "env steps rising after the restart (past ${before:-the end})" 180 \
  unless_finished value_at_least env_steps $(( ${before%.*} + 2 * steps_per_iteration ))

# --- 6. The run finishes: the learner exits 0 after its final evaluation.
wait_for "the learner finished (exit 0)" 420 learner_finished
read_run_file final_eval.json > "$tmp/final_eval.json"
read_run_file metrics.jsonl > "$tmp/metrics.jsonl"
# Each of the 4 stages is rounded to whole iterations of 1024 env steps.
jq -e --argjson total "$total_env_steps" --argjson slack $(( 4 * steps_per_iteration )) \
  '.env_steps >= $total - $slack and (.return_mean | type == "number")' "$tmp/final_eval.json" >/dev/null \
  || { log "FAIL: final_eval.json: $(cat "$tmp/final_eval.json")"; exit 1; }
refinements="$(grep -c '"event": "refine"' "$tmp/metrics.jsonl" || true)"
[ "$refinements" -ge 1 ] || { log "FAIL: no refinement in metrics.jsonl"; exit 1; }
log "ok: final evaluation $(jq -c '{env_steps, return_mean}' "$tmp/final_eval.json"), $refinements refinements"
log "passed in $(( $(date +%s) - started )) s"
