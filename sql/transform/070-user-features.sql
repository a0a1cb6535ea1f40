-- work.* -> work.user_features: one row per accepted user, with or without experiments.
-- A compound counts once per experiment that lists it (work.experiments lists each compound of an
-- experiment once); every compound reaching the user's highest count is a top compound (ties kept,
-- ascending by id), and the lowest id among them is "the" top one.
--
-- One pass over the experiments: per user, the count and mean run time and one array of all the
-- compounds listed (the second set-returning function yields run_time on an experiment's first
-- compound row only, so count/avg see each experiment once); then each user's small array is
-- counted on its own. Grouping (user, compound) pairs globally instead means ~22M groups at 10M
-- experiments and measured slower in every form (see README, Performance).
WITH per_user AS (
  SELECT user_id, count(rt) AS total_experiments, avg(rt) AS average_run_time, array_agg(c) AS compounds
  FROM (SELECT user_id, unnest(compound_ids) AS c, unnest(ARRAY[run_time]) AS rt FROM work.experiments) e
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
INSERT INTO work.user_features (run_id, user_id, name, email, total_experiments, average_run_time,
                                top_compound_id, top_compound_name, top_compound_ids, top_compound_experiments)
SELECT $1, u.user_id, u.name, u.email, coalesce(t.total_experiments, 0), t.average_run_time,
       t.ids[1], k.compound_name, coalesce(t.ids, '{}'), t.best
FROM work.users u
LEFT JOIN top t ON t.user_id = u.user_id
LEFT JOIN work.compounds k ON k.compound_id = t.ids[1]
ORDER BY u.user_id
