-- Per-user features on more than one core (sql/transform/070-user-features-by-half.sql): the users
-- are split in two halves by user_id, and each half is computed whole by one process of a parallel
-- plan. Everything such a plan calls must be PARALLEL SAFE.

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
