import type { UserDetail } from '../read/users.js';
import { TopCompounds } from './features-page.js';
import { count, decimal } from './format.js';
import { Layout } from './layout.js';

/** Rows of each list the page shows; GET /data/users/:id/experiments has them all. */
const COUNTS_SHOWN = 25;
const EXPERIMENTS_SHOWN = 100;

/**
 * GET /ui/users/:id: one user of the published run, their features, how many of their experiments
 * list each compound (the top ones marked: the counts that explain the pick) and the experiments
 * themselves in file order. From GET /data/users/:id/experiments.
 */
export function UserPage({ detail }: { detail: UserDetail }) {
  const { user } = detail;
  // A page a person reads: the top of each list (every top compound always), the rest in the API.
  const experiments = detail.experiments.slice(0, EXPERIMENTS_SHOWN);
  const counts = detail.compound_counts.filter((c, i) => i < COUNTS_SHOWN || c.top);
  const more = detail.compound_counts.length - counts.length;
  const shown =
    experiments.length < user.total_experiments ? ` (the first ${count(experiments.length)} of ${count(user.total_experiments)})` : '';
  return (
    <Layout title={`User ${user.user_id}`} page="features">
      <p>
        <a href="/ui/features">← All users</a>
      </p>
      <h1>{`${user.name} (user ${user.user_id})`}</h1>
      <section aria-labelledby="features-heading">
        <h2 id="features-heading">{`Features in run ${detail.run_id}`}</h2>
        <dl class="facts">
          <dt>Email</dt>
          <dd>{user.email}</dd>
          <dt>Experiments</dt>
          <dd>{count(user.total_experiments)}</dd>
          <dt>Average run time</dt>
          <dd>{decimal(user.average_run_time)}</dd>
          <dt>Top compounds (all tied)</dt>
          <dd>
            <TopCompounds user={user} />
          </dd>
          <dt>Experiments with it</dt>
          <dd>{count(user.top_compound_experiments)}</dd>
        </dl>
      </section>
      <section aria-labelledby="counts-heading">
        <h2 id="counts-heading">Compounds by experiments</h2>
        {counts.length === 0 ? (
          <p>No experiments, so no top compound.</p>
        ) : (
          <>
            <p class="hint">
              How many of the user's experiments list each compound (once per experiment). The highest count makes the top compound; every
              compound reaching it is kept (marked), the lowest id first.
            </p>
            <div class="table-wrap" tabindex={0} role="region" aria-labelledby="counts-caption">
              <table class="cards">
                <caption id="counts-caption">
                  {`${count(detail.compound_counts.length)} compounds, the most often listed first${more > 0 ? `; the first ${count(counts.length)} shown` : ''}`}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Compound</th>
                    <th scope="col" class="num">
                      Id
                    </th>
                    <th scope="col" class="num">
                      Experiments listing it
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {counts.map((c) => (
                    <tr class={c.top ? 'highlight' : undefined}>
                      <th scope="row" data-label="Compound">
                        {c.name ?? 'unknown'}
                        {c.top ? <strong class="top-mark"> · top compound</strong> : null}
                      </th>
                      <td class="num" data-label="Id">
                        {String(c.id)}
                      </td>
                      <td class="num" data-label="Experiments listing it">
                        {count(c.experiments)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {more > 0 ? (
              <p class="hint">
                {`… and ${count(more)} more compounds, each in fewer experiments: `}
                <a href={`/data/users/${user.user_id}/experiments`}>all of them (JSON)</a>
              </p>
            ) : null}
          </>
        )}
      </section>
      <section aria-labelledby="experiments-heading">
        <h2 id="experiments-heading">{`Experiments${shown}`}</h2>
        {experiments.length === 0 ? (
          <p>None.</p>
        ) : (
          <div class="table-wrap" tabindex={0} role="region" aria-labelledby="experiments-caption">
            <table class="cards">
              <caption id="experiments-caption">In the order of user_experiments.csv</caption>
              <thead>
                <tr>
                  <th scope="col" class="num">
                    Experiment id
                  </th>
                  <th scope="col" class="num">
                    Line
                  </th>
                  <th scope="col" class="num">
                    Run time
                  </th>
                  <th scope="col">Compounds</th>
                </tr>
              </thead>
              <tbody>
                {experiments.map((e) => (
                  <tr>
                    <th scope="row" class="num" data-label="Experiment id">
                      {String(e.experiment_id)}
                    </th>
                    <td class="num" data-label="Line">
                      {String(e.line)}
                    </td>
                    <td class="num" data-label="Run time">
                      {decimal(e.run_time)}
                    </td>
                    <td data-label="Compounds">{e.compounds.map((c) => `${c.name ?? 'unknown'} (#${c.id})`).join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Layout>
  );
}
