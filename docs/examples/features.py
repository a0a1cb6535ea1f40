#!/usr/bin/env python3
"""Reads lab-features-etl's published features with Python's standard library only.

    python3 docs/examples/features.py [BASE_URL [PAGE_SIZE]]   # default http://127.0.0.1:8080, 500

Pages through GET /data (JSON, PAGE_SIZE users a page, `after` = the previous page's `next_after`),
then reads the same users from GET /data.csv?raw=1 with the csv module, and prints one JSON
object: the run, the number of users, the average, and the first users from each. Set API_TOKEN
in the environment when the service needs one for reads.
"""
import csv
import io
import json
import os
import sys
import urllib.parse
import urllib.request

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
PAGE_SIZE = int(sys.argv[2]) if len(sys.argv) > 2 else 500
TOKEN = os.environ.get("API_TOKEN")


def get(path, **query):
    url = f"{BASE}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    request = urllib.request.Request(url)
    if TOKEN:
        request.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(request) as answer:  # raises HTTPError on 4xx/5xx
        return answer.read()


def all_users_json():
    users, after, pages = [], 0, 0
    while True:
        page = json.loads(get("/data", limit=PAGE_SIZE, after=after))
        pages += 1
        users += page["users"]
        if page.get("next_after") is None:
            return page["run"], page["average_experiments_per_user"], users, pages
        after = page["next_after"]


def all_users_csv():
    # newline="" as the csv module asks: a quoted field may hold a line break.
    return list(csv.DictReader(io.StringIO(get("/data.csv", raw=1).decode("utf-8"), newline="")))


run, average, users, pages = all_users_json()
rows = all_users_csv()
print(json.dumps({
    "run_id": run and run["run_id"],
    "users": len(users),
    "pages": pages,
    "csv_rows": len(rows),
    "average_experiments_per_user": average,
    "first_user": users[0] if users else None,
    "first_csv_row": rows[0] if rows else None,
}, indent=2))
