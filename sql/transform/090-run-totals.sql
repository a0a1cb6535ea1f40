-- Per-file and per-run totals of the run ($1): what was loaded, what was rejected, the average.
WITH loaded(file, n) AS (
  VALUES ('users.csv', (SELECT count(*) FROM work.users)),
         ('compounds.csv', (SELECT count(*) FROM work.compounds)),
         ('user_experiments.csv', (SELECT count(*) FROM work.experiments))
), files AS (
  UPDATE etl.run_files f
  SET rows_loaded = l.n,
      rows_rejected = (SELECT count(*) FROM etl.rejects r WHERE r.run_id = f.run_id AND r.file = f.file)
  FROM loaded l
  WHERE f.run_id = $1 AND f.file = l.file
)
UPDATE etl.runs
SET users = (SELECT n FROM loaded WHERE file = 'users.csv'),
    experiments = (SELECT n FROM loaded WHERE file = 'user_experiments.csv'),
    average_experiments_per_user = (SELECT e.n::numeric / nullif(u.n, 0)
                                    FROM loaded u, loaded e
                                    WHERE u.file = 'users.csv' AND e.file = 'user_experiments.csv')
WHERE run_id = $1
