-- Run bookkeeping: every run is recorded, whatever its outcome.
CREATE TABLE etl.runs (
  run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
  step        text,
  started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  error       text,
  users       bigint,
  experiments bigint,
  average_experiments_per_user numeric
);

-- Per-file counters; updated while the file loads, so a running run shows progress.
CREATE TABLE etl.run_files (
  run_id        bigint NOT NULL REFERENCES etl.runs ON DELETE CASCADE,
  file          text NOT NULL,
  bytes         bigint NOT NULL DEFAULT 0,
  rows_read     bigint NOT NULL DEFAULT 0,
  rows_loaded   bigint,
  rows_rejected bigint,
  PRIMARY KEY (run_id, file)
);

-- Rows that could not be used, with the physical line (1-based, header and blank lines counted).
-- No foreign key: a million rejects should not cost a million trigger calls.
CREATE TABLE etl.rejects (
  run_id bigint NOT NULL,
  file   text NOT NULL,
  line   bigint NOT NULL,
  reason text NOT NULL,
  raw    text NOT NULL,
  PRIMARY KEY (run_id, file, line)
);

-- The run whose results readers see. One row at most; switching it is what publishes a run.
CREATE TABLE etl.published (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  run_id    bigint NOT NULL REFERENCES etl.runs
);
