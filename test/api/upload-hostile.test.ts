// Hostile and broken uploads against the real service process (src/api/upload.ts): parts without a
// usable name, generated multipart bodies of every shape, a client that closes at once, one that
// trickles. Whatever a client sends, it gets a 2xx/4xx answer (when it stays to read one), the
// process stays up, and no run, lock or upload directory is left behind.
//
//   npx tsx test/runner.ts test/api/upload-hostile.test.ts                     about 10 s of generated bodies
//   UPLOAD_FC_SECONDS=600 nice -n 19 npx tsx test/runner.ts test/api/upload-hostile.test.ts    a long run
//   FC_SEED=<seed> ...                                                  replays one (printed on failure)
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { DbHandle } from '../../src/db/connect.js';
import { RUN_LOCK } from '../../src/run/run-lock.js';
import { CHALLENGE_DIR, removeDir, testDatabase } from '../helpers.js';
import { isRunning, sleep, startService, stopService, type Service } from '../service.js';
import { assertCleanError, waitFor } from '../faults/support.js';

const PARTS = ['users', 'user_experiments', 'compounds'] as const;
const MAX_UPLOAD_BYTES = 64 * 1024;
const WINDOW_MS = 3000;
const MIN_RATE = 1024;

const SECONDS = Number(process.env.UPLOAD_FC_SECONDS ?? 10);
const SEED = process.env.FC_SEED === undefined ? (Date.now() ^ (Math.random() * 0x100000000)) | 0 : Number(process.env.FC_SEED);

let database: DbHandle;
let service: Service;
let root: string;
let spool: string;
const files: Record<string, Buffer> = {};

before(async () => {
  database = await testDatabase();
  root = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-upload-hostile-'));
  spool = path.join(root, 'spool');
  await cp(CHALLENGE_DIR, path.join(root, 'data'), { recursive: true });
  await mkdir(spool);
  for (const part of PARTS) files[part] = await readFile(path.join(CHALLENGE_DIR, `${part}.csv`));
  service = await startService({
    DATABASE_URL: database.url,
    DATA_DIR: path.join(root, 'data'),
    UPLOAD_TMPDIR: spool,
    MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
    UPLOAD_RATE_WINDOW_MS: String(WINDOW_MS),
    UPLOAD_MIN_BYTES_PER_SECOND: String(MIN_RATE),
    LOG_FORMAT: 'json', // handledPosts() reads the log
  });
});

after(async () => {
  if (service) assert.equal((await stopService(service)).code, 0, service.output());
  await database?.close();
  if (root) await removeDir(root);
});

// ------------------------------------------------------------------------------- raw HTTP

interface Raw {
  socket: Socket;
  /** Everything given has been handed to the kernel. */
  sent: Promise<void>;
  /** The answer once it is complete (status, body), or null when the connection closed without one. */
  answer: Promise<{ status: number; text: string; head: string } | null>;
}

/** POST /data with exactly these head lines and `body` bytes on a raw connection (written as given). */
function rawPost(headLines: string[], body: Buffer = Buffer.alloc(0)): Raw {
  const socket = connect(service.port, '127.0.0.1');
  socket.on('error', () => {});
  let received = Buffer.alloc(0);
  const answer = new Promise<{ status: number; text: string; head: string } | null>((resolve) => {
    const parse = () => {
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return null;
      const head = text.slice(0, end);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
      const rest = received.subarray(Buffer.byteLength(head, 'latin1') + 4);
      if (length !== undefined && rest.length >= Number(length))
        return { status: Number(head.slice(9, 12)), head, text: rest.subarray(0, Number(length)).toString() };
      return null;
    };
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const done = parse();
      if (done) resolve(done);
    });
    socket.on('close', () => resolve(parse()));
  });
  const sent = new Promise<void>((resolve) =>
    socket.write(
      Buffer.concat([
        Buffer.from(`POST /data HTTP/1.1\r\nHost: localhost\r\n${headLines.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1'),
        body,
      ]),
      () => resolve(),
    ),
  );
  return { socket, sent, answer };
}

const BOUNDARY = 'hostile-boundary';
const type = `Content-Type: multipart/form-data; boundary=${BOUNDARY}`;
const post = (body: Buffer) => rawPost([type, `Content-Length: ${body.length}`], body);

/** Parts with the given Content-Disposition values (and contents), then the closing boundary. */
function body(parts: { disposition: string; content?: Buffer }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: ${part.disposition}\r\n\r\n`, 'latin1'),
      part.content ?? Buffer.from('a,b\r\n1,2'),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}
const good = (part: (typeof PARTS)[number]) => ({ disposition: `form-data; name="${part}"; filename="${part}.csv"`, content: files[part] });

// ------------------------------------------------------------------------------- the service's state

/** What a user of the service would find wrong after a request: the process gone, a run left running, the lock held, a directory left. */
async function leftovers(): Promise<string[]> {
  const problems: string[] = [];
  if (!isRunning(service.child))
    return [`the service exited (${service.child.exitCode ?? service.child.signalCode}):\n${service.output().slice(-3000)}`];
  const health = await fetch(`${service.base}/health`).then(
    (r) => r.status,
    (e: Error) => e.message,
  );
  if (health !== 200) problems.push(`GET /health: ${health}`);
  const running = (await database.pool.query(`SELECT run_id FROM etl.runs WHERE status = 'running'`)).rows;
  if (running.length > 0) problems.push(`runs left running: ${JSON.stringify(running)}`);
  if (await lockHeld()) problems.push('the run lock is held');
  const left = await readdir(spool);
  if (left.length > 0) problems.push(`upload directories left: ${left.join(', ')}`);
  return problems;
}

const lockHeld = async () =>
  (
    await database.pool.query(
      `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [RUN_LOCK],
    )
  ).rowCount! > 0;

/** Nothing left over (waiting, bounded, for a run whose client left without an answer to end). */
async function assertNothingLeft(label: string, waitMs = 0): Promise<void> {
  let problems = await leftovers();
  const deadline = Date.now() + waitMs;
  while (problems.length > 0 && Date.now() < deadline && isRunning(service.child)) {
    await sleep(50);
    problems = await leftovers();
  }
  assert.deepEqual(problems, [], label);
}

/** How many POST /data requests the service has finished (its log has a line for each, even when the client has gone). */
const handledPosts = () => service.output().split('"method":"POST","path":"/data"').length - 1;

const newestRun = async () =>
  (
    await database.pool.query(
      'SELECT run_id::int AS run_id, status, error, extract(epoch FROM finished_at - started_at) * 1000 AS ms FROM etl.runs ORDER BY run_id DESC LIMIT 1',
    )
  ).rows[0];

// ------------------------------------------------------------------------------- tests

test('a part without a usable name (only a filename, name="", name*=, odd or long names): 400 saying what to send; the service stays up', async () => {
  const send =
    'send exactly the file parts users, user_experiments, compounds, each named in its Content-Disposition (name="users"; filename="users.csv"), e.g. curl -F users=@users.csv';
  const cases: [string, Buffer, string][] = [
    [
      'a file part with only a filename',
      body([{ disposition: 'form-data; filename="users.csv"' }, good('user_experiments'), good('compounds')]),
      `upload: a part has no name: ${send}`,
    ],
    ['name=""', body([good('users'), { disposition: 'form-data; name=""; filename="x.csv"' }]), `upload: a part has no name: ${send}`],
    [
      "name*=UTF-8''users (not decoded for names)",
      body([{ disposition: 'form-data; name*=UTF-8\'\'users; filename="users.csv"' }]),
      `upload: a part has no name: ${send}`,
    ],
    ['a field part without a name', body([{ disposition: 'form-data' }]), `upload: a part has no name: ${send}`],
    ['a field part with name=""', body([{ disposition: 'form-data; name=""' }]), `upload: a part has no name: ${send}`],
    [
      'a name with quotes, semicolons and UTF-8',
      body([{ disposition: Buffer.from('form-data; name="üsers\\"; x=1"; filename="u.csv"').toString('latin1') }]),
      `upload: unknown part "üsers"; x=1": ${send}`,
    ],
    [
      'a long name',
      body([{ disposition: `form-data; name="${'n'.repeat(5000)}"; filename="u.csv"` }]),
      `upload: unknown part "${'n'.repeat(39)}…": ${send}`,
    ],
    [
      'a name from Object.prototype',
      body([{ disposition: 'form-data; name="__proto__"; filename="u.csv"' }]),
      `upload: unknown part "__proto__": ${send}`,
    ],
  ];
  for (const [label, bytes, message] of cases) {
    const answer = await post(bytes).answer;
    assert.ok(answer, `${label}: an answer`);
    assert.equal(answer.status, 400, `${label}: ${answer.text}`);
    const parsed = JSON.parse(answer.text);
    assert.equal(parsed.error, message, label);
    assertCleanError({ status: answer.status, body: parsed, text: answer.text, ms: 0 }, label);
    assert.deepEqual(await newestRun().then((r) => [r.status, r.error]), ['failed', message], `${label}: the run is recorded as failed`);
    await assertNothingLeft(label);
  }
  // A browser can send the first case: FormData.append('', blob, 'x.csv').
  const form = new FormData();
  form.append('', new Blob([new Uint8Array(files.users!)]), 'users.csv');
  // (Sent in one write: fetch itself may still be writing when the refusal closes the connection.)
  const encoded = new Response(form);
  const browserBody = Buffer.from(await encoded.arrayBuffer());
  const browser = await rawPost(
    [`Content-Type: ${encoded.headers.get('content-type')}`, `Content-Length: ${browserBody.length}`],
    browserBody,
  ).answer;
  assert.equal(browser?.status, 400, browser?.text);
  assert.match(JSON.parse(browser!.text).error, /^upload: a part has no name/);
  await assertNothingLeft('FormData with an empty name');
  const ok = await post(body(PARTS.map(good))).answer;
  assert.equal(ok?.status, 200, ok?.text);
});

// ------------------------------------------------------------------------------- generated bodies

type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

const partName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PARTS) },
  { weight: 1, arbitrary: fc.constantFrom('', 'Users', 'users ', '__proto__', 'constructor', 'users.csv', 'user%5fexperiments') },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 3000 }) },
);

/** A Content-Disposition value: well-formed, without a name, with name*, filename*, quoting oddities, or not form-data. */
const disposition = fc.tuple(partName, fc.string({ maxLength: 20 }), fc.nat(14)).map(([name, filename, kind]) => {
  const quoted = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  switch (kind) {
    case 0:
      return `form-data; filename=${quoted(filename)}`;
    case 1:
      return `form-data; name=""; filename=${quoted(filename)}`;
    case 2:
      return `form-data; name*=UTF-8''${encodeURIComponent(name)}; filename=${quoted(filename)}`;
    case 3:
      return `form-data; name=${quoted(name)}; filename*=UTF-8''${encodeURIComponent(filename)}`;
    case 4:
      return `form-data; name=${quoted(name)}`;
    case 5:
      return 'form-data';
    case 6:
      return `attachment; name=${quoted(name)}; filename="x"`;
    case 7:
      return `form-data; name=${name}; filename=${filename}`;
    case 8:
      return `form-data; name=${quoted(name)}; filename=${quoted(filename)}; name=${quoted(name)}`;
    case 9:
      return `form-data; name=${quoted(name)}; filename*=x'y'%ZZ`;
    default:
      return `form-data; name=${quoted(name)}; filename=${quoted(filename)}`;
  }
});

/** A part's content: the challenge file of that name (null), some bytes or text, a run of `size` bytes (past MAX_UPLOAD_BYTES too), or a boundary inside. */
const content = fc.oneof(
  { weight: 4, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.record({ size: fc.integer({ min: 1, max: 80_000 }) }) },
  { weight: 1, arbitrary: fc.constant(`\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="users"\r\n\r\n`) },
);
const contentBytes = (c: Exclude<Of<typeof content>, null>): Buffer =>
  typeof c === 'string' ? Buffer.from(c) : c instanceof Uint8Array ? Buffer.from(c) : Buffer.alloc(c.size, 'x');

const extraHeaders = fc.array(
  fc.oneof(
    fc.constantFrom(
      'Content-Type: text/csv',
      'Content-Type: application/octet-stream',
      'Content-Type: ;;;',
      'Content-Transfer-Encoding: base64',
      'Content-Type: text/plain; charset=utf-16le',
    ),
    fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,20}$/), fc.string({ maxLength: 40 })).map(([n, v]) => `${n}: ${v}`),
    fc.string({ unit: 'binary-ascii', maxLength: 60 }),
  ),
  { maxLength: 3 },
);

const part = fc.record({
  disposition: fc.option(disposition, { nil: undefined, freq: 10 }),
  headers: extraHeaders,
  content,
});

const cut = fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) });
const framing = fc.constantFrom('length', 'length', 'chunked', 'abandon');

/** Anything: random parts, boundaries, Content-Types, endings. */
const anyUpload = fc.record({
  parts: fc.array(part, { maxLength: 6 }),
  /** The body's own boundary, and whether the head names it, quoted or not, another one, or none. */
  boundary: fc.oneof(fc.constant(BOUNDARY), fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/)),
  typeKind: fc.constantFrom('plain', 'plain', 'plain', 'quoted', 'none', 'other', 'case'),
  preamble: fc.oneof(fc.constant(null), fc.string({ maxLength: 30 })),
  closing: fc.constantFrom('--\r\n', '--\r\n', '--', '\r\n', '', '--\r\nepilogue'),
  /** Cut the body at this fraction of its length (the framing then declares the cut length). */
  cut,
  framing,
  abandonAfterMs: fc.nat(20),
});

/** Near a good upload: two or three of the right parts, in any order, maybe one odd part among them, maybe cut. */
const goodPart = (name: string) => ({
  disposition: `form-data; name="${name}"; filename="${name}.csv"`,
  headers: [] as string[],
  content: null,
});
const nearlyGood = fc.record({
  parts: fc.tuple(fc.shuffledSubarray([...PARTS], { minLength: 2 }), fc.option(part, { freq: 2 }), fc.nat()).map(([names, odd, at]) => {
    const parts: Of<typeof part>[] = names.map(goodPart);
    if (odd) parts.splice(at % (parts.length + 1), 0, odd);
    return parts;
  }),
  boundary: fc.constant(BOUNDARY),
  typeKind: fc.constantFrom('plain', 'quoted', 'case'),
  preamble: fc.constant(null),
  closing: fc.constantFrom('--\r\n', '--'),
  cut,
  framing,
  abandonAfterMs: fc.nat(20),
});

const upload = fc.oneof(anyUpload, nearlyGood);

function render(u: Of<typeof upload>, source: Record<string, Buffer>): { head: string[]; body: Buffer } {
  const chunks: Buffer[] = [];
  if (u.preamble !== null) chunks.push(Buffer.from(`${u.preamble}\r\n`));
  for (const p of u.parts) {
    const lines = [...(p.disposition === undefined ? [] : [`Content-Disposition: ${p.disposition}`]), ...p.headers];
    chunks.push(Buffer.from(`--${u.boundary}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1'));
    const name = /name="([^"]*)"/.exec(p.disposition ?? '')?.[1] ?? 'users';
    chunks.push(p.content === null ? source[(PARTS as readonly string[]).includes(name) ? name : 'users']! : contentBytes(p.content));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${u.boundary}${u.closing}`));
  let bytes = Buffer.concat(chunks);
  if (u.cut !== null) bytes = bytes.subarray(0, Math.floor(bytes.length * u.cut));
  const contentType = {
    plain: `multipart/form-data; boundary=${u.boundary}`,
    quoted: `multipart/form-data; boundary="${u.boundary}"`,
    none: 'multipart/form-data',
    other: 'multipart/form-data; boundary=not-the-one',
    case: `Multipart/Form-Data; BOUNDARY=${u.boundary}`,
  }[u.typeKind];
  const head = [`Content-Type: ${contentType}`];
  if (u.framing === 'chunked') {
    head.push('Transfer-Encoding: chunked');
    const last = Buffer.from('0\r\n\r\n');
    bytes = bytes.length === 0 ? last : Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n'), last]);
  } else {
    // abandon: declares the whole body, sends part of it, and leaves.
    head.push(`Content-Length: ${u.framing === 'abandon' ? bytes.length + 1000 : bytes.length}`);
  }
  return { head, body: bytes };
}

async function check<T>(t: TestContext, property: fc.IAsyncProperty<T>): Promise<void> {
  const started = performance.now();
  const details = await fc.check(property, { numRuns: 1_000_000, seed: SEED, interruptAfterTimeLimit: SECONDS * 1000, endOnFailure: true });
  t.diagnostic(
    `fast-check: ${details.numRuns} generated uploads in ${((performance.now() - started) / 1000).toFixed(1)} s, FC_SEED=${SEED}`,
  );
  if (details.failed)
    throw new Error(`${(details.errorInstance as Error | undefined)?.message}\n${fc.defaultReportMessage(details) ?? 'property failed'}`);
  assert.ok(details.numRuns >= 10, `at least 10 uploads were tried (${details.numRuns})`);
}

test(
  'generated multipart bodies: every one answered 2xx or 4xx (or its client left), the process alive, no run running, the lock free, no directory left',
  { timeout: (SECONDS + 120) * 1000 },
  async (t) => {
    const statuses = new Map<number | string, number>();
    // fast-check's time limit stops waiting for the upload in progress, not the upload: it is awaited below.
    let inFlight: Promise<void> = Promise.resolve();
    await check(
      t,
      fc.asyncProperty(upload, (u) => (inFlight = sendOne(u))),
    );
    await inFlight;
    await assertNothingLeft('after the last generated upload');
    t.diagnostic(`answers: ${JSON.stringify(Object.fromEntries(statuses))}`);

    async function sendOne(u: Of<typeof upload>): Promise<void> {
      const { head, body: bytes } = render(u, files);
      if (u.framing === 'abandon') {
        const handled = handledPosts();
        const raw = rawPost(head, bytes);
        await raw.sent;
        await sleep(u.abandonAfterMs);
        raw.socket.destroy();
        statuses.set('left', (statuses.get('left') ?? 0) + 1);
        // The service learns of it when the socket closes: the request must end soon after, not after a window.
        await waitFor('the service to end the request of a client that left', async () => handledPosts() > handled, {
          timeoutMs: WINDOW_MS,
          intervalMs: 20,
        });
        // Its log line can be counted a moment early (lines are written asynchronously, and an
        // earlier request's may land after `handled` was read): give the run's clean-up the window.
        await assertNothingLeft('a client that left', WINDOW_MS);
        return;
      }
      const raw = rawPost(head, bytes);
      const answer = await Promise.race([raw.answer, sleep(15_000).then(() => 'timeout' as const)]);
      raw.socket.destroy();
      if (answer === 'timeout') assert.fail('an answer within 15 s');
      assert.ok(answer, `an answer before the connection closed\n${service.output().slice(-2000)}`);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      assert.ok(
        (answer.status >= 200 && answer.status < 300) || (answer.status >= 400 && answer.status < 500),
        `2xx or 4xx, got ${answer.status}: ${answer.text}`,
      );
      if (answer.status >= 400)
        assertCleanError({ status: answer.status, body: JSON.parse(answer.text), text: answer.text, ms: 0 }, `HTTP ${answer.status}`);
      await assertNothingLeft(`after HTTP ${answer.status}`);
    }
  },
);

// ------------------------------------------------------------------------------- clients that hold the lock without progress

test('a client that closes right after its request head: its run fails at once as a disconnect, and the lock is free', async () => {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = (await newestRun())?.run_id ?? 0;
    const handled = handledPosts();
    const raw = rawPost([type, 'Content-Length: 60000']);
    await raw.sent;
    await sleep(attempt); // within a few milliseconds
    raw.socket.destroy();
    const run = await waitFor(
      'the run to end',
      async () => {
        const newest = await newestRun();
        return newest && newest.run_id > before && newest.status !== 'running' ? newest : null;
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    ).catch(async (error: Error) => {
      throw new Error(
        `${error.message}; newest run ${JSON.stringify(await newestRun())} (before: ${before})\n${service.output().slice(-3000)}`,
      );
    });
    assert.equal(run.status, 'failed');
    assert.equal(run.error, 'upload: the client disconnected after 0 bytes, before the upload was complete');
    assert.ok(Number(run.ms) < WINDOW_MS, `ended at once, not after the ${WINDOW_MS} ms window (${Math.round(run.ms)} ms)`);
    await waitFor('the request to end', async () => handledPosts() > handled);
    await assertNothingLeft(`attempt ${attempt}`);
  }
});

test('a client that trickles below UPLOAD_MIN_BYTES_PER_SECOND: 400 after one window, saying so; the lock is free at once', async () => {
  const raw = rawPost([type, 'Content-Length: 60000']);
  const started = performance.now();
  let answered = false;
  void raw.answer.then(() => (answered = true));
  // One byte every 100 ms: 10 bytes/s, against a minimum of 1024.
  const prefix = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="users"; filename="users.csv"\r\n\r\n`);
  for (let i = 0; !answered && i < 600; i++) {
    raw.socket.write(prefix.subarray(i, i + 1).length ? prefix.subarray(i, i + 1) : Buffer.from('x'));
    await sleep(100);
  }
  const answer = await raw.answer;
  const ms = performance.now() - started;
  raw.socket.destroy();
  assert.ok(answer, 'an answer');
  assert.equal(answer.status, 400, answer.text);
  const error = JSON.parse(answer.text).error as string;
  assert.match(
    error,
    /^upload: the client sent only \d+ bytes in the last 3 s \(\d+ bytes in all\), below the minimum of 1024 bytes\/s \(UPLOAD_MIN_BYTES_PER_SECOND\) an upload must keep up while it holds the run lock; the upload was abandoned$/,
  );
  assert.match(answer.head, /\r\nconnection: close/i);
  assert.ok(ms >= WINDOW_MS && ms < 3 * WINDOW_MS, `failed after one window (${Math.round(ms)} ms)`);
  assert.deepEqual(await newestRun().then((r) => [r.status, r.error]), ['failed', error]);
  await assertNothingLeft('after the trickle');

  // A client that sends nothing at all after its head is told so.
  const silent = await rawPost([type, 'Content-Length: 60000']).answer;
  assert.match(
    JSON.parse(silent!.text).error,
    /^upload: the client sent nothing in the last 3 s \(0 bytes in all\), below the minimum of 1024 bytes\/s/,
  );
  await assertNothingLeft('after the silent client');
});

test('an upload that keeps above the minimum rate over several windows succeeds', async () => {
  // A users file of about 40 KB sent at about 10 KB/s: four seconds, more than one window, ten times the minimum.
  const rows = [
    'user_id,name,email,signup_date',
    ...Array.from({ length: 1000 }, (_, i) => `${i + 1},User ${i + 1},u${i + 1}@example.com,2023-01-01`),
  ];
  const bytes = body([{ ...good('users'), content: Buffer.from(rows.join('\r\n')) }, good('user_experiments'), good('compounds')]);
  const raw = rawPost([type, `Content-Length: ${bytes.length}`]);
  const started = performance.now();
  for (let at = 0; at < bytes.length; at += 1000) {
    raw.socket.write(bytes.subarray(at, at + 1000));
    await sleep(100);
  }
  const answer = await raw.answer;
  raw.socket.destroy();
  assert.ok(performance.now() - started > WINDOW_MS, 'the upload lasted more than one window');
  assert.equal(answer?.status, 200, answer?.text);
  assert.equal(JSON.parse(answer!.text).files['users.csv'].rows_loaded, 1000);
  await assertNothingLeft('after the steady upload');
});
