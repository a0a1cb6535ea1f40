#!/usr/bin/env bash
# Shows the features as PostgreSQL holds them, with psql against the feature views.
#   bin/query.sh            the views' contents
#   bin/query.sh "SQL"      any query of your own
# Connects to DATABASE_URL, or to the embedded PostgreSQL the service starts when it is unset
# (127.0.0.1:${EMBEDDED_PG_PORT:-54329}; the service must be running).
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
exec psql "$url" -v ON_ERROR_STOP=1 -P pager=off -c "$sql"
