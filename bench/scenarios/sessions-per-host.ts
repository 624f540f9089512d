// 3. Sessions per host: resident memory per linked, idle session on one host process, vs the same number
// of raw Baileys sockets in one process. Both are measured in steps (50, 200, 500...) in one process
// each, after a quiet period and a full GC; per session = (RSS now - RSS with none) / sessions.
import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { POOL_IDLE_SECONDS } from '../../shared/db-pool.js';
import type { BenchConfig } from '../lib/config.js';
import { BENCH_APPLICATION, type BenchEnv, type RunningEdgeProc } from '../lib/env.js';
import { linkSession } from '../lib/gateway.js';
import { giveBacksOf, untilGivenBack } from '../lib/give-back.js';
import { type MemoryUsage, procsPss, procUss, waitQuiet } from '../lib/procs.js';
import { metric, type ScenarioResult } from '../lib/report.js';
import { fmt, pool, sleep } from '../lib/stats.js';

const MiB = 2 ** 20;
const KiB = 1024;

interface Step {
  sessions: number;
  memory: MemoryUsage;
  /** Ours: host RSS + edge RSS + PostgreSQL's PSS; the baseline: its RSS. */
  stack: number;
  /** Ours: the parts of `stack` beyond the host. */
  parts?: StackParts;
  linkSeconds: number;
}

interface StackParts {
  edge: number;
  edgeHeap: number;
  /** PostgreSQL's PSS: the postmaster and its helpers, and the backends (one per pooled connection). */
  postgresServer: number;
  postgresBackends: number;
  backends: number;
}

const accountPhone = (side: number, i: number) => `628${side}3${String(i).padStart(8, '0')}`;

export async function sessionsPerHost(
  env: BenchEnv,
  config: BenchConfig,
  result: ScenarioResult,
): Promise<void> {
  const cfg = config.memory;
  const oursSettleMs = Math.max(cfg.settleMs, (POOL_IDLE_SECONDS + 1) * 1000);
  /**
   * At rest, as a deployment would be: connections the linking used and no longer needs are closed, and
   * (`awaitGiveBack`) the host has given back the memory the linking left, once quiet long enough (its
   * give-backs counted past `before`; two minutes at most).
   */
  const atRest = async (hostUrl: string, before: number) => {
    const settled = sleep(oursSettleMs);
    if (config.awaitGiveBack) await untilGivenBack(hostUrl, before);
    await settled;
  };
  result.title = '3. Sessions per host: memory per linked idle session';
  result.ours =
    'one session host process (node-runtime/host/main.ts) with N sessions linked through the API (auth state in PostgreSQL); the whole stack adds the edge (its own process) and PostgreSQL; "one process": the largest N again on a host with the edge in its process, as `npm start` runs them';
  result.baseline = 'one process with N raw Baileys sockets, auth state in memory';
  result.params = {
    sessions: cfg.sessions.join(', '),
    'quiet time before reading (s)': `until idle, then ${cfg.settleMs / 1000} (ours: ${oursSettleMs / 1000}, so idle database connections are closed${config.awaitGiveBack ? ', and until the host has given back the memory the linking left (node-runtime/memory/give-back.ts; two minutes at most)' : ''})`,
    'linking concurrency': cfg.linkConcurrency,
  };
  const sim = await env.startSimulator();
  const ours: Step[] = [];
  const base: Step[] = [];
  let ours0: MemoryUsage | undefined;
  let base0: MemoryUsage | undefined;
  let stack0 = Number.NaN;
  let together: Step | undefined;
  // The whole stack: the host, the edge, and PostgreSQL counted by its proportional share (its shared
  // buffers once over all its processes), the database's memory being what our design adds.
  // `edge` undefined: it runs in the host's process (npm start), its memory is in the host's.
  const stackOf = async (host: MemoryUsage, edge: RunningEdgeProc | undefined) => {
    const [postmaster, ...children] = await env.postgresPids();
    // The bench's own connections are not the stack's.
    const benchPids = new Set(
      (
        await sql<{
          pid: number;
        }>`select pid from pg_stat_activity where application_name = ${BENCH_APPLICATION}`.execute(env.db)
      ).rows.map((r) => r.pid),
    );
    const backends: number[] = [];
    const helpers: number[] = postmaster ? [postmaster] : [];
    for (const pid of children.filter((p) => !benchPids.has(p))) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      // A backend's title is "postgres: user database address ..."; the helpers name their job.
      (/^postgres: \S+ \S+ [\d.:[\]a-f]+/.test(cmdline.replaceAll('\0', ' ')) ? backends : helpers).push(pid);
    }
    const open = await sql<{ name: string; state: string; n: number }>`
      select application_name as name, coalesce(state, backend_type) as state, count(*)::int as n
      from pg_stat_activity where application_name <> ${BENCH_APPLICATION} and backend_type = 'client backend'
      group by 1, 2 order by 1, 2`.execute(env.db);
    env.log(`  connections: ${open.rows.map((r) => `${r.name || '?'} ${r.state} ×${r.n}`).join(', ')}`);
    const parts: StackParts = {
      // After full GCs, as the host's figure is.
      edge: edge ? await procUss(edge.proc.pid) : 0,
      edgeHeap: edge ? (await edge.proc.memory()).heapUsed : 0,
      postgresServer: await procsPss(helpers),
      postgresBackends: await procsPss(backends),
      backends: backends.length,
    };
    return { stack: host.rss + parts.edge + parts.postgresServer + parts.postgresBackends, parts };
  };
  try {
    const host = await env.startHost(sim);
    const edge = await env.startEdge();
    try {
      await waitQuiet([host.proc.pid]);
      ours0 = await host.proc.memory();
      stack0 = (await stackOf(ours0, edge)).stack;
      let linked = 0;
      for (const n of cfg.sessions) {
        const givenBefore = await giveBacksOf(host.url);
        const t0 = Date.now();
        await pool(
          Array.from({ length: n - linked }, (_, k) => linked + k),
          cfg.linkConcurrency,
          (i) => linkSession(edge.url, sim.url, env.adminKey, `mem-${env.tag()}`, accountPhone(1, i)),
        );
        const linkSeconds = (Date.now() - t0) / 1000;
        linked = n;
        await waitQuiet([host.proc.pid, sim.child.pid ?? -1]);
        await atRest(host.url, givenBefore);
        const memory = await host.proc.memory();
        const { stack, parts } = await stackOf(memory, edge);
        ours.push({ sessions: n, memory, stack, parts, linkSeconds });
        env.log(
          `  ours ${n} sessions: RSS ${fmt(memory.rss / MiB)} MiB, whole stack ${fmt(stack / MiB)} MiB (linked in ${fmt(linkSeconds)} s)`,
        );
      }
    } finally {
      await edge.stop();
      await host.stop();
    }

    // The largest step again with the edge in the host's process, as `npm start` runs them.
    const last = cfg.sessions[cfg.sessions.length - 1] ?? 0;
    // A restarted database: its buffers would otherwise hold the keys of the run above's sessions too.
    await env.restartPostgres();
    const stack = await env.startStack(sim);
    try {
      const givenBefore = await giveBacksOf(stack.host.url);
      const t0 = Date.now();
      await pool(
        Array.from({ length: last }, (_, i) => i),
        cfg.linkConcurrency,
        (i) => linkSession(stack.edge.url, sim.url, env.adminKey, `mem1-${env.tag()}`, accountPhone(3, i)),
      );
      const linkSeconds = (Date.now() - t0) / 1000;
      await waitQuiet([stack.host.proc.pid, sim.child.pid ?? -1]);
      await atRest(stack.host.url, givenBefore);
      const memory = await stack.host.proc.memory();
      const { stack: whole, parts } = await stackOf(memory, undefined);
      together = { sessions: last, memory, stack: whole, parts, linkSeconds };
      env.log(`  ours ${last} sessions, one process: whole stack ${fmt(whole / MiB)} MiB`);
    } finally {
      await stack.host.stop();
    }

    const raw = await env.startRaw(sim, 'raw-mem');
    try {
      await waitQuiet([raw.proc.pid]);
      base0 = await raw.memory();
      let linked = 0;
      for (const n of cfg.sessions) {
        const t0 = Date.now();
        await raw.link(
          Array.from({ length: n - linked }, (_, k) => accountPhone(2, linked + k)),
          cfg.linkConcurrency,
        );
        const linkSeconds = (Date.now() - t0) / 1000;
        linked = n;
        await waitQuiet([raw.proc.pid, sim.child.pid ?? -1]);
        await sleep(cfg.settleMs);
        const memory = await raw.memory();
        base.push({ sessions: n, memory, stack: memory.rss, linkSeconds });
        env.log(`  raw  ${n} sockets: RSS ${fmt(memory.rss / MiB)} MiB (linked in ${fmt(linkSeconds)} s)`);
      }
    } finally {
      await raw.close();
    }
  } finally {
    await sim.stop();
  }

  if (ours0 && base0) {
    result.metrics.push(
      metric('RSS with no session', 'MiB', ours0.rss / MiB, base0.rss / MiB, 'lower'),
      metric('whole stack with no session', 'MiB', stack0 / MiB, base0.rss / MiB, 'lower'),
    );
  }
  for (const n of cfg.sessions) {
    const o = ours.find((s) => s.sessions === n);
    const b = base.find((s) => s.sessions === n);
    const per = (s: Step | undefined, zero: MemoryUsage | undefined, field: keyof MemoryUsage) =>
      s && zero ? (s.memory[field] - zero[field]) / n / KiB : Number.NaN;
    result.metrics.push(
      metric(
        `RSS with ${n} sessions`,
        'MiB',
        o ? o.memory.rss / MiB : Number.NaN,
        b ? b.memory.rss / MiB : Number.NaN,
        'lower',
      ),
      metric(
        `whole stack with ${n} sessions`,
        'MiB',
        o ? o.stack / MiB : Number.NaN,
        b ? b.stack / MiB : Number.NaN,
        'lower',
      ),
      metric(`RSS per session, ${n} sessions`, 'KiB', per(o, ours0, 'rss'), per(b, base0, 'rss'), 'lower'),
      metric(
        `JS heap per session, ${n} sessions`,
        'KiB',
        per(o, ours0, 'heapUsed'),
        per(b, base0, 'heapUsed'),
        'lower',
      ),
    );
  }
  const lastBase = base.find((b) => b.sessions === together?.sessions);
  if (together && lastBase) {
    result.metrics.push(
      metric(
        `whole stack with ${together.sessions} sessions, one process (npm start)`,
        'MiB',
        together.stack / MiB,
        lastBase.stack / MiB,
        'lower',
      ),
    );
  }
  // The marginal cost: what each session beyond the previous step added (start-up allocations that the
  // first sessions pay once drop out).
  for (let i = 1; i < cfg.sessions.length; i++) {
    const [from, to] = [cfg.sessions[i - 1] ?? 0, cfg.sessions[i] ?? 0];
    const step = (steps: Step[], of: (s: Step) => number) => {
      const a = steps.find((s) => s.sessions === from);
      const b = steps.find((s) => s.sessions === to);
      return a && b ? (of(b) - of(a)) / (to - from) / KiB : Number.NaN;
    };
    const rss = (s: Step) => s.memory.rss;
    const stack = (s: Step) => s.stack;
    result.metrics.push(
      metric(`RSS per added session, ${from} → ${to}`, 'KiB', step(ours, rss), step(base, rss), 'lower'),
      metric(
        `whole stack per added session, ${from} → ${to}`,
        'KiB',
        step(ours, stack),
        step(base, stack),
        'lower',
      ),
    );
  }
  result.extra = [
    '**What the whole stack is made of** (MiB; PostgreSQL by proportional set size):',
    '',
    '| sessions | host RSS (JS heap) | edge, its own pages (JS heap) | PostgreSQL server processes | PostgreSQL backends (count) | whole stack | raw RSS (JS heap) |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...[...ours, ...(together ? [together] : [])].map((o) => {
      const b = base.find((s) => s.sessions === o.sessions);
      const p = o.parts;
      const both = (rss: number, heap: number) => `${fmt(rss / MiB)} (${fmt(heap / MiB)})`;
      const oneProcess = o === together;
      const label = oneProcess ? `${o.sessions}, one process` : String(o.sessions);
      const edgePart = oneProcess ? 'in the host' : both(p?.edge ?? Number.NaN, p?.edgeHeap ?? Number.NaN);
      return `| ${label} | ${both(o.memory.rss, o.memory.heapUsed)} | ${edgePart} | ${fmt((p?.postgresServer ?? Number.NaN) / MiB)} | ${fmt((p?.postgresBackends ?? Number.NaN) / MiB)} (${p?.backends ?? '?'}) | ${fmt(o.stack / MiB)} | ${b ? both(b.memory.rss, b.memory.heapUsed) : '—'} |`;
    }),
  ];
  const totalLink = (steps: Step[]) => steps.reduce((a, s) => a + s.linkSeconds, 0);
  const last = cfg.sessions[cfg.sessions.length - 1] ?? 0;
  if (ours.length === cfg.sessions.length && base.length === cfg.sessions.length) {
    result.metrics.push(
      metric(
        `linking rate (up to ${last} sessions)`,
        'sessions/s',
        last / totalLink(ours),
        last / totalLink(base),
        'higher',
      ),
    );
  }
  result.notes.push(
    'Memory is read inside each process (process.memoryUsage) after two full GCs (--expose-gc), once the ' +
      'process has been idle (under 5% of a core for a second) and then the quiet time above. Per session = ' +
      '(value now − value with none) ÷ sessions.',
    'Ours gives back what a burst left (node-runtime/memory/give-back.ts): V8 keeps the pages a garbage ' +
      'collection frees, and an ordinary GC, such as the two above, does not return them; the host asks V8 for ' +
      'a last-resort collection, which does, once it has been quiet for a minute with much to give ' +
      'back, and the wait above lets it. The raw baseline runs no such thing: its process keeps the pages its ' +
      'linking freed, as any Node process does.',
    'Ours keeps the Signal keys in PostgreSQL with an LRU cache in front; the baseline keeps every key in ' +
      'the process. The RSS and JS heap rows are the host process alone; the "whole stack" rows add the ' +
      "edge's own pages (its unique set size, after full GCs: the pages of the node binary that host and " +
      'edge both map are counted once, with the host; `npm start` runs the two in one process) and ' +
      "PostgreSQL's proportional set size (PSS: each page shared by its processes counted once over them, " +
      "so the shared buffers are not counted per backend), against the raw process's RSS. " +
      'The database server serves the whole bench run, so its share includes what earlier scenarios left ' +
      'in its buffers; the per-added-session rows are not affected by that.',
    'Linking rate: sessions created, paired by QR and connected per second, with the linking concurrency ' +
      'above (ours: create, QR image through the API, the simulator decodes it, status polled every 100 ms).',
  );
}
