-- The loader marks the staging rows whose `raw` is only a preview of the line (invalid UTF-8, a NUL
-- byte, longer than the record limit) with a flag, so the transform reads the flag instead of
-- recognising the loader's wording in parse_error (etl.raw_bytes did, in sql/000008).
ALTER TABLE staging.users ADD COLUMN raw_is_preview boolean NOT NULL DEFAULT false;
ALTER TABLE staging.compounds ADD COLUMN raw_is_preview boolean NOT NULL DEFAULT false;
ALTER TABLE staging.experiments ADD COLUMN raw_is_preview boolean NOT NULL DEFAULT false;

DROP FUNCTION etl.raw_bytes(text, text);
