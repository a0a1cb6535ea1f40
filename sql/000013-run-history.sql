-- Run history: the features of the newest KEEP_RUNS successful runs stay attached under
-- mart.user_features (the views still show only the published run), so that two runs can be
-- compared in SQL with etl.run_diff. Only the features are kept: a diff needs nothing else, and the
-- core.* partitions of a run (its experiments above all) would cost several times as much disk.

-- The runs whose features are kept: the published one and the newest p_keep_runs that succeeded.
CREATE FUNCTION etl.kept_runs(p_keep_runs integer) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
  SELECT run_id FROM etl.published
  UNION
  (SELECT run_id FROM etl.runs WHERE status = 'succeeded' ORDER BY run_id DESC LIMIT p_keep_runs)
$$;

-- The runs whose features are attached now, and so can be compared (a retired run's are gone).
CREATE VIEW etl.runs_with_features AS
SELECT substring(c.relname FROM '_run_([0-9]+)$')::bigint AS run_id
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'mart.user_features'::regclass AND NOT i.inhdetachpending;

-- As in sql/000006, but the features of the runs etl.kept_runs(p_keep_runs) names stay attached;
-- the other tables keep only the published run's. (Citus twin: sql/citus/distribute.sql.)
DROP FUNCTION etl.retire_statements();
CREATE FUNCTION etl.retire_statements(p_keep_runs integer) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
  SELECT format('ALTER TABLE %s DETACH PARTITION %s %s', i.inhparent::regclass, i.inhrelid::regclass,
                CASE WHEN i.inhdetachpending THEN 'FINALIZE' ELSE 'CONCURRENTLY' END)
  FROM etl.run_tables() t
  JOIN pg_inherits i ON i.inhparent = format('%I.%I', t.schema_name, t.table_name)::regclass
  JOIN pg_class c ON c.oid = i.inhrelid
  WHERE c.relname <> t.table_name || '_run_' || coalesce((SELECT run_id FROM etl.published), 0)
    AND (t.table_name <> 'user_features' OR i.inhdetachpending
         OR substring(c.relname FROM '_run_([0-9]+)$')::bigint NOT IN (SELECT etl.kept_runs(p_keep_runs)))
  UNION ALL
  SELECT format('DROP TABLE %I.%I', n.nspname, c.relname)
  FROM etl.run_tables() t
  JOIN pg_namespace n ON n.nspname = t.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname ~ ('^' || t.table_name || '_run_[0-9]+$')
  WHERE c.relkind = 'r' AND NOT c.relispartition
$$;

-- The users whose features differ between two runs whose features are kept: `change` is 'added'
-- (in p_run only), 'removed' (in p_against only) or 'changed' (the experiment count, the average
-- run time, or the top compounds or their count differ; a renamed user or compound is not a change
-- of features). `_before` is p_against's value, `_after` p_run's.
--
-- A LEFT JOIN (users of p_run) and an anti-join (users only in p_against) rather than one FULL JOIN:
-- each is a merge join over the partitions' unique indexes whose output PostgreSQL knows is in
-- user_id order, so a page (`WHERE user_id > $after ORDER BY user_id LIMIT n`) merges the two and
-- stops after n changed users, where a FULL JOIN's output would be sorted whole for every page.
-- Inlined by the planner (one SELECT, STABLE, not STRICT), so such conditions reach the index
-- scans. From psql:
--   SELECT * FROM etl.run_diff(7, 6) ORDER BY user_id LIMIT 20;
CREATE FUNCTION etl.run_diff(p_run bigint, p_against bigint)
RETURNS TABLE (user_id bigint, change text,
               total_experiments_before bigint, total_experiments_after bigint,
               average_run_time_before double precision, average_run_time_after double precision,
               top_compound_id_before bigint, top_compound_id_after bigint,
               top_compound_name_before text, top_compound_name_after text,
               top_compound_ids_before bigint[], top_compound_ids_after bigint[],
               top_compound_experiments_before bigint, top_compound_experiments_after bigint)
LANGUAGE sql STABLE AS $$
  SELECT a.user_id, CASE WHEN b.user_id IS NULL THEN 'added' ELSE 'changed' END,
         b.total_experiments, a.total_experiments, b.average_run_time, a.average_run_time,
         b.top_compound_id, a.top_compound_id, b.top_compound_name, a.top_compound_name,
         b.top_compound_ids, a.top_compound_ids, b.top_compound_experiments, a.top_compound_experiments
  FROM mart.user_features a
  LEFT JOIN mart.user_features b ON b.run_id = p_against AND b.user_id = a.user_id
  WHERE a.run_id = p_run
    AND (b.user_id IS NULL
         OR a.total_experiments <> b.total_experiments
         OR a.average_run_time IS DISTINCT FROM b.average_run_time
         OR a.top_compound_ids <> b.top_compound_ids
         OR a.top_compound_experiments IS DISTINCT FROM b.top_compound_experiments)
  UNION ALL
  SELECT b.user_id, 'removed',
         b.total_experiments, NULL, b.average_run_time, NULL, b.top_compound_id, NULL, b.top_compound_name, NULL,
         b.top_compound_ids, NULL, b.top_compound_experiments, NULL
  FROM mart.user_features b
  WHERE b.run_id = p_against
    AND NOT EXISTS (SELECT FROM mart.user_features a WHERE a.run_id = p_run AND a.user_id = b.user_id)
$$;

-- etl.run_diff with the counts of the whole diff on every row (window aggregates, so a reader
-- that pages through the diff gets them from the same pass): users added, removed, changed, and of
-- the users in both runs, how many have another value of each feature.
CREATE FUNCTION etl.run_diff_counted(p_run bigint, p_against bigint)
RETURNS TABLE (user_id bigint, change text,
               total_experiments_before bigint, total_experiments_after bigint,
               average_run_time_before double precision, average_run_time_after double precision,
               top_compound_id_before bigint, top_compound_id_after bigint,
               top_compound_name_before text, top_compound_name_after text,
               top_compound_ids_before bigint[], top_compound_ids_after bigint[],
               top_compound_experiments_before bigint, top_compound_experiments_after bigint,
               added bigint, removed bigint, changed bigint,
               total_experiments_changed bigint, average_run_time_changed bigint, top_compound_changed bigint)
LANGUAGE sql STABLE AS $$
  SELECT d.*,
         count(*) FILTER (WHERE d.change = 'added') OVER (),
         count(*) FILTER (WHERE d.change = 'removed') OVER (),
         count(*) FILTER (WHERE d.change = 'changed') OVER (),
         count(*) FILTER (WHERE d.total_experiments_before <> d.total_experiments_after) OVER (),
         count(*) FILTER (WHERE d.change = 'changed' AND d.average_run_time_before IS DISTINCT FROM d.average_run_time_after) OVER (),
         count(*) FILTER (WHERE d.change = 'changed' AND (d.top_compound_ids_before <> d.top_compound_ids_after
                                                          OR d.top_compound_experiments_before IS DISTINCT FROM d.top_compound_experiments_after)) OVER ()
  FROM etl.run_diff(p_run, p_against) d
$$;

-- One row: how two runs differ (the counts of etl.run_diff_counted), and each run's users and
-- average. From psql: SELECT * FROM etl.run_diff_summary(7, 6);
-- Merge joins only, for this call: the two partitions are read in user_id order from their
-- indexes and merged without memory, where the planner's hash joins of two 1M-user partitions
-- spilled past work_mem and were slower.
CREATE FUNCTION etl.run_diff_summary(p_run bigint, p_against bigint,
  OUT run_id bigint, OUT against bigint, OUT users_before bigint, OUT users_after bigint,
  OUT added bigint, OUT removed bigint, OUT changed bigint,
  OUT total_experiments_changed bigint, OUT average_run_time_changed bigint, OUT top_compound_changed bigint,
  OUT average_before numeric, OUT average_after numeric)
LANGUAGE sql STABLE SET enable_hashjoin = off SET enable_nestloop = off SET jit = off AS $$
  SELECT p_run, p_against, b.users, a.users,
         coalesce(c.added, 0), coalesce(c.removed, 0), coalesce(c.changed, 0), coalesce(c.total_experiments_changed, 0),
         coalesce(c.average_run_time_changed, 0), coalesce(c.top_compound_changed, 0),
         b.average_experiments_per_user, a.average_experiments_per_user
  FROM etl.runs a CROSS JOIN etl.runs b
  LEFT JOIN (SELECT * FROM etl.run_diff_counted(p_run, p_against) LIMIT 1) c ON true
  WHERE a.run_id = p_run AND b.run_id = p_against
$$;
