#!/usr/bin/env bash
# Runs the ETL through the API and prints the run summary.
#   bin/trigger.sh [BASE_URL]      (default http://localhost:${PORT:-8080})
set -euo pipefail
base="${1:-http://localhost:${PORT:-8080}}"
body=$(mktemp)
trap 'rm -f "$body"' EXIT
status=$(curl -sS -o "$body" -w '%{http_code}' -X POST "$base/data")
if command -v node >/dev/null; then
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(JSON.stringify(r,null,2))' "$body"
else
  cat "$body"; echo
fi
[ "$status" = 200 ] || { echo "trigger: HTTP $status" >&2; exit 1; }
