-- GET /data/users/:id in one statement: one user's stored JSON from the published run, or null.
--
-- Call it on its own in READ COMMITTED (autocommit), where a VOLATILE function takes a fresh
-- snapshot for each statement it runs, after the statements before it. The lock on the parent is
-- taken before the snapshot that reads (as src/read/features.ts lockPublished does in a transaction):
-- retiring the partition that snapshot reads (DETACH ... CONCURRENTLY) then waits for the read to
-- end, and the read is planned and run under that one snapshot, so a plan never lacks the
-- partition of the run its snapshot calls published.
--
-- One narrow window is left: a publish becomes visible to new snapshots an instant before it sends
-- the invalidation of mart.user_features's partition list, and ATTACH's lock does not conflict
-- with the reader's. A read in that instant sees the new etl.published but plans without the new
-- partition: a miss. So a miss is read again after LOCK ... SHARE on etl.published, which waits for
-- a publish that has written etl.published to end (and so to have sent its invalidations), takes
-- them in (a lock newly taken does), and keeps another publish from committing until the read
-- ends. Only misses take that lock; a publish waits at most for the reads of unknown users in flight.
CREATE FUNCTION etl.published_user_json(p_user_id bigint) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  answer text;
BEGIN
  LOCK TABLE mart.user_features IN ACCESS SHARE MODE;
  SELECT json INTO answer FROM features.user_features_json WHERE user_id = p_user_id;
  IF answer IS NOT NULL THEN
    RETURN answer;
  END IF;
  LOCK TABLE etl.published IN SHARE MODE;
  SELECT json INTO answer FROM features.user_features_json WHERE user_id = p_user_id;
  RETURN answer;
END $$;
