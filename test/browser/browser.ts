// What the browser tests share: Debian's Chromium driven by playwright-core, a record of every
// request and error of a page, and screenshots (one of which is the README's).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../service.js';

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
