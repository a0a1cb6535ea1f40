-- The indexes of the features page (GET /data/users, GET /data/users/:id/experiments, /ui/users):
-- sorted keyset pages by every feature column, name and email prefix search, and one user's
-- experiments. They are built on the published run's partitions when the features page is first
-- read after the publish, each in a transaction of its own, not by the run: at 10M experiments
-- they take about half a run's time (docs/performance.md, "The features page"), which every run
-- would pay. A published partition is never written again, so a plain CREATE INDEX (a SHARE lock
-- on that partition only: readers go on, only writers would wait) is enough; the pages read
-- correctly without them, only slower, until they exist.
--
-- Text columns are indexed as lower(x) COLLATE "C": one index serves both the case-insensitive
-- sort (code-point order of the lower-cased text) and `LIKE 'prefix%'` (a range scan, which a
-- linguistic collation would not give). Every index ends with user_id, the tie-breaker of the
-- keyset, so each page is one range scan in either direction. The name and email indexes also
-- carry every other sort column (INCLUDE): a broad search gathers its matches from them by an
-- index-only scan (once the partition is vacuumed: src/run/read-indexes.ts) and sorts them by any
-- column without reading the table. PostgreSQL's NULLs sort last
-- ascending and first descending, the exact reverse, so one index serves both directions.

-- The read indexes p_run's partitions should have, as (table, index name, definition). A
-- partition that is no longer attached (retired) is left out.
CREATE FUNCTION etl.read_index_definitions(p_run bigint) RETURNS TABLE (table_name regclass, index_name name, definition text)
LANGUAGE sql STABLE AS $$
  SELECT t.rel, (t.relname || '_' || d.suffix)::name,
         format('CREATE INDEX %I ON %s (%s)', t.relname || '_' || d.suffix, t.rel, d.columns)
  FROM (VALUES
          ('mart', 'user_features', 'by_name', 'lower(name) COLLATE "C", user_id) INCLUDE (run_id, name, email, total_experiments, average_run_time, top_compound_name'),
          ('mart', 'user_features', 'by_email', 'lower(email) COLLATE "C", user_id) INCLUDE (run_id, name, email, total_experiments, average_run_time, top_compound_name'),
          ('mart', 'user_features', 'by_experiments', 'total_experiments, user_id'),
          ('mart', 'user_features', 'by_run_time', 'average_run_time, user_id'),
          ('mart', 'user_features', 'by_top_compound', 'lower(top_compound_name) COLLATE "C", user_id'),
          ('core', 'experiments', 'by_user', 'user_id, line'),
          ('core', 'compounds', 'by_id', 'compound_id')
       ) AS d(schema_name, parent, suffix, columns)
  CROSS JOIN LATERAL (SELECT to_regclass(format('%I.%I', d.schema_name, d.parent || '_run_' || p_run)) AS rel,
                             d.parent || '_run_' || p_run AS relname) t
  WHERE t.rel IS NOT NULL
    AND EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = t.rel AND NOT i.inhdetachpending)
$$;

-- Creates the read indexes that p_run's partitions of p_parent (or of every table, when null)
-- lack, and refreshes the statistics of the features' partition when it built one there (an
-- expression index gets statistics of its own, which the search's plans need). Idempotent: a build
-- killed half-way is finished by the next call (a killed transaction leaves no half index).
-- Returns how many it created. One caller at a time per run (an advisory lock), so two processes
-- serving the page never race on a name. The service calls it once per table
-- (src/run/read-indexes.ts), each a transaction of its own.
CREATE FUNCTION etl.build_read_indexes(p_run bigint, p_parent text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  d record;
  built integer := 0;
  features boolean := false;
BEGIN
  PERFORM pg_advisory_xact_lock(7310019, hashint8(p_run));
  PERFORM set_config('maintenance_work_mem', '512MB', true);
  FOR d IN SELECT r.* FROM etl.read_index_definitions(p_run) r
           WHERE (p_parent IS NULL OR r.index_name LIKE p_parent || '\_run\_%')
             AND NOT EXISTS (SELECT FROM pg_class c WHERE c.relname = r.index_name
                             AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = r.table_name)) LOOP
    EXECUTE d.definition;
    built := built + 1;
    features := features OR d.table_name::text LIKE 'mart.%';
  END LOOP;
  IF features THEN
    EXECUTE format('ANALYZE %s', to_regclass(format('mart.%I', 'user_features_run_' || p_run)));
  END IF;
  RETURN built;
END $$;

-- The read indexes of runs no longer published (their features stay attached for KEEP_RUNS, and
-- the diff reads them by user_id only): DROP INDEX statements, run one by one by the caller with
-- a short lock_timeout (a drop waits for that run's readers).
CREATE FUNCTION etl.stale_read_index_drops() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
  SELECT format('DROP INDEX %I.%I', n.nspname, ic.relname)
  FROM pg_index x
  JOIN pg_class ic ON ic.oid = x.indexrelid
  JOIN pg_class tc ON tc.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = ic.relnamespace
  WHERE n.nspname IN ('mart', 'core')
    AND ic.relname ~ '^(user_features|experiments|compounds)_run_[0-9]+_by_(name|email|experiments|run_time|top_compound|user|id)$'
    AND substring(tc.relname FROM '_run_([0-9]+)$')::bigint IS DISTINCT FROM (SELECT run_id FROM etl.published)
$$;
