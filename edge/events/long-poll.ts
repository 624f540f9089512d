/** How often a waiting GET /api/events looks at the database again. */
export const POLL_INTERVAL_MS = 250;

/**
 * Calls `read` until it finds something, `waitMs` (real time) has passed, or `signal` aborts (the client
 * went away), looking again every `intervalMs`. Returns the last read.
 */
export async function readUntilFound<T>(
  read: () => Promise<T[]>,
  options: { waitMs: number; signal: AbortSignal; intervalMs?: number },
): Promise<T[]> {
  const interval = options.intervalMs ?? POLL_INTERVAL_MS;
  const deadline = Date.now() + options.waitMs;
  let found = await read();
  while (found.length === 0 && !options.signal.aborted) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(interval, left), options.signal);
    if (options.signal.aborted) break;
    found = await read();
  }
  return found;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
