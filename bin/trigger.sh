#!/usr/bin/env bash
# Runs the ETL through the API and prints the run summary.
#   bin/trigger.sh [BASE_URL] [DIR]
#     BASE_URL  default http://localhost:${PORT:-8080}
#     DIR       a directory holding users.csv, user_experiments.csv and compounds.csv: they are
#               uploaded (multipart, streamed) instead of the service reading its DATA_DIR.
# With API_TOKEN set in the environment, it is sent as `Authorization: Bearer $API_TOKEN`.
# The arguments may come in either order: one starting with http:// or https:// is the URL.
set -euo pipefail
base="http://localhost:${PORT:-8080}"
dir=""
for arg in "$@"; do
  case "$arg" in
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
status=$(printf 'Authorization: Bearer %s\n' "${API_TOKEN:-}" | curl "${args[@]}" "${auth[@]}" -o "$body" -w '%{http_code}' "$base/data")
if command -v node >/dev/null; then
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(JSON.stringify(r,null,2))' "$body"
else
  cat "$body"; echo
fi
[ "$status" = 200 ] || { echo "trigger: HTTP $status" >&2; exit 1; }
