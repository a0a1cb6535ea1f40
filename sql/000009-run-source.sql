-- Where a run's files came from: DATA_DIR on the server (POST /data without a body), or the three
-- parts of a multipart upload (POST /data with multipart/form-data). Runs recorded before this
-- script all read DATA_DIR. Each file's byte count is already in etl.run_files.bytes.
ALTER TABLE etl.runs
  ADD COLUMN source text NOT NULL DEFAULT 'data_dir' CHECK (source IN ('data_dir', 'upload'));
