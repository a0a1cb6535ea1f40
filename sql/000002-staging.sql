-- Raw text, one table per source file, exactly as the parser emits it. UNLOGGED: it is rebuilt
-- by every run, so a crash may lose it without losing anything that matters.
CREATE SCHEMA staging;

CREATE UNLOGGED TABLE staging.users (
  line        bigint NOT NULL,
  parse_error text,
  raw         text NOT NULL,
  user_id     text,
  name        text,
  email       text,
  signup_date text
);

CREATE UNLOGGED TABLE staging.compounds (
  line               bigint NOT NULL,
  parse_error        text,
  raw                text NOT NULL,
  compound_id        text,
  compound_name      text,
  compound_structure text
);

CREATE UNLOGGED TABLE staging.experiments (
  line                     bigint NOT NULL,
  parse_error              text,
  raw                      text NOT NULL,
  experiment_id            text,
  user_id                  text,
  experiment_compound_ids  text,
  experiment_run_time      text
);
