-- The loader's typing layer (src/load/typed-rows.ts) COPYs the rows it proves valid straight into
-- `staging.<table>_typed`, a table shaped like core.<table> and already constrained to the run;
-- the run's transform moves it into `work` and it is published as the partition, so those rows are
-- written once. Every other row still arrives as text in staging.<table> and is judged by the SQL.

-- Rejects keep at most the first 1000 bytes of the raw line (cut on a character boundary), and
-- the whole line's length in bytes; null when the loader itself could only keep a preview
-- (invalid UTF-8, NUL bytes, longer than the record limit).
ALTER TABLE etl.rejects ADD COLUMN raw_bytes bigint;

CREATE FUNCTION etl.byte_prefix(t text, n int) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  k int := n;
BEGIN
  IF octet_length(t) <= n THEN
    RETURN t;
  END IF;
  WHILE octet_length(left(t, k)) > n LOOP
    k := k - greatest(1, (octet_length(left(t, k)) - n) / 4);
  END LOOP;
  RETURN left(t, k);
END $$;

CREATE FUNCTION etl.raw_bytes(parse_error text, raw text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN parse_error LIKE 'is longer than % bytes' OR parse_error IN ('is not valid UTF-8', 'contains a NUL byte')
              THEN NULL ELSE octet_length(raw) END
$$;

-- Each compound once, in the order first listed (the loader does the same for the rows it types).
CREATE FUNCTION etl.distinct_ids(a bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT array_agg(c ORDER BY o) FROM (SELECT c, min(o) AS o FROM unnest(a) WITH ORDINALITY u(c, o) GROUP BY c) d
$$;

-- Concatenates arrays, e.g. all the compound lists of a user's experiments into one array. Built
-- on array_cat (C), so no per-row interpreter call; fed input sorted by the group key, each group's
-- array is built and dropped in turn instead of a million of them growing at once in a hash table.
CREATE AGGREGATE etl.array_cat_agg(anycompatiblearray) (sfunc = array_cat, stype = anycompatiblearray);

COMMENT ON COLUMN core.experiments.compound_ids IS
  'The compounds listed by the experiment, each once, in the order first listed (since sql/000008).';

-- Work tables of a run: the typed tables the loader filled for this run become work.users,
-- work.compounds and work.experiments; the others are created empty, as before.
CREATE OR REPLACE FUNCTION etl.start_work(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  idx record;
  typed regclass;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'work' AND c.relkind = 'r' LOOP
    EXECUTE format('DROP TABLE work.%I', t.relname);
  END LOOP;
  FOR t IN SELECT * FROM etl.run_tables() LOOP
    typed := to_regclass(format('staging.%I', t.table_name || '_typed'));
    IF t.schema_name = 'core' AND typed IS NOT NULL THEN
      IF NOT EXISTS (SELECT 1 FROM pg_constraint
                     WHERE conrelid = typed AND contype = 'c'
                       AND pg_get_constraintdef(oid) = format('CHECK ((run_id = %s))', p_run)) THEN
        RAISE EXCEPTION '% was not loaded for run %', typed, p_run;
      END IF;
      EXECUTE format('ALTER TABLE %s ALTER COLUMN run_id DROP DEFAULT', typed);
      EXECUTE format('ALTER TABLE %s SET SCHEMA work', typed);
      EXECUTE format('ALTER TABLE work.%I RENAME TO %I', t.table_name || '_typed', t.table_name);
      CONTINUE;
    END IF;
    EXECUTE format('CREATE TABLE work.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING INDEXES, CHECK (run_id = %s))',
                   t.table_name, t.schema_name, t.table_name, p_run);
    FOR idx IN SELECT c.relname, row_number() OVER (ORDER BY c.relname) AS n
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = format('work.%I', t.table_name)::regclass LOOP
      EXECUTE format('ALTER INDEX work.%I RENAME TO %I', idx.relname, t.table_name || '_run_' || p_run || '_idx' || idx.n);
    END LOOP;
  END LOOP;
END $$;

-- Each user's GET /data entry, rendered as JSON once when the run computes its features, so
-- reading all users streams stored text instead of rendering ~1M rows per request. Partitions of
-- runs published before this column existed render on read, exactly as before.
ALTER TABLE mart.user_features ADD COLUMN json text;

CREATE VIEW features.user_features_json AS
SELECT m.user_id,
       coalesce(m.json, (SELECT row_to_json(f)::text
                         FROM (SELECT m.user_id, m.name, m.email, m.total_experiments, m.average_run_time, m.top_compound_id,
                                      m.top_compound_name, m.top_compound_ids, m.top_compound_experiments) f)) AS json
FROM mart.user_features m
WHERE m.run_id = (SELECT run_id FROM etl.published);
