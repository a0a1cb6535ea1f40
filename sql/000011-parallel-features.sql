-- Per-user features on more than one core (sql/transform/070-user-features-by-half.sql): the users
-- are split in two halves by a hash of user_id, and each half is computed whole by one process of a
-- parallel plan. Everything such a plan calls must be PARALLEL SAFE.

-- Same aggregate as in 000008, now allowed in parallel workers.
CREATE OR REPLACE AGGREGATE etl.array_cat_agg(anycompatiblearray) (sfunc = array_cat, stype = anycompatiblearray, parallel = safe);

-- The compounds listed most often in `compound_ids` (one array holding all of a user's experiments'
-- lists), ascending, with how many experiments list each of them. Null for a user without
-- experiments (STRICT). A function rather than a LATERAL subquery because PostgreSQL keeps a
-- LATERAL subquery out of parallel workers, while a parallel-safe function call runs in them.
CREATE FUNCTION etl.top_compounds(compound_ids bigint[], OUT ids bigint[], OUT experiments bigint)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT array_agg(c ORDER BY c), max(n)
  FROM (SELECT c, n, max(n) OVER () AS top
        FROM (SELECT c, count(*) AS n FROM unnest(compound_ids) c GROUP BY c) counted) ranked
  WHERE n = top
$$;

-- Makes the table sql/transform/070-user-features-by-half.sql wrote the run's work.user_features
-- in place of the empty one etl.start_work made (whose rows would otherwise be copied once more):
-- the same columns, NOT NULL where mart.user_features has them, the run's CHECK and the unique
-- index, so that etl.publish attaches it like any other work table.
CREATE FUNCTION etl.adopt_user_features(p_run bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  DROP TABLE work.user_features;
  ALTER TABLE work.user_features_by_half RENAME TO user_features;
  EXECUTE format('ALTER TABLE work.user_features ALTER run_id SET NOT NULL, ALTER user_id SET NOT NULL, ALTER name SET NOT NULL, '
                 'ALTER email SET NOT NULL, ALTER total_experiments SET NOT NULL, ALTER top_compound_ids SET NOT NULL, '
                 'ADD CHECK (run_id = %s)', p_run);
  EXECUTE format('CREATE UNIQUE INDEX %I ON work.user_features (run_id, user_id)', 'user_features_run_' || p_run || '_idx1');
END $$;
