// HTTP load with autocannon, with latencies recorded at full precision (autocannon's own histogram has a
// 1 ms floor, too coarse for calls that take a millisecond or less).
import autocannon from 'autocannon';
import { quantile, Samples } from './stats.js';

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  /** Seconds. */
  duration: number;
  /** Requests per second over all connections; omitted: as fast as the server answers. */
  rate?: number;
  /** A fixed number of requests instead of a duration. */
  amount?: number;
}

export interface LoadResult {
  /** Completed requests (any status) per second of wall time. */
  rps: number;
  /** 2xx answers per second of the run. */
  okRps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  requests: number;
  non2xx: number;
  errors: number;
  seconds: number;
}

export async function load(opts: LoadOptions): Promise<LoadResult> {
  const latencies = new Samples();
  const t0 = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const started = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        duration: opts.duration,
        ...(opts.amount !== undefined ? { amount: opts.amount } : {}),
        ...(opts.rate !== undefined ? { overallRate: opts.rate } : {}),
        headers: opts.headers ?? {},
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    started.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  const values = latencies.values();
  const completed = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  return {
    rps: completed / seconds,
    okRps: latencies.length / seconds,
    p50Ms: quantile(values, 0.5),
    p99Ms: quantile(values, 0.99),
    meanMs: values.reduce((a, b) => a + b, 0) / (values.length || 1),
    requests: completed,
    non2xx: result.non2xx,
    errors: result.errors,
    seconds,
  };
}
