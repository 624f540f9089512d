// 1. API overhead: GET /api/session/status through the edge vs the host's own route, called directly
// with a JWT signed here (shared/jwt.ts), at a fixed rate and at saturation; with the edge in its own
// process, then in the host's as `npm start` runs it. A bare proxy in front of the same host route shows
// the least any hop costs on this machine.
import { MAX_HOST_TOKEN_TTL_SECONDS, signHostToken } from '../../shared/jwt.js';
import type { SimProcess } from '../../test/wa-sim/process.js';
import type { BenchConfig } from '../lib/config.js';
import type { BenchEnv, RunningEdgeProc, RunningHostProc } from '../lib/env.js';
import { linkSession } from '../lib/gateway.js';
import { type LoadResult, load } from '../lib/load.js';
import { paced } from '../lib/paced.js';
import { cpuMsOf, type Scheduled, scheduledOf, waitQuiet } from '../lib/procs.js';
import { metric, type ScenarioResult } from '../lib/report.js';
import { fmt, median } from '../lib/stats.js';

export async function apiOverhead(env: BenchEnv, config: BenchConfig, result: ScenarioResult): Promise<void> {
  const cfg = config.api;
  result.title = '1. API overhead: GET /api/session/status';
  result.ours =
    'through the edge: key look-up (cached), session owner look-up (cached), its token for the session (reused), forward to the host; the edge in its own process, and in the host\'s as `npm start` runs it ("one process": its calls to the host skip the network)';
  result.baseline =
    "the host's internal route `/internal/sessions/:id/status` called directly with a token signed beforehand (one for the run, as the edge reuses one per session)";
  result.params = {
    'fixed rate (req/s)': cfg.fixedRate,
    'fixed-rate run (s)': cfg.amount ? `${cfg.amount} requests` : cfg.fixedSeconds,
    'saturation run (s)': cfg.amount ? `${cfg.amount} requests` : cfg.saturationSeconds,
    rounds: `${cfg.rounds} (each run split into them; the paths take turns within each; the figures are medians)`,
    'connections (fixed / saturation)': `${Math.max(1, Math.round(cfg.connections / 5))} / ${cfg.connections}`,
    'warm-up per path, untimed (s), at the fixed rate / at saturation': `${cfg.warmupSeconds} / ${cfg.saturationWarmupSeconds}`,
    'lead-in per fixed-rate round, untimed (s)': cfg.leadInSeconds,
  };
  const sim = await env.startSimulator();
  try {
    // The edge in its own process first (the rows without a suffix), then in the host's process as
    // `npm start` runs it (the rows "one process").
    const host = await env.startHost(sim);
    const edge = await env.startEdge();
    const apart = await measureStack(env, cfg, result, { sim, host, edge, kind: 'apart' }).finally(
      async () => {
        await edge.stop();
        await host.stop();
      },
    );
    const stack = await env.startStack(sim);
    const together = await measureStack(env, cfg, result, { ...stack, sim, kind: 'one process' }).finally(
      () => stack.host.stop(),
    );
    const at = `at ${cfg.fixedRate} req/s`;
    const m =
      (name: string, unit: string, pick: (r: Measured) => number, better: 'lower' | 'higher') =>
      (x: { ours: Measured; base: Measured }) =>
        metric(name, unit, pick(x.ours), pick(x.base), better);
    if (apart.fixed.bare && apart.sat.bare) {
      const fixed = { ours: apart.fixed.bare, base: apart.fixed.base };
      const sat = { ours: apart.sat.bare, base: apart.sat.base };
      const suffix = ', a bare proxy (the least a hop costs)';
      result.notes.push(
        `What a bare proxy adds at ${cfg.fixedRate} req/s: ${fmt(fixed.ours.p50Ms - fixed.base.p50Ms)} ms ` +
          `at the median and ${fmt(fixed.ours.p99Ms - fixed.base.p99Ms)} ms at p99. The bare proxy ` +
          '(bench/procs/bare-proxy.ts) is a Node HTTP server that sends each request to the host route with ' +
          "the host's token over undici, as the edge's Node entry did before its calls to a host went over " +
          'one kept channel (BENCHMARKS.md, forty-third round), and nothing else: no key, no look-up, no ' +
          'middleware. Its rows are the floor for a hop that sends each call as an HTTP request of its own.',
      );
      result.metrics.push(
        m(`p50 latency ${at}${suffix}`, 'ms', (r) => r.p50Ms, 'lower')(fixed),
        m(`p99 latency ${at}${suffix}`, 'ms', (r) => r.p99Ms, 'lower')(fixed),
        m(`throughput at saturation${suffix}`, 'req/s', (r) => r.okRps, 'higher')(sat),
        m(`CPU per request at saturation${suffix}`, 'µs', (r) => r.cpuUs, 'lower')(sat),
      );
    }
    for (const [{ fixed, sat }, suffix] of [
      [apart, ''],
      [together, ', one process (npm start)'],
    ] as const) {
      result.notes.push(
        `What the edge adds at ${cfg.fixedRate} req/s${suffix}: ${fmt(fixed.ours.p50Ms - fixed.base.p50Ms)} ms ` +
          `at the median and ${fmt(fixed.ours.p99Ms - fixed.base.p99Ms)} ms at p99 (ours minus the direct call).`,
        scheduledNote(`at ${cfg.fixedRate} req/s${suffix}`, fixed),
        scheduledNote(`at saturation${suffix}`, sat),
      );
      result.metrics.push(
        m(`p50 latency ${at}${suffix}`, 'ms', (r) => r.p50Ms, 'lower')(fixed),
        m(`p99 latency ${at}${suffix}`, 'ms', (r) => r.p99Ms, 'lower')(fixed),
        m(`achieved rate (target ${cfg.fixedRate})${suffix}`, 'req/s', (r) => r.okRps, 'higher')(fixed),
        m(`throughput at saturation${suffix}`, 'req/s', (r) => r.okRps, 'higher')(sat),
        m(`p50 latency at saturation${suffix}`, 'ms', (r) => r.p50Ms, 'lower')(sat),
        m(`p99 latency at saturation${suffix}`, 'ms', (r) => r.p99Ms, 'lower')(sat),
        m(`CPU per request at saturation${suffix}`, 'µs', (r) => r.cpuUs, 'lower')(sat),
        m(`of which kernel (system) time${suffix}`, 'µs', (r) => r.sysUs, 'lower')(sat),
      );
    }
    result.notes.push(
      'Latencies are per request as autocannon saw them (recorded at full precision from its response events; ' +
        'only 2xx answers count). Throughput counts 2xx answers per second of wall time.',
      'CPU per request: user + system CPU time (from /proc) during the run, divided by the requests answered: ' +
        "ours = edge + host + PostgreSQL, baseline = host + PostgreSQL (the load generator's own CPU is not " +
        'counted). The kernel row is the system-time part: network syscalls on loopback, mostly.',
      'The fixed rate is evenly paced and open loop (bench/lib/paced.ts): request i is due at i ÷ rate ' +
        'seconds, sent then over keep-alive connections whatever the earlier ones are doing, and its latency ' +
        "counts from when it was due, so queueing behind a slow answer is counted. (autocannon's " +
        "`overallRate` fires each second's quota at once and measures bursts.) Saturation is autocannon " +
        'with the connections above, each sending its next request when the last is answered.',
      'Before each measured run, each path (through the edge, straight to the host, through the bare proxy) ' +
        'is driven the same way for the warm-up above, untimed. A process answers its first seconds at ' +
        'saturation more slowly (JIT, heap sizes, pooled connections): without a warm-up there, the edge went ' +
        '8.3k, 9.8k, 10.0k, 9.6k, 10.5k and 10.4k req/s over six 6-second runs in a row, and the host it ' +
        'called used 62 µs per request in the first and 46 in the last. Measured first, the edge ran cold ' +
        "while the host, measured after it, had been warmed by the edge's calls. Each fixed-rate round also " +
        'begins with the lead-in above, at the rate on the same connections, untimed (its CPU too): the paths ' +
        "take turns, so each round started on processes idle through the others' rounds, and most rounds " +
        'through the edge stalled 10–30 ms in their first 150 ms, which a steady 500 req/s never sees.',
      'The load generator runs in the bench process, on the same 2 cores as the edge, the host, PostgreSQL and ' +
        'the simulator: at saturation the figures are what this one machine does with all of them, not a ' +
        'server in isolation.',
    );
  } finally {
    await sim.stop();
  }
}

/** What the scheduler counted per request for each process of a path (`Scheduled`, divided by the requests). */
type PerProcess = Record<string, Scheduled>;

type Measured = LoadResult & { cpuUs: number; sysUs: number; scheduled: PerProcess };

/** Each rate, latency and CPU figure's median over the rounds; counts summed. */
function medianOf(runs: readonly Measured[]): Measured {
  const mid = (pick: (m: Measured) => number) => median(runs.map(pick));
  const sum = (pick: (m: Measured) => number) => runs.reduce((total, m) => total + pick(m), 0);
  return {
    rps: mid((m) => m.rps),
    okRps: mid((m) => m.okRps),
    p50Ms: mid((m) => m.p50Ms),
    p99Ms: mid((m) => m.p99Ms),
    meanMs: mid((m) => m.meanMs),
    cpuUs: mid((m) => m.cpuUs),
    sysUs: mid((m) => m.sysUs),
    scheduled: Object.fromEntries(
      Object.keys(runs[0]?.scheduled ?? {}).map((name) => {
        const of = (field: keyof Scheduled) => mid((m) => m.scheduled[name]?.[field] ?? 0);
        return [
          name,
          { runUs: of('runUs'), waitUs: of('waitUs'), switches: of('switches'), preempted: of('preempted') },
        ];
      }),
    ),
    requests: sum((m) => m.requests),
    non2xx: sum((m) => m.non2xx),
    errors: sum((m) => m.errors),
    seconds: sum((m) => m.seconds),
  };
}
/** Through the edge, straight to the host, and (edge apart) through the bare proxy. */
type Compared = { ours: Measured; base: Measured; bare?: Measured };

/**
 * Each path's processes, per request: where a hop's time goes when the CPU it used does not add up to its
 * latency (a process woken per request waits for a CPU, and is switched out again, on every call).
 */
function scheduledNote(label: string, compared: Compared): string {
  const paths: [string, Measured | undefined][] = [
    ['through the edge', compared.ours],
    ['straight to the host', compared.base],
    ['through the bare proxy', compared.bare],
  ];
  const told = paths.flatMap(([path, m]) =>
    m
      ? [
          `${path}: ${Object.entries(m.scheduled)
            .map(
              ([name, s]) =>
                `${name} ${fmt(s.runUs)} / ${fmt(s.waitUs)} µs, ${fmt(s.switches)} (${fmt(s.preempted)})`,
            )
            .join(', ')}`,
        ]
      : [],
  );
  return (
    `Per request ${label}, as the scheduler counted each process (µs on a CPU / µs runnable but waiting ` +
    `for one, times switched out (of which preempted); /proc/<pid>/task/*/schedstat): ${told.join('; ')}.`
  );
}

/** Links a session through `edge`, then measures the status call through it and straight to `host`. */
async function measureStack(
  env: BenchEnv,
  cfg: BenchConfig['api'],
  result: ScenarioResult,
  { sim, host, edge, kind }: { sim: SimProcess; host: RunningHostProc; edge: RunningEdgeProc; kind: string },
): Promise<{ fixed: Compared; sat: Compared }> {
  const name = `api-${env.tag()}`;
  const linked = await linkSession(edge.url, sim.url, env.adminKey, name, `6281100${env.tag()}0001`);
  const row = await env.db
    .selectFrom('sessions')
    .select(['id', 'host_id'])
    .where('tenant_id', '=', env.tenantId)
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  if (row.host_id !== host.id) throw new Error(`session placed on ${row.host_id}, not ${host.id}`);
  const procs = edge.proc === host.proc ? [host] : [edge, host];
  await waitQuiet([...procs.map((p) => p.proc.pid), sim.child.pid ?? -1]);
  const edgeTarget = { url: `${edge.url}/api/session/status`, headers: { 'x-api-key': linked.key } };
  const hostUrl = `${host.url}/internal/sessions/${row.id}/status`;
  const claims = { hostId: host.id, tenantId: env.tenantId, sessionId: row.id };
  // One token per run (a minute at most), as the edge reuses one per session (the host keeps the ones it
  // verified).
  const hostTarget = async () => {
    const token = await signHostToken({
      secret: env.secret,
      ...claims,
      scope: 'session',
      ttlSeconds: MAX_HOST_TOKEN_TTL_SECONDS,
    });
    return { url: hostUrl, headers: { authorization: `Bearer ${token}` } };
  };
  // Edge apart only: in one process there is no hop to compare with.
  const bare = kind === 'apart' ? await env.startBareProxy(hostUrl, claims) : undefined;
  const fixedConnections = Math.max(1, Math.round(cfg.connections / 5));
  const ourProcesses: Record<string, number> =
    kind === 'apart' ? { edge: edge.proc.pid, host: host.proc.pid } : { 'edge and host': host.proc.pid };
  const run = async (
    label: string,
    opts: { rate?: number; seconds: number; connections: number },
    rounds = 1,
  ) => {
    const seconds = Math.max(1, opts.seconds / rounds);
    const common = {
      connections: opts.connections,
      duration: seconds,
      ...(opts.rate ? { rate: opts.rate } : {}),
      ...(cfg.amount ? { amount: cfg.amount } : {}),
    };
    const pg = await env.postgresPids();
    // CPU counts from the start, or from the first measured request when the run says (after a lead-in).
    // `watched`: the path's own processes by name, whose scheduling is told apart.
    const measure = async (
      pids: number[],
      watched: Record<string, number>,
      work: (onMeasuring: () => void) => Promise<LoadResult>,
    ) => {
      const named = Object.entries(watched);
      const read = () =>
        Promise.all([
          cpuMsOf(pids),
          cpuMsOf(pids, 'system'),
          Promise.all(named.map(([, pid]) => scheduledOf(pid))),
        ]);
      let from = read();
      const r = await work(() => {
        from = read();
      });
      const [all0, sys0, sched0] = await from;
      const [all1, sys1, sched1] = await read();
      const requests = Math.max(1, r.requests);
      const per = (ms: number) => (ms * 1000) / requests;
      const scheduled: PerProcess = {};
      named.forEach(([name], i) => {
        const [a, b] = [sched0[i], sched1[i]] as [Scheduled, Scheduled];
        scheduled[name] = {
          runUs: (b.runUs - a.runUs) / requests,
          waitUs: (b.waitUs - a.waitUs) / requests,
          switches: (b.switches - a.switches) / requests,
          preempted: (b.preempted - a.preempted) / requests,
        };
      });
      return { ...r, cpuUs: per(all1 - all0), sysUs: per(sys1 - sys0), scheduled };
    };
    // A fixed rate is evenly paced (open loop); saturation is autocannon's closed loop.
    const drive = (target: { url: string; headers?: Record<string, string> }) => (onMeasuring: () => void) =>
      opts.rate
        ? paced({
            ...target,
            rate: opts.rate,
            seconds: cfg.amount ? cfg.amount / opts.rate : seconds,
            connections: opts.connections,
            leadInSeconds: cfg.leadInSeconds,
            onMeasuring,
          })
        : load({ ...target, ...common });
    const direct = await hostTarget();
    // In rounds, each path once per round in an order that turns by one: a drift of the machine falls on
    // all of them, and each figure is the median of its rounds.
    const paths = [
      {
        who: 'ours',
        go: (round: number) =>
          measure([...procs.map((p) => p.proc.pid), ...pg], ourProcesses, (onMeasuring) =>
            round === 0
              ? env.profile(`api-${kind === 'apart' ? '' : 'stack-'}${label}`, procs, () =>
                  drive(edgeTarget)(onMeasuring),
                )
              : drive(edgeTarget)(onMeasuring),
          ),
      },
      { who: 'base', go: () => measure([host.proc.pid, ...pg], { host: host.proc.pid }, drive(direct)) },
      ...(bare
        ? [
            {
              who: 'bare',
              go: () =>
                measure(
                  [bare.proc.pid, host.proc.pid, ...pg],
                  { 'bare proxy': bare.proc.pid, host: host.proc.pid },
                  drive({ url: bare.url }),
                ),
            },
          ]
        : []),
    ];
    const runs = new Map<string, Measured[]>(paths.map((p) => [p.who, []]));
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(i + round) % paths.length] as (typeof paths)[number];
        runs.get(path.who)?.push(await path.go(round));
      }
    }
    const ours = medianOf(runs.get('ours') ?? []);
    const base = medianOf(runs.get('base') ?? []);
    const viaBare = bare ? medianOf(runs.get('bare') ?? []) : undefined;
    const line = (who: string, r: Measured) =>
      `${who} ${fmt(r.rps)} req/s p50 ${fmt(r.p50Ms)} ms p99 ${fmt(r.p99Ms)} ms`;
    env.log(
      `  ${label}: ${line('edge', ours)} | ${line('host', base)}${viaBare ? ` | ${line('bare proxy', viaBare)}` : ''}`,
    );
    const compared: Compared = { ours, base, ...(viaBare ? { bare: viaBare } : {}) };
    for (const [who, r] of Object.entries(compared)) {
      if (r.non2xx > 0 || r.errors > 0) {
        result.notes.push(`${kind}, ${label}, ${who}: ${r.non2xx} non-2xx answers and ${r.errors} errors.`);
      }
    }
    return compared;
  };

  // Each measured run comes after a warm-up of its own kind, untimed; what a warm-up noted is not reported.
  const warmUp = async (label: string, opts: { rate?: number; seconds: number; connections: number }) => {
    if (opts.seconds <= 0) return;
    const kept = result.notes.length;
    await run(label, opts);
    result.notes.splice(kept);
  };
  try {
    await warmUp('warm-up', {
      rate: cfg.fixedRate,
      seconds: cfg.warmupSeconds,
      connections: fixedConnections,
    });
    const fixed = await run(
      `fixed ${cfg.fixedRate} req/s`,
      { rate: cfg.fixedRate, seconds: cfg.fixedSeconds, connections: fixedConnections },
      cfg.rounds,
    );
    // Every path, each in turn, as busy as it will be measured (JIT, heap sizes, pooled connections).
    await warmUp('warm-up at saturation', {
      seconds: cfg.saturationWarmupSeconds,
      connections: cfg.connections,
    });
    const sat = await run(
      'saturation',
      { seconds: cfg.saturationSeconds, connections: cfg.connections },
      cfg.rounds,
    );
    return { fixed, sat };
  } finally {
    await bare?.stop();
  }
}
