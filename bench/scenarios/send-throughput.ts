// 2. Send throughput: messages per second accepted (the API, or Baileys' sendMessage, answered) and
// delivered (the simulated contact decrypted them) for 1, 10 and 50 linked sessions, through
// `POST /api/send` (waits for WhatsApp's ack) and the outbox (`POST /api/messages`, answers 202 at once),
// vs raw Baileys sockets with in-memory auth state sending the same messages to the same simulator. Also
// where a message's CPU goes: raw, raw with the host's onWhatsApp check, the host called directly, the edge.
// A second baseline runs the same raw sockets on Baileys' own file auth state (useMultiFileAuthState).
import { join } from 'node:path';
import { queueMessage } from '../../edge/outbox/queries.js';
import { signHostToken } from '../../shared/jwt.js';
import type { BenchConfig } from '../lib/config.js';
import type { BenchEnv, Profilable } from '../lib/env.js';
import {
  api,
  awaitDelivery,
  type LinkedSession,
  linkSession,
  registerContacts,
  untilConnected,
} from '../lib/gateway.js';
import { giveBacksOf, untilGivenBack } from '../lib/give-back.js';
import { CPU_SETTLE, cpuOnceSettled, cpuSplit, waitQuiet } from '../lib/procs.js';
import type { RawBaileys } from '../lib/raw.js';
import { metric, type ScenarioResult } from '../lib/report.js';
import { fmt, fmtRatio, median, pool, ratio } from '../lib/stats.js';

export interface SendFigures {
  accepted: number;
  failed: number;
  acceptedPerS: number;
  delivered: number;
  deliveredPerS: number;
  complete: boolean;
  /** CPU ms per accepted message, by process (host, edge, postgres, sim; or raw, sim). */
  cpuPerMessage: Record<string, number>;
  /** The kernel (system) part of it. */
  sysPerMessage: Record<string, number>;
  /** The share of the span its event loop was busy, by process that reports it (`wa_event_loop_busy_seconds_total`). */
  loopBusy: Record<string, number>;
  /** How long after the last delivery the processes were still busy (counted in the CPU above), ms. */
  settledMs: number;
}

export interface Sent {
  startedAt: number;
  lastAcceptedAt: number;
  accepted: number;
  failed: number;
  /** Accepted messages per contact: what can be delivered. */
  acceptedBy: Map<string, number>;
  statuses: Map<number, number>;
}

export interface Job {
  session: number;
  contact: string;
  texts: string[];
}

const now = () => performance.timeOrigin + performance.now();

/** 13-digit numbers: side (1 ours, 2 raw), run, index; distinct per run so every inbox starts empty. */
const accountPhone = (side: number, i: number) => `628${side}2${String(i).padStart(8, '0')}`;
/** The contact that session `i` of run `run` sends to: every session of every run has its own. */
export const contactPhone = (side: number, run: number, i: number) =>
  `629${side}${String(run).padStart(3, '0')}${String(i).padStart(6, '0')}`;

/** One run's sends, its contacts registered with the simulator (untimed; see `registerContacts`). */
async function plan(
  config: BenchConfig,
  simUrl: string,
  side: number,
  run: number,
  sessions: number,
  per = config.send.messagesPerSession(sessions),
): Promise<Job[]> {
  const jobs = Array.from({ length: sessions }, (_, s) => ({
    session: s,
    contact: contactPhone(side, run, s),
    texts: Array.from({ length: per }, (_, k) => `bench ${run}/${s}/${k} ✓`),
  }));
  await registerContacts(simUrl, jobs);
  return jobs;
}

/** One way of sending, measured in rounds beside the others: its processes, and how it sends a run. */
type SendPath = {
  /** Its name in notes and logs. */
  who: string;
  /** The numbering side of its contacts (see `contactPhone`). */
  side: number;
  groups: () => Promise<Record<string, number[]>>;
  /** The metrics URLs of its processes that count their event loop's busy time, by process. */
  loops?: Record<string, string>;
  send: (jobs: Job[]) => () => Promise<Sent>;
  /** Profiled in its first round (with `--profile`). */
  profile?: { label: (sessions: number) => string; procs: Profilable[] };
  /** Each round's figures, by number of sessions. */
  runs: Map<number, SendFigures[]>;
};

const sendPath = (
  who: string,
  side: number,
  groups: SendPath['groups'],
  send: SendPath['send'],
  profile?: SendPath['profile'],
  loops?: SendPath['loops'],
): SendPath => ({ who, side, groups, loops, send, profile, runs: new Map() });

/** Each figure's median over a path's rounds (CPU process by process); complete only if every round was. */
function medianFigures(runs: readonly SendFigures[]): SendFigures {
  const mid = (pick: (f: SendFigures) => number) => median(runs.map(pick));
  const byProcess = (pick: (f: SendFigures) => Record<string, number>) =>
    Object.fromEntries(
      [...new Set(runs.flatMap((f) => Object.keys(pick(f))))].map((k) => [k, mid((f) => pick(f)[k] ?? 0)]),
    );
  return {
    accepted: mid((f) => f.accepted),
    failed: runs.reduce((sum, f) => sum + f.failed, 0),
    acceptedPerS: mid((f) => f.acceptedPerS),
    delivered: mid((f) => f.delivered),
    deliveredPerS: mid((f) => f.deliveredPerS),
    complete: runs.every((f) => f.complete),
    cpuPerMessage: byProcess((f) => f.cpuPerMessage),
    sysPerMessage: byProcess((f) => f.sysPerMessage),
    settledMs: mid((f) => f.settledMs),
    loopBusy: byProcess((f) => f.loopBusy),
  };
}

/** A path's figures at `sessions`, the medians of its rounds; undefined when it has none. */
const medianOf = (path: SendPath | undefined, sessions: number): SendFigures | undefined => {
  const runs = path?.runs.get(sessions);
  return runs?.length ? medianFigures(runs) : undefined;
};

/** The targets' ratios round by round (each against the baseline measured in the same round): the spread. */
function roundNotes(result: ScenarioResult, sessions: readonly number[], paths: readonly SendPath[]) {
  const find = (who: string) => paths.find((p) => p.who === who);
  const [api, outbox, mem, file] = ['ours', 'outbox', 'baseline', 'file-auth baseline'].map(find);
  const perRound = (
    ours: SendPath | undefined,
    base: SendPath | undefined,
    n: number,
    k: 'acceptedPerS' | 'deliveredPerS',
  ) => {
    const a = ours?.runs.get(n) ?? [];
    const b = base?.runs.get(n) ?? [];
    return a.map((f, i) => fmtRatio(ratio(f[k], b[i]?.[k]))).join(', ');
  };
  for (const n of sessions) {
    if ((api?.runs.get(n)?.length ?? 0) < 2) continue; // one round: its figures are in the table
    result.notes.push(
      `Round by round, ${n} session${n === 1 ? '' : 's'} (each against the baseline of the same round): ` +
        `\`/api/send\` accepted against file auth ${perRound(api, file, n, 'acceptedPerS')}; ` +
        `the outbox delivered against file auth ${perRound(outbox, file, n, 'deliveredPerS')}, ` +
        `against raw in memory ${perRound(outbox, mem, n, 'deliveredPerS')}.`,
    );
  }
}

/** Sends every job's texts, `inflight` at a time per session, through `post` (answers an HTTP status). */
export async function sendAll(
  jobs: Job[],
  inflight: number,
  post: (job: Job, text: string) => Promise<number>,
): Promise<Sent> {
  const startedAt = now();
  const sent: Sent = {
    startedAt,
    lastAcceptedAt: startedAt,
    accepted: 0,
    failed: 0,
    acceptedBy: new Map(),
    statuses: new Map(),
  };
  await Promise.all(
    jobs.flatMap((job) => {
      let next = 0;
      const worker = async () => {
        for (;;) {
          const text = job.texts[next++];
          if (text === undefined) return;
          const status = await post(job, text).catch(() => 0);
          sent.statuses.set(status, (sent.statuses.get(status) ?? 0) + 1);
          if (status === 200 || status === 202) {
            sent.accepted++;
            sent.acceptedBy.set(job.contact, (sent.acceptedBy.get(job.contact) ?? 0) + 1);
            sent.lastAcceptedAt = now();
          } else sent.failed++;
        }
      };
      return Array.from({ length: Math.min(inflight, job.texts.length) }, worker);
    }),
  );
  return sent;
}

export const sumExceptSim = (cpu: Record<string, number>) =>
  Object.entries(cpu).reduce((a, [k, v]) => (k === 'sim' ? a : a + v), 0);

/** Each process's event loop busy time so far, in seconds, and when it was read (ms). */
async function loopsBusy(loops: Record<string, string>) {
  const out: Record<string, { busy: number; at: number }> = {};
  for (const [name, url] of Object.entries(loops)) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('wa_event_loop_busy_seconds_total '));
    if (line) out[name] = { busy: Number(line.slice(line.lastIndexOf(' ') + 1)), at: now() };
  }
  return out;
}

/**
 * Runs one send: CPU of `groups` from the first send until they are idle after the last delivery, and
 * the rates.
 */
export async function measured(
  simUrl: string,
  timeoutMs: number,
  groups: () => Promise<Record<string, number[]>>,
  send: () => Promise<Sent>,
  loops: Record<string, string> = {},
): Promise<SendFigures & { sent: Sent }> {
  const pids = await groups();
  const loop0 = await loopsBusy(loops);
  const cpu0 = await cpuSplit(pids);
  const sys0 = await cpuSplit(pids, 'system');
  const sent = await send();
  // Only what was accepted can arrive.
  const delivery = await awaitDelivery(simUrl, sent.acceptedBy, timeoutMs);
  // Listed again: a database connection opened during the run counts from its start (one closed counts
  // in its parent's, see cpuMsOf).
  const pidsAfter = await groups();
  const loop1 = await loopsBusy(loops);
  const deliveredAt = Date.now();
  const { all: cpu1, system: sys1, at: settledAt } = await cpuOnceSettled(pidsAfter);
  const loopBusy: Record<string, number> = {};
  for (const [name, end] of Object.entries(loop1)) {
    const start = loop0[name];
    if (start && end.at > start.at) loopBusy[name] = (end.busy - start.busy) / ((end.at - start.at) / 1000);
  }
  const cpuPerMessage: Record<string, number> = {};
  const sysPerMessage: Record<string, number> = {};
  for (const name of Object.keys(cpu0)) {
    cpuPerMessage[name] = ((cpu1[name] ?? 0) - (cpu0[name] ?? 0)) / Math.max(1, sent.accepted);
    sysPerMessage[name] = ((sys1[name] ?? 0) - (sys0[name] ?? 0)) / Math.max(1, sent.accepted);
  }
  const acceptSeconds = Math.max(1e-3, (sent.lastAcceptedAt - sent.startedAt) / 1000);
  const deliverSeconds = (delivery.lastAt - sent.startedAt) / 1000;
  return {
    sent,
    cpuPerMessage,
    sysPerMessage,
    loopBusy,
    settledMs: settledAt - deliveredAt,
    accepted: sent.accepted,
    failed: sent.failed,
    acceptedPerS: sent.accepted > 0 ? sent.accepted / acceptSeconds : 0,
    delivered: delivery.delivered,
    deliveredPerS: delivery.delivered > 0 && deliverSeconds > 0 ? delivery.delivered / deliverSeconds : 0,
    complete: delivery.complete,
  };
}

export const rawSend =
  (raw: RawBaileys, jobs: Job[], inflight: number, check: boolean, imageBytes?: number) =>
  async (): Promise<Sent> => {
    const r = await raw.send(
      jobs.map((j) => ({ socket: j.session, to: `${j.contact}@s.whatsapp.net`, texts: j.texts, imageBytes })),
      inflight,
      check,
    );
    return {
      startedAt: r.startedAt,
      lastAcceptedAt: r.lastAcceptedAt,
      accepted: r.accepted,
      failed: r.failed,
      acceptedBy: new Map(Object.entries(r.acceptedBy)),
      statuses: new Map([
        [200, r.accepted],
        [0, r.failed],
      ]),
    };
  };

export async function sendThroughput(
  env: BenchEnv,
  config: BenchConfig,
  result: ScenarioResult,
): Promise<void> {
  const cfg = config.send;
  const max = Math.max(...cfg.sessions);
  const split = cfg.breakdownSessions;
  result.title = '2. Send throughput';
  result.ours =
    "POST /api/send through the edge to the session host's outbox (queued, then onWhatsApp check and sendMessage; answered at WhatsApp's ack), the edge in its own process; “one process” rows: the same with the edge in the host's process, as `npm start` runs it; outbox rows: POST /api/messages (answered 202 once queued)";
  result.baseline =
    'raw Baileys sockets with in-memory auth state in one process, `sendMessage` with the same texts to the same contacts; the rows "against file auth" compare with the same sockets on Baileys\' own file auth state (`useMultiFileAuthState`, what the seed and most gateways run); the rows "against a seed-like gateway" put an HTTP server in front of those sockets, answering `POST /api/send` once `sendMessage` resolves, as the seed did (no store, no tenancy, no ack wait)';
  result.params = {
    sessions: cfg.sessions.join(', '),
    'messages per session': cfg.sessions.map((n) => `${n}: ${cfg.messagesPerSession(n)}`).join('; '),
    'in flight per session': cfg.inflightPerSession,
    rounds: `${cfg.rounds} (the paths take turns within each; the figures are medians)`,
    'warm-up per path (untimed)': `${cfg.warmup.sessions} sessions × ${cfg.warmup.messagesPerSession} messages`,
  };
  const sim = await env.startSimulator();
  const simPid = sim.child.pid ?? -1;
  const breakdown: { path: string; f: SendFigures }[] = [];
  let run = 0;
  // The warm-up through one path (its process's first messages run cold), delivered before a measured
  // run starts.
  const warm = async (path: SendPath) => {
    const jobs = await plan(
      config,
      sim.url,
      path.side,
      run++,
      Math.min(cfg.warmup.sessions, max),
      cfg.warmup.messagesPerSession,
    );
    const sent = await path.send(jobs)();
    await awaitDelivery(sim.url, sent.acceptedBy, cfg.deliveryTimeoutMs);
  };
  /** Every process that may still be busy with a run; each run starts once all are idle. */
  const live: number[] = [simPid];
  const quiet = () => waitQuiet(live);
  /** One measured run through `path`, recorded in its rounds. */
  const measure = async (path: SendPath, n: number, round: number) => {
    const jobs = await plan(config, sim.url, path.side, run++, n);
    // Freshly linked sessions keep working for a while (history sync, pre-key upload): not timed here.
    await quiet();
    // Profiled (first round only) over the window the CPU is counted in, up to the last delivery.
    const timed = () => measured(sim.url, cfg.deliveryTimeoutMs, path.groups, path.send(jobs), path.loops);
    const f =
      round === 0 && path.profile
        ? await env.profile(path.profile.label(n), path.profile.procs, timed)
        : await timed();
    const runs = path.runs.get(n) ?? [];
    runs.push(f);
    path.runs.set(n, runs);
    if (f.failed > 0) {
      const codes = [...f.sent.statuses].map(([s, c]) => `${c}× ${s}`).join(', ');
      result.notes.push(
        `${path.who}, ${n} sessions, round ${round + 1}: ${f.failed} sends refused or failed (${codes}).`,
      );
    }
    env.log(
      `  ${path.who} ${n} sessions, round ${round + 1}: accepted ${fmt(f.acceptedPerS)}/s, delivered ${fmt(f.deliveredPerS)}/s (${f.delivered}/${f.accepted}), CPU ${fmt(sumExceptSim(f.cpuPerMessage))} ms/msg (idle ${fmt(f.settledMs / 1000)} s after the last delivery)${Object.entries(
        f.loopBusy,
      )
        .map(([k, v]) => `, ${k}'s loop busy ${fmt(v * 100)}%`)
        .join('')}`,
    );
  };
  /** Each path's runs, round after round, each round in a rotated order: they share the machine's drift. */
  const inRounds = async (paths: SendPath[]) => {
    for (let round = 0; round < cfg.rounds; round++) {
      for (const n of cfg.sessions) {
        for (let i = 0; i < paths.length; i++) {
          await measure(paths[(i + round) % paths.length] as SendPath, n, round);
        }
      }
    }
  };
  const closing: (() => Promise<void>)[] = [];
  let linked: LinkedSession[] = [];
  const viaEdgeAt = (url: string) => (job: Job, text: string) =>
    api(url, 'POST', '/api/send', {
      key: linked[job.session]?.key,
      body: { to: job.contact, message: text },
    }).then((r) => r.status);
  const paths: SendPath[] = [];
  try {
    // Ours: one host and one edge; the largest count is linked once, smaller runs use the first sessions.
    const host = await env.startHost(sim);
    const edge = await env.startEdge();
    let hostRunning = true;
    const stopHost = async () => {
      if (!hostRunning) return;
      hostRunning = false;
      await edge.stop();
      await host.stop();
      const gone = new Set([host.proc.pid, edge.proc.pid]);
      live.splice(0, live.length, ...live.filter((pid) => !gone.has(pid)));
    };
    closing.push(stopHost);
    live.push(host.proc.pid, edge.proc.pid);
    let t0 = Date.now();
    linked = await pool(
      Array.from({ length: max }, (_, i) => i),
      10,
      (i) => linkSession(edge.url, sim.url, env.adminKey, `send-${env.tag()}`, accountPhone(1, i)),
    );
    env.log(`  linked ${max} sessions through the API in ${fmt((Date.now() - t0) / 1000)} s`);
    // Linking is a burst the host gives back once quiet: awaited below, before the warm-up.
    const givenBefore = await giveBacksOf(host.url);
    const groups = async () => ({
      host: [host.proc.pid],
      edge: [edge.proc.pid],
      postgres: await env.postgresPids(),
      sim: [simPid],
    });
    const viaEdge = viaEdgeAt(edge.url);
    // The outbox: the same messages queued through POST /api/messages, drained by the host.
    const viaOutbox = (job: Job, text: string) =>
      api(edge.url, 'POST', '/api/messages', {
        key: linked[job.session]?.key,
        body: { to: job.contact, text },
      }).then((r) => r.status);

    /** Raw Baileys sockets in a process of their own, `max` of them linked to side `side`'s numbers. */
    const startLinkedRaw = async (name: string, side: number, authDir?: string) => {
      const started = await env.startRaw(sim, name, authDir);
      closing.push(() => started.close());
      live.push(started.proc.pid);
      const t0 = Date.now();
      await started.link(
        Array.from({ length: max }, (_, i) => accountPhone(side, i)),
        10,
      );
      env.log(`  linked ${max} raw sockets (${name}) in ${fmt((Date.now() - t0) / 1000)} s`);
      return started;
    };
    // Baseline: the same numbers of raw sockets, in their own process.
    const raw = await startLinkedRaw('raw-send', 2);
    const rawGroups = async () => ({ raw: [raw.proc.pid], sim: [simPid] });

    // The second baseline: raw Baileys on its own file auth state, as the seed and most gateways run it,
    // and the same sockets behind the seed's HTTP API: what users run before they run ours.
    const rawFile = await startLinkedRaw('raw-send-file', 3, join(env.dir, 'raw-auth'));
    const fileGroups = async () => ({ raw: [rawFile.proc.pid], sim: [simPid] });
    const seedUrl = await rawFile.serve();
    const viaSeed = (job: Job, text: string) =>
      api(seedUrl, 'POST', '/api/send', {
        key: String(job.session),
        body: { to: job.contact, message: text },
      }).then((r) => r.status);

    // Through the edge, to the API (`via`) named `label`; raw sockets (`sock`) with their own groups.
    const apiPath = (who: string, via: typeof viaEdge, label: string) =>
      sendPath(
        who,
        1,
        groups,
        (jobs) => () => sendAll(jobs, cfg.inflightPerSession, via),
        { label: (n) => `${label}-${n}-sessions`, procs: [host, edge] },
        { host: host.url },
      );
    const rawPathOf = (who: string, sock: typeof raw, side: number, of: SendPath['groups'], label: string) =>
      sendPath(who, side, of, (jobs) => rawSend(sock, jobs, cfg.inflightPerSession, false), {
        label: (n) => `${label}-${n}-sessions`,
        procs: [sock],
      });
    const oursPath = apiPath('ours', viaEdge, 'send');
    const outboxPath = apiPath('outbox', viaOutbox, 'outbox');
    const rawPath = rawPathOf('baseline', raw, 2, rawGroups, 'raw-send');
    const filePath = rawPathOf('file-auth baseline', rawFile, 3, fileGroups, 'raw-file-send');
    const seedPath = sendPath(
      'seed-like gateway',
      3,
      fileGroups,
      (jobs) => () => sendAll(jobs, cfg.inflightPerSession, viaSeed),
    );
    paths.push(oursPath, outboxPath, rawPath, filePath, seedPath);
    if (config.awaitGiveBack && !(await untilGivenBack(host.url, givenBefore)))
      env.log('  (the host gave no memory back after linking)');
    for (const p of paths) await warm(p);
    await inRounds(paths);
    for (const [label, p] of [
      ['through the edge (the API)', oursPath],
      ['the outbox through the edge (POST /api/messages)', outboxPath],
    ] as const) {
      const f = medianOf(p, split);
      if (f) breakdown.push({ path: label, f });
    }
    // The outbox and `/api/send` again, each message under an Idempotency-Key of its own (each key's
    // first use), as a client that retries safely sends it.
    const keyTag = env.tag();
    let keys = 0;
    const keyed = (path: '/api/messages' | '/api/send') => (job: Job, text: string) =>
      api(edge.url, 'POST', path, {
        key: linked[job.session]?.key,
        body: path === '/api/send' ? { to: job.contact, message: text } : { to: job.contact, text },
        headers: { 'Idempotency-Key': `bench-${keyTag}-${keys++}` },
      }).then((r) => r.status);
    for (const [label, path] of [
      ['the outbox, each message with an Idempotency-Key', '/api/messages'],
      ['through the edge, each message with an Idempotency-Key', '/api/send'],
    ] as const) {
      const keyedJobs = await plan(config, sim.url, 1, run++, split);
      await quiet();
      breakdown.push({
        path: label,
        f: await measured(
          sim.url,
          cfg.deliveryTimeoutMs,
          groups,
          () => sendAll(keyedJobs, cfg.inflightPerSession, keyed(path)),
          { host: host.url },
        ),
      });
    }

    // The host on its own, called as the edge calls it, with a JWT signed here (not counted).
    const ids = await env.sessionIds(linked.map((l) => l.name));
    // The host sends queued messages: each is queued here first (as the edge would), untimed by the
    // host's CPU but counted in PostgreSQL's.
    const direct = async (job: Job, text: string) => {
      const name = linked[job.session]?.name ?? '';
      const id = ids.get(name) ?? '';
      const queued = await queueMessage(
        env.db,
        { tenantId: env.tenantId, sessionId: id, sessionName: name },
        { to: `${job.contact}@s.whatsapp.net`, text, leaseMs: 0 },
        new Date(),
      );
      if ('replay' in queued) return 0;
      const token = await signHostToken({
        secret: env.secret,
        hostId: host.id,
        tenantId: env.tenantId,
        sessionId: id,
        scope: 'session',
        ttlSeconds: 60,
      });
      const res = await fetch(`${host.url}/internal/sessions/${id}/send`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messageId: queued.id }),
      });
      await res.arrayBuffer();
      return res.status;
    };
    let jobs = await plan(config, sim.url, 1, run++, split);
    await quiet();
    const f = await measured(
      sim.url,
      cfg.deliveryTimeoutMs,
      async () => ({ host: [host.proc.pid], postgres: await env.postgresPids(), sim: [simPid] }),
      () => sendAll(jobs, cfg.inflightPerSession, direct),
      { host: host.url },
    );
    breakdown.push({ path: 'the host called directly (no edge)', f });
    // Raw again, with the host's onWhatsApp check before each send, to tell that check's cost apart.
    jobs = await plan(config, sim.url, 2, run++, split);
    await quiet();
    breakdown.push({
      path: 'raw Baileys, onWhatsApp then sendMessage (what the host does)',
      f: await measured(
        sim.url,
        cfg.deliveryTimeoutMs,
        rawGroups,
        rawSend(raw, jobs, cfg.inflightPerSession, true),
      ),
    });
    await stopHost();

    // Ours as `npm start` runs it: the edge in the host's process (its calls to the host skip the network),
    // on the same linked sessions, each resumed there as its first request moves it from the stopped host.
    // Measured in rounds of its own, the baselines idle beside it.
    const stack = await env.startStack(sim);
    closing.push(() => stack.host.stop());
    live.push(stack.host.proc.pid);
    const stackGivenBefore = await giveBacksOf(stack.host.url);
    t0 = Date.now();
    await pool(linked, 10, (l) => untilConnected(stack.edge.url, l.key, l.name));
    env.log(`  resumed ${linked.length} sessions in one process in ${fmt((Date.now() - t0) / 1000)} s`);
    if (config.awaitGiveBack && !(await untilGivenBack(stack.host.url, stackGivenBefore)))
      env.log('  (the stack gave no memory back after resuming)');
    const stackPath = sendPath(
      'ours in one process',
      1,
      async () => ({ stack: [stack.host.proc.pid], postgres: await env.postgresPids(), sim: [simPid] }),
      (jobs) => () => sendAll(jobs, cfg.inflightPerSession, viaEdgeAt(stack.edge.url)),
      { label: (n) => `send-stack-${n}-sessions`, procs: [stack.host] },
      { stack: stack.host.url },
    );
    paths.push(stackPath);
    await warm(stackPath);
    await inRounds([stackPath]);
    for (const [label, p] of [
      ['through the edge, one process (npm start)', stackPath],
      ['raw Baileys, sendMessage (the baseline)', rawPath],
      ['raw Baileys on file auth (useMultiFileAuthState)', filePath],
      ['a seed-like gateway: HTTP and Baileys on file auth', seedPath],
    ] as const) {
      const f = medianOf(p, split);
      if (f) breakdown.push({ path: label, f });
    }
  } finally {
    for (const close of closing.reverse()) await close().catch(() => {});
    await sim.stop();
    roundNotes(result, cfg.sessions, paths);
    for (const n of cfg.sessions) {
      const of = (who: string) =>
        medianOf(
          paths.find((p) => p.who === who),
          n,
        );
      const o = of('ours');
      const t = of('ours in one process');
      const q = of('outbox');
      const b = of('baseline');
      const fb = of('file-auth baseline');
      const sl = of('seed-like gateway');
      if (!o && !b) continue;
      const label = `${n} session${n === 1 ? '' : 's'}`;
      const pick = (f: SendFigures | undefined, k: 'acceptedPerS' | 'deliveredPerS') => f?.[k] ?? Number.NaN;
      result.metrics.push(
        metric(`accepted, ${label}`, 'msg/s', pick(o, 'acceptedPerS'), pick(b, 'acceptedPerS'), 'higher'),
        metric(`delivered, ${label}`, 'msg/s', pick(o, 'deliveredPerS'), pick(b, 'deliveredPerS'), 'higher'),
        metric(
          `outbox accepted, ${label}`,
          'msg/s',
          pick(q, 'acceptedPerS'),
          pick(b, 'acceptedPerS'),
          'higher',
        ),
        metric(
          `outbox delivered, ${label}`,
          'msg/s',
          pick(q, 'deliveredPerS'),
          pick(b, 'deliveredPerS'),
          'higher',
        ),
        metric(
          `outbox delivered, ${label}, against file auth`,
          'msg/s',
          pick(q, 'deliveredPerS'),
          pick(fb, 'deliveredPerS'),
          'higher',
        ),
        metric(
          `outbox CPU per message, ${label}, against file auth`,
          'ms',
          q ? sumExceptSim(q.cpuPerMessage) : Number.NaN,
          fb ? sumExceptSim(fb.cpuPerMessage) : Number.NaN,
          'lower',
        ),
        metric(
          `CPU per message, ${label}`,
          'ms',
          o ? sumExceptSim(o.cpuPerMessage) : Number.NaN,
          b ? sumExceptSim(b.cpuPerMessage) : Number.NaN,
          'lower',
        ),
        metric(
          `accepted, ${label}, against file auth`,
          'msg/s',
          pick(o, 'acceptedPerS'),
          pick(fb, 'acceptedPerS'),
          'higher',
        ),
        metric(
          `CPU per message, ${label}, against file auth`,
          'ms',
          o ? sumExceptSim(o.cpuPerMessage) : Number.NaN,
          fb ? sumExceptSim(fb.cpuPerMessage) : Number.NaN,
          'lower',
        ),
      );
      if (sl) {
        result.metrics.push(
          metric(
            `accepted, ${label}, against a seed-like gateway`,
            'msg/s',
            pick(o, 'acceptedPerS'),
            pick(sl, 'acceptedPerS'),
            'higher',
          ),
          metric(
            `CPU per message, ${label}, against a seed-like gateway`,
            'ms',
            o ? sumExceptSim(o.cpuPerMessage) : Number.NaN,
            sumExceptSim(sl.cpuPerMessage),
            'lower',
          ),
        );
      }
      if (t) {
        const one = `${label}, one process (npm start)`;
        result.metrics.push(
          metric(`accepted, ${one}`, 'msg/s', pick(t, 'acceptedPerS'), pick(b, 'acceptedPerS'), 'higher'),
          metric(
            `accepted, ${one}, against file auth`,
            'msg/s',
            pick(t, 'acceptedPerS'),
            pick(fb, 'acceptedPerS'),
            'higher',
          ),
          metric(
            `CPU per message, ${one}, against file auth`,
            'ms',
            sumExceptSim(t.cpuPerMessage),
            fb ? sumExceptSim(fb.cpuPerMessage) : Number.NaN,
            'lower',
          ),
        );
      }
      for (const [who, f] of [
        ['ours', o],
        ['ours in one process', t],
        ['outbox', q],
        ['baseline', b],
        ['file-auth baseline', fb],
        ['seed-like gateway', sl],
      ] as const) {
        if (f && !f.complete) {
          result.notes.push(
            `${who}, ${label}: only ${f.delivered} of ${f.accepted} messages were delivered in time.`,
          );
        }
      }
    }
  }
  if (breakdown.length > 0) {
    const processes = ['host', 'edge', 'stack', 'postgres', 'raw', 'sim'];
    const cell = (f: SendFigures, k: string) =>
      k in f.cpuPerMessage ? `${fmt(f.cpuPerMessage[k])} (${fmt(f.sysPerMessage[k])})` : '';
    // The host's loop, or the one process's that runs host and edge together.
    const loop = (f: SendFigures) => {
      const busy = f.loopBusy.host ?? f.loopBusy.stack;
      return busy === undefined ? '' : `${fmt(busy * 100)}%`;
    };
    result.extra = [
      `**Where a message's CPU goes** (${split} session${split === 1 ? '' : 's'}, ${cfg.inflightPerSession} in flight each): CPU ms per message by process, from /proc, with the kernel's part in parentheses; how busy the host's event loop was from the first send to the last delivery (\`wa_event_loop_busy_seconds_total\`; time the host waited for a CPU inside a callback counts as busy); and how long after the last delivery the processes were still at work (counted in their CPU).`,
      '',
      `| path | accepted msg/s | ${processes.join(' | ')} | total without sim | host's loop busy | busy after the last delivery (s) |`,
      `|---|---:|${processes.map(() => '---:').join('|')}|---:|---:|---:|`,
      ...breakdown.map(
        ({ path, f }) =>
          `| ${path} | ${fmt(f.acceptedPerS)} | ${processes.map((k) => cell(f, k)).join(' | ')} | ${fmt(sumExceptSim(f.cpuPerMessage))} (${fmt(sumExceptSim(f.sysPerMessage))}) | ${loop(f)} | ${fmt(f.settledMs / 1000)} |`,
      ),
    ];
  }
  result.notes.push(
    'Accepted: messages answered with success (HTTP 200, 202 for the outbox, or sendMessage resolved) per second from the first ' +
      'send to the last answer. Delivered: messages the simulated contacts decrypted per second from the first ' +
      "send to the last decryption (the simulator's timestamp; same machine, same clock).",
    'CPU per message: user + system CPU time (from /proc) from the first send until the processes are idle ' +
      `after the last delivery (a look every ${CPU_SETTLE.lookMs} ms finds them together under ${CPU_SETTLE.idleShare * 100}% ` +
      'of a core; the idle span is not counted), divided by the messages accepted: ours = host + edge + ' +
      "PostgreSQL processes, baseline = the raw process; the simulator's share is shown in the table below " +
      'and left out of the row. Until the forty-seventh round the count stopped at the last delivery, before ' +
      'a stack with a backlog (the outbox) had recorded the receipts the deliveries brought back.',
    "Every session sends to its own contact, so the first message of each run sets up a Signal session (pkmsg). The contacts are registered with the simulator before the run, untimed: a contact's keys exist on WhatsApp before anyone writes to it, and the simulator would otherwise make them (about 17 ms of its CPU each) inside the run.",
    'Before its measured runs, each path (ours, the outbox, one process, each baseline) sends the warm-up ' +
      'messages above, untimed, and waits for them to arrive: the first messages of a process run cold ' +
      '(JIT, caches, prepared statements) on both sides.',
    'Ours, the outbox and the three baselines run side by side, every process up: each round runs every ' +
      'path once at each number of sessions, in an order that turns by one path per round, so a drift of the ' +
      'machine falls on all of them; each figure is the median of its rounds (CPU process by process). The one-process rows run ' +
      'their own rounds once the host and edge are stopped (their sessions move to it). The breakdown rows of ' +
      'the outbox and of `/api/send` with an Idempotency-Key per message (each key new), of the host called ' +
      'directly and of raw ' +
      'Baileys with the check are single runs.',
    'Each run starts once the processes are idle (under 5% of a core for a second): freshly linked sessions ' +
      'keep working for a while (history sync, pre-key upload), which is not what is timed here.',
    'Before the warm-up, the host (and later the one-process stack) has given back the memory its linking ' +
      'left (node-runtime/memory/give-back.ts, once quiet for a minute), as a deployment does long before ' +
      'it sends: that collection pauses the process and drops its compiled code, and in a measured run it ' +
      'would be counted there. Once during this scenario, a host quiet between its runs could give memory back ' +
      'again; the host log says so.',
  );
}
