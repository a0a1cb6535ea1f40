-- The per-user features, materialized per run, and the views people read with psql.
CREATE SCHEMA mart;

CREATE TABLE mart.user_features (
  run_id                   bigint NOT NULL,
  user_id                  bigint NOT NULL,
  name                     text NOT NULL,
  email                    text NOT NULL,
  total_experiments        bigint NOT NULL,
  average_run_time         double precision,
  top_compound_id          bigint,
  top_compound_name        text,
  top_compound_ids         bigint[] NOT NULL,
  top_compound_experiments bigint
) PARTITION BY LIST (run_id);
CREATE UNIQUE INDEX ON mart.user_features (run_id, user_id);

CREATE SCHEMA features;

-- One row per accepted user of the published run.
CREATE VIEW features.user_features AS
SELECT user_id, name, email, total_experiments, average_run_time,
       top_compound_id, top_compound_name, top_compound_ids, top_compound_experiments
FROM mart.user_features
WHERE run_id = (SELECT run_id FROM etl.published);

CREATE VIEW features.user_experiment_counts AS
SELECT user_id, total_experiments FROM features.user_features;

CREATE VIEW features.user_top_compounds AS
SELECT user_id, top_compound_id, top_compound_name, top_compound_ids, top_compound_experiments
FROM features.user_features;

-- One row: accepted experiments / accepted users of the published run.
CREATE VIEW features.average_experiments_per_user AS
SELECT r.average_experiments_per_user, r.experiments, r.users, r.run_id
FROM etl.runs r JOIN etl.published p USING (run_id);
