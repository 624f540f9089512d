// An evenly paced, open-loop load: request i is due at start + i / rate whatever happened to the ones
// before it, and its latency counts from when it was due, so a server that falls behind shows the
// queueing it causes (no coordinated omission). autocannon's `overallRate` instead fires each second's
// quota as fast as it can, which measures bursts.
import { Pool } from 'undici';
import type { LoadResult } from './load.js';
import { quantile, Samples } from './stats.js';

export interface PacedOptions {
  url: string;
  headers?: Record<string, string>;
  /** Requests per second. */
  rate: number;
  seconds: number;
  /** Keep-alive connections the requests share. */
  connections: number;
  /**
   * Seconds at the same rate, on the same connections, before the measured requests, untimed: the run
   * then starts in the steady state rather than on processes that sat idle.
   */
  leadInSeconds?: number;
  /** Called when the first measured request is due (after the lead-in). */
  onMeasuring?: () => void;
}

export async function paced(opts: PacedOptions): Promise<LoadResult> {
  const { origin, pathname, search } = new URL(opts.url);
  const pool = new Pool(origin, { connections: opts.connections, pipelining: 1 });
  const leadIn = Math.round(opts.rate * (opts.leadInSeconds ?? 0));
  const total = leadIn + Math.round(opts.rate * opts.seconds);
  const latencies = new Samples();
  let non2xx = 0;
  let errors = 0;
  let issued = 0;
  const inFlight = new Set<Promise<void>>();
  const start = performance.now() + 5;
  const one = async (due: number, counted: boolean) => {
    try {
      const res = await pool.request({ path: pathname + search, method: 'GET', headers: opts.headers });
      await res.body.dump();
      if (!counted) return;
      if (res.statusCode >= 200 && res.statusCode < 300) latencies.push(performance.now() - due);
      else non2xx++;
    } catch {
      if (counted) errors++;
    }
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (issued < total && start + (issued * 1000) / opts.rate <= now) {
        if (issued === leadIn) opts.onMeasuring?.();
        const due = start + (issued * 1000) / opts.rate;
        const p = one(due, issued++ >= leadIn).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (issued >= total) return resolve();
      // Wake for the next due request; timers fire late by up to a millisecond, counted in its latency.
      setTimeout(tick, Math.max(0, start + (issued * 1000) / opts.rate - performance.now()));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  await Promise.all(inFlight);
  const seconds = (performance.now() - start) / 1000 - leadIn / opts.rate;
  await pool.close();
  const values = latencies.values();
  return {
    rps: (latencies.length + non2xx) / seconds,
    okRps: latencies.length / seconds,
    p50Ms: quantile(values, 0.5),
    p99Ms: quantile(values, 0.99),
    meanMs: values.reduce((a, b) => a + b, 0) / (values.length || 1),
    requests: latencies.length + non2xx + errors,
    non2xx,
    errors,
    seconds,
  };
}
