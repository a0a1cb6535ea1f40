-- work.experiments_parsed -> work.experiments + rejects. An experiment must also use only accepted
-- compounds; then the first valid row of each experiment_id wins (work.experiments already holds
-- the rows the loader typed, each on an earlier line than any other row with its id).
--
-- A knock-on reject names its cause: an experiment whose user (040) or lowest unknown compound
-- compounds.csv has but rejected says which row that was, with its line and reason, and records
-- it in cause_file/cause_line (GET /runs/:id/rejects lists users.csv and compounds.csv first).
WITH unknown_compound AS (
  SELECT x.line, min(x.compound_id) AS compound_id
  FROM work.experiment_compounds x
  WHERE NOT EXISTS (SELECT 1 FROM work.compounds k WHERE k.compound_id = x.compound_id)
  GROUP BY x.line
), rejected_compound AS ( -- the compounds' rejected rows whose compound_id still reads as an id
  SELECT DISTINCT ON (id) id, r.line, r.reason
  FROM etl.rejects r
  JOIN staging.compounds s ON s.line = r.line
  CROSS JOIN LATERAL etl.to_id(s.compound_id) AS id
  WHERE r.run_id = $1 AND r.file = 'compounds.csv' AND id IS NOT NULL
  ORDER BY id, r.line
), checked AS (
  SELECT p.line, p.id, p.uid, p.cids, p.rt,
         coalesce(p.problem, CASE
           WHEN b.line IS NULL THEN NULL
           WHEN rc.line IS NOT NULL
             THEN format('compound %s was rejected: compounds.csv line %s: %s', b.compound_id, rc.line, rc.reason)
           ELSE format('compound %s is not an accepted compound', b.compound_id)
         END) AS problem,
         CASE WHEN p.cause_line IS NOT NULL THEN 'users.csv' WHEN p.problem IS NULL AND rc.line IS NOT NULL THEN 'compounds.csv' END AS cause_file,
         CASE WHEN p.cause_line IS NOT NULL THEN p.cause_line WHEN p.problem IS NULL THEN rc.line END AS cause_line
  FROM work.experiments_parsed p
  LEFT JOIN unknown_compound b ON b.line = p.line
  LEFT JOIN rejected_compound rc ON rc.id = b.compound_id
), typed_first AS (
  SELECT c.line, w.line AS first_line FROM checked c JOIN work.experiments w ON w.experiment_id = c.id WHERE c.problem IS NULL
), judged AS (
  SELECT c.*, coalesce(problem, CASE WHEN line <> first_line
           THEN format('experiment_id %s repeats the experiment on line %s', id, first_line) END) AS reason
  FROM (SELECT c.*, least(f.first_line, min(c.line) FILTER (WHERE c.problem IS NULL) OVER (PARTITION BY c.id)) AS first_line
        FROM checked c LEFT JOIN typed_first f ON f.line = c.line) c
), rejected AS (
  INSERT INTO etl.rejects (run_id, file, line, reason, raw, raw_bytes, cause_file, cause_line)
  SELECT $1, 'user_experiments.csv', j.line, j.reason, etl.byte_prefix(s.raw, 1000), CASE WHEN NOT s.raw_is_preview THEN octet_length(s.raw) END,
         j.cause_file, j.cause_line
  FROM judged j JOIN staging.experiments s ON s.line = j.line
  WHERE j.reason IS NOT NULL
)
INSERT INTO work.experiments (run_id, experiment_id, user_id, compound_ids, run_time, line)
SELECT $1, id, uid, etl.distinct_ids(cids), rt, line FROM judged WHERE reason IS NULL
