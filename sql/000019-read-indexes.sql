-- The features page (GET /data/users, GET /data/users/:id/experiments, /ui/users): sort keys
-- stored with the features, and the indexes that serve sorted keyset pages by every feature
-- column, name and email prefix search, and one user's experiments.
--
-- Text columns sort and search case-insensitively, as lower(x) in code-point order (COLLATE "C"):
-- one key serves both the sort and a prefix (a range of the key, which a linguistic collation would
-- not give). The keys are stored, computed once by the run (sql/transform/070), not by each read:
-- a search matching 111k users sorted by email computed lower() 111k times, half its time (an
-- index-only scan cannot return an expression's value). They cost the run three lower() a user.
ALTER TABLE mart.user_features
  ADD COLUMN name_key text COLLATE "C",
  ADD COLUMN email_key text COLLATE "C",
  ADD COLUMN top_compound_key text COLLATE "C";
-- On a database that already has runs, the published one gets its keys here (the only run the
-- page reads: ~25 s at 1M users); older runs kept for the diff, which does not use them, get none.
UPDATE mart.user_features SET name_key = lower(name), email_key = lower(email), top_compound_key = lower(top_compound_name)
WHERE run_id = (SELECT run_id FROM etl.published);

-- The indexes are built on the published run's partitions when the features page is first read
-- after the publish, each in a transaction of its own, not by the run: at 10M experiments they
-- take about a quarter of a run's time (docs/performance.md, "The features page"), which every run
-- would pay. A published partition is never written again, so a plain CREATE INDEX (a SHARE lock
-- on that partition only: readers go on, only writers would wait) is enough; the pages read
-- correctly without them, only slower, until they exist.
--
-- Every index ends with user_id, the tie-breaker of the keyset, so each page is one range scan in
-- either direction. Each features index also carries the search keys and the other sort keys
-- (INCLUDE), so that a search reads no table: a broad one walks the sort's index and tests the
-- keys; a narrower one gathers its matches from the name and email indexes and sorts them by any
-- key (index-only scans, once the partition is vacuumed: src/run/read-indexes.ts). PostgreSQL's
-- NULLs sort last ascending and first descending, the exact reverse, so one index serves both
-- directions.

-- The read indexes p_run's partitions should have, as (table, index name, definition). A
-- partition that is no longer attached (retired) is left out.
CREATE FUNCTION etl.read_index_definitions(p_run bigint) RETURNS TABLE (table_name regclass, index_name name, definition text)
LANGUAGE sql STABLE AS $$
  SELECT t.rel, (t.relname || '_' || d.suffix)::name,
         format('CREATE INDEX %I ON %s (%s)', t.relname || '_' || d.suffix, t.rel, d.columns)
  FROM (VALUES
          ('mart', 'user_features', 'by_name', 'name_key, user_id) INCLUDE (run_id, email_key, total_experiments, average_run_time, top_compound_key'),
          ('mart', 'user_features', 'by_email', 'email_key, user_id) INCLUDE (run_id, name_key, total_experiments, average_run_time, top_compound_key'),
          ('mart', 'user_features', 'by_experiments', 'total_experiments, user_id) INCLUDE (run_id, name_key, email_key'),
          ('mart', 'user_features', 'by_run_time', 'average_run_time, user_id) INCLUDE (run_id, name_key, email_key'),
          ('mart', 'user_features', 'by_top_compound', 'top_compound_key, user_id) INCLUDE (run_id, name_key, email_key'),
          ('core', 'experiments', 'by_user', 'user_id, line'),
          ('core', 'compounds', 'by_id', 'compound_id')
       ) AS d(schema_name, parent, suffix, columns)
  CROSS JOIN LATERAL (SELECT to_regclass(format('%I.%I', d.schema_name, d.parent || '_run_' || p_run)) AS rel,
                             d.parent || '_run_' || p_run AS relname) t
  WHERE t.rel IS NOT NULL
    AND EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = t.rel AND NOT i.inhdetachpending)
$$;

-- Creates the read indexes that p_run's partitions of p_parent (or of every table, when null)
-- lack (the run's ANALYZE already gave the planner the keys' statistics). Idempotent: a build
-- killed half-way is finished by the next call (a killed transaction leaves no half index).
-- Returns how many it created. One caller at a time per run (an advisory lock), so two processes
-- serving the page never race on a name. The service calls it once per table
-- (src/run/read-indexes.ts), each a transaction of its own.
CREATE FUNCTION etl.build_read_indexes(p_run bigint, p_parent text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  d record;
  built integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7310019, hashint8(p_run));
  PERFORM set_config('maintenance_work_mem', '512MB', true);
  FOR d IN SELECT r.* FROM etl.read_index_definitions(p_run) r
           WHERE (p_parent IS NULL OR r.index_name LIKE p_parent || '\_run\_%')
             AND NOT EXISTS (SELECT FROM pg_class c WHERE c.relname = r.index_name
                             AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = r.table_name)) LOOP
    EXECUTE d.definition;
    built := built + 1;
  END LOOP;
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
