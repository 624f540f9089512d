// Requests answered, by route pattern, method and status, with their time: counted in plain numbers per
// series and formatted only when scraped. prom-client's own `inc` and `observe` work the series out of a
// label object on every call (hashing and checking it), which was about 6% of a host's busy time on a status call.
// The two metrics are registered with prom-client's registry like its own, with the same exposition.
import type { Metric, Registry } from 'prom-client';

type Labels = Record<string, string | number>;
/** One exposed line: prom-client's shape for a metric's values. */
type Value = { labels: Labels; value: number; metricName?: string };

/** Per upper bound (the last one +Inf), not cumulative: made cumulative when scraped. */
type Timing = { labels: Labels; buckets: number[]; sum: number; count: number };

export class RequestTally {
  private readonly counts = new Map<string, Value>();
  private readonly timings = new Map<string, Timing>();

  constructor(
    registry: Registry,
    names: { requests: string; seconds: string },
    private readonly bounds: readonly number[],
  ) {
    const register = (
      name: string,
      help: string,
      type: 'counter' | 'histogram',
      series: Map<string, unknown>,
      values: () => Value[],
    ) => {
      const head = { name, help, type, aggregator: 'sum' };
      const metric = {
        ...head,
        get: async () => ({ ...head, values: values() }),
        reset: () => series.clear(),
      };
      registry.registerMetric(metric as unknown as Metric);
    };
    register(
      names.requests,
      'Requests answered, by route pattern, method and status',
      'counter',
      this.counts,
      () => [...this.counts.values()],
    );
    register(
      names.seconds,
      'Time to answer a request, by route pattern and method',
      'histogram',
      this.timings,
      () => [...this.timings.values()].flatMap((timing) => this.histogramLines(names.seconds, timing)),
    );
  }

  /** One answered request; `route` is the pattern (bounded), never the path. */
  record(route: string, method: string, status: number, seconds: number): void {
    const series = `${method} ${route}`;
    let timing = this.timings.get(series);
    if (!timing) {
      timing = {
        labels: { route, method },
        buckets: new Array(this.bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.timings.set(series, timing);
    }
    let bucket = 0;
    while (bucket < this.bounds.length && seconds > (this.bounds[bucket] ?? Infinity)) bucket++;
    timing.buckets[bucket] = (timing.buckets[bucket] ?? 0) + 1;
    timing.sum += seconds;
    timing.count++;
    const answered = `${series} ${status}`;
    const count = this.counts.get(answered);
    if (count) count.value++;
    else this.counts.set(answered, { labels: { route, method, status: String(status) }, value: 1 });
  }

  private histogramLines(name: string, timing: Timing): Value[] {
    const lines: Value[] = [];
    let total = 0;
    for (const [i, le] of this.bounds.entries()) {
      total += timing.buckets[i] ?? 0;
      lines.push({
        labels: { le, ...timing.labels },
        value: total,
        metricName: `${name}_bucket`,
      });
    }
    lines.push(
      { labels: { le: '+Inf', ...timing.labels }, value: timing.count, metricName: `${name}_bucket` },
      { labels: timing.labels, value: timing.sum, metricName: `${name}_sum` },
      { labels: timing.labels, value: timing.count, metricName: `${name}_count` },
    );
    return lines;
  }
}
