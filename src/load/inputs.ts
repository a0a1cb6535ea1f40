/** The three input files: their names, staging tables and required columns (in staging order). */
export const USERS = { file: 'users.csv', table: 'users', columns: ['user_id', 'name', 'email', 'signup_date'] } as const;
export const COMPOUNDS = {
  file: 'compounds.csv',
  table: 'compounds',
  columns: ['compound_id', 'compound_name', 'compound_structure'],
} as const;
export const EXPERIMENTS = {
  file: 'user_experiments.csv',
  table: 'experiments',
  columns: ['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time'],
} as const;

export const SOURCES = [USERS, COMPOUNDS, EXPERIMENTS] as const;

export type Source = (typeof SOURCES)[number];
