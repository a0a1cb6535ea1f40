-- Typed, validated rows. Partitioned by run: a run builds its partitions in schema `work` and
-- attaches them when it publishes, so readers never see a half-built run and old runs are
-- dropped whole instead of deleted row by row.
CREATE SCHEMA core;
CREATE SCHEMA work;

CREATE TABLE core.users (
  run_id      bigint NOT NULL,
  user_id     bigint NOT NULL,
  name        text NOT NULL,
  email       text NOT NULL,
  signup_date date NOT NULL,
  line        bigint NOT NULL
) PARTITION BY LIST (run_id);

CREATE TABLE core.compounds (
  run_id             bigint NOT NULL,
  compound_id        bigint NOT NULL,
  compound_name      text NOT NULL,
  compound_structure text NOT NULL,
  line               bigint NOT NULL
) PARTITION BY LIST (run_id);

-- compound_ids as listed in the file (in order, repeats kept); features count each once.
CREATE TABLE core.experiments (
  run_id        bigint NOT NULL,
  experiment_id bigint NOT NULL,
  user_id       bigint NOT NULL,
  compound_ids  bigint[] NOT NULL,
  run_time      double precision NOT NULL,
  line          bigint NOT NULL
) PARTITION BY LIST (run_id);
