-- work.* -> work.user_features_by_half, which 072 makes the run's work.user_features: every
-- accepted user's features, with or without experiments, and the GET /data entry rendered as JSON
-- once here. A compound counts once per experiment that lists it (work.experiments lists each
-- compound of an experiment once); every compound reaching the user's highest count is a top
-- compound (ties kept, ascending by id), and the lowest id among them is "the" top one.
--
-- Two halves of the users, by one bit of a hash of user_id (balanced whatever the ids are; odd and
-- even ids were not), written out twice below, identical but for the half. UNION ALL of the two
-- becomes a Parallel Append and each half runs whole in one worker, so both cores share the work.
-- (CREATE TABLE AS may use parallel workers; INSERT may not, hence a new table rather than rows
-- copied into the one etl.start_work made.) A half never splits across processes, so each user's
-- average is summed in the same order on every run, and the result does not depend on how many
-- workers the server grants: with none, the leader runs both halves one after the other.
--
-- With them, the features page's sort keys (sql/000019-read-indexes.sql): lower-cased here once,
-- in the two halves' processes, rather than by every read.
--
-- The rows are written in user_id order (one sort of the finished rows, ~1 s at 1M users): GET
-- /data reads them in keyset pages by user_id, ~13% faster from a table in that order.
--
-- Each user's experiments are summed in line order, so the average does not depend on how rows
-- are spread over halves, files or shards (the Citus twin, 070-user-features-by-half.citus.sql,
-- gives the same bits).
--
-- Within a half: one pass over its experiments sorted by user gives each user's count, mean run
-- time and one array of all the compounds listed (GroupAggregate: a hash aggregate of a million
-- growing arrays spilled and measured 2-3x slower), then etl.top_compounds counts each user's
-- small array on its own. Grouping (user, compound) pairs globally instead means ~22M groups at
-- 10M experiments and measured slower in every form tried (see docs/performance.md).
CREATE TABLE work.user_features_by_half AS
SELECT $1::bigint AS run_id, r.*, row_to_json(r)::text AS json,
       lower(r.name) COLLATE "C" AS name_key, lower(r.email) COLLATE "C" AS email_key, lower(r.top_compound_name) COLLATE "C" AS top_compound_key
FROM (SELECT u.user_id, u.name, u.email, coalesce(e.total_experiments, 0) AS total_experiments, e.average_run_time,
             t.ids[1] AS top_compound_id, k.compound_name AS top_compound_name, coalesce(t.ids, '{}') AS top_compound_ids,
             t.experiments AS top_compound_experiments
      FROM work.users u
      LEFT JOIN (SELECT user_id, count(*) AS total_experiments, avg(run_time) AS average_run_time,
                        etl.array_cat_agg(compound_ids) AS compounds
                 FROM (SELECT user_id, run_time, compound_ids FROM work.experiments WHERE (hashint8(user_id) & 1) = 0 ORDER BY user_id, line) sorted
                 GROUP BY user_id) e ON e.user_id = u.user_id
      LEFT JOIN LATERAL etl.top_compounds(e.compounds) t ON true
      LEFT JOIN work.compounds k ON k.compound_id = t.ids[1]
      WHERE (hashint8(u.user_id) & 1) = 0) r
UNION ALL
SELECT $1::bigint AS run_id, r.*, row_to_json(r)::text AS json,
       lower(r.name) COLLATE "C" AS name_key, lower(r.email) COLLATE "C" AS email_key, lower(r.top_compound_name) COLLATE "C" AS top_compound_key
FROM (SELECT u.user_id, u.name, u.email, coalesce(e.total_experiments, 0) AS total_experiments, e.average_run_time,
             t.ids[1] AS top_compound_id, k.compound_name AS top_compound_name, coalesce(t.ids, '{}') AS top_compound_ids,
             t.experiments AS top_compound_experiments
      FROM work.users u
      LEFT JOIN (SELECT user_id, count(*) AS total_experiments, avg(run_time) AS average_run_time,
                        etl.array_cat_agg(compound_ids) AS compounds
                 FROM (SELECT user_id, run_time, compound_ids FROM work.experiments WHERE (hashint8(user_id) & 1) = 1 ORDER BY user_id, line) sorted
                 GROUP BY user_id) e ON e.user_id = u.user_id
      LEFT JOIN LATERAL etl.top_compounds(e.compounds) t ON true
      LEFT JOIN work.compounds k ON k.compound_id = t.ids[1]
      WHERE (hashint8(u.user_id) & 1) = 1) r
ORDER BY user_id
