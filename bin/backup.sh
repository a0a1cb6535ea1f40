#!/usr/bin/env bash
# Backs up the service's database with pg_dump, in its custom format (compressed; pg_restore reads it).
#   bin/backup.sh [FILE]    default: lab-features-etl-<UTC time>.dump in the current folder
# Connects to DATABASE_URL, or to the embedded PostgreSQL the service starts when it is unset
# (127.0.0.1:${EMBEDDED_PG_PORT:-54329}; the service must be running). The embedded server is
# PostgreSQL 15, which the pg_dump of PostgreSQL 15 and later dumps (Debian 12: apt-get install
# postgresql-client). Safe while the service runs: pg_dump reads one snapshot, so a run committing
# meanwhile is either wholly in the backup or not at all. Restore: docs/day-two.md#backup-and-restore.
set -euo pipefail
url="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:${EMBEDDED_PG_PORT:-54329}/postgres}"
file="${1:-lab-features-etl-$(date -u +%Y%m%dT%H%M%SZ).dump}"
command -v pg_dump >/dev/null || { echo "backup: pg_dump is not installed (Debian/Ubuntu: apt-get install postgresql-client)" >&2; exit 1; }
# Written beside its name and renamed when complete, so a failed dump never looks like a backup.
partial="$file.partial"
trap 'rm -f "$partial"' EXIT
pg_dump --format=custom --file="$partial" "$url"
mv "$partial" "$file"
echo "backup: $file ($(du -h "$file" | cut -f1)); restore it with pg_restore (docs/day-two.md#backup-and-restore)" >&2
