-- Citus twin of 035-analyze-users-compounds.sql: work.users only. work.compounds is a reference
-- table with a copy on the coordinator, which 030 wrote in-process; ANALYZE would then need a
-- connection to that copy, which Citus refuses in the same transaction. Compounds are few: the
-- planner's default estimates do for them.
ANALYZE work.users
