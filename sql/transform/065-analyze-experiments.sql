-- Statistics for the features' aggregate (the loader analyzed the typed rows; this adds the few
-- the SQL accepted) and for the compound checks.
ANALYZE work.experiments, work.experiment_compounds
