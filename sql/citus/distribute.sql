-- Citus mode (see README, "Scaling out with Citus"). Not a migration: src/db/citus.ts runs this
-- script after the migrations, on every start, in one transaction, only when the database has the
-- citus extension; a plain PostgreSQL database never sees it, so its schema and the migrations'
-- checksums stay as they are. Everything here is idempotent. The functions it replaces are the
-- Citus twins of the ones in sql/0000NN-*.sql: a migration that replaces one of those must replace
-- its twin here too (this script runs after the migrations, so its definitions win).

-- Creating functions on the workers is refused after a parallel multi-shard command in the same
-- transaction; this one-time setup has no use for parallelism.
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';

-- Every feature depends on one user's rows only: users, experiments and features are hash-
-- distributed on user_id in one colocation group, so a user's rows of all three are on one shard
-- and the per-user steps run on the workers, one task per shard. Partitions of these tables (a
-- run's) are distributed with their parent. The shard count is citus.shard_count (CITUS_SHARD_COUNT
-- sets it for this transaction); the later tables take the first one's.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'core.users'::regclass) THEN
    PERFORM create_distributed_table('core.users', 'user_id');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'core.experiments'::regclass) THEN
    PERFORM create_distributed_table('core.experiments', 'user_id', colocate_with => 'core.users');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'mart.user_features'::regclass) THEN
    PERFORM create_distributed_table('mart.user_features', 'user_id', colocate_with => 'core.users');
  END IF;
END $$;

-- Compounds are few and joined by compound_id to every user's top compound: a reference table, a
-- copy on every node, so that join runs on the workers too. Citus distributes a partitioned table
-- only by hash, so core.compounds becomes one plain table holding the rows of the published run
-- (and, while a run publishes, of that run): etl.attach_run adds a run's rows, retiring deletes
-- the others. The view that reads it is made again on the new table (same text as sql/000010).
DO $$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = 'core.compounds'::regclass) = 'p' THEN
    ALTER TABLE core.compounds RENAME TO compounds_by_run;
    CREATE TABLE core.compounds (LIKE core.compounds_by_run INCLUDING DEFAULTS);
    INSERT INTO core.compounds SELECT * FROM core.compounds_by_run WHERE run_id = (SELECT run_id FROM etl.published);
    CREATE OR REPLACE VIEW features.top_compound_users AS
    SELECT t.compound_id, c.compound_name, t.users
    FROM (SELECT compound_id, count(*) AS users
          FROM (SELECT unnest(top_compound_ids) AS compound_id FROM features.user_features) u
          GROUP BY compound_id) t
    JOIN core.compounds c ON c.run_id = (SELECT run_id FROM etl.published) AND c.compound_id = t.compound_id;
    DROP TABLE core.compounds_by_run;
    CREATE UNIQUE INDEX compounds_run_id_compound_id_idx ON core.compounds (run_id, compound_id);
    PERFORM create_reference_table('core.compounds');
  END IF;
END $$;

-- The functions the per-user steps call run on the workers: make sure each exists there (a
-- database that had its schema before it had citus would otherwise lack them).
SELECT create_distributed_function(p.oid::regprocedure)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'etl'
  AND p.proname IN ('to_id', 'to_id_list', 'to_run_time', 'to_date', 'quoted', 'byte_prefix', 'raw_bytes',
                    'distinct_ids', 'array_cat_agg', 'top_compounds')
  AND NOT EXISTS (SELECT 1 FROM pg_dist_object d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid);

-- Twin of etl.start_work (sql/000008): the run's work tables, distributed like their parents
-- before anything is written to them. The loader made staging.users_typed and
-- staging.experiments_typed distributed tables and staging.compounds_typed a reference table
-- (src/load/parse-worker.ts); they become work.users, work.experiments and work.compounds.
-- work.user_features is made here, empty and distributed, and 070 fills it with INSERT ... SELECT
-- (CREATE TABLE AS would gather every row on the coordinator).
CREATE OR REPLACE FUNCTION etl.start_work(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  typed regclass;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'work' AND c.relkind = 'r' AND NOT c.relispartition LOOP
    EXECUTE format('DROP TABLE IF EXISTS work.%I', t.relname);
  END LOOP;
  EXECUTE format('CREATE TABLE work.user_features (LIKE mart.user_features INCLUDING DEFAULTS, CHECK (run_id = %s))', p_run);
  EXECUTE format('CREATE UNIQUE INDEX %I ON work.user_features (run_id, user_id)', 'user_features_run_' || p_run || '_idx1');
  PERFORM create_distributed_table('work.user_features', 'user_id', colocate_with => 'core.users');
  FOR t IN SELECT * FROM (VALUES ('users'::name), ('compounds'), ('experiments')) v(table_name) LOOP
    typed := to_regclass(format('staging.%I', t.table_name || '_typed'));
    IF typed IS NULL OR NOT EXISTS (SELECT 1 FROM pg_constraint
                                    WHERE conrelid = typed AND contype = 'c'
                                      AND pg_get_constraintdef(oid) = format('CHECK ((run_id = %s))', p_run)) THEN
      RAISE EXCEPTION 'staging.%_typed was not loaded for run %', t.table_name, p_run;
    END IF;
    EXECUTE format('ALTER TABLE %s ALTER COLUMN run_id DROP DEFAULT', typed);
    EXECUTE format('ALTER TABLE %s SET SCHEMA work', typed);
    EXECUTE format('ALTER TABLE work.%I RENAME TO %I', t.table_name || '_typed', t.table_name);
  END LOOP;
END $$;

-- Twin of etl.adopt_user_features (sql/000011): on Citus, 070 writes work.user_features itself.
CREATE OR REPLACE FUNCTION etl.adopt_user_features(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
END $$;

-- First half of etl.publish on Citus: the run's tables become partitions of their (colocated)
-- parents and its compounds are added to core.compounds. It commits on its own, before
-- etl.published moves (src/transform/transform.ts): Citus commits a distributed transaction on
-- the coordinator first and on the workers a moment later, so a reader that saw the new
-- etl.published in the same commit could still find the run's shards empty.
CREATE OR REPLACE FUNCTION etl.attach_run(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  part name;
BEGIN
  FOR t IN SELECT * FROM (VALUES ('core'::name, 'users'::name), ('core', 'experiments'), ('mart', 'user_features')) v(schema_name, table_name) LOOP
    part := t.table_name || '_run_' || p_run;
    EXECUTE format('ALTER TABLE work.%I RENAME TO %I', t.table_name, part);
    EXECUTE format('ALTER TABLE work.%I SET SCHEMA %I', part, t.schema_name);
    EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I FOR VALUES IN (%s)',
                   t.schema_name, t.table_name, t.schema_name, part, p_run);
  END LOOP;
  INSERT INTO core.compounds SELECT * FROM work.compounds;
END $$;

-- Twin of etl.publish (sql/000006), for a caller that does not need the two commits.
CREATE OR REPLACE FUNCTION etl.publish(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM etl.attach_run(p_run);
  INSERT INTO etl.published (run_id) VALUES (p_run)
  ON CONFLICT (singleton) DO UPDATE SET run_id = excluded.run_id;
END $$;

-- Twin of etl.retire_statements (sql/000013). Citus supports neither DETACH ... CONCURRENTLY nor
-- FINALIZE: a plain DETACH waits for the readers of the parent (the caller's lock_timeout bounds
-- that wait, and a run that gives up leaves the detach to the next one). As on PostgreSQL, the
-- features of etl.kept_runs(p_keep_runs) stay attached. Compounds of other runs are deleted (a
-- reader's snapshot still sees them).
CREATE OR REPLACE FUNCTION etl.retire_statements(p_keep_runs integer) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
  SELECT format('ALTER TABLE %s DETACH PARTITION %s', i.inhparent::regclass, i.inhrelid::regclass)
  FROM (VALUES ('core'::name, 'users'::name), ('core', 'experiments'), ('mart', 'user_features')) t(schema_name, table_name)
  JOIN pg_inherits i ON i.inhparent = format('%I.%I', t.schema_name, t.table_name)::regclass
  JOIN pg_class c ON c.oid = i.inhrelid
  WHERE c.relname <> t.table_name || '_run_' || coalesce((SELECT run_id FROM etl.published), 0)
    AND (t.table_name <> 'user_features'
         OR substring(c.relname FROM '_run_([0-9]+)$')::bigint NOT IN (SELECT etl.kept_runs(p_keep_runs)))
  UNION ALL
  SELECT format('DROP TABLE %I.%I', n.nspname, c.relname)
  FROM (VALUES ('core'::name, 'users'::name), ('core', 'experiments'), ('mart', 'user_features')) t(schema_name, table_name)
  JOIN pg_namespace n ON n.nspname = t.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname ~ ('^' || t.table_name || '_run_[0-9]+$')
  WHERE c.relkind = 'r' AND NOT c.relispartition
  UNION ALL
  SELECT 'DELETE FROM core.compounds WHERE run_id <> ' || coalesce((SELECT run_id FROM etl.published), 0)
  WHERE EXISTS (SELECT 1 FROM core.compounds WHERE run_id <> coalesce((SELECT run_id FROM etl.published), 0))
$$;

-- Twin of etl.run_diff (sql/000013): the same query, run as dynamic SQL with the two run ids
-- written in as literals. Citus refuses a distributed query inside an SQL function that is not
-- inlined ("parameterized queries for SQL functions referencing distributed tables are not
-- supported"; its hint: PL/pgSQL); with literals it plans the joins on the workers, colocated on
-- user_id. A reader's page condition is applied to the whole diff here, not pushed into it.
CREATE OR REPLACE FUNCTION etl.run_diff(p_run bigint, p_against bigint)
RETURNS TABLE (user_id bigint, change text,
               total_experiments_before bigint, total_experiments_after bigint,
               average_run_time_before double precision, average_run_time_after double precision,
               top_compound_id_before bigint, top_compound_id_after bigint,
               top_compound_name_before text, top_compound_name_after text,
               top_compound_ids_before bigint[], top_compound_ids_after bigint[],
               top_compound_experiments_before bigint, top_compound_experiments_after bigint)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN QUERY EXECUTE format($q$
  SELECT a.user_id, CASE WHEN b.user_id IS NULL THEN 'added' ELSE 'changed' END,
         b.total_experiments, a.total_experiments, b.average_run_time, a.average_run_time,
         b.top_compound_id, a.top_compound_id, b.top_compound_name, a.top_compound_name,
         b.top_compound_ids, a.top_compound_ids, b.top_compound_experiments, a.top_compound_experiments
  FROM mart.user_features a
  LEFT JOIN mart.user_features b ON b.run_id = %2$s AND b.user_id = a.user_id
  WHERE a.run_id = %1$s
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
  WHERE b.run_id = %2$s
    AND NOT EXISTS (SELECT FROM mart.user_features a WHERE a.run_id = %1$s AND a.user_id = b.user_id)
  $q$, p_run, p_against);
END
$fn$;
