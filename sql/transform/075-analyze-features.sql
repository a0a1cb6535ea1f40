-- Statistics for the published features: GET /data reads them in keyset pages of a few thousand
-- users, which is an index scan only when the planner knows the partition holds ~1M rows.
ANALYZE work.user_features
