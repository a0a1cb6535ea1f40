// Issue 19's web attacks in a real Chromium against the real service process: pages on another
// origin (a second 127.0.0.1 port, served by a tiny node:http server, and a file:// page) that try
// to replace the published features with an auto-submitted multipart form or a no-cors fetch; a
// DNS-rebinding name (Chromium's resolver maps attacker.test to 127.0.0.1, as a rebinding DNS server
// would); and /docs in a frame of another origin. Every attack must reach the service and be refused
// there (Chromium sees the 403), and the features stay as they were.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import type { DbHandle } from '../../src/db/connect.js';
import { CHALLENGE_DIR, removeDir, testDatabase } from '../helpers.js';
import { startService, stopService, type Service } from '../service.js';
import { launch, noChromium, Recorder } from './browser.js';

const WAIT = 60_000;
const REBOUND = 'attacker.test';

const skip = noChromium();
if (skip) {
  test('web attacks in Chromium', { skip }, () => {});
} else {
  let database: DbHandle;
  let service: Service;
  let attacker: http.Server;
  let attackerBase: string;
  let pagesDir: string;
  let browser: Browser;
  let context: BrowserContext;
  let recorder: Recorder;

  /** The attack pages, as the reproduction had them. Each names its target: the service. */
  const pages = (): Record<string, string> => {
    const files = `
      const files = {
        users: 'user_id,name,email,signup_date\\n1,PWNED via CSRF,x@example.org,2023-01-01\\n',
        user_experiments: 'experiment_id,user_id,experiment_compound_ids,experiment_run_time\\n1,1,1,1\\n',
        compounds: 'compound_id,compound_name,compound_structure\\n1,A,C\\n',
      };
      const file = (name) => new File([files[name]], name + '.csv', { type: 'text/csv' });`;
    return {
      // A form on another origin, filled with files and submitted as the page loads.
      'form.html': `<!doctype html><title>form</title>
        <form id="f" method="post" enctype="multipart/form-data" action="${service.base}/data">
          <input type="file" name="users"><input type="file" name="user_experiments"><input type="file" name="compounds">
        </form>
        <script>${files}
          for (const input of document.querySelectorAll('input')) {
            const list = new DataTransfer();
            list.items.add(file(input.name));
            input.files = list.files;
          }
          document.getElementById('f').submit();
        </script>`,
      // A form with no files at all: it would start a DATA_DIR run.
      'empty-form.html': `<!doctype html><title>empty form</title>
        <form id="f" method="post" enctype="multipart/form-data" action="${service.base}/data"></form>
        <script>document.getElementById('f').submit();</script>`,
      // fetch with mode "no-cors": a "simple" request the browser sends without a preflight.
      'no-cors.html': `<!doctype html><title>no-cors</title>
        <script>${files}
          const body = new FormData();
          for (const name of Object.keys(files)) body.append(name, file(name));
          fetch('${service.base}/data', { method: 'POST', mode: 'no-cors', body })
            .then(() => (document.title = 'sent'), () => (document.title = 'failed'));
        </script>`,
      // The docs page in a frame, as a clickjacking page would show it.
      'frame.html': `<!doctype html><title>frame</title><iframe id="docs" src="${service.base}/docs" width="800" height="600"></iframe>`,
    };
  };

  before(async () => {
    database = await testDatabase();
    service = await startService({ DATABASE_URL: database.url, DATA_DIR: CHALLENGE_DIR }, { timeoutMs: 60_000 });
    assert.equal((await fetch(`${service.base}/data`, { method: 'POST' })).status, 200);

    // The other origin: the same pages from another port of 127.0.0.1, and from file://.
    attacker = http.createServer((req, res) => {
      const page = pages()[(req.url ?? '/').slice(1)];
      res.writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' }).end(page ?? 'no such page');
    });
    attacker.listen(0, '127.0.0.1');
    await once(attacker, 'listening');
    attackerBase = `http://127.0.0.1:${(attacker.address() as { port: number }).port}`;
    pagesDir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-attack-pages-'));
    for (const [name, html] of Object.entries(pages())) await writeFile(path.join(pagesDir, name), html);

    browser = await launch([`--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`]);
    context = await browser.newContext();
    context.setDefaultTimeout(WAIT);
    recorder = new Recorder(context);
  });

  after(async () => {
    await browser?.close();
    attacker?.close();
    if (service) assert.equal((await stopService(service)).code, 0, service.output());
    await database?.close();
    if (pagesDir) await removeDir(pagesDir);
  });

  const api = async (url: string) => (await (await fetch(`${service.base}${url}`)).json()) as any;
  const isPostData = (response: Response) => response.url() === `${service.base}/data` && response.request().method() === 'POST';

  /** Opens `url` (an attack page) and returns the answer Chromium got to the POST /data it made. */
  async function attack(page: Page, url: string): Promise<Response> {
    const answered = page.waitForResponse(isPostData, { timeout: WAIT });
    await page.goto(url);
    return answered;
  }

  test(
    'pages on another origin cannot run the ETL: a multipart form, a form without files, fetch no-cors, and the same from file://',
    { timeout: 180_000 },
    async () => {
      const runs = (await api('/runs')).runs.length;
      const page = await context.newPage();
      for (const base of [attackerBase, pathToFileURL(pagesDir).href]) {
        for (const name of ['form.html', 'empty-form.html', 'no-cors.html']) {
          const url = `${base}/${name}`;
          const response = await attack(page, url);
          assert.equal(response.status(), 403, url);
          if (name !== 'no-cors.html') {
            // (Playwright does not see the final headers of a no-cors fetch; a navigation's it does.)
            const sent = await response.request().allHeaders();
            assert.equal(sent.origin, base.startsWith('file:') ? 'null' : attackerBase, `${url}: Chromium said where it came from`);
            // The form's answer is shown to the user: the service's own message.
            await page.waitForURL(`${service.base}/data`);
            assert.match(await page.locator('body').innerText(), /refused: a web page on another origin .* ALLOWED_ORIGINS/, url);
          } else {
            await page.waitForFunction(() => document.title === 'sent');
          }
        }
      }
      await page.close();
      assert.equal((await api('/runs')).runs.length, runs, 'no run was started');
      assert.equal((await api('/data/users/1')).name, 'Alice', 'the published features are unchanged');
    },
  );

  test('a rebound name (DNS rebinding) gets 403 for every read; the loopback names are answered', { timeout: 120_000 }, async () => {
    const page = await context.newPage();
    for (const route of ['/data/users/1', '/data', '/']) {
      const response = await page.goto(`http://${REBOUND}:${service.port}${route}`);
      assert.equal(response?.status(), 403, route);
      const text = await page.locator('body').innerText();
      assert.match(
        text,
        new RegExp(`does not answer requests for the host \\\\"${REBOUND}:${service.port}\\\\": add its name to ALLOWED_HOSTS`),
        route,
      );
      assert.doesNotMatch(text, /Alice|alice@example/, route);
    }
    for (const name of ['localhost', '127.0.0.1']) {
      const response = await page.goto(`http://${name}:${service.port}/data/users/1`);
      assert.equal(response?.status(), 200, name);
      assert.match(await page.locator('body').innerText(), /"name":\s*"Alice"/);
    }
    await page.close();
  });

  test('/docs works under its CSP and refuses to be framed by another origin', { timeout: 120_000 }, async () => {
    const errorsBefore = recorder.errors.length;
    const page = await context.newPage();
    const requested: string[] = [];
    const missing: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    page.on('response', (response) => response.status() === 404 && missing.push(new URL(response.url()).pathname));
    await page.goto(`${service.base}/docs`);
    await page.locator('.swagger-ui .info .title').filter({ hasText: 'lab-features-etl' }).waitFor();
    await page.locator('.opblock-summary-path').filter({ hasText: '/data.csv' }).first().waitFor();
    // Chromium asks for /favicon.ico on its own (the docs page names no icon): that 404 is expected.
    assert.deepEqual(
      missing.filter((p) => p !== '/favicon.ico'),
      [],
    );
    const errors = recorder.errors
      .slice(errorsBefore)
      .filter((e) => !/^Failed to load resource: the server responded with a status of 404 /.test(e));
    assert.deepEqual(errors, [], 'no CSP violation or script error on /docs');
    assert.deepEqual(
      requested.filter((url) => !url.startsWith(`${service.base}/`) && !url.startsWith('data:')),
      [],
      'nothing from elsewhere',
    );

    // Chromium reports the refusal in the framing page's console, and the frame never shows the docs.
    const refused = page.waitForEvent('console', { predicate: (message) => /frame-ancestors 'none'/.test(message.text()), timeout: WAIT });
    await page.goto(`${attackerBase}/frame.html`);
    assert.match(
      (await refused).text(),
      /violates the following Content Security Policy directive: "frame-ancestors 'none'"\. The request has been blocked/,
    );
    assert.equal(await page.frameLocator('#docs').locator('#swagger-ui').count(), 0, 'the docs are not shown in the frame');
    await page.close();
  });
}
