-- work.user_features_by_half -> work.user_features, in user_id order (GET /data reads it in that
-- order, page by page).
INSERT INTO work.user_features (run_id, user_id, name, email, total_experiments, average_run_time, top_compound_id,
                                top_compound_name, top_compound_ids, top_compound_experiments, json)
SELECT $1, f.* FROM work.user_features_by_half f ORDER BY f.user_id
