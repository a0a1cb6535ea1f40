// The layers of src/, as rules: data flows one way (files -> load -> run -> read -> api/dashboard),
// so a lower layer never imports a higher one. Check: npx depcruise --config .dependency-cruiser.cjs src
//   support/  config, errors, log, process helpers: imported by every layer, imports none of them
//   db/       connections, embedded PostgreSQL, migrations
//   load/     CSV files -> COPY
//   run/      one run: pipeline, lock, run records' writes, transform, retiring old runs
//   read/     features, runs, rejects, summary (what api and dashboard both show)
//   http/     the HTTP contract's schemas (bodies, parameters), shared by read, api and dashboard
//   api/, dashboard/   the two faces; the dashboard never goes through the API
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'A cycle hides which module depends on which.', from: {}, to: { circular: true } },
    {
      name: 'service-not-tools-or-tests',
      severity: 'error',
      comment: 'The service (and the Docker image) holds src/ only.',
      from: { path: '^src/' },
      to: { path: '^(test|tools)/' },
    },
    {
      name: 'support-is-the-bottom',
      severity: 'error',
      comment: 'support/ is below every layer: it imports none of them.',
      from: { path: '^src/support/' },
      to: { path: '^src/(db|load|run|read|http|api|dashboard)/' },
    },
    {
      name: 'db-below-the-pipeline',
      severity: 'error',
      comment:
        'The database layer knows nothing of loading, runs, reads or routes (its view types are the shapes of http/schemas.ts: one definition, held to the SQL by test/run/shapes.test.ts).',
      from: { path: '^src/db/' },
      to: { path: '^src/(load|run|read|api|dashboard)/' },
    },
    {
      name: 'load-below-run',
      severity: 'error',
      comment: 'Loading files knows nothing of the run around it, of reads or HTTP.',
      from: { path: '^src/load/' },
      to: { path: '^src/(run|read|http|api|dashboard)/' },
    },
    {
      name: 'run-not-http',
      severity: 'error',
      comment: 'A run knows nothing of HTTP or pages.',
      from: { path: '^src/run/' },
      to: { path: '^src/(http|api|dashboard)/' },
    },
    {
      name: 'read-not-faces',
      severity: 'error',
      comment: 'Reads serve the API and the dashboard alike, and import neither (nor the runs that write).',
      from: { path: '^src/read/' },
      to: { path: '^src/(run|api|dashboard)/' },
    },
    {
      name: 'http-contract-alone',
      severity: 'error',
      comment: 'The HTTP contract is plain schemas: no reads, runs, routes or pages.',
      from: { path: '^src/http/' },
      to: { path: '^src/(db|run|read|api|dashboard)/' },
    },
    {
      name: 'dashboard-not-api',
      severity: 'error',
      comment: 'The dashboard reads through the same read modules as the API, never through the API itself.',
      from: { path: '^src/dashboard/' },
      to: { path: '^src/api/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
