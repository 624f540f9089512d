// When a failed webhook delivery is tried again: Svix's published schedule (5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h), then every 10 hours, each delay jittered so that endpoints that failed together do not come back
// together. A delivery is given up (dead) once it has failed for 3 days; an endpoint that has failed
// every attempt for 5 days is disabled.

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type RetryPolicy = {
  /** Delay before the retry after the n-th failure (the last one repeats). */
  delaysMs: number[];
  /** ±fraction of each delay, drawn uniformly. */
  jitter: number;
  /** A delivery failing for this long since its first attempt is dead. */
  giveUpAfterMs: number;
  /** An endpoint failing every attempt for this long is disabled. */
  disableAfterMs: number;
  /** After this many failures in a row of the oldest delivery, the next one is tried to tell a down
   * endpoint (everything fails: keep order, wait) from one bad delivery (set it aside, go on). */
  probeAfterFailures: number;
};

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  delaysMs: [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR],
  jitter: 0.2,
  giveUpAfterMs: 3 * DAY,
  disableAfterMs: 5 * DAY,
  probeAfterFailures: 3,
};

/** Milliseconds to wait after the `failures`-th failure (1-based). */
export function retryDelayMs(
  failures: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const { delaysMs } = policy;
  const base = delaysMs[Math.min(Math.max(failures, 1), delaysMs.length) - 1] ?? 0;
  return Math.round(base * (1 + policy.jitter * (2 * random() - 1)));
}
