#!/usr/bin/env bash
# Builds the Docker image, starts the service, waits for /health and prints the next commands.
#   bin/run.sh            docker-compose.yml: the app and PostgreSQL 15 (`docker compose up -d --build`,
#                         or `docker-compose` when Compose v2 is missing)
#   bin/run.sh single     one container with its embedded PostgreSQL (`docker build` + `docker run`)
# Environment (all optional):
#   APP_PORT=8080                       host port of the service
#   APP_IMAGE=lab-features-etl:latest   image tag to build
#   POSTGRES_PASSWORD=lab               compose: the db password (local use only)
#   COMPOSE_PROJECT_NAME                compose: project name (default: this folder's name)
#   CONTAINER=lab-features-etl          single: container name (an existing one is replaced)
#   PGDATA_VOLUME=lab-features-etl-pgdata  single: named volume for the embedded cluster
#   DATA=/path/to/csv-folder            single: mount this folder as /app/data (read-only) instead
#                                       of the sample data shipped in the image
#   HEALTH_TIMEOUT=120                  seconds to wait for /health
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode="${1:-compose}"
port="${APP_PORT:-8080}"
image="${APP_IMAGE:-lab-features-etl:latest}"
base="http://localhost:$port"
timeout="${HEALTH_TIMEOUT:-120}"

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose -f "$root/docker-compose.yml" "$@"
  elif command -v docker-compose >/dev/null; then docker-compose -f "$root/docker-compose.yml" "$@"
  else echo "run: needs docker compose (v2) or docker-compose (v1); or use: bin/run.sh single" >&2; return 127; fi
}
compose_name() { if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo "docker-compose"; fi; }

# wait_healthy CONTAINER_ID: polls /health; gives up early when the container stops.
wait_healthy() {
  local id="$1" waited=0
  echo "waiting for $base/health (up to ${timeout}s)"
  until curl -fsS -m 5 "$base/health" >/dev/null 2>&1; do
    if [ "$(docker inspect -f '{{.State.Running}}' "$id" 2>/dev/null)" != true ]; then
      echo "run: the container stopped; its log:" >&2; docker logs --tail 50 "$id" >&2 || true; return 1
    fi
    if [ "$waited" -ge "$timeout" ]; then
      echo "run: no healthy answer after ${timeout}s; the container's log:" >&2; docker logs --tail 50 "$id" >&2 || true; return 1
    fi
    sleep 1; waited=$((waited + 1))
  done
  echo "healthy: $(curl -fsS -m 5 "$base/health")"
}

case "$mode" in
  compose)
    export APP_PORT="$port" APP_IMAGE="$image"
    compose up -d --build
    wait_healthy "$(compose ps -q app)"
    c=$(compose_name)
    cat <<MSG

The service runs on $base, with PostgreSQL 15 in the db container. Next:
  # run the ETL (POST /data) and print the run summary
  bin/trigger.sh $base
  # the published features (JSON)
  curl -s $base/data
  # the feature views through psql in the db container, or a query of your own
  bin/query.sh
  bin/query.sh "SELECT * FROM features.user_features ORDER BY user_id"
  # follow the service's log; stop (add -v to delete the database volume too)
  $c logs -f app
  $c down
MSG
    ;;
  single)
    container="${CONTAINER:-lab-features-etl}"
    volume="${PGDATA_VOLUME:-lab-features-etl-pgdata}"
    docker build -t "$image" "$root"
    docker rm -f "$container" >/dev/null 2>&1 || true
    data_mount=()
    if [ -n "${DATA:-}" ]; then data_mount=(-v "$(cd "$DATA" && pwd):/app/data:ro"); fi
    docker run -d --name "$container" -p "$port:8080" -v "$volume:/var/lib/lab-etl/pgdata" \
      ${data_mount[@]+"${data_mount[@]}"} "$image" >/dev/null
    wait_healthy "$container"
    cat <<MSG

The service runs on $base in container $container, its embedded PostgreSQL on volume $volume. Next:
  # run the ETL (POST /data) and print the run summary
  bin/trigger.sh $base
  # the published features (JSON), the runs and their per-file counts
  curl -s $base/data
  curl -s $base/runs
  # follow the service's log; stop (docker volume rm $volume deletes the database too)
  docker logs -f $container
  docker rm -f $container
The embedded PostgreSQL listens inside the container only: for bin/query.sh use the compose
stack (bin/run.sh) or a local npm start.
MSG
    ;;
  *)
    echo "usage: bin/run.sh [compose|single]" >&2; exit 2 ;;
esac
