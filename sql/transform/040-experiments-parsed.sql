-- staging.experiments -> work.experiments_parsed: every row typed once, with the first problem a
-- single row shows on its own (format, values, unknown user). A scratch table, so the later steps
-- read parsed values instead of parsing again; CREATE TABLE AS may use parallel workers.
CREATE UNLOGGED TABLE work.experiments_parsed AS
SELECT p.line, p.id, p.uid, p.cids, p.rt, CASE
    WHEN parse_error IS NOT NULL THEN parse_error
    WHEN id IS NULL THEN format('experiment_id %s is not a positive integer', etl.quoted(experiment_id))
    WHEN uid IS NULL THEN format('user_id %s is not a positive integer', etl.quoted(p.user_id))
    WHEN btrim(experiment_compound_ids, E' \t;') = '' THEN 'experiment_compound_ids is empty'
    WHEN cids IS NULL THEN format('experiment_compound_ids %s is not a ";"-separated list of positive integers',
                                  etl.quoted(experiment_compound_ids))
    WHEN rt IS NULL THEN format('experiment_run_time %s is not a non-negative number', etl.quoted(experiment_run_time))
    WHEN u.user_id IS NULL THEN format('user_id %s is not an accepted user', uid)
  END AS problem
FROM (SELECT s.*, etl.to_id(s.experiment_id) AS id, etl.to_id(s.user_id) AS uid,
             etl.to_id_list(s.experiment_compound_ids) AS cids, etl.to_run_time(s.experiment_run_time) AS rt
      FROM staging.experiments s
      OFFSET 0) p -- a fence: each value is parsed once per row, not once per reference
LEFT JOIN work.users u ON u.user_id = p.uid
