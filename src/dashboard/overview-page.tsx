import { SOURCES } from '../load/inputs.js';
import type { RunRecord } from '../read/runs.js';
import type { Summary } from '../read/summary.js';
import { ExperimentsHistogram, TopCompoundsChart } from './charts.js';
import { bytes, count, decimal, duration, stepLabel, utc } from './format.js';
import { Layout } from './layout.js';

/** A run's status as a badge; a running run also says its step. */
export const StatusBadge = ({ run }: { run: RunRecord }) =>
  run.status === 'succeeded' && run.warnings.length > 0 ? (
    <span class="status status-warnings" title={run.warnings.map((w) => w.message).join('\n')}>
      succeeded, with warnings
    </span>
  ) : (
    <span class={`status status-${run.status}`}>{run.status === 'running' ? `running: ${stepLabel(run.step)}` : run.status}</span>
  );

/**
 * GET /: run the ETL and watch it (with the client script), what is published, the latest runs
 * and the summary's two pictures. The sections the script refreshes after a run carry ids.
 */
export function OverviewPage({ runs, summary, settings }: { runs: RunRecord[]; summary: Summary; settings: RunSettings }) {
  return (
    <Layout title="Runs & overview" page="overview" script>
      <h1>Runs & overview</h1>
      <div class="lead">
        <RunEtl settings={settings} />
        <Published summary={summary} />
      </div>
      <RunsTable runs={runs} />
      <Pictures summary={summary} />
    </Layout>
  );
}

/** Where a run reads its files and how large an upload may be, as the overview page says them. */
export interface RunSettings {
  /** DATA_DIR as the service's operator knows it: relative to its working folder when inside it. */
  dataDir: string;
  maxUploadBytes: number;
}

function RunEtl({ settings }: { settings: RunSettings }) {
  const parts = SOURCES.map((s) => ({ part: s.file.replace(/\.csv$/, ''), file: s.file }));
  return (
    <section aria-labelledby="run-etl-title">
      <h2 id="run-etl-title">Run the ETL</h2>
      <p class="hint">
        Checks, transforms and publishes the three CSV files in one transaction: the features below stay as they are until the run commits,
        and stay if it fails.
      </p>
      <form id="run-form" method="post" action="/data" class="run-choice">
        <p>
          From the service's data folder <code id="data-dir">{settings.dataDir}</code> (<code>DATA_DIR</code>):{' '}
          {SOURCES.map((s, i) => (
            <>
              {i > 0 ? ', ' : ''}
              <code>{s.file}</code>
            </>
          ))}
          .
        </p>
        <button type="submit">Run ETL</button>
      </form>
      <form
        id="upload-form"
        method="post"
        action="/data"
        enctype="multipart/form-data"
        class="run-choice"
        data-max-bytes={String(settings.maxUploadBytes)}
      >
        <p>{`Or send the three files from this computer (up to ${bytes(settings.maxUploadBytes)} in all): choose each one, or drop all three on this box.`}</p>
        <div id="drop-zone" class="files">
          {parts.map(({ part, file }) => (
            <div class="file">
              <label for={`file-${part}`}>{file}</label>
              <input id={`file-${part}`} name={part} type="file" accept=".csv,text/csv" required />
            </div>
          ))}
        </div>
        <button type="submit">Upload and run</button>
        <div id="upload-progress" class="progress" hidden></div>
      </form>
      <p id="run-message" class="message" role="status" aria-live="polite"></p>
      <div id="run-progress" class="progress" hidden></div>
      <details id="token-box">
        <summary>API token</summary>
        <form id="token-form" class="row">
          <label for="token">
            Token (the service's <code>API_TOKEN</code>)
          </label>
          <input id="token" type="password" autocomplete="off" spellcheck={false} />
          <button type="submit" class="secondary">
            Use it
          </button>
          <button type="button" id="token-forget" class="secondary">
            Forget it
          </button>
        </form>
        <p class="hint">
          Needed only when the service sets <code>API_TOKEN</code>. Kept in this tab (sessionStorage) and sent as
          <code> Authorization: Bearer</code> with each request of this page. <span id="token-state"></span>
        </p>
      </details>
    </section>
  );
}

function Published({ summary }: { summary: Summary }) {
  return (
    <section id="summary" aria-labelledby="summary-title">
      <h2 id="summary-title">Published features</h2>
      {summary.run_id === null ? (
        <p>Nothing is published yet: run the ETL.</p>
      ) : (
        <>
          <dl class="stats">
            <div>
              <dt>From run</dt>
              <dd>
                <a href={`/ui/runs/${summary.run_id}`}>{summary.run_id}</a>
              </dd>
            </div>
            <div>
              <dt>Users</dt>
              <dd>{count(summary.users)}</dd>
            </div>
            <div>
              <dt>Experiments</dt>
              <dd>{count(summary.experiments)}</dd>
            </div>
            <div>
              <dt>Experiments per user</dt>
              <dd>{decimal(summary.average_experiments_per_user)}</dd>
            </div>
          </dl>
          <p class="row">
            <a class="button" href="/ui/features">
              Browse the features
            </a>
            <a class="button secondary" href="/data.csv" download="features.csv">
              Download as CSV
            </a>
          </p>
        </>
      )}
    </section>
  );
}

/** The latest runs, newest first: status, start, duration, and each file's rows; a failed run's error under it. */
export function RunsTable({ runs }: { runs: RunRecord[] }) {
  const running = runs.find((r) => r.status === 'running');
  const columns = 5 + SOURCES.length + 1;
  return (
    <section
      id="runs"
      aria-labelledby="runs-title"
      data-latest-run={String(runs[0]?.run_id ?? 0)}
      data-running-run={running ? String(running.run_id) : undefined}
    >
      <h2 id="runs-title">Latest runs</h2>
      {runs.length === 0 ? (
        <p>No run yet.</p>
      ) : (
        <div class="table-wrap" tabindex={0} role="region" aria-labelledby="runs-title">
          <table class="cards">
            <caption>Newest first. Rows per file: read / loaded / rejected. Times in UTC.</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Source</th>
                <th scope="col">Started (UTC)</th>
                <th scope="col" class="num">
                  Duration
                </th>
                {SOURCES.map((s) => (
                  <th scope="col" class="num">
                    <FileName file={s.file} />
                  </th>
                ))}
                <th scope="col" class="num">
                  Rejected rows
                </th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => {
                const rejected = Object.values(run.files).reduce((sum, f) => sum + (f.rows_rejected ?? 0), 0);
                return (
                  <>
                    <tr>
                      <th scope="row" class="nowrap" data-label="Run">
                        <a href={`/ui/runs/${run.run_id}`}>{`Run ${run.run_id}`}</a>
                      </th>
                      <td data-label="Status">
                        <StatusBadge run={run} />
                      </td>
                      <td data-label="Source">{run.source === 'upload' ? 'upload' : 'DATA_DIR'}</td>
                      <td data-label="Started (UTC)">
                        <time datetime={run.started_at.toISOString()}>{utc(run.started_at)}</time>
                      </td>
                      <td class="num nowrap" data-label="Duration">
                        {duration(run.duration_ms)}
                      </td>
                      {SOURCES.map((s) => {
                        const f = run.files[s.file];
                        return (
                          <td class="num" title={f ? bytes(f.bytes) : undefined} data-label={s.file}>
                            {f ? <Counts values={[f.rows_read, f.rows_loaded, f.rows_rejected]} /> : '—'}
                          </td>
                        );
                      })}
                      <td class="num" data-label="Rejected rows">
                        {rejected > 0 ? <a href={`/ui/runs/${run.run_id}#rejects`}>{count(rejected)}</a> : count(rejected)}
                      </td>
                    </tr>
                    {run.error ? (
                      <tr class="error-row">
                        <td colspan={columns}>{`Run ${run.run_id} failed: ${run.error}`}</td>
                      </tr>
                    ) : null}
                  </>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** `users.csv`, `user_experiments.csv`: a header may break after an underscore, not anywhere else. */
const FileName = ({ file }: { file: string }) => (
  <>
    {file.split('_').map((part, i) => (
      <>
        {i > 0 ? (
          <>
            _<wbr />
          </>
        ) : null}
        {part}
      </>
    ))}
  </>
);

/** `12,345,678 / 12,345,670 / 8`: each number whole, the line may break before a slash (a narrow column of million-row counts). */
const Counts = ({ values }: { values: (number | null)[] }) => (
  <>
    {values.map((v, i) => (
      <>
        {i > 0 ? ' ' : null}
        <span class="count">{`${i > 0 ? '/ ' : ''}${count(v)}`}</span>
      </>
    ))}
  </>
);

function Pictures({ summary }: { summary: Summary }) {
  return (
    <section id="pictures" aria-labelledby="pictures-title">
      <h2 id="pictures-title">Pictures of the published features</h2>
      {summary.run_id === null || summary.users === 0 ? (
        <p>No users are published yet.</p>
      ) : (
        <div class="charts">
          <div>
            <h3>Experiments per user</h3>
            <ExperimentsHistogram histogram={summary.histogram} />
          </div>
          <div>
            <h3>Most common top compounds</h3>
            {summary.top_compounds.length > 0 ? <TopCompoundsChart compounds={summary.top_compounds} /> : <p>No user ran an experiment.</p>}
          </div>
        </div>
      )}
    </section>
  );
}
