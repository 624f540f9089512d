// HTTP load with autocannon, with latencies recorded at full precision (autocannon's own histogram has a
// 1 ms floor, too coarse for calls that take a millisecond or less).
import autocannon from 'autocannon';
import { quantile, Samples } from './stats.js';

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  /** One bearer token per request, each used once (the host refuses a replayed JWT id). */
  tokens?: string[];
  connections: number;
  /** Seconds; the run ends early when `tokens` run out. */
  duration: number;
  /** Requests per second over all connections; omitted: as fast as the server answers. */
  rate?: number;
  /** A fixed number of requests instead of a duration. */
  amount?: number;
}

export interface LoadResult {
  /** Completed requests (any status) per second of wall time. */
  rps: number;
  /** 2xx answers per second of the run (up to the last 2xx answer when the tokens ran out). */
  okRps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  requests: number;
  non2xx: number;
  errors: number;
  seconds: number;
  /** The token pool ran out before `duration`. */
  exhausted: boolean;
}

export async function load(opts: LoadOptions): Promise<LoadResult> {
  const latencies = new Samples();
  let next = 0;
  let exhausted = false;
  const tokens = opts.tokens;
  // Stop while each connection still has a token for the request it may already be sending.
  const reserve = opts.connections * 2;
  let instance: autocannon.Instance | undefined;
  const t0 = performance.now();
  let lastOkAt = t0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const started = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        duration: opts.duration,
        ...(opts.amount !== undefined ? { amount: opts.amount } : {}),
        ...(opts.rate !== undefined ? { overallRate: opts.rate } : {}),
        headers: opts.headers ?? {},
        requests: tokens
          ? [
              {
                method: 'GET',
                setupRequest: (req) => {
                  if (next >= tokens.length - reserve && !exhausted) {
                    exhausted = true;
                    instance?.stop();
                  }
                  const token = tokens[Math.min(next++, tokens.length - 1)];
                  return { ...req, headers: { ...req.headers, authorization: `Bearer ${token}` } };
                },
              },
            ]
          : [{ method: 'GET' }],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance = started;
    started.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) {
        latencies.push(ms);
        lastOkAt = performance.now();
      }
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  const values = latencies.values();
  const completed = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  return {
    rps: completed / seconds,
    // A run whose token pool ran out counts up to its last success: what follows is not the server's work.
    okRps: latencies.length / (exhausted ? Math.max(1e-3, (lastOkAt - t0) / 1000) : seconds),
    p50Ms: quantile(values, 0.5),
    p99Ms: quantile(values, 0.99),
    meanMs: values.reduce((a, b) => a + b, 0) / (values.length || 1),
    requests: completed,
    non2xx: result.non2xx,
    errors: result.errors,
    seconds,
    exhausted,
  };
}
