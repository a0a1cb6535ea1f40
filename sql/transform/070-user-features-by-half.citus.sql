-- Citus twin of 070-user-features-by-half.sql (sql/transform/README.md): the same features, rows
-- and JSON, computed on the workers. work.users, work.experiments and work.user_features are
-- colocated on user_id and work.compounds is a reference table, so the whole statement is one task
-- per shard (INSERT ... SELECT pushed down): the shards give the parallelism that the halves give
-- on PostgreSQL, and no row passes through the coordinator. Into the work.user_features that
-- etl.start_work made (its Citus twin), not a new table: CREATE TABLE AS would gather every row on
-- the coordinator. Each user's experiments are summed in line order, as on PostgreSQL.
INSERT INTO work.user_features (run_id, user_id, name, email, total_experiments, average_run_time, top_compound_id,
                                top_compound_name, top_compound_ids, top_compound_experiments, json,
                                name_key, email_key, top_compound_key)
SELECT $1::bigint AS run_id, r.*, row_to_json(r)::text AS json,
       lower(r.name) COLLATE "C" AS name_key, lower(r.email) COLLATE "C" AS email_key, lower(r.top_compound_name) COLLATE "C" AS top_compound_key
FROM (SELECT u.user_id, u.name, u.email, coalesce(e.total_experiments, 0) AS total_experiments, e.average_run_time,
             t.ids[1] AS top_compound_id, k.compound_name AS top_compound_name, coalesce(t.ids, '{}') AS top_compound_ids,
             t.experiments AS top_compound_experiments
      FROM work.users u
      LEFT JOIN (SELECT user_id, count(*) AS total_experiments, avg(run_time) AS average_run_time,
                        etl.array_cat_agg(compound_ids) AS compounds
                 FROM (SELECT user_id, run_time, compound_ids FROM work.experiments ORDER BY user_id, line) sorted
                 GROUP BY user_id) e ON e.user_id = u.user_id
      LEFT JOIN LATERAL etl.top_compounds(e.compounds) t ON true
      LEFT JOIN work.compounds k ON k.compound_id = t.ids[1]) r
