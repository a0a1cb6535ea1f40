-- The common, clean values take a fast path of plain string functions; only what fails it goes
-- through the regular expressions of 000003 (which stay the definition of what is valid).

CREATE OR REPLACE FUNCTION etl.to_id(t text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN length(t) BETWEEN 1 AND 15 AND ltrim(t, '0123456789') = '' THEN nullif(t::bigint, 0)
    WHEN t !~ '^0*[1-9][0-9]{0,15}$' THEN NULL
    WHEN ltrim(t, '0')::bigint > 9007199254740991 THEN NULL
    ELSE ltrim(t, '0')::bigint
  END
$$;

CREATE OR REPLACE FUNCTION etl.to_id_list(t text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN t ~ '^0*[1-9][0-9]{0,14}(;0*[1-9][0-9]{0,14})*$' THEN string_to_array(t, ';')::bigint[]
    WHEN t !~ '^[ \t]*0*[1-9][0-9]{0,15}[ \t]*(;[ \t]*0*[1-9][0-9]{0,15}[ \t]*)*$' THEN NULL
    WHEN 9007199254740991 < ANY (string_to_array(t, ';')::bigint[]) THEN NULL
    ELSE string_to_array(t, ';')::bigint[]
  END
$$;

CREATE OR REPLACE FUNCTION etl.to_run_time(t text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN length(t) BETWEEN 1 AND 30 AND translate(t, '0123456789', '') IN ('', '.') AND t <> '.'
      THEN t::double precision
    WHEN t !~ '^[+-]?([0-9]{1,15}(\.[0-9]{0,15})?|\.[0-9]{1,15})([eE][+-]?[0-9]{1,2})?$' THEN NULL
    WHEN t::double precision < 0 THEN NULL
    ELSE t::double precision + 0
  END
$$;

-- Scratch tables of a run (UNLOGGED, in schema work) are dropped with the work tables.
CREATE OR REPLACE FUNCTION etl.start_work(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  idx record;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'work' AND c.relkind = 'r' LOOP
    EXECUTE format('DROP TABLE work.%I', t.relname);
  END LOOP;
  FOR t IN SELECT * FROM etl.run_tables() LOOP
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
