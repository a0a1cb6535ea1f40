#!/usr/bin/env bash
# Shows the features as PostgreSQL holds them, with psql against the feature views.
#   bin/query.sh            the views' contents
#   bin/query.sh "SQL"      any query of your own
# Connects to DATABASE_URL, or to the embedded PostgreSQL the service starts when it is unset
# (127.0.0.1:${EMBEDDED_PG_PORT:-54329}; the service must be running).
# Docker: when DATABASE_URL is unset and the docker-compose.yml stack is running, or when there is
# no local psql, runs psql inside the compose `db` container instead (docker compose exec -T db
# psql -U postgres; `docker-compose` when Compose v2 is missing; COMPOSE_PROJECT_NAME is honoured).
set -euo pipefail
url="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:${EMBEDDED_PG_PORT:-54329}/postgres}"
sql="${1:-}"
if [ -z "$sql" ]; then
  sql="SELECT * FROM features.average_experiments_per_user;
SELECT * FROM features.user_experiment_counts ORDER BY user_id;
SELECT * FROM features.user_top_compounds ORDER BY user_id;
SELECT user_id, name, total_experiments, round(average_run_time::numeric, 2) AS average_run_time,
       top_compound_id, top_compound_name, top_compound_ids, top_compound_experiments
FROM features.user_features ORDER BY user_id;"
fi

compose_file="$(cd "$(dirname "$0")/.." && pwd)/docker-compose.yml"
compose() {
  if docker compose version >/dev/null 2>&1; then docker compose -f "$compose_file" "$@"
  else docker-compose -f "$compose_file" "$@"; fi
}
compose_db_running() {
  command -v docker >/dev/null || return 1
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || return 1
  local id
  id=$(compose ps -q db 2>/dev/null) || return 1
  [ -n "$id" ] && [ "$(docker inspect -f '{{.State.Running}}' "$id" 2>/dev/null)" = true ]
}

if ! command -v psql >/dev/null || { [ -z "${DATABASE_URL:-}" ] && compose_db_running; }; then
  compose_db_running || { echo "query: no local psql, and the docker-compose.yml db service is not running" >&2; exit 1; }
  compose exec -T db psql -U postgres -d postgres -v ON_ERROR_STOP=1 -P pager=off -c "$sql"
  exit
fi
exec psql "$url" -v ON_ERROR_STOP=1 -P pager=off -c "$sql"
