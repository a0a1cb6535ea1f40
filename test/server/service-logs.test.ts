// Structured logs: JSON lines from the real service (ETL events, one line per request), and the
// LOG_LEVEL / LOG_FORMAT settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once, type EventEmitter } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createLogger, logSettings } from '../../src/support/log.js';
import { SAMPLE_DIR, testDatabase } from '../helpers.js';
import { startService, stopService } from '../service.js';

test('the service logs one JSON line per event: ETL steps with run_id, step, duration_ms and rows; one per request with its id', async () => {
  const database = await testDatabase();
  try {
    const service = await startService(
      { DATABASE_URL: database.url, DATA_DIR: SAMPLE_DIR, LOG_FORMAT: '', LOG_LEVEL: '' },
      { timeoutMs: 30_000 },
    );
    let run: any;
    let generated: string | null;
    try {
      const posted = await fetch(`${service.base}/data`, { method: 'POST', headers: { 'x-request-id': 'etl-trigger-1' } });
      assert.equal(posted.headers.get('x-request-id'), 'etl-trigger-1');
      run = await posted.json();
      const user = await fetch(`${service.base}/data/users/1`, { headers: { 'x-request-id': 'not plain: {}' } });
      generated = user.headers.get('x-request-id');
      assert.match(generated ?? '', /^[0-9a-f-]{36}$/);
      await user.text();
    } finally {
      assert.equal((await stopService(service)).code, 0);
    }

    const lines = service
      .output()
      .split('\n')
      .filter((line) => line !== '');
    const events = lines.map((line) => {
      const event = JSON.parse(line); // every line is JSON: nothing else is written to stderr or stdout
      assert.equal(typeof event.level, 'string', line);
      assert.ok(!Number.isNaN(Date.parse(event.time)), line);
      assert.equal(typeof event.msg, 'string', line);
      return event;
    });
    assert.doesNotMatch(service.output(), /postgres:\/\/|password/i, 'no connection string');
    assert.ok(events.some((e) => /^listening on http:/.test(e.msg) && e.port === service.port));

    // The ETL: loading with the rows read per file, each transform step, and the outcome with the run's counts.
    const ofRun = events.filter((e) => e.run_id === run.run_id);
    const loading = ofRun.find((e) => e.step === 'loading');
    assert.equal(typeof loading.duration_ms, 'number');
    assert.deepEqual(
      loading.rows_read,
      Object.fromEntries(Object.entries<any>(run.files).map(([file, counts]) => [file, counts.rows_read])),
    );
    assert.equal(loading.rows_read['user_experiments.csv'], 21);
    for (const step of ['users', 'adopt-user-features']) {
      const event = ofRun.find((e) => e.step === step);
      assert.ok(event && event.duration_ms >= 0 && event.level === 'info', step);
    }
    const done = ofRun.find((e) => /^run \d+ succeeded/.test(e.msg));
    assert.equal(done.duration_ms, run.duration_ms);
    assert.deepEqual(done.files, run.files);

    // One line per request: method, path, route, status, duration and the request id.
    const post = events.find((e) => e.request_id === 'etl-trigger-1');
    assert.deepEqual([post.msg, post.method, post.path, post.route, post.status], ['POST /data 200', 'POST', '/data', '/data', 200]);
    assert.equal(typeof post.duration_ms, 'number');
    const get = events.find((e) => e.request_id === generated);
    assert.deepEqual([get.method, get.path, get.route, get.status], ['GET', '/data/users/1', '/data/users/:id', 200]);
    assert.equal(
      events.filter((e) => e.method !== undefined && e.path === '/health').length >= 1,
      true,
      'start-up health checks are logged too',
    );
  } finally {
    await database.close();
  }
});

test('every answered request is logged, the last ones too, when the service is stopped (SIGTERM) right after a burst', async () => {
  const database = await testDatabase();
  try {
    const service = await startService(
      { DATABASE_URL: database.url, DATA_DIR: SAMPLE_DIR, LOG_FORMAT: '', LOG_LEVEL: '' },
      { timeoutMs: 30_000 },
    );
    const ids: string[] = [];
    try {
      // Lines are written in the background while the answers go out: the last are still buffered
      // or being written when SIGTERM arrives.
      const answers = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          fetch(`${service.base}/data/users/${i + 1}`, { headers: { 'x-request-id': `burst-${i}` } }).then(async (r) => {
            await r.arrayBuffer();
            return r.headers.get('x-request-id');
          }),
        ),
      );
      ids.push(...answers.map((id) => id ?? 'missing'));
    } finally {
      assert.equal((await stopService(service)).code, 0);
    }
    assert.deepEqual(
      ids,
      Array.from({ length: 400 }, (_, i) => `burst-${i}`),
      'each answer carries its request id',
    );
    const logged = new Set(
      service
        .output()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line).request_id),
    );
    assert.deepEqual(
      ids.filter((id) => !logged.has(id)),
      [],
      'a line for every request',
    );
    assert.match(service.output(), /"msg":"SIGTERM: shutting down"/);
  } finally {
    await database.close();
  }
});

test('LOG_LEVEL and LOG_FORMAT: defaults, TTY, and bad values', () => {
  assert.deepEqual(logSettings({}, false), { level: 'info', format: 'json', problems: [] });
  assert.deepEqual(logSettings({}, true), { level: 'info', format: 'pretty', problems: [] });
  assert.deepEqual(logSettings({ LOG_LEVEL: 'WARN', LOG_FORMAT: 'pretty' }, false), { level: 'warn', format: 'pretty', problems: [] });
  assert.deepEqual(logSettings({ LOG_FORMAT: 'json' }, true).format, 'json');
  const bad = logSettings({ LOG_LEVEL: 'loud', LOG_FORMAT: 'xml' }, false);
  assert.deepEqual([bad.level, bad.format], ['info', 'json']);
  assert.equal(bad.problems.length, 2);
});

test('the level filters events; pretty prints for people, JSON for machines', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-log-'));
  const write = async (settings: Parameters<typeof createLogger>[0], emit: (logger: ReturnType<typeof createLogger>) => void) => {
    const file = path.join(dir, `${settings.level}-${settings.format}.log`);
    const fd = openSync(file, 'w');
    const logger = createLogger(settings, fd);
    emit(logger);
    // JSON lines are written in the background: wait until the destination has written them all.
    const destination = (logger as unknown as Record<symbol, EventEmitter>)[pino.symbols.streamSym]!;
    if (settings.format === 'json') await once(destination, 'drain');
    closeSync(fd);
    return readFileSync(file, 'utf8');
  };
  try {
    const json = await write({ level: 'warn', format: 'json' }, (logger) => {
      logger.info({ run_id: 1 }, 'hidden');
      logger.warn({ run_id: 2, step: 'users', duration_ms: 5 }, 'shown');
    });
    const lines = json
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(lines.length, 1);
    assert.deepEqual(
      [lines[0].level, lines[0].msg, lines[0].run_id, lines[0].step, lines[0].duration_ms],
      ['warn', 'shown', 2, 'users', 5],
    );

    const pretty = await write({ level: 'info', format: 'pretty' }, (logger) => logger.info({ run_id: 3 }, 'run 3: users took 5 ms'));
    assert.match(pretty, /INFO.*run 3: users took 5 ms/);
    assert.throws(() => JSON.parse(pretty));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
