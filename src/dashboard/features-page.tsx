import type { Dir, Sort, UserRow, UsersPage } from '../read/users.js';
import { count, decimal } from './format.js';
import { Layout } from './layout.js';

/** The page sizes offered; any other `limit` from 1 to FEATURES_MAX_LIMIT works too. */
export const PAGE_SIZES = [25, 50, 100, 500];
export const FEATURES_MAX_LIMIT = 500;

export interface FeaturesView {
  page: UsersPage;
  /** The run's numbers for the heading (null before any run). */
  experiments: number | null;
  average: number | null;
  limit: number;
  /** The position of the page's first user, when the page was reached from the first by its links. */
  position: number | undefined;
}

/** The columns, their names and which sort each header sets (null: not sortable). */
const COLUMNS: { label: string; sort: Sort | null; num?: boolean }[] = [
  { label: 'User id', sort: 'user_id', num: true },
  { label: 'Name', sort: 'name' },
  { label: 'Email', sort: 'email' },
  { label: 'Experiments', sort: 'total_experiments', num: true },
  { label: 'Average run time', sort: 'average_run_time', num: true },
  { label: 'Top compounds (all tied)', sort: 'top_compound_name' },
  { label: 'Experiments with it', sort: null, num: true },
];
const SORT_NAMES: Record<Sort, string> = {
  user_id: 'user id',
  name: 'name',
  email: 'email',
  total_experiments: 'experiments',
  average_run_time: 'average run time',
  top_compound_name: 'top compound',
};

/** The address of this page with these parameters (empty ones left out). */
export function featuresHref(params: {
  sort: Sort;
  dir: Dir;
  q?: string | null;
  limit: number;
  after?: string;
  before?: string;
  pos?: number;
}): string {
  const search = new URLSearchParams();
  if (params.q) search.set('q', params.q);
  if (params.sort !== 'user_id') search.set('sort', params.sort);
  if (params.dir !== 'asc') search.set('dir', params.dir);
  if (params.limit !== 50) search.set('limit', String(params.limit));
  if (params.after) search.set('after', params.after);
  if (params.before) search.set('before', params.before);
  if (params.pos !== undefined && params.pos > 1) search.set('pos', String(params.pos));
  const text = search.toString();
  return text ? `/ui/features?${text}` : '/ui/features';
}

/** The top compounds, each named (all tied), or a dash. */
export function TopCompounds({ user }: { user: UserRow }) {
  if (user.top_compounds.length === 0) return <>—</>;
  return (
    <ul class="compounds">
      {user.top_compounds.map((c) => (
        <li>
          {c.name ?? 'unknown'} <span class="ids">{`#${c.id}`}</span>
        </li>
      ))}
    </ul>
  );
}

/**
 * GET /ui/features: one keyset page of GET /data/users, sorted by a header (a link: a second click
 * reverses it) or by the form, searched by the form, with previous and next pages. Plain links and
 * a GET form: no script.
 */
export function FeaturesPage({ view }: { view: FeaturesView }) {
  const { page, limit, position } = view;
  const { users, sort, dir, q } = page;
  const base = { sort, dir, q, limit };
  // The first page is known to start at 1; another, at the position its link carried (display only).
  const first = page.prev === null ? 1 : position;
  const found =
    page.matching === null
      ? `${count(page.total_users)} users`
      : `${page.matching.exact ? '' : 'More than '}${count(page.matching.count)} of ${count(page.total_users)} users match “${q}”`;
  return (
    <Layout title="Features" page="features">
      <h1>Features</h1>
      {page.run_id === null ? (
        <p>
          Nothing is published yet: run the ETL on the <a href="/">overview</a>.
        </p>
      ) : (
        <p>
          {`Published by run ${page.run_id}: ${count(page.total_users)} users, ${count(view.experiments)} experiments, `}
          <strong>{decimal(view.average)}</strong> experiments per user on average.{' '}
          <a href="/data.csv" download="features.csv">
            Download all users as CSV
          </a>
        </p>
      )}
      <form method="get" action="/ui/features" class="row card" role="search" aria-label="Search and sort the users">
        <label for="q">Search</label>
        <input
          id="q"
          name="q"
          type="search"
          value={q ?? ''}
          placeholder="user id, or the start of a name or email"
          aria-describedby="q-hint"
        />
        <label for="sort">Sort by</label>
        <select id="sort" name="sort">
          {COLUMNS.filter((c) => c.sort !== null).map((c) => (
            <option value={c.sort!} selected={c.sort === sort}>
              {SORT_NAMES[c.sort!]}
            </option>
          ))}
        </select>
        <select id="dir" name="dir" aria-label="Direction">
          <option value="asc" selected={dir === 'asc'}>
            ascending
          </option>
          <option value="desc" selected={dir === 'desc'}>
            descending
          </option>
        </select>
        <label for="limit">Per page</label>
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
        <p id="q-hint" class="hint">
          All digits finds that user id; anything else finds the names and emails that start with it (any case).
        </p>
      </form>
      {page.run_id === null ? null : (
        <p role="status" id="found">
          <strong>{found}</strong>
          {users.length > 0 && first !== undefined ? ` · showing ${count(first)} to ${count(first + users.length - 1)}` : ''}
          {` · by ${SORT_NAMES[sort]}, ${dir === 'asc' ? 'ascending' : 'descending'}`}
          {q ? (
            <>
              {' · '}
              <a href={featuresHref({ ...base, q: null })}>Clear the search</a>
            </>
          ) : null}
        </p>
      )}
      {users.length === 0 ? (
        page.run_id === null ? null : (
          <p>{q ? `No user matches “${q}”.` : 'No users on this page.'}</p>
        )
      ) : (
        <div class="table-wrap" tabindex={0} role="region" aria-labelledby="features-caption">
          <table class="cards features">
            <caption id="features-caption">{`Users by ${SORT_NAMES[sort]}, ${dir === 'asc' ? 'ascending' : 'descending'}; click a column's name to sort by it`}</caption>
            <thead>
              <tr>
                {COLUMNS.map((c) => {
                  const current = c.sort === sort;
                  const next: Dir = current && dir === 'asc' ? 'desc' : 'asc';
                  return (
                    <th
                      scope="col"
                      class={c.num ? 'num' : undefined}
                      aria-sort={current ? (dir === 'asc' ? 'ascending' : 'descending') : undefined}
                    >
                      {c.sort === null ? (
                        c.label
                      ) : (
                        <a class="sort" href={featuresHref({ ...base, sort: c.sort, dir: next })}>
                          {c.label}
                          <span class="arrow" aria-hidden="true">
                            {current ? (dir === 'asc' ? ' ▲' : ' ▼') : ''}
                          </span>
                        </a>
                      )}
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr>
                  <th scope="row" class="num" data-label="User id">
                    <a href={`/ui/users/${u.user_id}`}>{String(u.user_id)}</a>
                  </th>
                  <td data-label="Name">{u.name}</td>
                  <td data-label="Email" class="email">
                    <span class="value">{u.email}</span>
                  </td>
                  <td class="num" data-label="Experiments">
                    {count(u.total_experiments)}
                  </td>
                  <td class="num" data-label="Average run time">
                    {decimal(u.average_run_time)}
                  </td>
                  <td data-label="Top compounds (all tied)">
                    <TopCompounds user={u} />
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
        {page.prev !== null ? (
          <a
            class="button secondary"
            rel="prev"
            href={featuresHref({ ...base, before: page.prev, pos: first === undefined ? undefined : Math.max(1, first - limit) })}
          >
            Previous page
          </a>
        ) : null}
        {page.next !== null ? (
          <a
            class="button"
            rel="next"
            href={featuresHref({ ...base, after: page.next, pos: first === undefined ? undefined : first + users.length })}
          >
            Next page
          </a>
        ) : users.length > 0 ? (
          <span class="muted">Last page</span>
        ) : null}
        {page.prev !== null ? <a href={featuresHref(base)}>First page</a> : null}
      </nav>
    </Layout>
  );
}
