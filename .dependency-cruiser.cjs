// The layers of src/, as rules: data flows one way (files -> load -> transform -> features -> API),
// so a lower layer never imports a higher one. `npm run lint` checks them (and .ci/run runs that).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'A cycle hides which module depends on which.', from: {}, to: { circular: true } },
    {
      name: 'service-not-tests',
      severity: 'error',
      comment: 'The service (and the Docker image) holds src/ only.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'pipeline-not-http',
      severity: 'error',
      comment: 'Loading, transforming and the database know nothing of HTTP or pages.',
      from: { path: '^src/(load|transform|db)/' },
      to: { path: '^src/(api|dashboard)/' },
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
