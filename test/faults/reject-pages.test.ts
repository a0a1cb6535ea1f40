// A run whose rejected lines are about 900 KB each (90 MB of them): the rejects keep the first
// 1000 bytes of each line and its length, so pages stay small, and five parallel pages (streamed)
// leave the service's memory flat. Before, each page carried the whole 90 MB and was built in
// memory several times over.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { testDatabase } from '../helpers.js';
import { call, cleanup, onCleanup, sleep, startService, stopService, tempDir } from './support.js';

after(cleanup);

const LINES = 100;
const LINE_BYTES = 900 * 1024; // under the 1 MiB line limit, so each line is a reject of its own

/** The service's resident memory in MB, from /proc. */
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

test(
  '900 KB rejected lines are kept as 1000-byte prefixes with their length; five parallel pages stay flat',
  { timeout: 300_000 },
  async () => {
    const dir = await tempDir('reject-pages');
    const filler = 'x'.repeat(LINE_BYTES);
    const users = ['user_id,\tname,\temail,\tsignup_date', '1,\tAnn,\tann@example.com,\t2023-01-01'];
    for (let i = 0; i < LINES; i++) users.push(`not-an-id-${i},\t${filler},\tb@example.com,\t2023-01-01`);
    await writeFile(path.join(dir, 'users.csv'), users.join('\r\n'));
    await writeFile(path.join(dir, 'compounds.csv'), 'compound_id,\tcompound_name,\tcompound_structure\r\n1,\tAspirin,\tC9H8O4');
    await writeFile(
      path.join(dir, 'user_experiments.csv'),
      'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\r\n1,\t1,\t1,\t10',
    );
    const database = await testDatabase();
    onCleanup(() => database.close());
    const service = await startService({ DATABASE_URL: database.url, DATA_DIR: dir, MAX_REJECT_RATIO: '1', MAX_STREAMS: '5' });
    onCleanup(async () => {
      await stopService(service);
    });

    const posted = await call(service.base, 'POST', '/data');
    assert.equal(posted.status, 200, posted.text);
    assert.equal(posted.body.files['users.csv'].rows_rejected, LINES);

    const before = rssMb(service.pid);
    let peak = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, rssMb(service.pid));
        await sleep(20);
      }
    })();
    const pages = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const response = await fetch(`${service.base}/runs/${posted.body.run_id}/rejects?limit=10000`);
        let bytes = 0;
        let text = '';
        for await (const chunk of response.body!) {
          bytes += chunk.length;
          text += Buffer.from(chunk).toString('utf8');
        }
        return {
          status: response.status,
          bytes,
          body: JSON.parse(text) as { rejected: { line: number; raw: string; raw_bytes: number }[] },
        };
      }),
    );
    sampling = false;
    await sampler;
    const pageMb = pages[0]!.bytes / 2 ** 20;
    console.log(
      `reject pages: 5 x ${pageMb.toFixed(0)} MB streamed; service RSS ${before.toFixed(0)} MB before, ${peak.toFixed(0)} MB at most`,
    );
    for (const page of pages) {
      assert.equal(page.status, 200);
      assert.equal(page.body.rejected.length, LINES, 'every rejected line is in the page');
      for (const [i, reject] of page.body.rejected.entries()) {
        const whole = `not-an-id-${i},\t${'x'.repeat(LINE_BYTES)},\tb@example.com,\t2023-01-01`;
        assert.equal(reject.raw, whole.slice(0, 1000), 'the raw line is its first 1000 bytes');
        assert.equal(reject.raw_bytes, Buffer.byteLength(whole), "with the whole line's length");
      }
      assert.ok(page.bytes < 200 * 1024, `a page of ${LINES} rejects is small (${page.bytes} bytes)`);
    }
    // Building 90 MB pages in memory grew the service by about 1.9 GB here.
    assert.ok(peak - before < 100, `the service grew by ${(peak - before).toFixed(0)} MB serving 5 pages of ${pageMb.toFixed(2)} MB`);
  },
);
