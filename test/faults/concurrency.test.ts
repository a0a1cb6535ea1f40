// Concurrency over real HTTP against the real service process:
// - 20 simultaneous POST /data: exactly one runs, the 19 others get 409 with its run id, no 5xx;
// - readers (GET /data, GET /data/users/:id) in a loop while runs commit: every answer is one whole
//   result of one run, and readers are not held up by the runs (latency figures are printed);
// - two service processes on one database: still one run at a time.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConsistent,
  assertPublished,
  call,
  cleanup,
  onCleanup,
  startService,
  stopService,
  useSet,
  type Answer,
  serviceOnSets,
  type DataSets,
  type Service,
} from './support.js';

let service: Service;
let url: string;
let dataDir: string;
let sets: DataSets<'a' | 'b'>;

before(async () => {
  // Two sets that differ everywhere (users, experiments, compounds), each a run of a few seconds.
  ({ service, url, dataDir, sets } = await serviceOnSets(
    'concurrency',
    {
      a: { users: 3000, experiments: 150_000, compounds: 15, seed: 4 },
      b: { users: 4000, experiments: 100_000, compounds: 25, seed: 5 },
    },
    'a',
  ));
});
after(cleanup);

/**
 * The same user features. `average_run_time` is a float average whose last bits may depend on the
 * order PostgreSQL summed the rows in, so it is compared to 1e-9 (relative); the rest exactly.
 */
function sameUser(actual: any, expected: any): boolean {
  if (!actual || !expected) return false;
  const { average_run_time: x, ...rest } = actual;
  const { average_run_time: y, ...expectedRest } = expected;
  const close = x === y || (typeof x === 'number' && typeof y === 'number' && Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y)));
  return close && JSON.stringify(rest) === JSON.stringify(expectedRest);
}

const sameUsers = (actual: any[], expected: any[]) => actual.length === expected.length && actual.every((u, i) => sameUser(u, expected[i]));

const statusCounts = (answers: Answer[]) =>
  answers.reduce<Record<number, number>>((counts, a) => ({ ...counts, [a.status]: (counts[a.status] ?? 0) + 1 }), {});

test('20 simultaneous POST /data: one 200, nineteen 409 with its run id, no 5xx', { timeout: 120_000 }, async () => {
  // A service that has been serving reads and runs has warm pools (connections open): that is when
  // the triggers race hardest for connections, so warm them first. Readers have pools of their own
  // (beyond MAX_STREAMS, GET /data answers 503), so a run warms the run pool.
  await Promise.all(Array.from({ length: 12 }, () => call(service.base, 'GET', '/data')));
  assert.equal((await call(service.base, 'POST', '/data')).status, 200);
  const runsBefore = (await call(service.base, 'GET', '/runs')).body.runs.length;
  const answers = await Promise.all(Array.from({ length: 20 }, () => call(service.base, 'POST', '/data')));
  console.log(
    `concurrency: 20 POSTs answered ${JSON.stringify(statusCounts(answers))}; slowest ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms`,
  );
  const winners = answers.filter((a) => a.status === 200);
  const losers = answers.filter((a) => a.status === 409);
  assert.equal(winners.length, 1, `exactly one 200: ${answers.map((a) => `${a.status} ${a.text.slice(0, 120)}`).join('\n')}`);
  assert.equal(losers.length, 19);
  const runId = winners[0]!.body.run_id;
  for (const loser of losers) assert.deepEqual(loser.body, { error: `run ${runId} is in progress`, run_id: runId });
  const runs = (await call(service.base, 'GET', '/runs')).body.runs;
  assert.equal(runs.length, runsBefore + 1, 'one run was recorded');
  await assertPublished(url, runId, 'after the race');
});

test('readers during commits: every answer is one whole run, and readers are not held up', { timeout: 180_000 }, async () => {
  // Reference answers of each set, published one after the other.
  const reference: Record<'a' | 'b', { users: any[]; byId: Map<number, any> }> = {} as never;
  for (const name of ['a', 'b'] as const) {
    await useSet(dataDir, sets[name].dir);
    assert.equal((await call(service.base, 'POST', '/data')).status, 200);
    const data = await call(service.base, 'GET', '/data');
    assertConsistent(data, `reference ${name}`);
    reference[name] = { users: data.body.users, byId: new Map(data.body.users.map((u: any) => [u.user_id, u])) };
  }
  assert.ok(!sameUsers(reference.a.users, reference.b.users));

  let writing = true;
  const latencies = { data: [] as number[], user: [] as number[] };
  const runsSeen = new Set<number>();
  const problems: string[] = [];
  const deadline = Date.now() + 120_000;

  async function readAll() {
    for (let i = 0; writing && i < 2000 && Date.now() < deadline; i++) {
      const answer = await call(service.base, 'GET', '/data', { timeoutMs: 30_000 });
      latencies.data.push(answer.ms);
      try {
        assertConsistent(answer, `GET /data #${i}`);
        const { users } = answer.body;
        assert.ok(
          sameUsers(users, reference.a.users) || sameUsers(users, reference.b.users),
          'the users are exactly those of set a or set b',
        );
        runsSeen.add(answer.body.run.run_id);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
  }
  async function readUsers(seed: number) {
    for (let i = 0; writing && i < 20_000 && Date.now() < deadline; i++) {
      const id = 1 + ((seed * 7919 + i * 104_729) % 3000); // users 1..3000 exist in both sets
      const answer = await call(service.base, 'GET', `/data/users/${id}`, { timeoutMs: 30_000 });
      latencies.user.push(answer.ms);
      if (answer.status !== 200 || !(sameUser(answer.body, reference.a.byId.get(id)) || sameUser(answer.body, reference.b.byId.get(id)))) {
        problems.push(`GET /data/users/${id}: ${answer.status} ${answer.text.slice(0, 200)}`);
      }
    }
  }
  async function write() {
    const runs: number[] = [];
    try {
      for (const name of ['a', 'b', 'a', 'b'] as const) {
        await useSet(dataDir, sets[name].dir);
        const posted = await call(service.base, 'POST', '/data');
        assert.equal(posted.status, 200, posted.text);
        runs.push(posted.body.run_id);
      }
    } finally {
      writing = false;
    }
    return runs;
  }

  const started = performance.now();
  const [runs] = await Promise.all([write(), readAll(), readAll(), readUsers(1), readUsers(2)]);
  const seconds = (performance.now() - started) / 1000;

  const figures = (xs: number[]) => {
    const sorted = [...xs].sort((x, y) => x - y);
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    return { count: xs.length, p50: at(0.5), p99: at(0.99), max: Math.round(sorted.at(-1)!) };
  };
  const data = figures(latencies.data);
  const user = figures(latencies.user);
  console.log(`concurrency: ${runs.length} runs committed in ${seconds.toFixed(1)} s while readers ran`);
  console.log(`concurrency: GET /data (4 000 users max) ms: ${JSON.stringify(data)}`);
  console.log(`concurrency: GET /data/users/:id ms: ${JSON.stringify(user)}`);

  const serviceErrors = service
    .output()
    .split('\n')
    .filter((line) => / failed/.test(line))
    .slice(0, 5);
  assert.deepEqual(
    problems.slice(0, 5),
    [],
    `every answer is one complete, consistent result (${problems.length} were not; service log: ${serviceErrors.join(' / ')})`,
  );
  assert.ok(runsSeen.size >= 3, `readers saw several runs published (${[...runsSeen]})`);
  assert.ok(data.count >= 10 && user.count >= 100, 'the readers really ran during the commits');
  assert.ok(data.p99 < 1000, `GET /data p99 ${data.p99} ms < 1 s`);
  assert.ok(user.p99 < 1000, `GET /data/users/:id p99 ${user.p99} ms < 1 s`);
  await assertPublished(url, runs.at(-1)!, 'after the commits');
});

test('two service processes on one database: still one run at a time', { timeout: 120_000 }, async () => {
  const other = await startService({ DATABASE_URL: url, DATA_DIR: dataDir });
  onCleanup(async () => {
    await stopService(other);
  });
  await useSet(dataDir, sets.b.dir);
  for (let round = 1; round <= 3; round++) {
    const answers = await Promise.all([call(service.base, 'POST', '/data'), call(other.base, 'POST', '/data')]);
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 409], `round ${round}: ${answers.map((a) => a.text.slice(0, 200)).join(' | ')}`);
    const winner = answers.find((a) => a.status === 200)!;
    const loser = answers.find((a) => a.status === 409)!;
    assert.equal(loser.body.run_id, winner.body.run_id, 'the 409 names the run of the other process');
    await assertPublished(url, winner.body.run_id, `round ${round}`);
    console.log(`concurrency: two processes, round ${round}: ${answers.map((a) => a.status).join(' and ')}`);
  }
  const stopped = await stopService(other);
  assert.equal(stopped.code, 0, other.output());
});
