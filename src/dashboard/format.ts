// How the dashboard writes numbers, sizes, durations and times: one place, so every page agrees.
// count and bytes are also the overview page's script's (client-script.ts puts their source in
// it): they must stay self-contained, plain functions that any browser runs as written.

const decimals = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** A count with thousands separators (`12,345`); an em dash for a value not known yet. */
export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: 0 });
}

/** A number with at most two decimals (`1.1`, `12.35`); an em dash for none. */
export const decimal = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : decimals.format(n));

/** A byte count in B, KB, MB or GB (powers of 1000, as `ls -h --si` and browsers do). */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** A duration: `412 ms`, `4.1 s`, `2 min 5 s`. */
export function duration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** A time as UTC, to the second (`2026-11-29 15:33:02`); the pages say the zone in their headers. */
export const utc = (time: Date): string => time.toISOString().slice(0, 19).replace('T', ' ');

/**
 * A run's step in words for people: the run records keep the step's id (a transform file's name,
 * such as `user-features-by-half`, or the pipeline's own words), which the API and the logs show
 * as they are; the pages and the overview's script say what the step does through this one table.
 * An id it does not know (a new transform file) is shown as it is, with spaces for its dashes.
 */
export function stepLabel(step: string | null | undefined): string {
  const labels: Record<string, string> = {
    starting: 'starting',
    'receiving the upload': 'receiving the uploaded files',
    'checking files': 'checking the files',
    loading: 'loading the files',
    'start-work': 'preparing the run',
    users: 'checking the users',
    compounds: 'checking the compounds',
    'analyze-users-compounds': 'checking the users and compounds',
    'experiments-parsed': 'reading the experiments',
    'experiment-compounds': "reading the experiments' compounds",
    experiments: 'checking the experiments',
    'analyze-experiments': 'checking the experiments',
    'user-features-by-half': 'computing the features',
    'adopt-user-features': 'computing the features',
    'analyze-features': 'publishing the features',
  };
  if (!step) return 'starting';
  return Object.prototype.hasOwnProperty.call(labels, step) ? labels[step]! : step.split('-').join(' ');
}
