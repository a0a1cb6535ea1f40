-- work.user_features_by_half becomes the run's work.user_features (constraints and index added).
SELECT etl.adopt_user_features($1)
