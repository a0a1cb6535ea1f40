#!/usr/bin/env bash
# npm run test:docker: builds the image and proves, against a real Docker engine,
#   1. the single container: docker run with the embedded PostgreSQL, ETL through the API, the
#      features of data/, a non-root user, the HEALTHCHECK, features kept across a restart and
#      across a new container on the same volume (started by bin/run.sh single);
#   2. the compose stack (bin/run.sh = up -d --build + wait): app + postgres:15, ETL, features,
#      bin/query.sh (psql inside the db container);
# then removes every container, network and volume it created, also on failure or Ctrl-C.
# Not part of `npm test`: it needs a Docker engine (on the lab machine: docker-lab.sh up).
# Knobs: TEST_SINGLE_PORT=18080  TEST_COMPOSE_PORT=18081  TEST_IMAGE=lab-features-etl:test
#        HEALTH_TIMEOUT=120 (seconds)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

image="${TEST_IMAGE:-lab-features-etl:test}"
single_port="${TEST_SINGLE_PORT:-18080}"
compose_port="${TEST_COMPOSE_PORT:-18081}"
timeout="${HEALTH_TIMEOUT:-120}"
container=labetl-test-single
volume=labetl-test-pgdata
single_url="http://localhost:$single_port"
compose_url="http://localhost:$compose_port"
# Read by docker-compose.yml, bin/run.sh and bin/query.sh: a project, port, image tag and password
# of the test's own, so a stack started by hand is left alone.
export COMPOSE_PROJECT_NAME=labetl-test APP_PORT="$compose_port" APP_IMAGE="$image" POSTGRES_PASSWORD=lab-test-secret
export HEALTH_TIMEOUT="$timeout"

logs=$(mktemp -d)
passed=()
current=""
engine=""
compose_cmd=""
image_size=""
started=$(date +%s)

step() { current="$1"; echo; echo "=== $current"; }
ok() { passed+=("ok    $current${1:+ -- $1}"); echo "ok${1:+: $1}"; current=""; }
fail() { echo "FAIL: $*" >&2; return 1; }

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose -f "$root/docker-compose.yml" "$@"
  else docker-compose -f "$root/docker-compose.yml" "$@"; fi
}

# wait_healthy URL CONTAINER: polls URL/health; fails early when the container stops.
wait_healthy() {
  local url="$1" id="$2" waited=0
  until curl -fsS -m 5 "$url/health" >/dev/null 2>&1; do
    [ "$(docker inspect -f '{{.State.Running}}' "$id" 2>/dev/null)" = true ] || fail "container $id stopped"
    [ "$waited" -lt "$timeout" ] || fail "no healthy answer from $url/health after ${timeout}s"
    sleep 1; waited=$((waited + 1))
  done
  echo "healthy after ${waited}s: $(curl -fsS -m 5 "$url/health")"
}

# Every container, network and volume this test creates carries labetl-test in its name.
# POST /data through bin/trigger.sh, then GET /data against the expected features of data/;
# leaves the run id in $checked_run.
trigger_and_check() {
  local label=$1 url=$2
  step "$label: bin/trigger.sh $url (POST /data)"
  bin/trigger.sh "$url" >"$logs/trigger-$label.json" || { cat "$logs/trigger-$label.json"; fail "POST /data failed"; }
  grep -q '"status": "succeeded"' "$logs/trigger-$label.json" || { cat "$logs/trigger-$label.json"; fail "the run did not succeed"; }
  ok
  step "$label: GET /data has the features of data/"
  checked_run=$(node test/docker/check-features.mjs "$url")
  ok "run $checked_run"
}

leftovers() {
  {
    docker ps -aq --filter name=labetl-test
    docker ps -aq --filter label=com.docker.compose.project=labetl-test
    docker volume ls -q --filter name=labetl-test
    docker network ls -q --filter name=labetl-test
  } 2>/dev/null | sort -u
}

teardown() {
  docker rm -f "$container" >/dev/null 2>&1 || true
  docker volume rm "$volume" >/dev/null 2>&1 || true
  compose down -v --remove-orphans >/dev/null 2>&1 || true
}

on_exit() {
  local rc=$? left
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ]; then
    echo; echo "=== logs after the failure"
    docker logs --tail 40 "$container" 2>&1 | sed 's/^/single | /' || true
    compose logs --no-color --tail 40 2>&1 | sed 's/^/compose | /' || true
  fi
  echo; echo "=== teardown"
  teardown
  left=$(leftovers)
  rm -rf "$logs"
  echo
  echo "==================== test:docker summary ===================="
  echo "engine: $engine; compose: $compose_cmd"
  [ -z "$image_size" ] || echo "image: $image ($image_size)"
  printf '%s\n' "${passed[@]+"${passed[@]}"}"
  [ -z "$current" ] || { echo "FAIL  $current"; [ "$rc" -ne 0 ] || rc=1; }
  if [ -n "$left" ]; then
    echo "FAIL  teardown: still present: $(echo "$left" | tr '\n' ' ')"
    [ "$rc" -ne 0 ] || rc=1
  else
    echo "ok    teardown -- no labetl-test container, network or volume left"
  fi
  echo "RESULT: $([ "$rc" -eq 0 ] && echo PASS || echo FAIL) (${#passed[@]} steps passed, $(($(date +%s) - started))s)"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---- engine ------------------------------------------------------------------------------------
step "engine: docker and compose answer"
command -v docker >/dev/null || fail "no docker client"
docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd, or point DOCKER_HOST at one)"
engine="docker server $(docker version -f '{{.Server.Version}}')"
if docker compose version >/dev/null 2>&1; then compose_cmd="docker compose $(docker compose version --short)"
elif command -v docker-compose >/dev/null; then compose_cmd="docker-compose $(docker-compose version --short)"
else fail "neither docker compose (v2) nor docker-compose (v1)"; fi
for tool in curl node; do command -v "$tool" >/dev/null || fail "needs $tool"; done
teardown # what an interrupted earlier run may have left
[ -z "$(leftovers)" ] || fail "labetl-test resources from an earlier run could not be removed: $(leftovers | tr '\n' ' ')"
ok "$engine, $compose_cmd"

# ---- image -------------------------------------------------------------------------------------
step "build: docker build -t $image ."
docker build -t "$image" . >"$logs/build.log" 2>&1 || { tail -40 "$logs/build.log"; fail "docker build failed"; }
image_size="$(($(docker image inspect -f '{{.Size}}' "$image") / 1000000)) MB"
[ "$(docker image inspect -f '{{.Config.User}}' "$image")" = node ] || fail "the image does not set USER node"
docker image inspect -f '{{json .Config.Healthcheck}}' "$image" | grep -q /health || fail "the image has no HEALTHCHECK against /health"
ok "$image_size, USER node, HEALTHCHECK on /health"

# ---- single container --------------------------------------------------------------------------
step "single: docker run -d --name $container -p $single_port:8080 -v $volume:/var/lib/lab-etl/pgdata $image"
docker run -d --name "$container" -p "$single_port:8080" -v "$volume:/var/lib/lab-etl/pgdata" "$image" >/dev/null
wait_healthy "$single_url" "$container"
docker logs "$container" 2>&1 | grep -q 'embedded PostgreSQL' || fail "the service did not start its embedded PostgreSQL"
ok "embedded PostgreSQL initialised and started in the container"

step "single: the container runs as a non-root user"
uid=$(docker exec "$container" id -u)
[ "$uid" != 0 ] || fail "docker exec id -u printed 0"
# every process in the container, the service and its PostgreSQL server processes included
uids=$(docker exec "$container" sh -c 'for s in /proc/[0-9]*/status; do sed -n "s/^Uid:[[:space:]]*\([0-9]*\).*/\1/p" "$s"; done 2>/dev/null' | sort -u | tr '\n' ' ')
case " $uids " in *" 0 "*) fail "a process in the container runs as root (uids: $uids)" ;; esac
processes=$(docker exec "$container" sh -c 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " "')
echo "$processes" | grep -q postgres || fail "no postgres process in the container"
ok "id -u = $uid; process uids: ${uids% }"

trigger_and_check single "$single_url"
run_id=$checked_run

step "single: Docker's HEALTHCHECK reports healthy"
waited=0
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$container")" = healthy ]; do
  [ "$waited" -lt 90 ] || fail "health status still $(docker inspect -f '{{.State.Health.Status}}' "$container") after 90s"
  sleep 1; waited=$((waited + 1))
done
ok "healthy"

step "single: docker restart keeps the published features (no new POST)"
docker restart -t 30 "$container" >/dev/null
wait_healthy "$single_url" "$container"
node test/docker/check-features.mjs "$single_url" "$run_id" >/dev/null
ok "run $run_id still published"

step "single: docker stop shuts down cleanly; bin/run.sh single on the same volume keeps the features"
docker stop -t 30 "$container" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$container")
[ "$code" = 0 ] || fail "the service exited with $code on SIGTERM"
APP_PORT="$single_port" CONTAINER="$container" PGDATA_VOLUME="$volume" bin/run.sh single >"$logs/run-single.log" 2>&1 \
  || { tail -40 "$logs/run-single.log"; fail "bin/run.sh single failed"; }
grep -q 'bin/trigger.sh' "$logs/run-single.log" || fail "bin/run.sh single printed no next commands"
node test/docker/check-features.mjs "$single_url" "$run_id" >/dev/null
[ "$(docker exec "$container" id -u)" != 0 ] || fail "the new container runs as root"
ok "exit code 0 on SIGTERM; new container serves run $run_id"

docker rm -f "$container" >/dev/null
docker volume rm "$volume" >/dev/null

# ---- compose -----------------------------------------------------------------------------------
step "compose: bin/run.sh ($compose_cmd up -d --build, wait for /health)"
bin/run.sh >"$logs/run-compose.log" 2>&1 || { tail -60 "$logs/run-compose.log"; fail "bin/run.sh failed"; }
grep -q 'bin/query.sh' "$logs/run-compose.log" || fail "bin/run.sh printed no next commands"
app=$(compose ps -q app)
db=$(compose ps -q db)
[ -n "$app" ] && [ -n "$db" ] || fail "compose ps does not show both app and db"
[ "$(docker inspect -f '{{.State.Health.Status}}' "$db")" = healthy ] || fail "db is not healthy"
compose logs --no-color app 2>&1 | grep -q '(DATABASE_URL)' || fail "the app did not use DATABASE_URL"
[ "$(docker exec "$app" id -u)" != 0 ] || fail "the app container runs as root"
docker exec "$app" sh -c 'touch /app/data/.write-test' 2>/dev/null && fail "/app/data is writable, expected ./data mounted read-only"
ok "db healthy, app on DATABASE_URL, non-root, ./data read-only"

trigger_and_check compose "$compose_url"

step "compose: bin/query.sh (psql inside the db container)"
bin/query.sh >"$logs/query.txt" 2>&1 || { cat "$logs/query.txt"; fail "bin/query.sh failed"; }
grep -q '1.75' "$logs/query.txt" && grep -q 'Carolyn Bertozzi' "$logs/query.txt" \
  || { cat "$logs/query.txt"; fail "bin/query.sh does not show the features"; }
answer=$(bin/query.sh "SELECT 'user1=' || total_experiments || '/' || top_compound_name FROM features.user_features WHERE user_id = 1" 2>&1) \
  || { echo "$answer"; fail "bin/query.sh with SQL failed"; }
echo "$answer" | grep -q 'user1=3/Caffeine' || { echo "$answer"; fail "unexpected answer to the query"; }
ok "feature views listed; a custom query answered"

step "compose: down -v"
compose down -v --remove-orphans >"$logs/down.log" 2>&1 || { cat "$logs/down.log"; fail "compose down failed"; }
ok
