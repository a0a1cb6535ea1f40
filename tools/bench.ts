// One file, though long: the benchmark is one script a reader follows top to bottom (files, the
// load ceiling, the service's runs, reads during a run, the peers, the table); its parts are used
// nowhere else but by tools/citus.ts, which imports them.
/**
 * Benchmark: the service's full ETL against the raw load ceiling, on the same generated files.
 *
 *   npm run bench -- [--experiments 1000000|10000000] [--users N] [--compounds K] [--seed S]
 *                    [--read-pause MS] [--json FILE] [--keep] [--peers PATH] [--point-read-rounds N]
 *
 * Defaults: 1,000,000 experiments, users = experiments / 10, 10,000 compounds, seed 1.
 *
 * 1. Generates the files once into /tmp/lab-etl-bench/<parameters>/ (reused by later runs).
 * 2. Creates a fresh database `lab_etl_bench_<pid>` on the server of DATABASE_URL, or else on the
 *    local PostgreSQL at postgres://postgres@127.0.0.1:5432 (psql must reach it too).
 * 3. Load ceiling: `psql \copy` of each raw file into a one-column text table, no transform; the
 *    three files in parallel (the ceiling) and one after the other.
 * 4. Builds and starts the real service (`node dist/server.js`, as `npm start` does) on that database and samples the
 *    Node process's memory from /proc/<pid>/status every 100 ms.
 * 5. POST /data twice: the first run publishes something to read; the second is the measured one,
 *    with `GET /data/users/:id` (random ids) in a loop while it runs.
 * 6. GET /data for all users, streamed and counted, never parsed.
 * 6b. GET /data/users/:id at 50 concurrent clients against a bare `node:http` + `pg` lookup on the
 *    same database, alternating, --point-read-rounds times (tools/point-reads.ts; 0: skipped).
 * 7. With --peers PATH (e.g. /work/shared/peers/run-peers.sh): runs that script on the same files
 *    and the same bench database (`PATH DATA_DIR PG_URL`, after the service is stopped) and puts
 *    the peers' times in the table, with the ETL's speed-up over each.
 * 8. Prints a markdown table; the last line of stdout is the same figures as JSON (also written to
 *    --json FILE when given).
 * 9. Stops the service and drops the database (unless --keep).
 *
 * Progress goes to stderr; the service's own output is saved next to the generated files.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { sleep, startService, stopService } from '../test/service.js';
import { integerOption, toolArgs } from './args.js';
import { CACHE_ROOT, COMPOUNDS_FILE, EXPERIMENTS_FILE, generateCached, USERS_FILE } from './generate.js';
import { formatPointReads, measurePointReads, type PointReads } from './point-reads.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const FILES = [
  { file: USERS_FILE, table: 'bench_raw_users' },
  { file: EXPERIMENTS_FILE, table: 'bench_raw_experiments' },
  { file: COMPOUNDS_FILE, table: 'bench_raw_compounds' },
] as const;

export interface BenchOptions {
  experiments: number;
  users: number;
  compounds: number;
  seed: number;
  /** Pause between two reads of the read loop during the measured run, in ms (0: back to back). */
  readPauseMs: number;
  /** Keep the bench database at the end (for EXPLAIN and friends). */
  keep: boolean;
  json?: string;
  /** A script run as `PATH DATA_DIR PG_URL` that prints `name  S s  peak RSS N MB ...` lines. */
  peers?: string;
  /** Rounds of the point-read comparison (tools/point-reads.ts); 0: none. */
  pointReadRounds: number;
}

export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

// ---------------------------------------------------------------------------------------------
// Files

export async function generatedFiles(o: BenchOptions): Promise<{ dir: string; sizes: Record<string, number> }> {
  const started = performance.now();
  const { dir, files, reused } = await generateCached(o);
  log(reused ? `reusing the files in ${dir}` : `generated ${dir} in ${seconds(performance.now() - started)}`);
  return { dir, sizes: files };
}

// ---------------------------------------------------------------------------------------------
// Database

export interface BenchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function canConnect(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createDatabase(): Promise<BenchDatabase> {
  let adminUrl = process.env.DATABASE_URL;
  if (adminUrl) {
    const problem = await canConnect(adminUrl);
    if (problem) throw new Error(`DATABASE_URL does not answer: ${problem}`);
  } else {
    const problem = await canConnect(LOCAL_URL);
    if (problem) {
      throw new Error(
        `no database to benchmark on: DATABASE_URL is unset and the local PostgreSQL at ${LOCAL_URL} does not answer (${problem}).\n` +
          'The benchmark compares the service with psql \\copy, so it needs a PostgreSQL server that psql can reach: ' +
          'start one, or set DATABASE_URL to a server where this user may CREATE DATABASE.',
      );
    }
    adminUrl = LOCAL_URL;
  }
  const name = `lab_etl_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  log(`created database ${name} on ${url.host}`);
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function sqlQuery(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Load ceiling: psql \copy, no transform

function psql(url: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', [url, '-X', '-v', 'ON_ERROR_STOP=1', '-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (error) => reject(new Error(`could not run psql: ${error.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`psql ${command.slice(0, 60)}... failed (${code}): ${err.trim()}`)),
    );
  });
}

/** One line per row, whatever it contains: separator and quote are control bytes the files never hold. */
const copyCommand = (table: string, file: string) =>
  `\\copy ${table} (line) FROM '${file.replace(/'/g, "''")}' WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')`;

async function loadCeiling(url: string, dir: string): Promise<{ parallelMs: number; sequentialMs: number; rows: Record<string, number> }> {
  const reset = FILES.map((f) => `DROP TABLE IF EXISTS ${f.table}; CREATE TABLE ${f.table} (line text);`).join('\n');
  const rows: Record<string, number> = {};
  const copyOne = async (f: (typeof FILES)[number]) => {
    const out = await psql(url, copyCommand(f.table, path.join(dir, f.file)));
    const count = /COPY (\d+)/.exec(out);
    if (count) rows[f.file] = Number(count[1]);
  };

  await sqlQuery(url, reset);
  let started = performance.now();
  for (const f of FILES) await copyOne(f);
  const sequentialMs = performance.now() - started;
  log(`load ceiling, sequential: ${seconds(sequentialMs)}`);

  await sqlQuery(url, reset);
  await checkpoint(url);
  started = performance.now();
  await Promise.all(FILES.map(copyOne));
  const parallelMs = performance.now() - started;
  log(
    `load ceiling, parallel: ${seconds(parallelMs)} (${Object.entries(rows)
      .map(([f, n]) => `${f} ${n} lines`)
      .join(', ')})`,
  );

  await sqlQuery(url, FILES.map((f) => `DROP TABLE ${f.table};`).join('\n'));
  await checkpoint(url);
  return { parallelMs, sequentialMs, rows };
}

/** Writes out the ceiling's dirty pages now, so the checkpoint does not land in the ETL's time. */
async function checkpoint(url: string): Promise<void> {
  await sqlQuery(url, 'CHECKPOINT').catch((error: Error) => log(`CHECKPOINT skipped: ${error.message}`));
}

// ---------------------------------------------------------------------------------------------
// The service as a child process, and its memory

interface Memory {
  rssKb: number;
  hwmKb: number;
}

function readMemory(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return rss && hwm ? { rssKb: Number(rss[1]), hwmKb: Number(hwm[1]) } : null;
  } catch {
    return null;
  }
}

/** Samples VmRSS every 100 ms; a window reports its sampled peak and the kernel's VmHWM peak. */
class MemorySampler {
  private timer: NodeJS.Timeout;
  private peakKb = 0;
  private canResetHwm = true;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 100);
  }

  private sample(): number {
    const m = readMemory(this.pid);
    if (m && m.rssKb > this.peakKb) this.peakKb = m.rssKb;
    return m?.rssKb ?? 0;
  }

  /** Starts a window: resets the sampled peak and (when allowed) the kernel's high-water mark. */
  start(): void {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      this.canResetHwm = false;
    }
    this.peakKb = 0;
    this.sample();
  }

  /** Ends a window: the sampled peak, and VmHWM when it was reset at the start of the window. */
  end(): { sampledPeakMb: number; hwmMb: number | null; nowMb: number } {
    const now = this.sample();
    const hwm = this.canResetHwm ? (readMemory(this.pid)?.hwmKb ?? null) : null;
    return { sampledPeakMb: this.peakKb / 1024, hwmMb: hwm === null ? null : hwm / 1024, nowMb: now / 1024 };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface Service {
  child: ChildProcess;
  port: number;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * The compiled service, as `npm start` runs it (tsx alone would add ~35 MB of RSS), started by
 * test/service.ts with process.execPath directly, so the pid sampled is the Node process that runs
 * the service. Its output is saved to `logFile` when it stops.
 */
export async function startBenchService(url: string, dataDir: string, logFile: string): Promise<Service> {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const service = await startService({ DATABASE_URL: url, DATA_DIR: dataDir, LOG_LEVEL: '' }, { compiled: true, timeoutMs: 120_000 });
  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      await stopService(service, 'SIGTERM', 20_000);
    }
    await writeFile(logFile, service.output());
  };
  return { child: service.child, port: service.port, logFile, stop };
}

// ---------------------------------------------------------------------------------------------
// HTTP

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const sideAgent = new http.Agent({ keepAlive: true, maxSockets: 2 });

function request(
  port: number,
  method: string,
  pathname: string,
  options: { agent?: http.Agent; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: pathname, agent: options.agent ?? sideAgent, timeout: options.timeoutMs ?? 0 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathname} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export interface StepTime {
  step: string;
  ms: number;
  /** The reads made while this step ran (measured run only). */
  reads?: ReadStats;
}

interface ReadStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** What the run is doing now, as last seen by the poller; the read loop tags each read with it. */
interface Progress {
  step: string;
}

function readStats(latencies: number[]): ReadStats {
  const sorted = [...latencies].sort((a, b) => a - b);
  const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { count: sorted.length, p50: pick(0.5), p99: pick(0.99), max: sorted.at(-1) ?? NaN };
}

/** POST /data, timed; meanwhile polls GET /runs for the current step (about ±0.25 s per step). */
export async function timedRun(
  port: number,
  progress: Progress = { step: 'starting' },
): Promise<{ ms: number; status: number; body: string; steps: StepTime[] }> {
  const started = performance.now();
  let done = false;
  const post = request(port, 'POST', '/data', { agent: new http.Agent({ keepAlive: false }) }).finally(() => {
    done = true;
  });
  const transitions: { step: string; at: number }[] = [{ step: 'starting', at: started }];
  const poll = (async () => {
    while (!done) {
      await sleep(250);
      if (done) break;
      const answer = await request(port, 'GET', '/runs').catch(() => null);
      if (answer?.status !== 200) continue;
      const newest = (JSON.parse(answer.body) as { runs: { status: string; step: string | null }[] }).runs[0];
      if (!newest) continue;
      const step = newest.status === 'running' ? (newest.step ?? 'running') : 'committed, retiring the previous run';
      if (transitions.at(-1)!.step !== step) transitions.push({ step, at: performance.now() });
      progress.step = step;
    }
  })();
  const answer = await post;
  const ended = performance.now();
  await poll;
  const steps = transitions.map((t, i) => ({ step: t.step, ms: (transitions[i + 1]?.at ?? ended) - t.at }));
  return { ms: ended - started, status: answer.status, body: answer.body, steps };
}

/**
 * GET /data/users/:id with random ids, one request at a time, until `stop()` is true. Each read is
 * also filed under the step the run was in when it started.
 */
async function readLoop(port: number, users: number, pauseMs: number, progress: Progress, stop: () => boolean) {
  const latencies: number[] = [];
  const byStep = new Map<string, number[]>();
  const statuses: Record<string, number> = {};
  while (!stop()) {
    const id = 1 + Math.floor(Math.random() * users);
    const step = progress.step;
    const started = performance.now();
    const answer = await request(port, 'GET', `/data/users/${id}`, { agent, timeoutMs: 60_000 }).catch(() => ({ status: 0, body: '' }));
    const ms = performance.now() - started;
    latencies.push(ms);
    if (!byStep.has(step)) byStep.set(step, []);
    byStep.get(step)!.push(ms);
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    if (pauseMs > 0) await sleep(pauseMs);
  }
  const all = readStats(latencies);
  return { ...all, statuses, byStep: new Map([...byStep].map(([step, l]) => [step, readStats(l)])) };
}

/** GET /data streamed: bytes and `"user_id":` keys counted as they arrive, nothing kept. */
export function streamAll(
  port: number,
): Promise<{ status: number; ms: number; firstByteMs: number; bytes: number; userKeys: number; head: string }> {
  const needle = Buffer.from('"user_id":');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      { host: '127.0.0.1', port, method: 'GET', path: '/data', agent: new http.Agent({ keepAlive: false }) },
      (res) => {
        const firstByteMs = performance.now() - started;
        let bytes = 0;
        let userKeys = 0;
        let head = '';
        let carry = Buffer.alloc(0);
        res.on('data', (d: Buffer) => {
          if (head.length < 200) head += d.subarray(0, 200 - head.length).toString();
          bytes += d.length;
          const buf = carry.length > 0 ? Buffer.concat([carry, d]) : d;
          for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle, i + needle.length)) userKeys++;
          carry = Buffer.from(buf.subarray(Math.max(0, buf.length - (needle.length - 1))));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, firstByteMs, bytes, userKeys, head }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// The run

export interface BenchResult {
  sizes: { users: number; experiments: number; compounds: number; fileBytes: Record<string, number>; totalMb: number };
  ceiling: { parallelS: number; sequentialS: number };
  etl: {
    firstRunS: number;
    secondRunS: number;
    /** ETL ÷ the sequential load ceiling (the issue's definition). */
    ratio: number;
    ratioParallel: number;
    rowsPerS: number;
    idleRssMb: number;
    peakRssMb: number;
    peakRssSampledMb: number;
    firstRunPeakRssMb: number;
    steps: StepTime[];
    firstRunSteps: StepTime[];
  };
  reads: { count: number; p50Ms: number; p99Ms: number; maxMs: number; pauseMs: number; statuses: Record<string, number> };
  getData: {
    status: number;
    s: number;
    firstByteS: number;
    mb: number;
    userKeys: number;
    usersPerS: number;
    peakRssMb: number;
    peakRssSampledMb: number;
    error?: string;
  };
  pointReads?: PointReads;
  peers: PeerResult[];
  errors: string[];
}

export interface PeerResult {
  name: string;
  s: number;
  peakRssMb: number;
  line: string;
}

/** Runs the peers' script on the same files and database; one result per `name  S s  peak RSS N MB` line. */
async function runPeers(script: string, dir: string, url: string): Promise<PeerResult[]> {
  log(`peers: ${script} ${dir}`);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [script, dir, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => process.stderr.write(`[peers] ${d.toString()}`));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${script} exited with ${code}: ${out.trim().slice(-500)}`)),
    );
  });
  const peers: PeerResult[] = [];
  for (const line of output.split('\n')) {
    const m = /^(\S+)\s+([\d.]+) s\s+peak RSS\s+(\d+) MB/.exec(line);
    if (m) peers.push({ name: m[1]!, s: Number(m[2]), peakRssMb: Number(m[3]), line: line.trim() });
    else if (line.trim()) log(`peers: ${line.trim()}`);
  }
  return peers;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const { dir, sizes } = await generatedFiles(o);
  const database = await createDatabase();
  const errors: string[] = [];
  let service: Service | null = null;
  let sampler: MemorySampler | null = null;
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal} received: stopping the service${o.keep ? '' : ' and dropping the database'}`);
    void (async () => {
      await service?.stop().catch(() => {});
      if (!o.keep) await database.drop().catch(() => {});
      process.exit(130);
    })();
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const ceiling = await loadCeiling(database.url, dir);

    service = await startBenchService(database.url, dir, path.join(dir, `service-${process.pid}.log`));
    const pid = service.child.pid!;
    sampler = new MemorySampler(pid);
    await sleep(500);
    const idleRssMb = (readMemory(pid)?.rssKb ?? 0) / 1024;
    log(`service pid ${pid} on port ${service.port}, idle RSS ${idleRssMb.toFixed(0)} MB`);

    log('POST /data: first run');
    sampler.start();
    const first = await timedRun(service.port);
    const firstMem = sampler.end();
    if (first.status !== 200) throw new Error(`the first run answered ${first.status}: ${first.body.slice(0, 500)}`);
    log(`first run: ${seconds(first.ms)}, peak RSS ${(firstMem.hwmMb ?? firstMem.sampledPeakMb).toFixed(0)} MB`);

    log(`POST /data: second run (measured), with GET /data/users/:id in a loop (pause ${o.readPauseMs} ms)`);
    sampler.start();
    let running = true;
    const progress: Progress = { step: 'starting' };
    const reads = readLoop(service.port, o.users, o.readPauseMs, progress, () => !running);
    const second = await timedRun(service.port, progress).finally(() => {
      running = false;
    });
    const secondMem = sampler.end();
    const readResult = await reads;
    if (second.status !== 200) throw new Error(`the second run answered ${second.status}: ${second.body.slice(0, 500)}`);
    log(
      `second run: ${seconds(second.ms)}, peak RSS ${(secondMem.hwmMb ?? secondMem.sampledPeakMb).toFixed(0)} MB, ${readResult.count} reads`,
    );

    log('GET /data');
    await sleep(1000); // let the heap settle after the run
    sampler.start();
    let all: Awaited<ReturnType<typeof streamAll>> | null = null;
    let getDataError: string | undefined;
    try {
      all = await streamAll(service.port);
      if (all.status !== 200) getDataError = `answered ${all.status}: ${all.head.slice(0, 200)}`;
      else if (!all.head.startsWith('{')) getDataError = `the body does not start with a JSON object: ${all.head.slice(0, 80)}`;
    } catch (error) {
      getDataError = (error as Error).message;
    }
    const allMem = sampler.end();
    if (getDataError) errors.push(`GET /data: ${getDataError}`);
    if (all) log(`GET /data: ${all.status}, ${(all.bytes / 1e6).toFixed(1)} MB in ${seconds(all.ms)}, ${all.userKeys} users`);

    let pointReads: PointReads | undefined;
    if (o.pointReadRounds > 0) {
      log(`GET /data/users/:id at 50 concurrent clients against a bare lookup, ${o.pointReadRounds} rounds`);
      try {
        const options = { users: o.users, rounds: o.pointReadRounds, seconds: 10, connections: 50 };
        pointReads = await measurePointReads(options, {
          env: { DATABASE_URL: database.url, DATA_DIR: dir },
          url: database.url,
          logDir: dir,
        });
      } catch (error) {
        errors.push(`point reads: ${(error as Error).message}`);
      }
    }

    let peers: PeerResult[] = [];
    if (o.peers) {
      sampler.stop();
      await service.stop();
      service = null;
      try {
        peers = await runPeers(o.peers, dir, database.url);
      } catch (error) {
        errors.push(`peers: ${(error as Error).message}`);
      }
    }

    const totalBytes = Object.values(sizes).reduce((a, b) => a + b, 0);
    const peak = (m: ReturnType<MemorySampler['end']>) => Math.max(m.hwmMb ?? 0, m.sampledPeakMb);
    return {
      sizes: { users: o.users, experiments: o.experiments, compounds: o.compounds, fileBytes: sizes, totalMb: totalBytes / 1e6 },
      ceiling: { parallelS: ceiling.parallelMs / 1000, sequentialS: ceiling.sequentialMs / 1000 },
      etl: {
        firstRunS: first.ms / 1000,
        secondRunS: second.ms / 1000,
        ratio: second.ms / ceiling.sequentialMs,
        ratioParallel: second.ms / ceiling.parallelMs,
        rowsPerS: o.experiments / (second.ms / 1000),
        idleRssMb,
        peakRssMb: peak(secondMem),
        peakRssSampledMb: secondMem.sampledPeakMb,
        firstRunPeakRssMb: peak(firstMem),
        steps: second.steps.map((t) => {
          const r = readResult.byStep.get(t.step);
          return r ? { ...t, reads: r } : t;
        }),
        firstRunSteps: first.steps,
      },
      reads: {
        count: readResult.count,
        p50Ms: readResult.p50,
        p99Ms: readResult.p99,
        maxMs: readResult.max,
        pauseMs: o.readPauseMs,
        statuses: readResult.statuses,
      },
      getData: {
        status: all?.status ?? 0,
        s: (all?.ms ?? NaN) / 1000,
        firstByteS: (all?.firstByteMs ?? NaN) / 1000,
        mb: (all?.bytes ?? 0) / 1e6,
        userKeys: all?.userKeys ?? 0,
        usersPerS: getDataError || !all ? 0 : o.users / (all.ms / 1000),
        peakRssMb: peak(allMem),
        peakRssSampledMb: allMem.sampledPeakMb,
        ...(getDataError ? { error: getDataError } : {}),
      },
      ...(pointReads ? { pointReads } : {}),
      peers,
      errors,
    };
  } finally {
    sampler?.stop();
    if (service) {
      log('stopping the service');
      await service.stop().catch((error: Error) => log(`could not stop the service: ${error.message}`));
      log(`service output: ${service.logFile}`);
    }
    agent.destroy();
    sideAgent.destroy();
    if (o.keep) log(`kept database ${database.name}: psql "${redact(database.url)}"`);
    else await database.drop().catch((error: Error) => log(`could not drop database ${database.name}: ${error.message}`));
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

export function formatTable(r: BenchResult): string {
  const mb = (bytes: number | undefined) => ((bytes ?? 0) / 1e6).toFixed(1);
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const s = (x: number) => `${x.toFixed(2)} s`;
  const ms = (x: number) => x.toFixed(1);
  const f = r.sizes.fileBytes;
  const rows: [string, string][] = [
    ['users / experiments / compounds', `${int(r.sizes.users)} / ${int(r.sizes.experiments)} / ${int(r.sizes.compounds)}`],
    [
      'input files',
      `${r.sizes.totalMb.toFixed(1)} MB (users ${mb(f[USERS_FILE])}, experiments ${mb(f[EXPERIMENTS_FILE])}, compounds ${mb(f[COMPOUNDS_FILE])})`,
    ],
    ['load ceiling: psql \\copy, 3 files in parallel', s(r.ceiling.parallelS)],
    ['load ceiling: psql \\copy, one after the other', s(r.ceiling.sequentialS)],
    ['ETL, first run (POST /data → 200)', s(r.etl.firstRunS)],
    ['ETL, second run (measured, with reads)', s(r.etl.secondRunS)],
    ['**ETL ÷ load ceiling (one after the other)**', `**${r.etl.ratio.toFixed(2)}×**`],
    ['ETL ÷ load ceiling (3 files in parallel)', `${r.etl.ratioParallel.toFixed(2)}×`],
    ...r.peers.flatMap((p): [string, string][] => [
      [`peer: ${p.name} (same files, same database)`, `${s(p.s)}, peak RSS ${p.peakRssMb} MB`],
      [`**ETL speed-up over ${p.name}**`, `**${(p.s / r.etl.secondRunS).toFixed(2)}×**`],
    ]),
    ['rows/s (experiments ÷ ETL time)', int(r.etl.rowsPerS)],
    [
      'Node peak RSS during the ETL',
      `${r.etl.peakRssMb.toFixed(0)} MB (first run ${r.etl.firstRunPeakRssMb.toFixed(0)} MB, idle ${r.etl.idleRssMb.toFixed(0)} MB)`,
    ],
    [
      'GET /data/users/:id during the ETL: p50 / p99 / max',
      `${ms(r.reads.p50Ms)} / ${ms(r.reads.p99Ms)} / ${ms(r.reads.maxMs)} ms (${int(r.reads.count)} reads, pause ${r.reads.pauseMs} ms)`,
    ],
    [
      'GET /data, all users: time (first byte)',
      r.getData.error
        ? `failed: ${r.getData.error.slice(0, 120)}`
        : `${s(r.getData.s)} (${s(r.getData.firstByteS)}), ${r.getData.mb.toFixed(1)} MB`,
    ],
    ['GET /data: users/s', r.getData.error ? '–' : int(r.getData.usersPerS)],
    ['Node peak RSS during GET /data', `${r.getData.peakRssMb.toFixed(0)} MB`],
  ];
  const table = ['| measure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
  const steps = [
    '',
    'Steps of the measured run (polled from GET /runs every 0.25 s):',
    '',
    '| step | time | reads during the step: n, p50 / p99 / max |',
    '|---|---|---|',
    ...r.etl.steps.map(
      (t) =>
        `| ${t.step} | ${s(t.ms / 1000)} | ${t.reads ? `${t.reads.count}, ${ms(t.reads.p50)} / ${ms(t.reads.p99)} / ${ms(t.reads.max)} ms` : '–'} |`,
    ),
  ].join('\n');
  return table + '\n' + steps + (r.pointReads ? `\n\n${formatPointReads(r.pointReads)}` : '');
}

// ---------------------------------------------------------------------------------------------
// CLI

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

/** A count option of this command line: an integer ≥ `min` (0 unless given). */
const count = (name: string, raw: string | undefined, fallback: number, min = 0) => integerOption(name, raw, fallback, { min });

async function main(argv: string[]): Promise<number> {
  const values = toolArgs(
    argv,
    ['experiments', 'users', 'compounds', 'seed', 'read-pause', 'json', 'peers', 'point-read-rounds', 'database-url'],
    ['keep'],
  );
  if (values.help) {
    console.log(
      'usage: npm run bench -- [--experiments 1000000] [--users N] [--compounds 10000] [--seed 1]\n' +
        '                        [--read-pause MS] [--json FILE] [--keep] [--peers PATH]\n' +
        '  users defaults to experiments / 10; --read-pause is the pause between reads during the\n' +
        '  measured run (default 10 ms, 0 = back to back); --keep keeps the bench database;\n' +
        '  --peers PATH runs PATH DATA_DIR PG_URL (e.g. /work/shared/peers/run-peers.sh) and adds its rows.\n' +
        '  --point-read-rounds N: rounds of GET /data/users/:id at 50 clients against a bare lookup (default 3, 0: none).\n' +
        "  Database: DATABASE_URL's server if set, else postgres://postgres@127.0.0.1:5432.\n" +
        '  --database-url URL (a Citus coordinator with workers): the ETL on that PostgreSQL and on the\n' +
        '  cluster side by side, on the same files, with the time of each step (bench/citus.ts).',
    );
    return 0;
  }
  const experiments = count('experiments', values.experiments, 1_000_000);
  const options: BenchOptions = {
    experiments,
    users: count('users', values.users, Math.max(1, Math.floor(experiments / 10)), 1),
    compounds: count('compounds', values.compounds, 10_000, 1),
    seed: count('seed', values.seed, 1),
    readPauseMs: count('read-pause', values['read-pause'], 10),
    keep: values.keep ?? false,
    pointReadRounds: count('point-read-rounds', values['point-read-rounds'], 3),
    ...(values.json ? { json: values.json } : {}),
    ...(values.peers ? { peers: path.resolve(values.peers) } : {}),
  };
  await mkdir(CACHE_ROOT, { recursive: true });
  if (values['database-url']) {
    const { runSideBySide, formatSideBySide } = await import('./citus.js');
    const result = await runSideBySide(options, values['database-url']);
    console.log(formatSideBySide(result));
    if (options.json) await writeFile(options.json, JSON.stringify(result) + '\n');
    console.log(JSON.stringify(result));
    return result.errors.length > 0 ? 1 : 0;
  }
  const result = await runBench(options);
  console.log(formatTable(result));
  const json = JSON.stringify(result);
  if (options.json) await writeFile(options.json, json + '\n');
  for (const error of result.errors) log(`error: ${error}`);
  console.log(json);
  return result.errors.length > 0 ? 1 : 0;
}

function isEntryPoint(): boolean {
  const arg = process.argv[1];
  return !!arg && path.resolve(arg) === fileURLToPath(import.meta.url);
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      log(`failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
