import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import type { HttpBindings } from '@hono/node-server';
import { log } from '../support/log.js';

/** Seconds a client is asked to wait (Retry-After) when the service is at a limit. */
export const RETRY_AFTER_SECONDS = 5;

/** The answer when a limit is reached: 503, `Retry-After`, and what to do. */
export function busy(c: Context, what: string) {
  return c.json({ error: `${what}; retry in a few seconds` }, 503, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
}

/**
 * Admits at most `max` streamed answers at a time (each holds a connection of the streams pool
 * while it runs), ends any that stalls, and ends them all on shutdown.
 */
export class StreamGate {
  #active = new Set<() => void>();
  #streamed = new WeakSet<Response>();

  constructor(
    readonly max: number,
    readonly idleTimeoutMs: number,
    shutdown?: AbortSignal,
  ) {
    shutdown?.addEventListener('abort', () => {
      for (const stop of this.#active) stop();
    });
  }

  get active(): number {
    return this.#active.size;
  }

  /** Whether `response` is a streamed answer of this gate (its length is unknown in advance). */
  streamed(response: Response): boolean {
    return this.#streamed.has(response);
  }

  /**
   * Sends `chunks` as the response body, or answers 503 (with Retry-After) when `max` streams are
   * already running. The first chunk is produced before answering, so a failure to start (the
   * database is down, a statement timed out) is an ordinary error response; after that, a failure
   * cuts the response off, so the client sees a broken transfer rather than a short answer.
   *
   * Whatever happens to the response, `chunks` is finished or ended with `return()`, so its
   * connection goes back: the client reads to the end; disconnects (node-server cancels the body);
   * never reads it (HEAD, see app.ts, cancels it); takes nothing for `idleTimeoutMs`; the service
   * shuts down; or producing a chunk fails.
   */
  async respond<E extends { Bindings: Partial<HttpBindings> }>(
    c: Context<E>,
    open: () => AsyncGenerator<string>,
    contentType: string,
  ): Promise<Response> {
    if (this.#active.size >= this.max) return busy(c, `all ${this.max} streaming slots are in use`);
    let stop = () => {};
    let stopped = false; // the service began shutting down before the response existed
    const slot = () => {
      stopped = true;
      stop();
    };
    this.#active.add(slot); // taken before the first await, so the limit holds under any concurrency
    let chunks: AsyncGenerator<string>;
    let first: IteratorResult<string>;
    try {
      chunks = open();
      first = await chunks.next();
    } catch (error) {
      this.#active.delete(slot);
      throw error;
    }
    const idleTimeoutMs = this.idleTimeoutMs;
    const active = this.#active;
    c.header('content-type', contentType);
    const response = stream(c, async (body) => {
      let cut: string | null = null;
      // Cuts the HTTP response: the stream machinery first, then (under node-server) the socket.
      stop = () => {
        cut ??= 'the service is shutting down';
        body.abort();
        c.env?.outgoing?.destroy();
      };
      // A cancelled body (client gone, HEAD) frees the slot at once; the connection follows as
      // soon as the snapshot is rolled back below.
      body.onAbort(() => {
        active.delete(slot);
      });
      if (stopped) stop();
      try {
        for (let next = first; !next.done && !body.aborted; next = await chunks.next()) {
          // A write waits until the client has taken the previous chunks: that wait is the idle time.
          const idle = setTimeout(() => {
            cut = `its client took nothing for ${idleTimeoutMs} ms`;
            stop();
          }, idleTimeoutMs);
          try {
            await body.write(next.value);
          } finally {
            clearTimeout(idle);
          }
        }
      } catch (error) {
        cut = `it failed: ${(error as Error).message}`;
        stop();
      } finally {
        active.delete(slot);
        await chunks.return(undefined).catch(() => {});
        if (cut) log(`${c.req.method} ${c.req.path}: stream ended early: ${cut}`, { request_id: c.get('requestId') }, 'warn');
      }
    });
    this.#streamed.add(response);
    return response;
  }
}
