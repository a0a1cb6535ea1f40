// Uploads under load and at shutdown, against the real service process: a 1M-experiment upload
// (35 MB) keeps Node's memory flat (it is streamed to disk, not buffered), and SIGTERM during an
// upload cancels its run, answers the client, and leaves no file behind.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import {
  ROOT,
  assertConsistent,
  call,
  cleanup,
  serviceOnSets,
  startService,
  stopService,
  tempDir,
  waitFor,
  waitForRun,
  withClient,
} from './support.js';

after(cleanup);

const PARTS = ['users', 'user_experiments', 'compounds'] as const;
const MB = 1024 * 1024;

/** POST /data with `dir`'s three files as a multipart body, each streamed from disk (chunked). */
async function streamUpload(base: string, dir: string): Promise<{ status: number; body: any }> {
  const boundary = `lab-etl-${process.pid}-${Date.now()}`;
  const request = http.request(`${base}/data`, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  });
  const response = once(request, 'response') as Promise<[http.IncomingMessage]>;
  request.on('error', () => {});
  for (const part of PARTS) {
    request.write(`--${boundary}\r\nContent-Disposition: form-data; name="${part}"; filename="${part}.csv"\r\n\r\n`);
    await pipeline(createReadStream(path.join(dir, `${part}.csv`)), request, { end: false });
    request.write('\r\n');
  }
  request.end(`--${boundary}--\r\n`);
  const [answer] = await response;
  let text = '';
  for await (const chunk of answer) text += chunk;
  return { status: answer.statusCode!, body: JSON.parse(text) };
}

/** A line of /proc/<pid>/status, in MB (VmRSS: now; VmHWM: the peak since start or the last reset). */
async function memory(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return kb / 1024;
}

test('a 1M-experiment upload is streamed: the same result as from DATA_DIR, and Node memory stays flat', { timeout: 600_000 }, async () => {
  const spool = await tempDir('upload-spool');
  // Compiled, as the bench runs it: under tsx, tsx itself adds about 45 MB to every reading.
  await promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT });
  const { service, sets } = await serviceOnSets(
    'upload-rss',
    { big: { users: 100_000, experiments: 1_000_000, compounds: 10_000, seed: 11 } },
    'big',
    { UPLOAD_TMPDIR: spool },
    { compiled: true },
  );
  const bytes = Object.values(sets.big.files).reduce((a, b) => a + b, 0);

  // The same files from DATA_DIR first, twice (a later run peaks higher than the first): the peak
  // of a run without an upload, against which the upload run is measured.
  await call(service.base, 'POST', '/data', { timeoutMs: 300_000 });
  const fromDir = await call(service.base, 'POST', '/data', { timeoutMs: 300_000 });
  assert.equal(fromDir.status, 200, fromDir.text);
  const dirPeak = await memory(service.pid, 'VmHWM');
  // Reset the peak (Linux: "5" > clear_refs), so the next reading covers the upload run only.
  const reset = await writeFile(`/proc/${service.pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );

  let sampled = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      sampled = Math.max(sampled, await memory(service.pid, 'VmRSS'));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const uploaded = await streamUpload(service.base, sets.big.dir).finally(() => (sampling = false));
  await sampler;
  const uploadPeak = reset ? await memory(service.pid, 'VmHWM') : sampled;
  console.log(
    `upload of ${(bytes / MB).toFixed(1)} MB: Node peak RSS ${uploadPeak.toFixed(0)} MB during the upload run ` +
      `(sampled max ${sampled.toFixed(0)} MB${reset ? '' : ', VmHWM could not be reset'}), ${dirPeak.toFixed(0)} MB peak through two DATA_DIR runs`,
  );

  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  assert.equal(uploaded.body.source, 'upload');
  assert.deepEqual(uploaded.body.features, fromDir.body.features);
  for (const [file, size] of Object.entries(sets.big.files))
    assert.equal(uploaded.body.files[file].bytes, size, `${file}: every byte arrived`);
  assertConsistent(await call(service.base, 'GET', '/data', { timeoutMs: 120_000 }), 'after the upload');
  assert.deepEqual(await readdir(spool), [], 'the uploaded files are removed');

  // Buffering the body, or a part, would add at least the experiments file (33 MB) to the peak.
  // (The absolute figure is the bench's to judge, at 10M: the DATA_DIR runs alone reach about
  // 145 MB here from their second run on, against a 150 MB target.)
  assert.ok(
    uploadPeak <= dirPeak + 25,
    `the upload run peaks at ${uploadPeak.toFixed(0)} MB, the DATA_DIR runs at ${dirPeak.toFixed(0)} MB`,
  );
});

test('SIGTERM during an upload: the run is cancelled, the client answered 503, no file left, exit 0', { timeout: 120_000 }, async () => {
  const spool = await tempDir('upload-sigterm');
  const { service, url } = await serviceOnSets(
    'upload-sigterm',
    { small: { users: 50, experiments: 200, compounds: 5, seed: 1 } },
    'small',
    {
      UPLOAD_TMPDIR: spool,
    },
  );
  const first = await call(service.base, 'POST', '/data');
  assert.equal(first.status, 200);

  // An upload that has sent its headers and the start of its first part, then waits.
  const socket = connect(service.port, '127.0.0.1');
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (d) => (received += d));
  await once(socket, 'connect');
  socket.write('POST /data HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n');
  socket.write(
    '--b\r\nContent-Disposition: form-data; name="users"; filename="users.csv"\r\n\r\nuser_id,name,email,signup_date\r\n1,Ann,a@x,2023-01-01\r\n',
  );
  const running = await waitForRun(
    service.base,
    first.body.run_id,
    'the upload to be received',
    (run) => run.step === 'receiving the upload',
  );
  await waitFor('the upload directory', async () => (await readdir(spool)).length === 1);

  const stopped = await stopService(service, 'SIGTERM', 30_000);
  assert.equal(stopped.code, 0, service.output());
  assert.ok(stopped.ms < 15_000, `stopped within 15 s (took ${stopped.ms} ms)`);
  socket.destroy();
  assert.match(received, /^HTTP\/1\.1 503 /, `the client was answered: ${received.slice(0, 300)}`);
  assert.match(received, /the run was cancelled: the service is shutting down/);
  assert.deepEqual(await readdir(spool), [], 'no file left');
  const run = await withClient(
    url,
    async (client) => (await client.query('SELECT status, source, error FROM etl.runs WHERE run_id = $1', [running.run_id])).rows[0],
  );
  assert.deepEqual(run, { status: 'failed', source: 'upload', error: 'the run was cancelled: the service is shutting down' });
  const published = await withClient(url, async (client) => (await client.query('SELECT run_id FROM etl.published')).rows[0]);
  assert.equal(Number(published.run_id), first.body.run_id, 'nothing published');
});

test(
  "kill -9 during an upload: the next start removes the directory it left, and keeps a live process's",
  { timeout: 120_000 },
  async () => {
    const spool = await tempDir('upload-kill9');
    const { service, url, dataDir } = await serviceOnSets(
      'upload-kill9',
      { small: { users: 50, experiments: 200, compounds: 5, seed: 1 } },
      'small',
      {
        UPLOAD_TMPDIR: spool,
      },
    );
    const socket = connect(service.port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(
      'POST /data HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n',
    );
    socket.write('--b\r\nContent-Disposition: form-data; name="users"; filename="users.csv"\r\n\r\nuser_id,name,email,signup_date\r\n');
    await waitForRun(service.base, 0, 'the upload to be received', (run) => run.step === 'receiving the upload');
    const [left] = await waitFor('the upload directory', async () => {
      const names = await readdir(spool);
      return names.length === 1 ? names : null;
    });
    assert.match(left!, new RegExp(`^lab-etl-upload-${service.pid}-`));
    // Another live process's upload (this test runner's pid stands for it) must survive the restart.
    const live = `lab-etl-upload-${process.pid}-test`;
    await mkdir(`${spool}/${live}`);
    await stopService(service, 'SIGKILL');
    socket.destroy();
    assert.deepEqual((await readdir(spool)).sort(), [left, live].sort(), 'kill -9 left its directory');

    const again = await startService({ DATABASE_URL: url, DATA_DIR: dataDir, UPLOAD_TMPDIR: spool });
    try {
      assert.deepEqual(await readdir(spool), [live]);
      assert.match(again.output(), /removed 1 upload directory left by a stopped process/);
      const run = (await call(again.base, 'GET', '/runs')).body.runs[0];
      assert.deepEqual([run.status, run.source], ['failed', 'upload'], 'the interrupted upload run is marked failed');
    } finally {
      await stopService(again);
    }
  },
);
