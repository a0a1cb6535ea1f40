-- Citus twin of 040-experiments-parsed.sql: the same rows, problems and causes. The text rows are
-- on the coordinator (staging is local: they are the few rows the loader could not type) and
-- work.users is on the workers. Joined as on PostgreSQL (text rows LEFT JOIN users), Citus would
-- fetch every user to the coordinator to find the few that match; here the workers are sent the
-- text rows' user ids and answer with the users among them (`known`, one task per shard), and the
-- join is done on the coordinator with those alone. The rejected users (etl.rejects, staging) are
-- on the coordinator too.
CREATE UNLOGGED TABLE work.experiments_parsed AS
WITH p AS MATERIALIZED ( -- each value is parsed once per row, not once per reference
  SELECT s.*, etl.to_id(s.experiment_id) AS id, etl.to_id(s.user_id) AS uid,
         etl.to_id_list(s.experiment_compound_ids) AS cids, etl.to_run_time(s.experiment_run_time) AS rt
  FROM staging.experiments s
), known AS MATERIALIZED (
  SELECT u.user_id FROM work.users u WHERE u.user_id IN (SELECT uid FROM p)
), rejected_user AS MATERIALIZED (
  SELECT DISTINCT ON (id) id, r.line, r.reason
  FROM etl.rejects r
  JOIN staging.users s ON s.line = r.line
  CROSS JOIN LATERAL etl.to_id(s.user_id) AS id
  WHERE r.run_id = $1 AND r.file = 'users.csv' AND id IS NOT NULL
  ORDER BY id, r.line
)
SELECT q.line, q.id, q.uid, q.cids, q.rt,
       coalesce(q.problem, CASE
         WHEN u.user_id IS NOT NULL THEN NULL
         WHEN ru.line IS NOT NULL THEN format('user_id %s was rejected: users.csv line %s: %s', q.uid, ru.line, ru.reason)
         ELSE format('user_id %s is not an accepted user', q.uid)
       END) AS problem,
       CASE WHEN q.problem IS NULL THEN ru.line END AS cause_line -- in users.csv
FROM (SELECT p.line, p.id, p.uid, p.cids, p.rt, CASE
          WHEN parse_error IS NOT NULL THEN parse_error
          WHEN id IS NULL THEN format('experiment_id %s is not a positive integer', etl.quoted(experiment_id))
          WHEN uid IS NULL THEN format('user_id %s is not a positive integer', etl.quoted(p.user_id))
          WHEN btrim(experiment_compound_ids, E' \t;') = '' THEN 'experiment_compound_ids is empty'
          WHEN cids IS NULL THEN format('experiment_compound_ids %s is not a ";"-separated list of positive integers',
                                        etl.quoted(experiment_compound_ids))
          WHEN rt IS NULL THEN format('experiment_run_time %s is not a non-negative number', etl.quoted(experiment_run_time))
        END AS problem
      FROM p) q
LEFT JOIN known u ON u.user_id = q.uid
LEFT JOIN rejected_user ru ON ru.id = q.uid AND u.user_id IS NULL
