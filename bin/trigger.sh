#!/usr/bin/env bash
# Runs the ETL through the API and prints the run summary.
#   bin/trigger.sh [--force] [BASE_URL] [DIR]
#     --force   publish even a run the publish guard refuses (far fewer users or experiments than
#               the published run: MAX_DROP_RATIO); sends POST /data?force=1.
#     BASE_URL  default http://localhost:${PORT:-8080}
#     DIR       a directory holding users.csv, user_experiments.csv and compounds.csv: they are
#               uploaded (multipart, streamed) instead of the service reading its DATA_DIR.
# With API_TOKEN set in the environment, it is sent as `Authorization: Bearer $API_TOKEN`.
# The arguments may come in any order: one starting with http:// or https:// is the URL.
# Exit code: 0 succeeded, 4 succeeded with warnings (each also printed to stderr), 1 otherwise
# (the HTTP status and the error on stderr).
set -euo pipefail
base="http://localhost:${PORT:-8080}"
dir=""
query=""
for arg in "$@"; do
  case "$arg" in
    --force) query="?force=1" ;;
    http://*|https://*) base="$arg" ;;
    *) dir="$arg" ;;
  esac
done
args=(-sS -X POST)
if [ -n "$dir" ]; then
  for part in users user_experiments compounds; do
    [ -f "$dir/$part.csv" ] || { echo "trigger: $dir/$part.csv is missing" >&2; exit 1; }
    # <name>=@<file>: a file part; curl streams it from disk.
    args+=(-F "$part=@$dir/$part.csv;type=text/csv")
  done
fi
# The token goes through a header file on stdin, so it never shows in the process list.
auth=()
if [ -n "${API_TOKEN:-}" ]; then auth=(-H @-); fi
body=$(mktemp)
trap 'rm -f "$body"' EXIT
status=$(printf 'Authorization: Bearer %s\n' "${API_TOKEN:-}" | curl "${args[@]}" "${auth[@]}" -o "$body" -w '%{http_code}' "$base/data$query")
warnings=0
if command -v node >/dev/null; then
  # The run record on stdout, its warnings on stderr; exit code 4 when there are any.
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(JSON.stringify(r, null, 2));
    for (const w of r.warnings ?? []) console.error(`trigger: warning: ${w.message}`);
    if ((r.warnings ?? []).length > 0) process.exitCode = 4;
  ' "$body" || warnings=$?
  [ "$warnings" = 0 ] || [ "$warnings" = 4 ] || exit 1
else
  cat "$body"; echo
  # Without node: a run with no warnings has an empty list.
  grep -q '"warnings":\[\]' "$body" || warnings=4
fi
[ "$status" = 200 ] || { echo "trigger: HTTP $status" >&2; exit 1; }
[ "$warnings" = 0 ] || exit 4
