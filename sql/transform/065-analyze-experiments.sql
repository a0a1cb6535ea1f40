-- Statistics for the features' joins and aggregates: without them the planner guesses thousands
-- of (user, compound) groups where there are millions.
ANALYZE work.experiments, work.experiment_compounds
