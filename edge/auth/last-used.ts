// Last-used times without a database write per request. Each authenticated request notes its key's time
// in memory; a flush writes every noted key in one UPDATE (queries/key-usage.ts), at most once per
// interval (default 30 s), so the column is at most that much behind while traffic flows. A flush is
// started by the first request after the interval (on Workers under `waitUntil`, as an isolate has no
// timers between requests) and by the Node and Deno entries at shutdown. What is lost: up to one
// interval of times when a process dies without shutting down, or a Workers isolate is evicted.
import type { KeyUse } from './queries/key-usage.js';

export interface LastUsedOptions {
  intervalMs: number;
  /** Distinct keys held before a flush is due regardless of the interval; more are dropped meanwhile. */
  maxPending: number;
  /** Milliseconds; the app's clock. */
  now: () => number;
}

/** The in-memory buffer of key uses, flushed by whoever holds a database (last-used-middleware.ts). */
export class LastUsedBuffer {
  readonly #options: LastUsedOptions;
  readonly #pending = new Map<string, number>();
  #lastFlushAt: number;
  #inFlight: Promise<void> | undefined;
  #dropped = 0;

  constructor(options: LastUsedOptions) {
    this.#options = options;
    this.#lastFlushAt = options.now();
  }

  /** Notes that `keyId` was used at `at` (ms); keeps the latest time per key. */
  record(keyId: string, at: number): void {
    const known = this.#pending.get(keyId);
    if (known === undefined && this.#pending.size >= this.#options.maxPending) {
      this.#dropped++;
      return;
    }
    if (known === undefined || at > known) this.#pending.set(keyId, at);
  }

  /** Whether a flush should start now: something is noted, none is running, and the interval is up. */
  due(now = this.#options.now()): boolean {
    if (this.#inFlight || this.#pending.size === 0) return false;
    const elapsed = now - this.#lastFlushAt;
    // A clock that went backwards must not stop flushing for good.
    return (
      elapsed >= this.#options.intervalMs || elapsed < 0 || this.#pending.size >= this.#options.maxPending
    );
  }

  /**
   * Hands everything noted to `write` (one call, one UPDATE). Waits for a flush already running first.
   * If `write` fails, the uses go back into the buffer for the next flush, and the error is thrown.
   * Returns how many uses were dropped for lack of room since the last flush (for the log).
   */
  async flush(write: (uses: KeyUse[]) => Promise<unknown>): Promise<{ written: number; dropped: number }> {
    while (this.#inFlight) await this.#inFlight.catch(() => {});
    // The interval counts from the start of a flush, failed ones too: a database in trouble gets one
    // attempt per interval, not one per request.
    this.#lastFlushAt = this.#options.now();
    const uses = [...this.#pending].map(([keyId, at]) => ({ keyId, at: new Date(at) }));
    const dropped = this.#dropped;
    this.#pending.clear();
    this.#dropped = 0;
    if (uses.length === 0) return { written: 0, dropped };
    const run = (async () => {
      try {
        await write(uses);
      } catch (err) {
        for (const use of uses) this.record(use.keyId, use.at.getTime());
        this.#dropped += dropped;
        throw err;
      }
    })();
    this.#inFlight = run;
    try {
      await run;
    } finally {
      this.#inFlight = undefined;
    }
    return { written: uses.length, dropped };
  }

  /** Keys noted and not yet written. */
  get pending(): number {
    return this.#pending.size;
  }
}
