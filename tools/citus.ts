/**
 * `npm run bench -- --database-url CITUS_URL [--experiments N ...]`: the service's ETL on plain
 * PostgreSQL (DATABASE_URL's server, or the local one, as the main bench) and on the Citus cluster
 * whose coordinator is CITUS_URL, side by side, on the same generated files, one after the other
 * (never at once: they would share the machine's cores).
 *
 * For each: a fresh database (on Citus: on every node, with the extension, the coordinator told its
 * workers, as test/citus/support.ts does), the compiled service started on it, POST /data twice (the
 * second run, which also retires the first, is the measured one; its steps are timed from GET /runs
 * as in the main bench), then GET /data streamed once. Then the databases are dropped.
 */
import path from 'node:path';
import pg from 'pg';
import {
  createDatabase,
  generatedFiles,
  log,
  seconds,
  startBenchService,
  streamAll,
  timedRun,
  type BenchDatabase,
  type BenchOptions,
  type StepTime,
} from './bench.js';

export interface SideResult {
  database: 'postgresql' | 'citus';
  health: unknown;
  firstRunS: number;
  runS: number;
  steps: StepTime[];
  getDataS: number;
  getDataMb: number;
}

export interface SideBySideResult {
  sizes: { users: number; experiments: number; compounds: number; fileBytes: Record<string, number> };
  sides: SideResult[];
  /** Citus's measured run ÷ PostgreSQL's. */
  ratio: number;
  errors: string[];
}

async function onNode<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const withNode = (url: string, host: string, port: number, database?: string) => {
  const u = new URL(url);
  u.hostname = host;
  u.port = String(port);
  if (database) u.pathname = `/${database}`;
  return u.toString();
};

/** A fresh database on every node of the cluster at `coordinatorUrl`, distributed-ready. */
async function createCitusDatabase(coordinatorUrl: string): Promise<BenchDatabase> {
  const workers = await onNode(
    coordinatorUrl,
    async (c) =>
      (
        await c.query<{ nodename: string; nodeport: number }>(
          `SELECT nodename, nodeport FROM pg_dist_node WHERE isactive AND noderole = 'primary' AND groupid <> 0 ORDER BY nodeport`,
        )
      ).rows,
  );
  if (workers.length === 0) throw new Error('--database-url: the coordinator has no active workers (pg_dist_node)');
  const coordinator = new URL(coordinatorUrl);
  const nodes = [coordinatorUrl, ...workers.map((w) => withNode(coordinatorUrl, w.nodename, w.nodeport))];
  const name = `lab_etl_bench_citus_${process.pid}`;
  const drop = async () => {
    for (const node of nodes) await onNode(node, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  };
  await drop();
  for (const node of nodes) {
    await onNode(node, (c) => c.query(`CREATE DATABASE ${name}`));
    await onNode(withNode(node, new URL(node).hostname, Number(new URL(node).port || 5432), name), (c) =>
      c.query('CREATE EXTENSION citus'),
    );
  }
  const url = withNode(coordinatorUrl, coordinator.hostname, Number(coordinator.port || 5432), name);
  await onNode(url, async (c) => {
    await c.query('SELECT citus_set_coordinator_host($1, $2)', [coordinator.hostname, Number(coordinator.port || 5432)]);
    for (const w of workers) await c.query('SELECT citus_add_node($1, $2)', [w.nodename, w.nodeport]);
  });
  log(`created database ${name} on the coordinator and ${workers.length} workers`);
  return { url, name, drop };
}

async function measure(kind: SideResult['database'], database: BenchDatabase, dir: string): Promise<SideResult> {
  const service = await startBenchService(database.url, dir, path.join(dir, `service-${kind}-${process.pid}.log`));
  try {
    const health = JSON.parse((await fetch(`http://127.0.0.1:${service.port}/health`).then((r) => r.text())) || 'null');
    log(`${kind}: /health ${JSON.stringify(health)}`);
    const first = await timedRun(service.port);
    if (first.status !== 200) throw new Error(`${kind}: the first run answered ${first.status}: ${first.body.slice(0, 300)}`);
    log(`${kind}: first run ${seconds(first.ms)}`);
    const second = await timedRun(service.port);
    if (second.status !== 200) throw new Error(`${kind}: the measured run answered ${second.status}: ${second.body.slice(0, 300)}`);
    log(`${kind}: measured run ${seconds(second.ms)}`);
    const all = await streamAll(service.port);
    log(`${kind}: GET /data ${(all.bytes / 1e6).toFixed(1)} MB in ${seconds(all.ms)}`);
    return {
      database: kind,
      health,
      firstRunS: first.ms / 1000,
      runS: second.ms / 1000,
      steps: second.steps,
      getDataS: all.ms / 1000,
      getDataMb: all.bytes / 1e6,
    };
  } finally {
    await service.stop();
  }
}

export async function runSideBySide(o: BenchOptions, citusUrl: string): Promise<SideBySideResult> {
  const { dir, sizes } = await generatedFiles(o);
  const errors: string[] = [];
  const sides: SideResult[] = [];
  for (const kind of ['postgresql', 'citus'] as const) {
    const database = kind === 'citus' ? await createCitusDatabase(citusUrl) : await createDatabase();
    try {
      sides.push(await measure(kind, database, dir));
    } catch (error) {
      errors.push((error as Error).message);
    } finally {
      await database.drop().catch((error: Error) => log(`could not drop ${database.name}: ${error.message}`));
    }
  }
  const [plain, citus] = sides;
  return {
    sizes: { users: o.users, experiments: o.experiments, compounds: o.compounds, fileBytes: sizes },
    sides,
    ratio: plain && citus ? citus.runS / plain.runS : NaN,
    errors,
  };
}

export function formatSideBySide(r: SideBySideResult): string {
  const s = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)} s`);
  const [plain, citus] = [r.sides.find((x) => x.database === 'postgresql'), r.sides.find((x) => x.database === 'citus')];
  const steps = [...new Set([...(plain?.steps ?? []), ...(citus?.steps ?? [])].map((t) => t.step))];
  const stepMs = (side: SideResult | undefined, step: string) => {
    const found = side?.steps.filter((t) => t.step === step);
    return found && found.length > 0 ? found.reduce((a, t) => a + t.ms, 0) / 1000 : undefined;
  };
  const workers = (citus?.health as { workers?: number; shards?: number } | undefined) ?? {};
  return [
    `${r.sizes.experiments.toLocaleString('en-US')} experiments, ${r.sizes.users.toLocaleString('en-US')} users, ${r.sizes.compounds.toLocaleString('en-US')} compounds; Citus: ${workers.workers ?? '?'} workers, ${workers.shards ?? '?'} shards`,
    '',
    '| | PostgreSQL | Citus |',
    '|---|---|---|',
    `| measured run (POST /data, the second) | ${s(plain?.runS)} | ${s(citus?.runS)} |`,
    `| first run | ${s(plain?.firstRunS)} | ${s(citus?.firstRunS)} |`,
    ...steps.map((step) => `| step: ${step} | ${s(stepMs(plain, step))} | ${s(stepMs(citus, step))} |`),
    `| GET /data (${(plain?.getDataMb ?? citus?.getDataMb ?? 0).toFixed(1)} MB) | ${s(plain?.getDataS)} | ${s(citus?.getDataS)} |`,
    `| Citus ÷ PostgreSQL (measured run) | | ${r.ratio.toFixed(2)}× |`,
  ].join('\n');
}
