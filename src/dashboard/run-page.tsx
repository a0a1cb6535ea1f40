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
}

const pageHref = (runId: number, offset: number, limit: number) => `/ui/runs/${runId}?offset=${offset}&limit=${limit}#rejects`;

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
  const { run, rejects, offset, limit } = view;
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
          {run.error ? (
            <>
              <dt>Error</dt>
              <dd class="message message-failed">{run.error}</dd>
            </>
          ) : null}
        </dl>
        <div class="table-wrap" tabindex={0} role="region" aria-label="Files of the run">
          <table>
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
                    <th scope="row">{file}</th>
                    <td class="num">{f ? bytes(f.bytes) : '—'}</td>
                    <td class="num">{count(f?.rows_read)}</td>
                    <td class="num">{count(f?.rows_loaded)}</td>
                    <td class="num">{count(f?.rows_rejected)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
      <section id="rejects" aria-labelledby="rejects-title">
        <h2 id="rejects-title">Rejected rows</h2>
        {rejects.length === 0 && offset === 0 ? (
          <p>
            {!counted
              ? 'Rows are counted as rejected once the run has loaded its files.'
              : total === 0
                ? 'No row of this run was rejected.'
                : `This run rejected ${count(total)} rows, but they were deleted: only the newest runs (KEEP_RUNS) and the published one keep their rejects.`}
          </p>
        ) : (
          <>
            <p class="hint">
              Lines are physical lines of the file, from 1, counting the header and blank lines: open the file at that line to fix it.{' '}
              <a href={`/runs/${run.run_id}/rejects?limit=${limit}&offset=${offset}`}>This page as JSON</a>
            </p>
            {rejects.length === 0 ? (
              <p>No rejected rows on this page.</p>
            ) : (
              <div class="table-wrap" tabindex={0} role="region" aria-labelledby="rejects-caption">
                <table>
                  <caption id="rejects-caption">{`Rejected rows ${count(offset + 1)} to ${count(offset + rejects.length)}${total > 0 ? ` of ${count(total)}` : ''}, by file and line`}</caption>
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
                          <td class="nowrap">{r.file}</td>
                          <td class="num">{r.line}</td>
                          <td>{r.reason}</td>
                          <td>
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
              {offset > 0 ? <a href={pageHref(run.run_id, Math.max(0, offset - limit), limit)}>Previous page</a> : null}
              {view.more ? (
                <a class="button" rel="next" href={pageHref(run.run_id, offset + limit, limit)}>
                  Next page
                </a>
              ) : null}
            </nav>
          </>
        )}
      </section>
    </Layout>
  );
}
