import { createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import type { Context } from 'hono';
import type { Env } from './env.js';
import { UploadError } from '../support/errors.js';
import { COMPOUNDS, EXPERIMENTS, USERS } from '../load/inputs.js';
import type { ReceivedFiles } from '../run/pipeline.js';
import { isAlive } from '../support/process.js';
import { printable } from '../support/log.js';
import { MinRate } from './min-rate.js';

/**
 * `POST /data` with `multipart/form-data`: the three files as parts named `users`,
 * `user_experiments` and `compounds`. Streamed end to end: nothing is read before the run holds
 * the lock (see EtlOptions.upload), then each part is written, with backpressure, to a file of a
 * private directory (mode 700) that the normal pipeline opens like DATA_DIR, and that is removed
 * whatever the outcome.
 */

/** Part name -> the file name the loader expects (`users` -> `users.csv`), in the order they are named to clients. */
const PARTS = new Map<string, string>([USERS, EXPERIMENTS, COMPOUNDS].map((s) => [s.file.replace(/\.csv$/, ''), s.file]));
const PART_NAMES = [...PARTS.keys()].join(', ');

/**
 * The request's chunks are dropped as soon as they are written, but V8 frees their memory only when
 * it collects, and on this thread (unlike the parse worker, see load-files.ts) it waits for up to
 * about 64 MB of dropped buffers before it does: Node's RSS would rise by that much during an
 * upload. A young-generation collection every few MB received frees them: each takes well under a
 * millisecond (the request's objects are all young), so a 2 GiB upload spends a fraction of a
 * second on them.
 */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;
let collectYoung: (() => void) | undefined;
function freeDroppedChunks(): void {
  if (!collectYoung) {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    collectYoung = () => gc({ type: 'minor' });
  }
  collectYoung();
}

export interface UploadLimits {
  maxUploadBytes: number;
  /** Where the private directory of each upload is made. */
  uploadTmpDir: string;
  /** The least an upload must send, in bytes a second over each window of uploadRateWindowMs (see MinRate). */
  uploadMinBytesPerSecond: number;
  uploadRateWindowMs: number;
}

/** A request whose body is a multipart upload of the three files (rather than no body at all). */
export function isUpload(c: Context): boolean {
  return c.req.method === 'POST' && /^multipart\/form-data\b/i.test(c.req.header('content-type') ?? '');
}

export interface Upload {
  receive: (signal?: AbortSignal) => Promise<ReceivedFiles>;
  /** Why the upload failed, once it has: the answer's status comes from it. */
  failure: UploadError | null;
}

/**
 * Checks what can be checked without reading the body (a boundary, the declared length), and
 * returns how to receive it; nothing is read until `receive` is called. Takes any app's context:
 * only its Node bindings (the request itself) are read.
 */
export function openUpload(c: Context<Env>, limits: UploadLimits): Upload | UploadError {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (declared > limits.maxUploadBytes) return tooLarge(limits);
  const headers = { 'content-type': c.req.header('content-type') ?? '' };
  try {
    // Throws now on a missing boundary; the parser itself is made (and fed) only in receive.
    busboy({ headers });
  } catch (error) {
    return new UploadError(400, `the body is not valid multipart/form-data (${(error as Error).message})`);
  }
  // Under @hono/node-server the Node request itself (flow control, disconnects); elsewhere (tests
  // through app.request) the web body.
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const body = (): Readable => incoming ?? Readable.fromWeb((c.req.raw.body ?? new Blob([]).stream()) as never);
  const upload: Upload = {
    failure: null,
    receive: async (signal) => {
      // Mode 700. The message names the setting, not the server's path.
      const dir = await mkdtemp(path.join(limits.uploadTmpDir, `${PREFIX}${process.pid}-`)).catch((error: NodeJS.ErrnoException) => {
        throw new Error(`could not make a directory for the upload in UPLOAD_TMPDIR (${error.code ?? error.message})`);
      });
      const remove = () => rm(dir, { recursive: true, force: true });
      try {
        await receiveParts(body(), headers, dir, limits, signal);
        return { dir, remove };
      } catch (error) {
        if (error instanceof UploadError) upload.failure = error;
        await remove();
        throw error;
      }
    },
  };
  return upload;
}

/** Upload directories are named `lab-etl-upload-<pid>-<random>`, after the process receiving them. */
const PREFIX = 'lab-etl-upload-';

/**
 * Removes the upload directories a killed process left in `dir` (`kill -9` mid-upload): those of
 * processes that no longer exist, and those named after this process's own pid, which it has not
 * used yet (a container's service is pid 1 every time). Those of live processes stay: they may be
 * another service's, receiving now. Call at start-up, before listening.
 */
export async function removeLeftUploads(dir: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [])) {
    const pid = name.startsWith(PREFIX) ? Number(/^(\d+)-/.exec(name.slice(PREFIX.length))?.[1]) : NaN;
    if (!pid || (pid !== process.pid && isAlive(pid))) continue;
    await rm(path.join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

const tooLarge = (limits: UploadLimits) =>
  new UploadError(413, `the body is larger than MAX_UPLOAD_BYTES (${limits.maxUploadBytes} bytes)`);

/**
 * What a client named a part, checked as the untrusted text it is: busboy passes `undefined` for a
 * part without a `name` parameter (only a `filename`, or `name*=`, which it does not decode), and
 * any string at all otherwise.
 */
function partFile(name: string | undefined): { file: string } | { problem: string } {
  const file = name === undefined ? undefined : PARTS.get(name);
  if (file) return { file };
  const send = `send exactly the file parts ${PART_NAMES}, each named in its Content-Disposition (name="users"; filename="users.csv"), e.g. curl -F users=@users.csv`;
  if (!name) return { problem: `a part has no name: ${send}` };
  return { problem: `unknown part "${printable(name, 40)}": ${send}` };
}

/**
 * Feeds the body to the multipart parser and each file part to its file, pausing the body while
 * the parser or a file is behind. Resolves once all three files are complete on disk; rejects with
 * an UploadError on the first problem, after every file stream it opened has ended.
 *
 * Every listener on the client-fed body, parser and part streams goes through `guard`: whatever a
 * client sends, a throw there (a defect) fails this upload like any other problem, instead of
 * escaping from an event emitter and taking the process with it.
 */
function receiveParts(
  body: Readable,
  headers: Record<string, string>,
  dir: string,
  limits: UploadLimits,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // Part names are read as UTF-8, as browsers and curl send them (busboy's default is latin1).
    const parser = busboy({ headers, defParamCharset: 'utf8', limits: { fieldSize: 1024, headerPairs: 20 } });
    const files: Promise<void>[] = [];
    const streams: Readable[] = [];
    const seen = new Set<string>();
    let received = 0;
    let ended = false;
    let settled = false;

    const guard =
      <A extends unknown[]>(listener: (...args: A) => void) =>
      (...args: A): void => {
        try {
          listener(...args);
        } catch (error) {
          fail(new Error(`the upload could not be received (${(error as Error)?.message ?? String(error)})`));
        }
      };
    const rate = new MinRate(
      limits.uploadRateWindowMs,
      limits.uploadMinBytesPerSecond,
      guard((bytes: number, windowMs: number) => {
        const sent = bytes === 0 ? 'nothing' : `only ${bytes} bytes`;
        fail(
          new UploadError(
            400,
            `the client sent ${sent} in the last ${windowMs / 1000} s (${received} bytes in all), below the minimum of ` +
              `${limits.uploadMinBytesPerSecond} bytes/s (UPLOAD_MIN_BYTES_PER_SECOND) an upload must keep up while it holds the run lock; the upload was abandoned`,
          ),
        );
      }),
    );

    const cleanup = () => {
      rate.stop();
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('close', onClose);
      body.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      // The rest of the body is not kept: it is discarded until the answer closes the connection
      // (Connection: close), so the client reads the answer rather than a reset.
      body.resume();
      parser.destroy();
      for (const stream of streams) stream.destroy(error);
      void Promise.allSettled(files).then(() => reject(error));
    };

    const onData = guard((chunk: Buffer) => {
      received += chunk.length;
      rate.received(chunk.length);
      if (received > limits.maxUploadBytes) return fail(tooLarge(limits));
      if (received % COLLECT_EVERY_BYTES < chunk.length) freeDroppedChunks();
      if (!parser.write(chunk)) {
        body.pause();
        rate.pause();
        parser.once(
          'drain',
          guard(() => {
            if (settled) return;
            rate.resume();
            body.resume();
          }),
        );
      }
    });
    const onEnd = guard(() => {
      ended = true;
      // The whole body is here: what remains (the parser, the files) is the service's own work.
      rate.stop();
      parser.end();
    });
    const onClose = guard(() => {
      if (!ended) fail(new UploadError(400, `the client disconnected after ${received} bytes, before the upload was complete`));
    });
    const onError = onClose;
    // The run is then recorded as cancelled and the client answered 503 before the service exits.
    const onAbort = guard(() => fail(new Error('the service is shutting down')));

    parser.on(
      'file',
      guard((name: string | undefined, stream: Readable) => {
        // Destroying the parser errors every part stream it made, even one never piped anywhere.
        stream.on('error', () => {});
        if (settled) return void stream.resume();
        const part = partFile(name);
        if ('problem' in part) return fail(new UploadError(400, part.problem));
        if (seen.has(name!)) return fail(new UploadError(400, `the part ${name} is sent more than once`));
        seen.add(name!);
        streams.push(stream);
        const written = pipeline(stream, createWriteStream(path.join(dir, part.file), { flags: 'wx', mode: 0o600 }));
        files.push(written);
        // The server's path stays out of the message: the code says enough (ENOSPC, EACCES).
        written.catch(
          guard((error: NodeJS.ErrnoException) =>
            fail(error instanceof UploadError ? error : new Error(`could not store the part ${name} (${error.code ?? error.message})`)),
          ),
        );
      }),
    );
    parser.on(
      'field',
      guard((name: string | undefined) => {
        const part = partFile(name);
        if ('problem' in part) return fail(new UploadError(400, part.problem));
        fail(
          new UploadError(400, `the part ${name} is not a file: send it as a file (with a filename), e.g. curl -F ${name}=@${part.file}`),
        );
      }),
    );
    parser.on(
      'error',
      guard((error: Error) => fail(new UploadError(400, `the body is not valid multipart/form-data (${error.message})`))),
    );
    parser.on(
      'close',
      guard(() => {
        void Promise.all(files).then(
          guard(() => {
            if (settled) return;
            const missing = [...PARTS.keys()].filter((name) => !seen.has(name));
            if (missing.length > 0) {
              return fail(
                new UploadError(
                  422,
                  `the part${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing: send exactly the file parts ${PART_NAMES}`,
                ),
              );
            }
            settled = true;
            cleanup();
            resolve();
          }),
          () => {},
        );
      }),
    );

    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('close', onClose);
    body.on('error', onError);
    // A client that closed while the run took the lock and made its directory has fired its last
    // event already: none would come to end the upload, so it ends now.
    if (body.destroyed) return onClose();
    rate.resume();
    body.resume();
  });
}
