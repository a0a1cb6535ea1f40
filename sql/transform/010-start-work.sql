-- Empty work tables for this run ($1 = run id).
SELECT etl.start_work($1)
