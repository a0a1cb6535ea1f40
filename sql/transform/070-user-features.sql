-- work.* -> work.user_features: one row per accepted user, with or without experiments.
-- A compound counts once per experiment that lists it; every compound reaching the user's highest
-- count is a top compound (ties kept, ascending by id), and the lowest id among them is "the" top one.
WITH per_user AS (
  SELECT user_id, count(*) AS total_experiments, avg(run_time) AS average_run_time
  FROM work.experiments
  GROUP BY user_id
), compound_counts AS (
  SELECT x.user_id, x.compound_id, count(DISTINCT x.line) AS experiments
  FROM work.experiment_compounds x
  WHERE NOT EXISTS (SELECT 1 FROM etl.rejects r
                    WHERE r.run_id = $1 AND r.file = 'user_experiments.csv' AND r.line = x.line)
  GROUP BY x.user_id, x.compound_id
), top AS (
  SELECT user_id, array_agg(compound_id ORDER BY compound_id) AS compound_ids, max(experiments) AS experiments
  FROM (SELECT *, max(experiments) OVER (PARTITION BY user_id) AS best FROM compound_counts) ranked
  WHERE experiments = best
  GROUP BY user_id
)
INSERT INTO work.user_features (run_id, user_id, name, email, total_experiments, average_run_time,
                                top_compound_id, top_compound_name, top_compound_ids, top_compound_experiments)
SELECT $1, u.user_id, u.name, u.email, coalesce(p.total_experiments, 0), p.average_run_time,
       t.compound_ids[1], k.compound_name, coalesce(t.compound_ids, '{}'), t.experiments
FROM work.users u
LEFT JOIN per_user p ON p.user_id = u.user_id
LEFT JOIN top t ON t.user_id = u.user_id
LEFT JOIN work.compounds k ON k.compound_id = t.compound_ids[1]
ORDER BY u.user_id
