// What the browser tests share: Debian's Chromium driven by playwright-core, a record of every
// request and error of a page, and screenshots (one of which is the README's).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import type { DbHandle } from '../../src/db/connect.js';
import { removeDir, testDatabase } from '../helpers.js';
import { ROOT, startService, stopService, type Service } from '../service.js';

/** Debian's package `chromium`; CHROMIUM_PATH names another build. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export const noChromium = (): string | null =>
  existsSync(CHROMIUM)
    ? null
    : `no Chromium at ${CHROMIUM}: the browser tests need Debian's chromium (apt-get install -y chromium; .ci/run installs it) or CHROMIUM_PATH`;

/**
 * The checkout, where pictures are written back to: `npm test` runs the tests in a compiled copy
 * of it (test/build.ts), whose ROOT is that copy.
 */
export const CHECKOUT = process.env.TEST_CHECKOUT ?? ROOT;
/** The README's picture of the dashboard, rewritten by `UPDATE_SCREENSHOT=1 npm run test:browser`. */
export const README_SCREENSHOT = path.join(CHECKOUT, 'test/browser/dashboard.png');

/** Headless, and without the background requests Chromium makes to Google's hosts on its own; `args` adds flags. */
export function launch(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      ...args,
    ],
  });
}

/** How long a browser test waits for anything (Playwright polls): generous, for a loaded 2-core machine. */
export const WAIT = 60_000;
/** The three input files, as DATA_DIR holds them. */
export const FILES = ['users.csv', 'user_experiments.csv', 'compounds.csv'] as const;

/** What a browser test drives: the service on a fresh database, its DATA_DIR, and Chromium. */
export interface Served {
  database: DbHandle;
  service: Service;
  /** The service's DATA_DIR, a folder of the test's own. */
  dataDir: string;
  browser: Browser;
  /** Closes the browser, stops the service (asserting it exits 0), drops the database and removes DATA_DIR. */
  close(): Promise<void>;
}

/**
 * A fresh database, a DATA_DIR holding a copy of the three files of `from`, the real service
 * process on them (`env` added to its environment), and Chromium. A start that fails part way
 * undoes what it had made.
 */
export async function serve(from: string, env: Record<string, string> = {}): Promise<Served> {
  const made: Partial<Served> = {};
  const close = async () => {
    await made.browser?.close();
    if (made.service) assert.equal((await stopService(made.service)).code, 0, made.service.output());
    await made.database?.close();
    if (made.dataDir) await removeDir(made.dataDir);
  };
  try {
    made.database = await testDatabase();
    made.dataDir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-browser-data-'));
    for (const file of FILES) await copyFile(path.join(from, file), path.join(made.dataDir, file));
    made.service = await startService({ DATABASE_URL: made.database.url, DATA_DIR: made.dataDir, ...env }, { timeoutMs: 60_000 });
    made.browser = await launch();
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return { ...(made as Omit<Served, 'close'>), close };
}

/** A new browser context (a window of its own: `options` sets its size) waiting up to WAIT, its first page, and its Recorder. */
export async function openPage(
  browser: Browser,
  options: BrowserContextOptions,
): Promise<{ context: BrowserContext; page: Page; recorder: Recorder }> {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(WAIT);
  const recorder = new Recorder(context);
  return { context, page: await context.newPage(), recorder };
}

/**
 * A second service on the database and DATA_DIR of `served`, with `env` added (API_TOKEN, say), and a
 * page of its own (`options`: the window's size) for `use`. When `use` has passed: no request left
 * that service, and the browser reported no error but for the HTTP `statuses` the test provoked.
 * Then, whatever happened, the window is closed and the service stops with exit code 0.
 */
export async function withService(
  served: Served,
  env: Record<string, string>,
  options: BrowserContextOptions,
  statuses: number[],
  use: (service: Service, page: Page) => Promise<void>,
): Promise<void> {
  const service = await startService({ DATABASE_URL: served.database.url, DATA_DIR: served.dataDir, ...env }, { timeoutMs: 60_000 });
  try {
    const { context, page, recorder } = await openPage(served.browser, options);
    try {
      await use(service, page);
      assert.deepEqual(recorder.outside(service.base), []);
      assert.deepEqual(recorder.unexpectedErrors(statuses), []);
    } finally {
      await context.close();
    }
  } finally {
    assert.equal((await stopService(service)).code, 0, service.output());
  }
}

/** Waits until the page's run message says `text` (a run's own words, so an older message never matches). */
export const says = (page: Page, text: string | RegExp) =>
  page.locator('#run-message').filter({ hasText: text }).waitFor({ timeout: WAIT });

/** GET `url` of the service at `base`, parsed as JSON. */
export const getJson = async (base: string, url: string) => (await (await fetch(`${base}${url}`)).json()) as any;

/** The id the next run of the service at `base` will get. */
export const nextRunId = async (base: string) => ((await getJson(base, '/runs')).runs[0]?.run_id ?? 0) + 1;

/** Every request a browser context made, and everything its pages reported as an error. */
export class Recorder {
  readonly requests: string[] = [];
  readonly errors: string[] = [];

  constructor(context: BrowserContext) {
    context.on('request', (request) => this.requests.push(`${request.method()} ${request.url()}`));
    context.on('page', (page) => this.watch(page));
    for (const page of context.pages()) this.watch(page);
  }

  private watch(page: Page) {
    page.on('console', (message) => {
      if (message.type() === 'error') this.errors.push(message.text());
    });
    page.on('pageerror', (error) => this.errors.push(`uncaught: ${error.message}`));
  }

  /** The requests whose origin is not `origin`. */
  outside(origin: string): string[] {
    return this.requests.filter((r) => new URL(r.slice(r.indexOf(' ') + 1)).origin !== origin);
  }

  /**
   * The errors but Chromium's notes on answers the test asked for (a 409 or 422 is logged as
   * "Failed to load resource"): a CSP violation, a script error or a missing asset stays.
   */
  unexpectedErrors(expectedStatuses: number[]): string[] {
    const expected = new RegExp(`^Failed to load resource: the server responded with a status of (${expectedStatuses.join('|')}) `);
    return this.errors.filter((e) => !expected.test(e));
  }
}

/** A new folder for one run's screenshots; it is kept, and its path printed, for a person to look at. */
export async function screenshotDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-browser-'));
  await mkdir(dir, { recursive: true });
  console.log(`# screenshots of this run: ${dir}`);
  return dir;
}

/**
 * The whole page as `dir/name.png`. `readme`: this is the README's picture; with
 * UPDATE_SCREENSHOT=1 it is also copied to test/browser/dashboard.png.
 */
export async function screenshot(page: Page, dir: string, name: string, { readme = false } = {}): Promise<string> {
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
  if (readme && process.env.UPDATE_SCREENSHOT === '1') {
    await copyFile(file, README_SCREENSHOT);
    console.log(`# wrote ${path.relative(CHECKOUT, README_SCREENSHOT)}`);
  }
  return file;
}
