/**
 * Reconnect delays. Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): the delay is
 * uniform in [0, ceiling), the ceiling doubling per attempt up to a cap. When WhatsApp or the network
 * drops every socket on a host at once, full jitter spreads the reconnects instead of sending them back
 * in waves, and needs no state beyond the attempt counter the machine already keeps.
 */

export interface BackoffOptions {
  /** Ceiling of the first attempt. */
  baseMs: number;
  /** Largest ceiling, reached after log2(capMs / baseMs) attempts. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, capMs: 60_000 };

/** The upper bound (exclusive) of the delay before reconnect `attempt` (1-based). */
export function backoffCeiling(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  // Past ~1000 doublings `2 **` gives Infinity, which `Math.min` turns into the cap: no overflow to fear.
  return Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Delay in ms before reconnect `attempt` (1-based); `random` is injectable for tests. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, options));
}
