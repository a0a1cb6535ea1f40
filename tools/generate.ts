// One file, though long: the generator is one deterministic recipe (users, compounds, then
// experiments, in the brief's byte format, with the cache the bench and fault tests share), read
// top to bottom; splitting it would scatter the one seeded random sequence every data set depends on.
/**
 * Deterministic generator of the three lab CSV files (users, user_experiments,
 * compounds) in the challenge's exact byte format:
 *   - every separator is ",\t" (header included);
 *   - lines end in CRLF; no file ends with a newline;
 *   - users.csv starts with one empty line before its header.
 *
 * Usable as a CLI:
 *   tsx tools/generate.ts --users N --experiments M --compounds K --out DIR [--seed S]
 * or as a library: `await generate({ users, experiments, compounds, out, seed })`.
 *
 * Output is built in ~1 MB Buffer chunks and written through a
 * fs.WriteStream with backpressure, so memory stays flat at any size.
 */
import { createWriteStream, existsSync, realpathSync, type WriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { integerOption, toolArgs } from './args.js';

export interface GenerateOptions {
  users: number;
  experiments: number;
  compounds: number;
  out: string;
  seed?: number;
}

export interface GenerateResult {
  /** file name -> size in bytes */
  files: Record<string, number>;
}

const SEP = ',\t';
const EOL = '\r\n';
const CHUNK_BYTES = 1 << 20; // ~1 MB per write
const LINE_SLACK = 64 * 1024; // room for the line that crosses the chunk boundary

export const USERS_FILE = 'users.csv';
export const EXPERIMENTS_FILE = 'user_experiments.csv';
export const COMPOUNDS_FILE = 'compounds.csv';

const USERS_HEADER = ['user_id', 'name', 'email', 'signup_date'].join(SEP);
const EXPERIMENTS_HEADER = ['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time'].join(SEP);
const COMPOUNDS_HEADER = ['compound_id', 'compound_name', 'compound_structure'].join(SEP);

// ---------------------------------------------------------------------------
// PRNG

/** Mix a 32-bit value (murmur3 finalizer); used to derive per-file seeds. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** mulberry32: small, fast, good enough for synthetic data. Returns [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Independent stream per file, so changing one count never shifts another file's content. */
function streamRng(seed: number, stream: number): () => number {
  const s = (Math.trunc(seed) >>> 0) ^ Math.imul(stream + 1, 0x9e3779b9);
  return mulberry32(mix32(mix32(s) + stream));
}

// ---------------------------------------------------------------------------
// Chunked, backpressure-aware writer

class ChunkedFileWriter {
  private buf: Buffer = Buffer.allocUnsafe(CHUNK_BYTES + LINE_SLACK);
  private pos = 0;
  private written = 0;
  private failure: Error | undefined;
  private readonly stream: WriteStream;

  constructor(file: string) {
    this.stream = createWriteStream(file, { highWaterMark: 4 * CHUNK_BYTES });
    this.stream.on('error', (err) => {
      this.failure ??= err;
    });
  }

  /**
   * Append ASCII text (all generated content is ASCII). Never flushes by itself:
   * callers check `full` and `await flush()`, which is where backpressure applies.
   */
  push(text: string): void {
    if (this.pos + text.length > this.buf.length) this.grow(text.length);
    this.pos += this.buf.write(text, this.pos, 'latin1');
  }

  /** Append pre-encoded bytes. */
  bytes(b: Uint8Array): void {
    const n = b.length;
    if (this.pos + n > this.buf.length) this.grow(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = b[i] as number;
    this.pos = p;
  }

  /** Append one byte (an ASCII code). */
  byte(c: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = c;
  }

  /** Append a non-negative integer in decimal, without building a string. */
  int(n: number): void {
    let len = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) len++;
    if (this.pos + len > this.buf.length) this.grow(len);
    const buf = this.buf;
    let p = this.pos + len;
    this.pos = p;
    do {
      buf[--p] = 48 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  /** True when the buffer reached the chunk size and the caller should `await flush()`. */
  get full(): boolean {
    return this.pos >= CHUNK_BYTES;
  }

  /** Only reached if a single push overflows the slack (very long line). */
  private grow(extra: number): void {
    const bigger = Buffer.allocUnsafe(this.pos + extra + CHUNK_BYTES);
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pos === 0) return;
    // Hand the filled buffer to the stream and start a fresh one (the stream keeps a reference).
    const chunk = this.buf.subarray(0, this.pos);
    this.written += this.pos;
    this.buf = Buffer.allocUnsafe(CHUNK_BYTES + LINE_SLACK);
    this.pos = 0;
    if (!this.stream.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.stream.off('error', onError);
          resolve();
        };
        const onError = (err: Error): void => {
          this.stream.off('drain', onDrain);
          reject(err);
        };
        this.stream.once('drain', onDrain);
        this.stream.once('error', onError);
      });
    }
    if (this.failure) throw this.failure;
  }

  /** Flush the remainder, close the file, and return the number of bytes written. */
  async close(): Promise<number> {
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      this.stream.once('error', reject);
      this.stream.end(() => {
        this.stream.off('error', reject);
        resolve();
      });
    });
    if (this.failure) throw this.failure;
    return this.written;
  }

  /** Abort after an error elsewhere: release the file descriptor. */
  destroy(): void {
    this.stream.destroy();
  }
}

async function withWriter(file: string, body: (w: ChunkedFileWriter) => Promise<void>): Promise<number> {
  const w = new ChunkedFileWriter(file);
  try {
    await body(w);
    return await w.close();
  } catch (err) {
    w.destroy();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Content

/** All ISO dates from 2020-01-01 through 2024-12-31 (1827 days). */
function signupDates(): string[] {
  const dates: string[] = [];
  const start = Date.UTC(2020, 0, 1);
  const end = Date.UTC(2024, 11, 31);
  for (let t = start; t <= end; t += 86_400_000) {
    dates.push(new Date(t).toISOString().slice(0, 10));
  }
  return dates;
}

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const SEP_BYTES = ascii(SEP);
const EOL_BYTES = ascii(EOL);
const CHAR_SEMI = 0x3b; // ';'
const CHAR_DOT = 0x2e; // '.'

async function writeUsers(file: string, n: number, rng: () => number): Promise<number> {
  const dates = signupDates().map(ascii);
  const userPrefix = ascii('User ');
  const emailPrefix = ascii('user');
  const emailSuffix = ascii('@example.com');
  return withWriter(file, async (w) => {
    // The challenge's users.csv starts with an empty line.
    w.push(EOL + USERS_HEADER);
    for (let id = 1; id <= n; id++) {
      const date = dates[Math.floor(rng() * dates.length)] as Buffer;
      // `\r\n{id},\tUser {id},\tuser{id}@example.com,\t{date}`
      w.bytes(EOL_BYTES);
      w.int(id);
      w.bytes(SEP_BYTES);
      w.bytes(userPrefix);
      w.int(id);
      w.bytes(SEP_BYTES);
      w.bytes(emailPrefix);
      w.int(id);
      w.bytes(emailSuffix);
      w.bytes(SEP_BYTES);
      w.bytes(date);
      if (w.full) await w.flush();
    }
  });
}

/** A short, plausible molecular formula such as C12H17N3O2 (no commas). */
function formula(rng: () => number): string {
  const c = 4 + Math.floor(rng() * 27); // 4..30
  const h = c + Math.floor(rng() * (c + 3)); // c..2c+2
  const n = Math.floor(rng() * 5); // 0..4
  const o = Math.floor(rng() * 6); // 0..5
  const s = rng() < 0.12 ? 1 : 0;
  const el = (sym: string, k: number): string => (k === 0 ? '' : k === 1 ? sym : sym + k);
  return el('C', c) + el('H', h) + el('N', n) + el('O', o) + el('S', s);
}

async function writeCompounds(file: string, k: number, rng: () => number): Promise<number> {
  return withWriter(file, async (w) => {
    w.push(COMPOUNDS_HEADER);
    for (let id = 1; id <= k; id++) {
      w.push(`${EOL}${id}${SEP}Compound ${id}${SEP}${formula(rng)}`);
      if (w.full) await w.flush();
    }
  });
}

/** Run time >= 0: exponential-ish, half integers (`37`), half with one decimal (`12.5`). */
function writeRunTime(w: ChunkedFileWriter, rng: () => number): void {
  const x = -Math.log(1 - rng()) * 25;
  if (rng() < 0.5) {
    w.int(Math.round(x));
    return;
  }
  const t10 = Math.round(x * 10);
  const frac = t10 % 10;
  w.int((t10 - frac) / 10);
  if (frac !== 0) {
    w.byte(CHAR_DOT);
    w.byte(48 + frac);
  }
}

async function writeExperiments(file: string, m: number, users: number, k: number, rng: () => number): Promise<number> {
  // Only users whose id is not a multiple of 10 ever run experiments (~10% never do).
  // Eligible index j (0-based) -> user id: 9 eligible ids per block of 10.
  const eligible = users - Math.floor(users / 10);
  // Compound ids: discrete log-uniform over 1..k (Zipf-like, s≈1): floor((k+1)^u),
  // so compound 1 is in ~7.5% of draws at k=10,000 and the top 10 in ~26%.
  const logK1 = Math.log(k + 1);
  const picked = new Int32Array(4);

  return withWriter(file, async (w) => {
    w.push(EXPERIMENTS_HEADER);
    for (let id = 1; id <= m; id++) {
      // User: half uniform over eligible users, half squared-uniform (heavy towards low ids,
      // so a few users have thousands of experiments while every eligible user gets some).
      const u = rng();
      const r = rng();
      let j = Math.floor((u < 0.5 ? r : r * r) * eligible);
      if (j >= eligible) j = eligible - 1;
      const userId = Math.floor(j / 9) * 10 + (j % 9) + 1;

      // 1..4 distinct compounds (never more than k), kept sorted by insertion.
      let count = 1 + Math.floor(rng() * 4);
      if (count > k) count = k;
      let have = 0;
      let tries = 0;
      while (have < count) {
        let c: number;
        if (++tries <= 64) {
          c = Math.floor(Math.exp(rng() * logK1));
          if (c < 1) c = 1;
          else if (c > k) c = k;
        } else {
          // Pathological skew with tiny k: take the smallest unused id.
          c = 1;
          for (let i = 0; i < have && (picked[i] as number) <= c; i++) if (picked[i] === c) c++;
        }
        let i = have;
        let dup = false;
        while (i > 0) {
          const prev = picked[i - 1] as number;
          if (prev === c) {
            dup = true;
            break;
          }
          if (prev < c) break;
          i--;
        }
        if (dup) continue;
        picked.copyWithin(i + 1, i, have);
        picked[i] = c;
        have++;
      }

      // `\r\n{id},\t{user_id},\t{c1;c2;...},\t{run_time}`
      w.bytes(EOL_BYTES);
      w.int(id);
      w.bytes(SEP_BYTES);
      w.int(userId);
      w.bytes(SEP_BYTES);
      for (let i = 0; i < have; i++) {
        if (i > 0) w.byte(CHAR_SEMI);
        w.int(picked[i] as number);
      }
      w.bytes(SEP_BYTES);
      writeRunTime(w, rng);
      if (w.full) await w.flush();
    }
  });
}

// ---------------------------------------------------------------------------
// Public API

function checkCount(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
}

export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  const { users, experiments, compounds, out } = options;
  const seed = options.seed ?? 1;
  checkCount('users', users);
  checkCount('experiments', experiments);
  checkCount('compounds', compounds);
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  if (experiments > 0 && users < 1) throw new Error('experiments need at least 1 user');
  if (experiments > 0 && compounds < 1) throw new Error('experiments need at least 1 compound');

  await mkdir(out, { recursive: true });
  const files: Record<string, number> = {};
  files[USERS_FILE] = await writeUsers(path.join(out, USERS_FILE), users, streamRng(seed, 0));
  files[EXPERIMENTS_FILE] = await writeExperiments(path.join(out, EXPERIMENTS_FILE), experiments, users, compounds, streamRng(seed, 1));
  files[COMPOUNDS_FILE] = await writeCompounds(path.join(out, COMPOUNDS_FILE), compounds, streamRng(seed, 2));
  return { files };
}

/** Where generated sets are kept between runs (the bench and the fault tests share them). */
export const CACHE_ROOT = path.join(os.tmpdir(), 'lab-etl-bench');

/**
 * The set for `options`, generated once into `<root>/u<users>-e<experiments>-c<compounds>-s<seed>`
 * and reused while its files keep the sizes recorded when they were written. A set is written
 * beside its place and renamed into it, so concurrent callers never see half a set.
 */
export async function generateCached(
  options: Omit<GenerateOptions, 'out'>,
  root = CACHE_ROOT,
): Promise<GenerateResult & { dir: string; reused: boolean }> {
  const dir = path.join(root, `u${options.users}-e${options.experiments}-c${options.compounds}-s${options.seed ?? 1}`);
  const marker = path.join(dir, 'generated.json');
  const cached = await readFile(marker, 'utf8').then(
    (text) => JSON.parse(text) as Record<string, number>,
    () => null,
  );
  if (cached) {
    const sizes = await Promise.all(
      Object.keys(cached).map((f) =>
        stat(path.join(dir, f)).then(
          (i) => i.size,
          () => -1,
        ),
      ),
    );
    if (Object.values(cached).every((size, i) => sizes[i] === size)) return { dir, files: cached, reused: true };
  }
  const scratch = `${dir}.${process.pid}.${Date.now()}`;
  const { files } = await generate({ ...options, out: scratch });
  await writeFile(path.join(scratch, 'generated.json'), JSON.stringify(files));
  try {
    await rename(scratch, dir);
  } catch {
    if (existsSync(marker)) {
      // Another process put the same set there first: use it.
      await rm(scratch, { recursive: true, force: true });
    } else {
      await rm(dir, { recursive: true, force: true }); // a stale or broken set
      await rename(scratch, dir);
    }
  }
  return { dir, files, reused: false };
}

// ---------------------------------------------------------------------------
// CLI

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

async function main(argv: string[]): Promise<void> {
  const values = toolArgs(argv, ['users', 'experiments', 'compounds', 'out', 'seed']);
  const usage =
    'usage: tsx tools/generate.ts --users N --experiments M --compounds K --out DIR [--seed S]\n' +
    '       (defaults: users 1000, experiments 10000, compounds 100, seed 1)';
  if (values.help) {
    console.log(usage);
    return;
  }
  if (!values.out) throw new Error(`--out DIR is required\n${usage}`);
  const options: GenerateOptions = {
    users: integerOption('users', values.users, 1000),
    experiments: integerOption('experiments', values.experiments, 10_000),
    compounds: integerOption('compounds', values.compounds, 100),
    out: values.out,
    seed: integerOption('seed', values.seed, 1),
  };
  const started = performance.now();
  const { files } = await generate(options);
  const seconds = (performance.now() - started) / 1000;
  const sizes = Object.entries(files)
    .map(([name, bytes]) => `${name} ${formatBytes(bytes)} (${bytes} B)`)
    .join(', ');
  console.log(`generated in ${options.out}: ${sizes} in ${seconds.toFixed(2)}s`);
}

function isEntryPoint(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  const self = fileURLToPath(import.meta.url);
  const resolved = path.resolve(arg);
  if (resolved === self) return true;
  try {
    return realpathSync(resolved) === realpathSync(self);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
