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
-- run time, or the top compounds and their count differ; a renamed user or compound is not a
-- change of features). `_before` is p_against's value, `_after` p_run's.
--
-- The two partitions are read in user_id order (their unique indexes) and merged by a sorted
-- GROUP BY, rather than FULL JOINed: PostgreSQL does not know that a full join's output is in
-- user_id order, so a page (`WHERE user_id > $after ORDER BY user_id LIMIT n`) would sort the whole
-- diff, while this plan stops after n changed users. Inlined by the planner (one SELECT, STABLE,
-- not STRICT), so such conditions reach the index scans. From psql:
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
  SELECT user_id,
         CASE WHEN NOT bool_or(is_after) THEN 'removed' WHEN bool_and(is_after) THEN 'added' ELSE 'changed' END,
         min(total_experiments) FILTER (WHERE NOT is_after), min(total_experiments) FILTER (WHERE is_after),
         min(average_run_time) FILTER (WHERE NOT is_after), min(average_run_time) FILTER (WHERE is_after),
         min(top_compound_id) FILTER (WHERE NOT is_after), min(top_compound_id) FILTER (WHERE is_after),
         min(top_compound_name) FILTER (WHERE NOT is_after), min(top_compound_name) FILTER (WHERE is_after),
         min(top_compound_ids) FILTER (WHERE NOT is_after), min(top_compound_ids) FILTER (WHERE is_after),
         min(top_compound_experiments) FILTER (WHERE NOT is_after), min(top_compound_experiments) FILTER (WHERE is_after)
  FROM (SELECT true AS is_after, user_id, total_experiments, average_run_time, top_compound_id, top_compound_name,
               top_compound_ids, top_compound_experiments
        FROM mart.user_features WHERE run_id = p_run
        UNION ALL
        SELECT false, user_id, total_experiments, average_run_time, top_compound_id, top_compound_name,
               top_compound_ids, top_compound_experiments
        FROM mart.user_features WHERE run_id = p_against) both_runs
  GROUP BY user_id
  HAVING count(*) = 1
      OR min(total_experiments) <> max(total_experiments)
      -- A user without experiments has a null average in both runs: not a change.
      OR count(average_run_time) = 1 OR min(average_run_time) <> max(average_run_time)
      OR min(top_compound_ids) <> max(top_compound_ids)
      OR count(top_compound_experiments) = 1 OR min(top_compound_experiments) <> max(top_compound_experiments)
$$;

-- One row: how two runs differ (etl.run_diff counted), and each run's users and average. A
-- feature's count is of the users in both runs whose value of it changed.
CREATE FUNCTION etl.run_diff_summary(p_run bigint, p_against bigint,
  OUT run_id bigint, OUT against bigint, OUT users_before bigint, OUT users_after bigint,
  OUT added bigint, OUT removed bigint, OUT changed bigint,
  OUT total_experiments_changed bigint, OUT average_run_time_changed bigint, OUT top_compound_changed bigint,
  OUT average_before numeric, OUT average_after numeric)
LANGUAGE sql STABLE AS $$
  SELECT p_run, p_against, b.users, a.users,
         count(*) FILTER (WHERE d.change = 'added'), count(*) FILTER (WHERE d.change = 'removed'),
         count(*) FILTER (WHERE d.change = 'changed'),
         count(*) FILTER (WHERE d.total_experiments_before <> d.total_experiments_after),
         count(*) FILTER (WHERE d.change = 'changed' AND d.average_run_time_before IS DISTINCT FROM d.average_run_time_after),
         count(*) FILTER (WHERE d.change = 'changed' AND (d.top_compound_ids_before <> d.top_compound_ids_after
                                                          OR d.top_compound_experiments_before IS DISTINCT FROM d.top_compound_experiments_after)),
         b.average_experiments_per_user, a.average_experiments_per_user
  FROM etl.runs a CROSS JOIN etl.runs b LEFT JOIN etl.run_diff(p_run, p_against) d ON true
  WHERE a.run_id = p_run AND b.run_id = p_against
  GROUP BY a.users, b.users, a.average_experiments_per_user, b.average_experiments_per_user
$$;
