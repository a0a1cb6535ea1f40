-- The tables a run builds in `work` and publishes by attaching them as partitions.
CREATE FUNCTION etl.run_tables() RETURNS TABLE (schema_name name, table_name name)
LANGUAGE sql IMMUTABLE AS $$
  VALUES ('core'::name, 'users'::name), ('core', 'compounds'), ('core', 'experiments'), ('mart', 'user_features')
$$;

-- Fresh, empty work tables shaped like their published parents, already constrained to the run
-- so that attaching them later needs no validation scan.
CREATE FUNCTION etl.start_work(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  idx record;
BEGIN
  FOR t IN SELECT * FROM etl.run_tables() LOOP
    EXECUTE format('DROP TABLE IF EXISTS work.%I', t.table_name);
    EXECUTE format('CREATE TABLE work.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING INDEXES, CHECK (run_id = %s))',
                   t.table_name, t.schema_name, t.table_name, p_run);
    -- Index names follow the table into its schema on publish: make them unique per run.
    FOR idx IN SELECT c.relname, row_number() OVER (ORDER BY c.relname) AS n
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = format('work.%I', t.table_name)::regclass LOOP
      EXECUTE format('ALTER INDEX work.%I RENAME TO %I', idx.relname, t.table_name || '_run_' || p_run || '_idx' || idx.n);
    END LOOP;
  END LOOP;
END $$;

-- Moves the run's work tables under their parents and points readers at the run. Called inside
-- the run's transaction: readers see the old run until it commits. ATTACH takes only a
-- SHARE UPDATE EXCLUSIVE lock on the parent, which does not block readers.
CREATE FUNCTION etl.publish(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  part name;
BEGIN
  FOR t IN SELECT * FROM etl.run_tables() LOOP
    part := t.table_name || '_run_' || p_run;
    EXECUTE format('ALTER TABLE work.%I RENAME TO %I', t.table_name, part);
    EXECUTE format('ALTER TABLE work.%I SET SCHEMA %I', part, t.schema_name);
    EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I FOR VALUES IN (%s)',
                   t.schema_name, t.table_name, t.schema_name, part, p_run);
  END LOOP;
  INSERT INTO etl.published (run_id) VALUES (p_run)
  ON CONFLICT (singleton) DO UPDATE SET run_id = excluded.run_id;
END $$;

-- Statements that retire the partitions of runs no longer published: first the detaches, then
-- the drops of tables already detached (call twice to finish both). DETACH ... CONCURRENTLY waits
-- for readers instead of blocking them, but cannot run inside a transaction or a function, so the
-- caller runs these one by one. A detach interrupted half-way is finished with FINALIZE.
CREATE FUNCTION etl.retire_statements() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
  SELECT format('ALTER TABLE %s DETACH PARTITION %s %s', i.inhparent::regclass, i.inhrelid::regclass,
                CASE WHEN i.inhdetachpending THEN 'FINALIZE' ELSE 'CONCURRENTLY' END)
  FROM etl.run_tables() t
  JOIN pg_inherits i ON i.inhparent = format('%I.%I', t.schema_name, t.table_name)::regclass
  JOIN pg_class c ON c.oid = i.inhrelid
  WHERE c.relname <> t.table_name || '_run_' || coalesce((SELECT run_id FROM etl.published), 0)
  UNION ALL
  SELECT format('DROP TABLE %I.%I', n.nspname, c.relname)
  FROM etl.run_tables() t
  JOIN pg_namespace n ON n.nspname = t.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname ~ ('^' || t.table_name || '_run_[0-9]+$')
  WHERE c.relkind = 'r' AND NOT c.relispartition
$$;
