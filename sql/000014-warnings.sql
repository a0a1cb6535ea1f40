-- Warnings and knock-on rejects (issue 22, items 2-3).
--
-- A run that succeeds but lost more than WARN_REJECT_RATIO of a file, or rejected rows only because
-- a row they need was rejected, keeps a list of warnings with its record (src/run/transform.ts
-- writes them with the totals, in the run's transaction). Objects {kind, file, rows, message}.
ALTER TABLE etl.runs ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';

-- A knock-on reject (an experiment whose user or compound was rejected) names the rejected row it
-- follows from; null for a row rejected on its own account.
ALTER TABLE etl.rejects ADD COLUMN cause_file text, ADD COLUMN cause_line bigint;

-- Reject pages list causes before consequences: users.csv, then compounds.csv, then
-- user_experiments.csv (whose rows are the only ones rejected because of another file's), each
-- in line order. The primary key's index ordered files by name, which put the experiments first;
-- this unique index replaces it (the same rows are unique: the order is a function of the file),
-- so the pages are read in index order and a run's rejects still cost one index.
CREATE FUNCTION etl.reject_file_order(file text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE file WHEN 'users.csv' THEN 1 WHEN 'compounds.csv' THEN 2 WHEN 'user_experiments.csv' THEN 3 ELSE 4 END;

ALTER TABLE etl.rejects DROP CONSTRAINT rejects_pkey;
CREATE UNIQUE INDEX rejects_in_order ON etl.rejects (run_id, etl.reject_file_order(file), file, line);
