-- work.experiments_parsed -> work.experiment_compounds: one row per compound listed by an
-- experiment that has no problem so far. Used to find unknown compounds and to count features.
CREATE UNLOGGED TABLE work.experiment_compounds AS
SELECT p.line, p.uid AS user_id, c.compound_id
FROM work.experiments_parsed p
CROSS JOIN LATERAL unnest(p.cids) AS c(compound_id)
WHERE p.problem IS NULL
