-- work.experiments_parsed -> work.experiments + rejects. An experiment must also use only accepted
-- compounds; then the first valid row of each experiment_id wins (work.experiments already holds
-- the rows the loader typed, each on an earlier line than any other row with its id).
WITH unknown_compound AS (
  SELECT x.line, min(x.compound_id) AS compound_id
  FROM work.experiment_compounds x
  WHERE NOT EXISTS (SELECT 1 FROM work.compounds k WHERE k.compound_id = x.compound_id)
  GROUP BY x.line
), checked AS (
  SELECT p.line, p.id, p.uid, p.cids, p.rt,
         coalesce(p.problem, CASE WHEN b.line IS NOT NULL
                                  THEN format('compound %s is not an accepted compound', b.compound_id) END) AS problem
  FROM work.experiments_parsed p
  LEFT JOIN unknown_compound b ON b.line = p.line
), typed_first AS (
  SELECT c.line, w.line AS first_line FROM checked c JOIN work.experiments w ON w.experiment_id = c.id WHERE c.problem IS NULL
), judged AS (
  SELECT c.*, coalesce(problem, CASE WHEN line <> first_line
           THEN format('experiment_id %s repeats the experiment on line %s', id, first_line) END) AS reason
  FROM (SELECT c.*, least(f.first_line, min(c.line) FILTER (WHERE c.problem IS NULL) OVER (PARTITION BY c.id)) AS first_line
        FROM checked c LEFT JOIN typed_first f ON f.line = c.line) c
), rejected AS (
  INSERT INTO etl.rejects (run_id, file, line, reason, raw, raw_bytes)
  SELECT $1, 'user_experiments.csv', j.line, j.reason, etl.byte_prefix(s.raw, 1000), CASE WHEN NOT s.raw_is_preview THEN octet_length(s.raw) END
  FROM judged j JOIN staging.experiments s ON s.line = j.line
  WHERE j.reason IS NOT NULL
)
INSERT INTO work.experiments (run_id, experiment_id, user_id, compound_ids, run_time, line)
SELECT $1, id, uid, etl.distinct_ids(cids), rt, line FROM judged WHERE reason IS NULL
