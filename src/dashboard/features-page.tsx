import type { UserFeatures } from '../read/features.js';
import type { RunRecord } from '../read/runs.js';
import { count, decimal } from './format.js';
import { Layout } from './layout.js';

/** The page sizes offered; any other `limit` from 1 to FEATURES_MAX_LIMIT works too. */
export const PAGE_SIZES = [25, 50, 100, 500];
export const FEATURES_MAX_LIMIT = 1000;

export interface FeaturesView {
  /** The published run (as GET /data names it), null before any. */
  run: Pick<RunRecord, 'run_id' | 'features'> | null;
  average: number | null;
  users: UserFeatures[];
  /** The next page's `after`; null on the last page. */
  nextAfter: number | null;
  after: number;
  limit: number;
  /** The user id asked for in the jump box, if any: its row is marked. */
  user: number | undefined;
}

const pageHref = (after: number, limit: number) => `/ui/features?after=${after}&limit=${limit}`;

/**
 * GET /ui/features: one keyset page of the published features (the API's `limit`/`after`), a box
 * to go to a user id, the data set's average and the CSV download. Plain links and a GET form, so
 * it needs no script.
 */
export function FeaturesPage({ view }: { view: FeaturesView }) {
  const { run, users, limit, user } = view;
  const first = users[0]?.user_id;
  const last = users[users.length - 1]?.user_id;
  const missing = user !== undefined && first !== user;
  return (
    <Layout title="Features" page="features">
      <h1>Features</h1>
      {run === null ? (
        <p>
          Nothing is published yet: run the ETL on the <a href="/">overview</a>.
        </p>
      ) : (
        <p>
          {`Published by run ${run.run_id}: ${count(run.features.users)} users, ${count(run.features.experiments)} experiments, `}
          <strong>{decimal(view.average)}</strong> experiments per user on average.{' '}
          <a href="/data.csv" download="features.csv">
            Download all users as CSV
          </a>
        </p>
      )}
      <form method="get" action="/ui/features" class="row card" role="search" aria-label="Go to a user">
        <label for="user">Go to user id</label>
        <input id="user" name="user" type="number" min={1} step={1} inputmode="numeric" value={user === undefined ? '' : String(user)} />
        <label for="limit">Users per page</label>
        <select id="limit" name="limit">
          {[...new Set([...PAGE_SIZES, limit])]
            .sort((a, b) => a - b)
            .map((size) => (
              <option value={String(size)} selected={size === limit}>
                {String(size)}
              </option>
            ))}
        </select>
        <button type="submit">Show</button>
      </form>
      {missing ? (
        <p class="message message-warning" role="status">
          {first === undefined
            ? `No user has an id of ${user} or more.`
            : `There is no user ${user}; the page starts at the next user id, ${first}.`}
        </p>
      ) : null}
      {users.length === 0 ? (
        run === null ? null : (
          <p>No users on this page.</p>
        )
      ) : (
        <div class="table-wrap" tabindex={0} role="region" aria-labelledby="features-caption">
          <table class="cards">
            <caption id="features-caption">{`Users ${first} to ${last}, by user id`}</caption>
            <thead>
              <tr>
                <th scope="col" class="num">
                  User id
                </th>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col" class="num">
                  Experiments
                </th>
                <th scope="col" class="num">
                  Average run time
                </th>
                <th scope="col">Top compound</th>
                <th scope="col">Top compound ids (all tied)</th>
                <th scope="col" class="num">
                  Experiments with it
                </th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr class={u.user_id === user ? 'highlight' : undefined} aria-current={u.user_id === user ? 'true' : undefined}>
                  <th scope="row" class="num" data-label="User id">
                    {u.user_id}
                  </th>
                  <td data-label="Name">{u.name}</td>
                  <td data-label="Email">{u.email}</td>
                  <td class="num" data-label="Experiments">
                    {count(u.total_experiments)}
                  </td>
                  <td class="num" data-label="Average run time">
                    {decimal(u.average_run_time)}
                  </td>
                  <td data-label="Top compound">{u.top_compound_name ?? '—'}</td>
                  <td class="ids" data-label="Top compound ids (all tied)">
                    {u.top_compound_ids.length > 0 ? u.top_compound_ids.join(', ') : '—'}
                  </td>
                  <td class="num" data-label="Experiments with it">
                    {count(u.top_compound_experiments)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of users">
        {view.after > 0 || user !== undefined ? <a href={pageHref(0, limit)}>First page</a> : null}
        {view.nextAfter !== null ? (
          <a class="button" rel="next" href={pageHref(view.nextAfter, limit)}>
            Next page
          </a>
        ) : users.length > 0 ? (
          <span class="muted">Last page</span>
        ) : null}
      </nav>
    </Layout>
  );
}
