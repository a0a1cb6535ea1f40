/**
 * GET /data/users/:id under load, against its yardstick: the compiled service (`node dist/server.js`,
 * as `npm start` runs it) and tools/bare-point-read.ts (a bare `node:http` + `pg` server doing one
 * prepared SELECT of the same stored JSON) on the same database, each loaded by autocannon with
 * CONNECTIONS concurrent clients asking for random user ids, one after the other, in alternating
 * order, ROUNDS times. The machine is shared and its speed drifts, so each round's ratio is of two
 * measures taken back to back.
 *
 *   npx tsx tools/point-reads.ts [--users 100000] [--rounds 3] [--seconds 10] [--connections 50]
 *
 * Alone it runs the service on the embedded default (no DATABASE_URL: a fresh embedded PostgreSQL
 * in a temporary folder) with the bench's generated set of `--users` users (10 experiments each),
 * published by one POST /data. tools/bench.ts runs the same comparison on its own database.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { exitOf, freePort, sleep } from '../test/service.js';
import { generateCached } from './generate.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const log = (message: string) => process.stderr.write(`[point-reads] ${message}\n`);

export interface PointReadOptions {
  users: number;
  rounds: number;
  seconds: number;
  connections: number;
}

/** One autocannon measure: requests a second (mean), latencies in ms, and every request that was not a 200. */
export interface Load {
  reqPerS: number;
  p50: number;
  p99: number;
  max: number;
  requests: number;
  errors: number;
  non2xx: number;
  /** The server process's CPU time (user + system) during the measure, per request, in µs. */
  cpuUsPerRequest: number;
  /** The same for the database's client backends (when the database runs on this machine; else null). */
  pgCpuUsPerRequest: number | null;
  /** The machine's 1-minute load average at the end of the measure (it is shared: read the figures with it). */
  loadAverage: number;
}

export interface PointReadRound {
  first: 'service' | 'bare';
  service: Load;
  bare: Load;
  /** service req/s ÷ bare req/s (target ≥ 0.7) */
  ratio: number;
  /** service p99 ÷ bare p99 (target ≤ 1.5) */
  p99Ratio: number;
}

export interface PointReads {
  options: PointReadOptions;
  rounds: PointReadRound[];
}

interface Server {
  child: ChildProcess;
  port: number;
}

/** Starts `args` with node and `env`, output to `logFile`, and waits until `path` answers on its port. */
async function startServer(args: string[], env: Record<string, string>, logFile: string, probe: string): Promise<Server> {
  const port = await freePort();
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', ...env, PORT: String(port) },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited during start-up (${child.exitCode}); see ${logFile}`);
    const ok = await fetch(`http://127.0.0.1:${port}${probe}`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) return { child, port };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`${args.join(' ')} did not answer ${probe} within 120 s; see ${logFile}`);
}

async function stopServer(server: Server | null): Promise<void> {
  if (!server || server.child.exitCode !== null) return;
  server.child.kill('SIGTERM');
  await exitOf(server.child, 30_000).catch(() => server.child.kill('SIGKILL'));
}

// CPU time of a process of this machine from /proc (Linux): utime + stime, in clock ticks (100 a second).
const TICK_US = 10_000;
function cpuTicks(pid: number): number | null {
  try {
    // The fields after the command's name (which is in parentheses and may hold spaces).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** The client backends of the database at `url` and their CPU ticks so far (empty when they are not on this machine). */
async function backendTicks(url: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    const ticks = new Map<number, number>();
    for (const { pid } of rows) {
      const t = cpuTicks(pid);
      if (t !== null) ticks.set(pid, t);
    }
    return ticks;
  } finally {
    await client.end();
  }
}

/**
 * `connections` clients asking for `GET /data/users/<random id>` for `seconds`, and the CPU time
 * it cost the server process `pid` and the database's client backends at `url`, per request.
 * (A backend opened during the measure counts whole; one closed during it is not counted: the
 * pools keep theirs open while they are busy.)
 */
async function load(port: number, users: number, seconds: number, connections: number, pid: number, url: string): Promise<Load> {
  const pgBefore = await backendTicks(url);
  const before = cpuTicks(pid);
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      { method: 'GET', setupRequest: (request) => ({ ...request, path: `/data/users/${1 + Math.floor(Math.random() * users)}` }) },
    ],
  });
  const after = cpuTicks(pid);
  const pgAfter = await backendTicks(url);
  const requests = result.requests.total;
  let pgTicks = 0;
  for (const [backend, ticks] of pgAfter) pgTicks += ticks - (pgBefore.get(backend) ?? 0);
  return {
    reqPerS: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    requests: result.requests.total,
    errors: result.errors,
    non2xx: result.non2xx,
    cpuUsPerRequest: before === null || after === null ? NaN : ((after - before) * TICK_US) / requests,
    pgCpuUsPerRequest: pgAfter.size === 0 ? null : (pgTicks * TICK_US) / requests,
    loadAverage: os.loadavg()[0]!,
  };
}

/**
 * The comparison on a database that has a published run: the service started with `env` (its
 * database: DATABASE_URL, or the embedded server's settings) and the bare server on `url`, the
 * same database. `publish`: POST /data first (DATA_DIR must be in `env`).
 */
export async function measurePointReads(
  o: PointReadOptions,
  { env, url, logDir, publish = false }: { env: Record<string, string>; url: string; logDir: string; publish?: boolean },
): Promise<PointReads> {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  let service: Server | null = null;
  let bare: Server | null = null;
  try {
    service = await startServer(['dist/server.js'], env, path.join(logDir, 'point-reads-service.log'), '/health');
    if (publish) {
      log('POST /data');
      const posted = await fetch(`http://127.0.0.1:${service.port}/data`, { method: 'POST' });
      if (posted.status !== 200) throw new Error(`POST /data answered ${posted.status}: ${(await posted.text()).slice(0, 300)}`);
    }
    bare = await startServer(
      ['--import', 'tsx', 'tools/bare-point-read.ts'],
      { DATABASE_URL: url },
      path.join(logDir, 'point-reads-bare.log'),
      '/data/users/1',
    );
    const servers = { service, bare };
    const measure = (which: 'service' | 'bare', seconds: number) =>
      load(servers[which].port, o.users, seconds, o.connections, servers[which].child.pid!, url);
    log(`warming up (service on ${service.port}, bare on ${bare.port})`);
    for (const which of ['service', 'bare'] as const) await measure(which, 3);
    const rounds: PointReadRound[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 === 0 ? (['service', 'bare'] as const) : (['bare', 'service'] as const);
      const got: Partial<Record<'service' | 'bare', Load>> = {};
      for (const which of order) got[which] = await measure(which, o.seconds);
      const round = {
        first: order[0],
        service: got.service!,
        bare: got.bare!,
        ratio: got.service!.reqPerS / got.bare!.reqPerS,
        p99Ratio: got.service!.p99 / got.bare!.p99,
      };
      rounds.push(round);
      log(`round ${r + 1}: ${formatRound(round)}`);
    }
    return { options: o, rounds };
  } finally {
    await stopServer(bare);
    await stopServer(service);
  }
}

const cpu = (l: Load) =>
  `${Math.round(l.cpuUsPerRequest)} µs (PostgreSQL ${l.pgCpuUsPerRequest === null ? '?' : Math.round(l.pgCpuUsPerRequest)} µs)`;
const formatLoad = (l: Load) =>
  `${Math.round(l.reqPerS)} req/s, p50 ${l.p50} / p99 ${l.p99} / max ${l.max} ms, ${l.errors} errors, ${l.non2xx} non-2xx of ${l.requests}, ` +
  `CPU a request ${cpu(l)}, load ${l.loadAverage.toFixed(1)}`;
const formatRound = (r: PointReadRound) =>
  `service ${formatLoad(r.service)}; bare ${formatLoad(r.bare)}; ratio ${r.ratio.toFixed(2)}, p99 ${r.p99Ratio.toFixed(2)}× the bare's`;

export function formatPointReads({ options: p, rounds }: PointReads): string {
  return [
    `GET /data/users/:id, ${p.connections} concurrent clients, random ids of ${p.users} users, ${p.seconds} s per measure:`,
    '',
    'CPU a request: the server process, and in parentheses the PostgreSQL backends, in µs; load: the 1-minute load average after each measure.',
    '',
    '| round (first) | service req/s | bare req/s | **ratio** (≥ 0.7) | service p50 / p99 ms | bare p50 / p99 ms | **p99 ÷ bare** (≤ 1.5) | errors, non-2xx (service / bare) | CPU a request, service / bare | load (service / bare) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rounds.map(
      (r, i) =>
        `| ${i + 1} (${r.first}) | ${Math.round(r.service.reqPerS)} | ${Math.round(r.bare.reqPerS)} | **${r.ratio.toFixed(2)}** | ` +
        `${r.service.p50} / ${r.service.p99} | ${r.bare.p50} / ${r.bare.p99} | **${r.p99Ratio.toFixed(2)}** | ` +
        `${r.service.errors}, ${r.service.non2xx} / ${r.bare.errors}, ${r.bare.non2xx} | ${cpu(r.service)} / ${cpu(r.bare)} | ` +
        `${r.service.loadAverage.toFixed(1)} / ${r.bare.loadAverage.toFixed(1)} |`,
    ),
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { users: { type: 'string' }, rounds: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' } },
    strict: true,
  });
  const o: PointReadOptions = {
    users: Number(values.users ?? 100_000),
    rounds: Number(values.rounds ?? 3),
    seconds: Number(values.seconds ?? 10),
    connections: Number(values.connections ?? 50),
  };
  const { dir } = await generateCached({ users: o.users, experiments: o.users * 10, compounds: 10_000, seed: 1 });
  const pgdata = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-point-reads-'));
  const pgPort = await freePort();
  try {
    log(`embedded PostgreSQL in ${pgdata} on port ${pgPort}; files ${dir}`);
    const result = await measurePointReads(o, {
      env: { EMBEDDED_PG_DIR: path.join(pgdata, 'pg'), EMBEDDED_PG_PORT: String(pgPort), DATA_DIR: dir },
      url: `postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`,
      logDir: pgdata,
      publish: true,
    });
    console.log(formatPointReads(result));
    console.log(JSON.stringify(result));
  } finally {
    await rm(pgdata, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: unknown) => {
      log(`failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
