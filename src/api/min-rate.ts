/**
 * An upload holds the one run lock while it is received, so it must keep making progress: in each
 * window of `windowMs` during which the service waits for the client, at least
 * `minBytesPerSecond × windowMs / 1000` bytes must arrive, or `onSlow` is called (once). Time the
 * service itself holds the body paused (its disk is behind) is not counted against the client.
 *
 * Fixed windows rather than a sliding average: a client must deliver its share of every window, so
 * neither an early burst nor a trickle of single bytes can hold the lock for longer than one window.
 * (No library does this for a Node stream we pace ourselves; it is a dozen lines.)
 */
export class MinRate {
  private bytes = 0;
  private remainingMs: number;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private paused = true;
  private judging = false;
  private done = false;

  constructor(
    private readonly windowMs: number,
    private readonly minBytesPerSecond: number,
    private readonly onSlow: (bytesInWindow: number, windowMs: number) => void,
  ) {
    this.remainingMs = windowMs;
  }

  /** The service is waiting for the client: the clock runs. */
  resume(): void {
    this.paused = false;
    if (!this.timer && !this.judging && !this.done) this.arm();
  }

  /** The service holds the body paused: the clock stops, and resumes with what was left of the window. */
  pause(): void {
    this.paused = true;
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remainingMs = Math.max(0, this.remainingMs - (performance.now() - this.startedAt));
  }

  received(bytes: number): void {
    this.bytes += bytes;
  }

  /** The body is complete or the upload failed: no more checks. */
  stop(): void {
    this.pause();
    this.done = true;
  }

  private arm(): void {
    this.startedAt = performance.now();
    this.timer = setTimeout(() => this.windowEnded(), this.remainingMs);
    this.timer.unref();
  }

  private windowEnded(): void {
    this.timer = undefined;
    this.judging = true;
    // Judged after the event loop's I/O phase: after a stall of the service's own (a long GC, say),
    // the bytes that arrived meanwhile are counted before the client is judged on them.
    setImmediate(() => {
      this.judging = false;
      if (this.done) return;
      if (this.bytes < (this.minBytesPerSecond * this.windowMs) / 1000) {
        this.done = true;
        this.onSlow(this.bytes, this.windowMs);
        return;
      }
      this.bytes = 0;
      this.remainingMs = this.windowMs;
      if (!this.paused) this.arm();
    });
  }
}
