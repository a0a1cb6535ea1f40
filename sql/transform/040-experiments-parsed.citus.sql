-- Citus twin of 040-experiments-parsed.sql: the same rows and problems. The text rows are on the
-- coordinator (staging is local: they are the few rows the loader could not type) and work.users
-- is on the workers. Joined as on PostgreSQL (text rows LEFT JOIN users), Citus would fetch every
-- user to the coordinator to find the few that match; here the workers are sent the text rows' user
-- ids and answer with the users among them (`known`, one task per shard), and the join is done on
-- the coordinator with those alone.
CREATE UNLOGGED TABLE work.experiments_parsed AS
WITH p AS MATERIALIZED ( -- each value is parsed once per row, not once per reference
  SELECT s.*, etl.to_id(s.experiment_id) AS id, etl.to_id(s.user_id) AS uid,
         etl.to_id_list(s.experiment_compound_ids) AS cids, etl.to_run_time(s.experiment_run_time) AS rt
  FROM staging.experiments s
), known AS MATERIALIZED (
  SELECT u.user_id FROM work.users u WHERE u.user_id IN (SELECT uid FROM p)
)
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
FROM p
LEFT JOIN known u ON u.user_id = p.uid
