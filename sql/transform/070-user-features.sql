-- work.* -> work.user_features: one row per accepted user, with or without experiments.
-- A compound counts once per experiment that lists it (work.experiments lists each compound of an
-- experiment once); every compound reaching the user's highest count is a top compound (ties kept,
-- ascending by id), and the lowest id among them is "the" top one.
--
-- One pass over the experiments, sorted by user: per user, the count, the mean run time and one
-- array of all the compounds listed (GroupAggregate; a hash aggregate of a million growing arrays
-- spilled and measured 2-3x slower); then each user's small array is counted on its own. Grouping
-- (user, compound) pairs globally instead means ~22M groups at 10M experiments and measured slower
-- in every form tried (see README, Performance).
WITH per_user AS (
  SELECT user_id, count(*) AS total_experiments, avg(run_time) AS average_run_time,
         etl.array_cat_agg(compound_ids) AS compounds
  FROM (SELECT user_id, run_time, compound_ids FROM work.experiments ORDER BY user_id) e
  GROUP BY user_id
), top AS (
  SELECT p.user_id, p.total_experiments, p.average_run_time, t.ids, t.best
  FROM per_user p
  CROSS JOIN LATERAL (
    SELECT array_agg(c ORDER BY c) AS ids, max(n) AS best
    FROM (SELECT c, n, max(n) OVER () AS top FROM (SELECT c, count(*) AS n FROM unnest(p.compounds) c GROUP BY c) g) w
    WHERE n = top
  ) t
)
INSERT INTO work.user_features (run_id, user_id, name, email, total_experiments, average_run_time, top_compound_id,
                                top_compound_name, top_compound_ids, top_compound_experiments, json)
SELECT $1, r.*, row_to_json(r)::text -- what GET /data sends for the user, rendered once here
FROM (SELECT u.user_id, u.name, u.email, coalesce(t.total_experiments, 0) AS total_experiments, t.average_run_time,
             t.ids[1] AS top_compound_id, k.compound_name AS top_compound_name, coalesce(t.ids, '{}') AS top_compound_ids,
             t.best AS top_compound_experiments
      FROM work.users u
      LEFT JOIN top t ON t.user_id = u.user_id
      LEFT JOIN work.compounds k ON k.compound_id = t.ids[1]
      ORDER BY u.user_id) r
