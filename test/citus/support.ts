import { execFileSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { ReadLimits } from '../../src/support/config.js';
import { openDb, type DbHandle } from '../../src/db/connect.js';

/**
 * The coordinator of the cluster under test (`npm run test:citus` runs only when it is set), e.g.
 * postgres://postgres@127.0.0.1:9700/postgres. Its database must know its workers (pg_dist_node).
 */
export const CITUS_URL = process.env.CITUS_URL!;

let databases = 0;

/** Every node of the cluster: the coordinator's URL, then each active worker's (same user and password). */
export async function clusterNodes(): Promise<string[]> {
  const admin = new pg.Client(CITUS_URL);
  await admin.connect();
  try {
    const { rows } = await admin.query<{ nodename: string; nodeport: number }>(
      `SELECT nodename, nodeport FROM pg_dist_node WHERE isactive AND noderole = 'primary' AND groupid <> 0 ORDER BY nodeport`,
    );
    if (rows.length === 0) throw new Error('CITUS_URL: the coordinator has no active workers in pg_dist_node');
    return [CITUS_URL, ...rows.map((r) => withHost(CITUS_URL, r.nodename, r.nodeport))];
  } finally {
    await admin.end();
  }
}

const withHost = (url: string, host: string, port: number, database?: string) => {
  const u = new URL(url);
  u.hostname = host;
  u.port = String(port);
  if (database) u.pathname = `/${database}`;
  return u.toString();
};
const withDatabase = (url: string, database: string) => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};

async function onNode<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface CitusDatabase extends DbHandle {
  /** The new database on each node: the coordinator first, then the workers. */
  nodeUrls: string[];
}

/**
 * A new database on the cluster, with the service's schema, distributed. Citus does not propagate
 * CREATE DATABASE: it is made on every node, with the extension, and the coordinator's metadata in
 * it is told its workers. Dropped on every node on close.
 */
export async function citusDatabase(options: { shardCount?: number; reads?: ReadLimits } = {}): Promise<CitusDatabase> {
  const nodes = await clusterNodes();
  const name = `lab_etl_citus_${process.pid}_${++databases}`;
  for (const node of nodes) {
    await onNode(node, (c) => c.query(`CREATE DATABASE ${name}`));
    await onNode(withDatabase(node, name), (c) => c.query('CREATE EXTENSION citus'));
  }
  const nodeUrls = nodes.map((n) => withDatabase(n, name));
  // One test process at a time: adding a node makes Citus create or alter the current role on the
  // worker, and two such at once fail there with "tuple concurrently updated" (seen when the test
  // files ran side by side).
  await onNode(nodes[0]!, async (lock) => {
    await lock.query('SELECT pg_advisory_lock(7310098)');
    await onNode(nodeUrls[0]!, async (c) => {
      const coordinator = new URL(CITUS_URL);
      await c.query('SELECT citus_set_coordinator_host($1, $2)', [coordinator.hostname, Number(coordinator.port || 5432)]);
      for (const worker of nodes.slice(1)) {
        const u = new URL(worker);
        await c.query('SELECT citus_add_node($1, $2)', [u.hostname, Number(u.port || 5432)]);
      }
    });
  });
  const database = await openDb({
    databaseUrl: nodeUrls[0]!,
    embeddedDir: '',
    embeddedPort: 0,
    reads: options.reads,
    citusShardCount: options.shardCount,
  }).catch(async (error: unknown) => {
    await dropEverywhere(nodes, name);
    throw error;
  });
  return {
    ...database,
    nodeUrls,
    async close() {
      await database.close();
      await dropEverywhere(nodes, name);
    },
  };
}

async function dropEverywhere(nodes: string[], name: string): Promise<void> {
  for (const node of nodes) {
    await onNode(node, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => {});
  }
}

/** A node's server process, found through SQL, so that a test can stop it and start it again. */
export interface NodeProcess {
  url: string;
  pid: number;
  dataDir: string;
  configFile: string;
  binDir: string;
}

export async function nodeProcess(url: string): Promise<NodeProcess> {
  return onNode(url, async (c) => {
    const { rows } = await c.query<{ data: string; config: string; bin: string }>(
      `SELECT current_setting('data_directory') AS data, current_setting('config_file') AS config,
              (SELECT setting FROM pg_config WHERE name = 'BINDIR') AS bin`,
    );
    const { data, config, bin } = rows[0]!;
    const pid = Number((await readFile(path.join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    return { url, pid, dataDir: data, configFile: config, binDir: bin };
  });
}

/** Stops the node (fast shutdown: its sessions are ended, as when a machine is taken down) and waits until it is gone. */
export async function stopNode(node: NodeProcess): Promise<void> {
  process.kill(node.pid, 'SIGINT');
  for (let i = 0; i < 300; i++) {
    try {
      process.kill(node.pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the node's server (pid ${node.pid}) did not stop`);
}

/** Starts a node stopped by stopNode, as the owner of its data directory, and waits until it answers. */
export async function startNode(node: NodeProcess): Promise<void> {
  const pgCtl = [
    path.join(node.binDir, 'pg_ctl'),
    '-D',
    node.dataDir,
    '-o',
    `-c config_file=${node.configFile}`,
    '-l',
    path.join(node.dataDir, 'lab-etl-test-restart.log'),
    '-w',
    'start',
  ];
  const owner = (await stat(node.dataDir)).uid;
  const command =
    process.getuid?.() === 0 && owner !== 0
      ? [
          'runuser',
          '-u',
          execFileSync('id', ['-nu', String(owner)])
            .toString()
            .trim(),
          '--',
          ...pgCtl,
        ]
      : pgCtl;
  execFileSync(command[0]!, command.slice(1), { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (
      await onNode(node.url, (c) => c.query('SELECT 1')).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the node did not answer after it was started');
}
