-- staging.experiments -> work.experiments + rejects. An experiment must belong to an accepted user
-- and use only accepted compounds; the first valid row of each experiment_id wins.
WITH checked AS (
  SELECT t.line, t.raw, t.id, t.uid, t.cids, t.rt, CASE
      WHEN parse_error IS NOT NULL THEN parse_error
      WHEN id IS NULL THEN format('experiment_id %s is not a positive integer', etl.quoted(experiment_id))
      WHEN uid IS NULL THEN format('user_id %s is not a positive integer', etl.quoted(t.user_id))
      WHEN btrim(experiment_compound_ids, E' \t;') = '' THEN 'experiment_compound_ids is empty'
      WHEN cids IS NULL THEN format('experiment_compound_ids %s is not a ";"-separated list of positive integers',
                                    etl.quoted(experiment_compound_ids))
      WHEN rt IS NULL THEN format('experiment_run_time %s is not a non-negative number', etl.quoted(experiment_run_time))
      WHEN u.user_id IS NULL THEN format('user_id %s is not an accepted user', uid)
      ELSE (SELECT format('compound %s is not an accepted compound', c)
            FROM unnest(cids) c WHERE c NOT IN (SELECT compound_id FROM work.compounds) LIMIT 1)
    END AS problem
  -- OFFSET 0 keeps the parsed values computed once per row instead of once per reference.
  FROM (SELECT s.*, etl.to_id(s.experiment_id) AS id, etl.to_id(s.user_id) AS uid,
               etl.to_id_list(s.experiment_compound_ids) AS cids, etl.to_run_time(s.experiment_run_time) AS rt
        FROM staging.experiments s OFFSET 0) t
  LEFT JOIN work.users u ON u.user_id = t.uid
), judged AS (
  SELECT c.*, coalesce(problem, CASE WHEN line <> first_line
           THEN format('experiment_id %s repeats the experiment on line %s', id, first_line) END) AS reason
  FROM (SELECT *, min(line) FILTER (WHERE problem IS NULL) OVER (PARTITION BY id) AS first_line FROM checked) c
), rejected AS (
  INSERT INTO etl.rejects (run_id, file, line, reason, raw)
  SELECT $1, 'user_experiments.csv', line, reason, raw FROM judged WHERE reason IS NOT NULL
)
INSERT INTO work.experiments (run_id, experiment_id, user_id, compound_ids, run_time, line)
SELECT $1, id, uid, cids, rt, line FROM judged WHERE reason IS NULL
