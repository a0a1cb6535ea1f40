// The service as a real process (src/server.ts, as `npm start` runs it), for every test that needs
// one: test/server/server.test.ts, the fault tests (via test/faults/support.ts) and test/runner.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/**
 * How to run an entry point of src/ (`src/server.ts`, `src/cli.ts`) from ROOT: `npm test` runs the
 * tests from the checkout compiled once (test/build.ts), where it is plain node on the .js beside
 * it; run through tsx (a test file run by hand), it is through tsx too.
 */
export function nodeArgs(entry: string): string[] {
  return import.meta.url.endsWith('.js') ? [entry.replace(/\.tsx?$/, '.js')] : ['--import', 'tsx', entry];
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function exitOf(child: ChildProcess, timeoutMs: number): Promise<Exit> {
  if (!isRunning(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

export interface Service {
  child: ChildProcess;
  pid: number;
  port: number;
  base: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
}

/**
 * Starts `src/server.ts` as its own process (see nodeArgs, or `dist/`) on a free port and
 * waits until /health answers 200. `DATABASE_URL` is cleared unless `env` sets it. `track` gets the
 * process as soon as it exists, so a caller can clean it up even when start-up fails. `cwd` is the
 * checkout it runs in (this one by default).
 */
export async function startService(
  env: Record<string, string>,
  options: { timeoutMs?: number; track?: (child: ChildProcess) => void; compiled?: boolean; cwd?: string } = {},
): Promise<Service> {
  // freePort() only says the port was free when asked: a test file running at the same time may
  // bind it first. That says nothing about the service, so it is started again on another port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(env, options);
    } catch (error) {
      if (!(error instanceof PortTaken) || env.PORT !== undefined || attempt === 3) throw error;
    }
  }
}

class PortTaken extends Error {}

async function startOn(
  env: Record<string, string>,
  {
    timeoutMs = 90_000,
    track,
    compiled = false,
    cwd = ROOT,
  }: { timeoutMs?: number; track?: (child: ChildProcess) => void; compiled?: boolean; cwd?: string },
): Promise<Service> {
  const { child, port, output } = await spawnService(env, { compiled, cwd });
  track?.(child);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(child)) {
      const message = `the service exited during start-up (${child.exitCode ?? child.signalCode}):\n${output()}`;
      // The service's own one-line start-up failure for its HTTP port (src/server.ts).
      throw output().includes(`port ${port} is taken`) ? new PortTaken(message) : new Error(message);
    }
    const ok = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, pid: child.pid!, port, base, output };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`the service did not answer /health within ${timeoutMs} ms:\n${output()}`);
}

/**
 * Starts the service as startService does, for a start-up that must fail: waits (bounded) for the
 * process to exit by itself and returns how, with everything it printed.
 */
export async function startServiceToFail(env: Record<string, string>, { timeoutMs = 60_000 } = {}): Promise<Exit & { output: string }> {
  const { child, output } = await spawnService(env, { compiled: false, cwd: ROOT });
  try {
    return { ...(await exitOf(child, timeoutMs)), output: output() };
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}:\n${output()}`, { cause: error });
  }
}

async function spawnService(env: Record<string, string>, { compiled, cwd }: { compiled: boolean; cwd: string }) {
  const port = await freePort();
  let output = '';
  // compiled: `node dist/server.js`, as `npm start` and the bench run it (build it first), for
  // measurements that tsx's own memory would blur.
  const child = spawn(process.execPath, compiled ? ['dist/server.js'] : nodeArgs('src/server.ts'), {
    cwd,
    // The publish guard is off unless a test sets MAX_DROP_RATIO ('' for the default): see test/helpers.ts options().
    env: { ...process.env, DATABASE_URL: '', LOG_LEVEL: 'info', MAX_DROP_RATIO: '1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Also to this test process's stderr, which npm test shows only when a test of the file fails.
  const keep = (d: Buffer) => {
    output += d;
    process.stderr.write(d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, port, output: () => output };
}

/** Sends `signal` and waits (bounded) for the process to exit; SIGKILLs it and throws on timeout. */
export async function stopService(
  service: Service,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 30_000,
): Promise<Exit & { ms: number }> {
  const started = performance.now();
  const exited = exitOf(service.child, timeoutMs);
  service.child.kill(signal);
  try {
    const exit = await exited;
    return { ...exit, ms: Math.round(performance.now() - started) };
  } catch (error) {
    service.child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${service.output()}`, { cause: error });
  }
}
