import type { z } from '@hono/zod-openapi';
import type { Reject as RejectBody } from '../http/schemas.js';
import { SOURCES } from '../load/inputs.js';
import type { RunRecord } from '../read/runs.js';
import { bytes, count, decimal, duration, stepLabel, utc } from './format.js';
import { Layout } from './layout.js';
import { StatusBadge } from './overview-page.js';

export const REJECTS_PAGE = 100;
export const REJECTS_MAX_LIMIT = 1000;

export type Reject = z.infer<typeof RejectBody>;

export interface RunView {
  run: RunRecord;
  rejects: Reject[];
  offset: number;
  limit: number;
  /** Whether rows follow this page. */
  more: boolean;
  /** The run's rejects counted by file and kind of reason. */
  reasons: { file: string; reason: string; rows: number }[];
  /** The filters shown: one file, one kind of reason. */
  file: string | undefined;
  reason: string | undefined;
}

type Filter = Pick<RunView, 'file' | 'reason'>;

/** The filters as query parameters (`&file=…&reason=…`), encoded; none when there are none. */
const filterQuery = ({ file, reason }: Filter) =>
  [file === undefined ? '' : `&file=${encodeURIComponent(file)}`, reason === undefined ? '' : `&reason=${encodeURIComponent(reason)}`].join(
    '',
  );

const pageHref = (runId: number, offset: number, limit: number, filter: Filter) =>
  `/ui/runs/${runId}?offset=${offset}&limit=${limit}${filterQuery(filter)}#rejects`;

/** What the raw line shown is: the whole line, its first bytes, or a preview the loader could keep. */
function rawNote(reject: Reject): string | null {
  if (reject.raw_bytes === null) return 'a preview: the line could not be kept whole (invalid UTF-8, a NUL byte or over the length limit)';
  const shown = Buffer.byteLength(reject.raw, 'utf8');
  return shown < reject.raw_bytes ? `the first ${count(shown)} of ${count(reject.raw_bytes)} bytes` : null;
}

/**
 * GET /ui/runs/:id: one run's record and a page of its rejected rows (file, line, reason, the raw
 * line), so whoever wrote the file can find and fix each line. Paged with plain links.
 */
export function RunPage({ view }: { view: RunView }) {
  const { run } = view;
  const counted = Object.values(run.files).some((f) => f.rows_rejected !== null);
  const total = Object.values(run.files).reduce((sum, f) => sum + (f.rows_rejected ?? 0), 0);
  return (
    <Layout title={`Run ${run.run_id}`} page="run">
      <h1>
        {`Run ${run.run_id} `}
        <StatusBadge run={run} />
      </h1>
      <section aria-labelledby="record-title">
        <h2 id="record-title">The run</h2>
        <dl class="facts">
          <dt>Source</dt>
          <dd>{run.source === 'upload' ? 'files uploaded with POST /data' : 'the files in DATA_DIR'}</dd>
          <dt>Started</dt>
          <dd>
            <time datetime={run.started_at.toISOString()}>{`${utc(run.started_at)} UTC`}</time>
          </dd>
          <dt>Finished</dt>
          <dd>{run.finished_at ? <time datetime={run.finished_at.toISOString()}>{`${utc(run.finished_at)} UTC`}</time> : 'not yet'}</dd>
          <dt>Duration</dt>
          <dd>{duration(run.duration_ms)}</dd>
          {run.step ? (
            <>
              <dt>Step</dt>
              <dd>{stepLabel(run.step)}</dd>
            </>
          ) : null}
          {run.status === 'succeeded' ? (
            <>
              <dt>Published</dt>
              <dd>{`${count(run.features.users)} users, ${count(run.features.experiments)} experiments, ${decimal(run.features.average_experiments_per_user)} experiments per user`}</dd>
            </>
          ) : null}
          {run.warnings.length > 0 ? (
            <>
              <dt>Warnings</dt>
              <dd class="message message-warning">
                <ul>
                  {run.warnings.map((w) => (
                    <li>{w.message}</li>
                  ))}
                </ul>
              </dd>
            </>
          ) : null}
          {run.error ? (
            <>
              <dt>Error</dt>
              <dd class="message message-failed">{run.error}</dd>
            </>
          ) : null}
        </dl>
        <div class="table-wrap" tabindex={0} role="region" aria-label="Files of the run">
          <table class="cards">
            <caption>Each input file</caption>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col" class="num">
                  Size read
                </th>
                <th scope="col" class="num">
                  Rows read
                </th>
                <th scope="col" class="num">
                  Loaded
                </th>
                <th scope="col" class="num">
                  Rejected
                </th>
              </tr>
            </thead>
            <tbody>
              {SOURCES.map(({ file }) => {
                const f = run.files[file];
                return (
                  <tr>
                    <th scope="row" data-label="File">
                      {file}
                    </th>
                    <td class="num" data-label="Size read">
                      {f ? bytes(f.bytes) : '—'}
                    </td>
                    <td class="num" data-label="Rows read">
                      {count(f?.rows_read)}
                    </td>
                    <td class="num" data-label="Loaded">
                      {count(f?.rows_loaded)}
                    </td>
                    <td class="num" data-label="Rejected">
                      {count(f?.rows_rejected)}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
      <section id="rejects" aria-labelledby="rejects-title">
        <h2 id="rejects-title">Rejected rows</h2>
        {view.reasons.length === 0 ? (
          <p>
            {!counted
              ? 'Rows are counted as rejected once the run has loaded its files.'
              : total === 0
                ? 'No row of this run was rejected.'
                : `This run rejected ${count(total)} rows, but they were deleted: only the newest runs (KEEP_RUNS) and the published one keep their rejects.`}
          </p>
        ) : (
          <Rejects view={view} />
        )}
      </section>
    </Layout>
  );
}

/** The counts by reason, the filters, the CSV download and one page of the rejects that match. */
function Rejects({ view }: { view: RunView }) {
  const { run, rejects, offset, limit, file, reason } = view;
  const id = run.run_id;
  const matching = view.reasons.filter((r) => (file === undefined || r.file === file) && (reason === undefined || r.reason === reason));
  const shown = matching.reduce((sum, r) => sum + r.rows, 0);
  const kinds = [...new Set(view.reasons.map((r) => r.reason))].sort();
  const filtered = file !== undefined || reason !== undefined;
  const csv = `/runs/${id}/rejects.csv${filterQuery(view).replace(/^&/, '?')}`;
  return (
    <>
      <h3 id="reasons-title">Why, and how many</h3>
      <div class="table-wrap" tabindex={0} role="region" aria-labelledby="reasons-title">
        <table class="cards" id="reasons">
          <caption>Rejected rows by file and reason, the commonest first; a reason's values are written "…".</caption>
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Reason</th>
              <th scope="col" class="num">
                Rows
              </th>
            </tr>
          </thead>
          <tbody>
            {view.reasons.map((r) => (
              <tr>
                <td data-label="File">{r.file}</td>
                <td data-label="Reason">
                  <a href={pageHref(id, 0, limit, { file: r.file, reason: r.reason })}>{r.reason}</a>
                </td>
                <td class="num" data-label="Rows">
                  {count(r.rows)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form method="get" action={`/ui/runs/${id}#rejects`} class="row card filters" aria-label="Filter the rejected rows">
        <label for="filter-file">File</label>
        <select id="filter-file" name="file">
          <option value="">All files</option>
          {SOURCES.map((s) => (
            <option value={s.file} selected={s.file === file}>
              {s.file}
            </option>
          ))}
        </select>
        <label for="filter-reason">Reason</label>
        <select id="filter-reason" name="reason">
          <option value="">All reasons</option>
          {kinds.map((k) => (
            <option value={k} selected={k === reason}>
              {k}
            </option>
          ))}
        </select>
        <input type="hidden" name="limit" value={String(limit)} />
        <button type="submit">Show</button>
        {filtered ? <a href={`/ui/runs/${id}?limit=${limit}#rejects`}>Show all</a> : null}
      </form>
      <p class="hint">
        Lines are physical lines of the file, from 1, counting the header and blank lines: open the file at that line to fix it.{' '}
        <a class="button secondary" href={csv} download={`run-${id}-rejects${file ? `-${file.replace(/\.csv$/, '')}` : ''}.csv`}>
          {filtered ? `Download these ${count(shown)} as CSV` : `Download all ${count(shown)} as CSV`}
        </a>{' '}
        <a href={`/runs/${id}/rejects?limit=${limit}&offset=${offset}${filterQuery(view)}`}>This page as JSON</a>
      </p>
      {rejects.length === 0 ? (
        <p>{offset === 0 ? 'No rejected row matches these filters.' : 'No rejected rows on this page.'}</p>
      ) : (
        <div class="table-wrap" tabindex={0} role="region" aria-labelledby="rejects-caption">
          <table class="cards">
            <caption id="rejects-caption">{`Rejected rows ${count(offset + 1)} to ${count(offset + rejects.length)} of ${count(shown)}${filtered ? ' that match' : ''}, causes first: by file (users, compounds, experiments) and line`}</caption>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col" class="num">
                  Line
                </th>
                <th scope="col">Reason</th>
                <th scope="col">Raw line</th>
              </tr>
            </thead>
            <tbody>
              {rejects.map((r) => {
                const note = rawNote(r);
                return (
                  <tr>
                    <td class="nowrap" data-label="File">
                      {r.file}
                    </td>
                    <td class="num" data-label="Line">
                      {r.line}
                    </td>
                    <td data-label="Reason">{r.reason}</td>
                    <td data-label="Raw line">
                      <code class="raw">{r.raw}</code>
                      {note ? <span class="hint">{`(${note})`}</span> : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of rejected rows">
        {offset > 0 ? <a href={pageHref(id, Math.max(0, offset - limit), limit, view)}>Previous page</a> : null}
        {view.more ? (
          <a class="button" rel="next" href={pageHref(id, offset + limit, limit, view)}>
            Next page
          </a>
        ) : null}
      </nav>
    </>
  );
}
