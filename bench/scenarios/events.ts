// 6. Inbound messages and webhooks: simulated contacts send messages to linked sessions; ours stores
// each one with its `message.received` event and delivers the event, signed, to a webhook receiver in
// the bench process; the baseline is raw Baileys sockets emitting `messages.upsert`. Measured: messages
// per second from the first send to the last webhook (and to the last stored row), CPU per message by
// process, webhook delivery latency from the event's commit (under the burst and at a low steady rate),
// and that every message arrived exactly once with a valid signature.
import { sql } from 'kysely';
import { generateWebhookSecret, parseSecretKey, SecretBox } from '../../shared/webhook-secrets.js';
import type { BenchConfig } from '../lib/config.js';
import type { BenchEnv } from '../lib/env.js';
import { linkSession, registerContacts } from '../lib/gateway.js';
import { cpuOnceSettled, cpuSplit, waitQuiet } from '../lib/procs.js';
import { metric, ownMetric, type ScenarioResult } from '../lib/report.js';
import { fmt, pool, quantile, sleep } from '../lib/stats.js';
import { WebhookReceiver } from '../lib/webhook-receiver.js';

const now = () => performance.timeOrigin + performance.now();

/** 13-digit numbers: side (1 ours, 2 raw) and index; contacts also by run, so each run starts afresh. */
const accountPhone = (side: number, i: number) => `627${side}0${String(i).padStart(8, '0')}`;
const contactPhone = (side: number, run: number, i: number) =>
  `626${side}${String(run).padStart(3, '0')}${String(i).padStart(6, '0')}`;

interface Job {
  /** The account (a linked session's phone) the contact writes to. */
  to: string;
  contact: string;
  texts: string[];
}

interface Sent {
  startedAt: number;
  /** When the simulator answered the last send. */
  lastAnsweredAt: number;
  /** WhatsApp message id -> when its send started. */
  sentAt: Map<string, number>;
  failed: number;
}

/** When each message reached the app, every time it did (more than once: a duplicate). */
type Arrivals = Map<string, number[]>;

interface RunFigures {
  label: string;
  sessions: number;
  sent: Sent;
  /** Messages per second from the first send to the last arrival (ours: webhook; raw: upsert). */
  arrivedPerS: number;
  /** Ours: from the first send to the last commit of a stored message. Raw: as `arrivedPerS`. */
  storedPerS: number;
  /** Messages per second the simulator took (first send to its last answer). */
  acceptedPerS: number;
  lost: number;
  duplicates: number;
  /** Contact's send -> the app has it, ms. */
  endToEnd: number[];
  /** Ours: event committed (or created) -> webhook arrived, ms. */
  delivery: number[];
  /** Ours: the journal transaction, begin (`created_at`) -> commit, ms. */
  transaction: number[];
  /** Ours: rows in `messages` and `message.received` events for the run's ids. */
  storedRows?: number;
  events?: number;
  /** Ours: PostgreSQL write transactions (most of them a WAL flush at commit) and WAL bytes, per message. */
  writesPerMessage?: number;
  walPerMessage?: number;
  /** Ours: the worker's time from one delivery attempt to the next (ms), and each POST's own time. */
  workerCycle?: number[];
  /**
   * Ours: deliveries per second while the run's messages were still being stored (first send to the
   * last stored) and after (to the last delivery): the worker shares the host and its pool with them.
   */
  deliveriesWhileStoring?: number;
  deliveriesAfter?: number;
  post?: number[];
  cpuPerMessage: Record<string, number>;
  sysPerMessage: Record<string, number>;
}

async function postToSim(simUrl: string, contact: string, to: string, text: string): Promise<string> {
  const res = await fetch(`${simUrl}/sim/contacts/${contact}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ to, text }),
  });
  const body = (await res.json()) as { id?: string; error?: string };
  if (res.status !== 200 || !body.id) throw new Error(`sim send: ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

/** Retry receipts and nacks the simulator has relayed so far. */
async function simTrouble(simUrl: string): Promise<{ retries: number; nacks: number }> {
  const res = await fetch(`${simUrl}/sim/health`);
  const health = (await res.json()) as { trouble?: { retries: number; nacks: number } };
  return health.trouble ?? { retries: 0, nacks: 0 };
}

/** Every contact sends its texts, `inflight` at a time, as fast as the simulator answers. */
async function sendBurst(simUrl: string, jobs: Job[], inflight: number): Promise<Sent> {
  const sent: Sent = { startedAt: now(), lastAnsweredAt: 0, sentAt: new Map(), failed: 0 };
  await Promise.all(
    jobs.flatMap((job) => {
      let next = 0;
      const worker = async () => {
        for (;;) {
          const text = job.texts[next++];
          if (text === undefined) return;
          const t = now();
          try {
            sent.sentAt.set(await postToSim(simUrl, job.contact, job.to, text), t);
            sent.lastAnsweredAt = now();
          } catch {
            sent.failed++;
          }
        }
      };
      return Array.from({ length: Math.min(inflight, job.texts.length) }, worker);
    }),
  );
  return sent;
}

/** `count` sends at `rate` per second in all, round robin over the jobs, each on its own schedule. */
async function sendSteady(simUrl: string, jobs: Job[], rate: number, count: number): Promise<Sent> {
  const sent: Sent = { startedAt: now(), lastAnsweredAt: 0, sentAt: new Map(), failed: 0 };
  const sends: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = sent.startedAt + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    const job = jobs[i % jobs.length] as Job;
    const text = job.texts[Math.floor(i / jobs.length)] ?? `steady ${i}`;
    const t = now();
    sends.push(
      postToSim(simUrl, job.contact, job.to, text).then(
        (id) => {
          sent.sentAt.set(id, t);
          sent.lastAnsweredAt = now();
        },
        () => {
          sent.failed++;
        },
      ),
    );
  }
  await Promise.all(sends);
  return sent;
}

/** One run's messages, its contacts registered with the simulator (untimed; see `registerContacts`). */
async function plan(
  simUrl: string,
  side: number,
  run: number,
  accounts: string[],
  perContact: number,
): Promise<Job[]> {
  const jobs = accounts.map((to, s) => ({
    to,
    contact: contactPhone(side, run, s),
    texts: Array.from({ length: perContact }, (_, k) => `inbound ${run}/${s}/${k} ✓`),
  }));
  await registerContacts(simUrl, jobs);
  return jobs;
}

/** CPU of `groups` from the start of `work` until they are idle after it, per message. */
async function withCpu<T>(
  groups: Record<string, number[]>,
  work: () => Promise<T>,
  messages: (result: T) => number,
) {
  const cpu0 = await cpuSplit(groups);
  const sys0 = await cpuSplit(groups, 'system');
  const value = await work();
  const { all: cpu1, system: sys1 } = await cpuOnceSettled(groups);
  const n = Math.max(1, messages(value));
  const cpuPerMessage: Record<string, number> = {};
  const sysPerMessage: Record<string, number> = {};
  for (const name of Object.keys(groups)) {
    cpuPerMessage[name] = ((cpu1[name] ?? 0) - (cpu0[name] ?? 0)) / n;
    sysPerMessage[name] = ((sys1[name] ?? 0) - (sys0[name] ?? 0)) / n;
  }
  return { value, cpuPerMessage, sysPerMessage };
}

const sumExceptSim = (cpu: Record<string, number>) =>
  Object.entries(cpu).reduce((a, [k, v]) => (k === 'sim' ? a : a + v), 0);

/** Lost, duplicated, the last first arrival, and send -> first arrival of each message. */
function tally(sent: Sent, arrivals: Arrivals) {
  let lost = 0;
  let duplicates = 0;
  let last = 0;
  const endToEnd: number[] = [];
  for (const [id, t] of sent.sentAt) {
    const times = arrivals.get(id);
    if (!times?.length) {
      lost++;
      continue;
    }
    duplicates += times.length - 1;
    const first = Math.min(...times);
    last = Math.max(last, first);
    endToEnd.push(first - t);
  }
  return { lost, duplicates, last, endToEnd };
}

/**
 * Transaction ids handed out so far (one per write transaction, each a WAL flush at its commit with the
 * durable defaults) and the WAL position in bytes.
 */
async function pgCounters(env: BenchEnv): Promise<{ xid: number; wal: number }> {
  const row = (
    await sql<{ xid: string; wal: string }>`
      SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid, (pg_current_wal_lsn() - '0/0')::text AS wal
    `.execute(env.db)
  ).rows[0];
  return { xid: Number(row?.xid ?? 0), wal: Number(row?.wal ?? 0) };
}

const perSecond = (n: number, from: number, to: number) =>
  n > 0 && to > from ? n / ((to - from) / 1000) : 0;

export async function events(env: BenchEnv, config: BenchConfig, result: ScenarioResult): Promise<void> {
  const cfg = config.events;
  const max = Math.max(...cfg.sessions);
  result.title = '6. Inbound messages and webhooks';
  result.ours =
    'the session host stores each message with its `message.received` event (one transaction), and its webhook ' +
    'worker delivers the event, signed, to an HTTP receiver in the bench process';
  result.baseline =
    'raw Baileys sockets with in-memory auth state in one process: `messages.upsert` (notify) with the message';
  result.params = {
    sessions: cfg.sessions.join(', '),
    'messages per session': cfg.sessions.map((n) => `${n}: ${cfg.messagesPerSession(n)}`).join('; '),
    'in flight per contact': cfg.inflightPerContact,
    'steady run': `${cfg.steadyMessages} messages at ${cfg.steadyRate}/s over ${max} session${max === 1 ? '' : 's'}`,
  };
  const ours = new Map<string, RunFigures>();
  const base = new Map<string, RunFigures>();
  let signatures = { checked: 0, verified: 0 };
  let failedAttempts = 0;
  let otherDeliveries = 0;
  /** Runs in which the receiving side asked for messages again or refused them. */
  const troubled: string[] = [];
  let latencyFrom: 'commit' | 'created_at' = 'created_at';
  let run = 0;
  const steadyLabel = `${cfg.steadyRate} msg/s`;

  // Commit timestamps tell when the host's transaction committed (restarts the embedded server).
  const committed = await env.commitTimestamps(true);
  if (committed) latencyFrom = 'commit';
  const sim = await env.startSimulator();
  // A message the receiver could not decrypt costs a retry receipt and a second encryption on each side.
  const countingTrouble = async <T>(who: string, label: string, run: () => Promise<T>): Promise<T> => {
    const before = await simTrouble(sim.url);
    const value = await run();
    const after = await simTrouble(sim.url);
    const retries = after.retries - before.retries;
    const nacks = after.nacks - before.nacks;
    if (retries > 0 || nacks > 0)
      troubled.push(`${who}, ${label}: ${retries} retry receipts, ${nacks} nacks`);
    return value;
  };
  const simPid = sim.child.pid ?? -1;
  try {
    const host = await env.startHost(sim);
    const receiver = await WebhookReceiver.start();
    try {
      const edge = await env.startEdge();
      const linked = await (async () => {
        try {
          const t0 = Date.now();
          const sessions = await pool(
            Array.from({ length: max }, (_, i) => i),
            10,
            (i) => linkSession(edge.url, sim.url, env.adminKey, `events-${env.tag()}`, accountPhone(1, i)),
          );
          env.log(`  linked ${max} sessions through the API in ${fmt((Date.now() - t0) / 1000)} s`);
          return sessions;
        } finally {
          // Inbound messages do not pass through the edge: it is not running while they are measured.
          await edge.stop();
        }
      })();
      const sessionIds = [...(await env.sessionIds(linked.map((l) => l.name))).values()];

      // The tenant's endpoint, as the API would store it: secret sealed with the hosts' key, all events.
      const secret = generateWebhookSecret();
      const sealed = await new SecretBox(parseSecretKey(env.webhookKey)).seal(secret);
      const endpoint = await env.db
        .insertInto('webhook_endpoints')
        .values({ tenant_id: env.tenantId, url: receiver.url, description: 'bench', secret: sealed })
        .returning('id')
        .executeTakeFirstOrThrow();

      const groups = async () => ({
        host: [host.proc.pid],
        postgres: await env.postgresPids(),
        sim: [simPid],
      });
      const oursRun = async (label: string, n: number, send: () => Promise<Sent>): Promise<RunFigures> => {
        await waitQuiet([host.proc.pid, simPid]);
        const from = receiver.deliveries.length;
        const pg0 = await pgCounters(env);
        const measured = await withCpu(
          await groups(),
          () =>
            env.profile(`events-${label.replace(/\W+/g, '-')}`, [host], async () => {
              const sent = await send();
              await receiver.waitForMessages(sent.sentAt.keys(), cfg.timeoutMs);
              return sent;
            }),
          (sent) => sent.sentAt.size,
        );
        const pg1 = await pgCounters(env);
        const sent = measured.value;
        const ids = [...sent.sentAt.keys()];
        const mine = new Set(ids);
        const delivered = receiver.deliveries
          .slice(from)
          .filter((d) => d.type === 'message.received' && d.messageId && mine.has(d.messageId));
        const arrivals: Arrivals = new Map();
        for (const d of delivered) {
          const list = arrivals.get(d.messageId as string) ?? [];
          list.push(d.at);
          arrivals.set(d.messageId as string, list);
        }
        const t = tally(sent, arrivals);
        // When the host committed each event and its message (one transaction), from PostgreSQL.
        const eventRows = ids.length
          ? (
              await sql<{ id: string; created: number; committed: number | null }>`
                SELECT id,
                  extract(epoch FROM created_at)::float8 * 1000 AS created,
                  ${committed ? sql`extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 * 1000` : sql`NULL::float8`} AS committed
                FROM events
                WHERE type = 'message.received' AND session_id = ANY(${sessionIds}::uuid[])
                  AND data->'message'->>'id' = ANY(${ids}::text[])
              `.execute(env.db)
            ).rows
          : [];
        const byEvent = new Map(eventRows.map((r) => [r.id, r]));
        const stored = ids.length
          ? ((
              await sql<{ n: number; last: number | null }>`
                SELECT count(*)::int AS n,
                  max(${committed ? sql`extract(epoch FROM pg_xact_commit_timestamp(xmin))` : sql`extract(epoch FROM created_at)`})::float8 * 1000 AS last
                FROM messages
                WHERE session_id = ANY(${sessionIds}::uuid[]) AND id = ANY(${ids}::text[]) AND direction = 'in'
              `.execute(env.db)
            ).rows[0] ?? { n: 0, last: null })
          : { n: 0, last: null };
        const delivery: number[] = [];
        const transaction: number[] = [];
        const seen = new Set<string>();
        for (const d of delivered) {
          const row = byEvent.get(d.id);
          if (!row || seen.has(d.id)) continue;
          seen.add(d.id);
          delivery.push(d.at - (row.committed ?? row.created));
          if (row.committed !== null) transaction.push(row.committed - row.created);
        }
        // The worker's pace: one endpoint's deliveries go one at a time, each attempt recorded.
        const attempts = seen.size
          ? (
              await sql<{ at: number; latency: number }>`
                SELECT extract(epoch FROM attempted_at)::float8 * 1000 AS at, latency_ms AS latency
                FROM webhook_attempts WHERE endpoint_id = ${endpoint.id} AND event_id = ANY(${[...seen]}::text[])
                ORDER BY id
              `.execute(env.db)
            ).rows
          : [];
        const workerCycle = attempts.slice(1).map((a, i) => a.at - (attempts[i]?.at ?? a.at));
        const lastStored = stored.last ?? sent.startedAt;
        const whileStoring = attempts.filter((a) => a.at <= lastStored).length;
        const lastAttempt = attempts.at(-1)?.at ?? lastStored;
        // Signatures: every delivery of the run, checked here, after the measured time.
        signatures = {
          checked: signatures.checked + delivered.length,
          verified: signatures.verified + WebhookReceiver.verified(delivered, secret),
        };
        const f: RunFigures = {
          label,
          sessions: n,
          sent,
          arrivedPerS: perSecond(sent.sentAt.size - t.lost, sent.startedAt, t.last),
          storedPerS: perSecond(stored.n, sent.startedAt, stored.last ?? 0),
          acceptedPerS: perSecond(sent.sentAt.size, sent.startedAt, sent.lastAnsweredAt),
          lost: t.lost,
          duplicates: t.duplicates,
          endToEnd: t.endToEnd,
          delivery,
          transaction,
          storedRows: stored.n,
          events: eventRows.length,
          writesPerMessage: (pg1.xid - pg0.xid) / Math.max(1, ids.length),
          walPerMessage: (pg1.wal - pg0.wal) / Math.max(1, ids.length),
          workerCycle,
          deliveriesWhileStoring: perSecond(whileStoring, sent.startedAt, lastStored),
          deliveriesAfter: perSecond(attempts.length - whileStoring, lastStored, lastAttempt),
          post: attempts.map((a) => a.latency),
          cpuPerMessage: measured.cpuPerMessage,
          sysPerMessage: measured.sysPerMessage,
        };
        env.log(
          `  ours ${label}: ${fmt(f.arrivedPerS)} msg/s to the webhook, ${fmt(f.storedPerS)} stored, sim took ${fmt(f.acceptedPerS)}/s; ` +
            `delivery p50 ${fmt(quantile(delivery, 0.5))} ms p99 ${fmt(quantile(delivery, 0.99))} ms; ` +
            `lost ${f.lost}, duplicates ${f.duplicates}; CPU ${fmt(sumExceptSim(f.cpuPerMessage))} ms/msg`,
        );
        return f;
      };

      const accounts = linked.map((l) => l.phone);
      for (const n of cfg.sessions) {
        const jobs = await plan(sim.url, 1, run++, accounts.slice(0, n), cfg.messagesPerSession(n));
        const label = `${n} session${n === 1 ? '' : 's'}`;
        ours.set(
          label,
          await countingTrouble('ours', label, () =>
            oursRun(label, n, () => sendBurst(sim.url, jobs, cfg.inflightPerContact)),
          ),
        );
      }
      {
        const jobs = await plan(sim.url, 1, run++, accounts, Math.ceil(cfg.steadyMessages / max));
        ours.set(
          steadyLabel,
          await countingTrouble('ours', steadyLabel, () =>
            oursRun(steadyLabel, max, () => sendSteady(sim.url, jobs, cfg.steadyRate, cfg.steadyMessages)),
          ),
        );
      }
      await waitQuiet([host.proc.pid, simPid]);
      otherDeliveries = receiver.deliveries.filter((d) => d.type !== 'message.received').length;
      const attempts = await env.db
        .selectFrom('webhook_attempts')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('endpoint_id', '=', endpoint.id)
        .where('outcome', '!=', 'delivered')
        .executeTakeFirst();
      failedAttempts = Number(attempts?.n ?? 0);
    } finally {
      await host.stop();
      await receiver.close();
    }

    // Baseline: as many raw sockets, receiving the same numbers of messages.
    const raw = await env.startRaw(sim, 'raw-events');
    try {
      const t0 = Date.now();
      const accounts = Array.from({ length: max }, (_, i) => accountPhone(2, i));
      await raw.link(accounts, 10);
      env.log(`  linked ${max} raw sockets in ${fmt((Date.now() - t0) / 1000)} s`);
      const rawRun = async (label: string, n: number, send: () => Promise<Sent>) => {
        await waitQuiet([raw.proc.pid, simPid]);
        await raw.inboundStart();
        const measured = await withCpu(
          { raw: [raw.proc.pid], sim: [simPid] },
          async () => {
            return env.profile(`raw-events-${label.replace(/\W+/g, '-')}`, [raw], async () => {
              const sent = await send();
              const inbound = await raw.inboundWait(sent.sentAt.size, cfg.timeoutMs);
              return { sent, inbound };
            });
          },
          ({ sent }) => sent.sentAt.size,
        );
        const { sent, inbound } = measured.value;
        const arrivals: Arrivals = new Map();
        for (const [id, at] of inbound.arrivals) {
          if (!sent.sentAt.has(id)) continue;
          const list = arrivals.get(id) ?? [];
          list.push(at);
          arrivals.set(id, list);
        }
        const t = tally(sent, arrivals);
        const arrivedPerS = perSecond(sent.sentAt.size - t.lost, sent.startedAt, t.last);
        const f: RunFigures = {
          label,
          sessions: n,
          sent,
          arrivedPerS,
          storedPerS: arrivedPerS,
          acceptedPerS: perSecond(sent.sentAt.size, sent.startedAt, sent.lastAnsweredAt),
          lost: t.lost,
          duplicates: t.duplicates,
          endToEnd: t.endToEnd,
          delivery: [],
          transaction: [],
          cpuPerMessage: measured.cpuPerMessage,
          sysPerMessage: measured.sysPerMessage,
        };
        env.log(
          `  raw  ${label}: ${fmt(f.arrivedPerS)} msg/s upserted, sim took ${fmt(f.acceptedPerS)}/s; ` +
            `lost ${f.lost}, duplicates ${f.duplicates}; CPU ${fmt(sumExceptSim(f.cpuPerMessage))} ms/msg`,
        );
        return f;
      };
      for (const n of cfg.sessions) {
        const jobs = await plan(sim.url, 2, run++, accounts.slice(0, n), cfg.messagesPerSession(n));
        const label = `${n} session${n === 1 ? '' : 's'}`;
        base.set(
          label,
          await countingTrouble('raw Baileys', label, () =>
            rawRun(label, n, () => sendBurst(sim.url, jobs, cfg.inflightPerContact)),
          ),
        );
      }
      const jobs = await plan(sim.url, 2, run++, accounts, Math.ceil(cfg.steadyMessages / max));
      base.set(
        steadyLabel,
        await countingTrouble('raw Baileys', steadyLabel, () =>
          rawRun(steadyLabel, max, () => sendSteady(sim.url, jobs, cfg.steadyRate, cfg.steadyMessages)),
        ),
      );
    } finally {
      await raw.close();
    }
  } finally {
    await sim.stop();
    await env.commitTimestamps(false).catch((err: unknown) => env.log(`commit timestamps: ${String(err)}`));
    report(result, cfg, ours, base, steadyLabel, latencyFrom);
  }
  result.notes.push(
    `Signatures: ${signatures.verified} of ${signatures.checked} deliveries verified with standardwebhooks' ` +
      '`Webhook.verify` and the endpoint secret (every delivery, checked after each run).',
  );
  result.notes.push(
    `Messages the linked device asked for again (retry receipts) or refused (nacks), as the simulator relayed them: ${
      troubled.length > 0 ? troubled.join('; ') : 'none, in any run'
    }.`,
  );
  if (failedAttempts > 0)
    result.notes.push(`${failedAttempts} delivery attempts did not succeed (webhook_attempts).`);
  if (otherDeliveries > 0)
    result.notes.push(`${otherDeliveries} deliveries of other event types arrived too.`);
  const lost = [...ours.values()].reduce((a, f) => a + f.lost, 0);
  if (lost > 0 || signatures.verified < signatures.checked) {
    throw new Error(
      `${lost} messages never reached the webhook receiver; ${signatures.checked - signatures.verified} signatures did not verify`,
    );
  }
}

function report(
  result: ScenarioResult,
  cfg: BenchConfig['events'],
  ours: Map<string, RunFigures>,
  base: Map<string, RunFigures>,
  steadyLabel: string,
  latencyFrom: 'commit' | 'created_at',
) {
  const q = (values: number[] | undefined, p: number) => (values?.length ? quantile(values, p) : Number.NaN);
  const from = latencyFrom === 'commit' ? 'from commit' : 'from the event’s created_at';
  for (const n of cfg.sessions) {
    const label = `${n} session${n === 1 ? '' : 's'}`;
    const o = ours.get(label);
    const b = base.get(label);
    if (!o && !b) continue;
    const pick = (f: RunFigures | undefined, k: 'arrivedPerS' | 'storedPerS') => f?.[k] ?? Number.NaN;
    result.metrics.push(
      metric(
        `received, to the app, ${label}`,
        'msg/s',
        pick(o, 'arrivedPerS'),
        pick(b, 'arrivedPerS'),
        'higher',
      ),
      metric(`received, stored, ${label}`, 'msg/s', pick(o, 'storedPerS'), pick(b, 'storedPerS'), 'higher'),
      metric(
        `CPU per message, ${label}`,
        'ms',
        o ? sumExceptSim(o.cpuPerMessage) : Number.NaN,
        b ? sumExceptSim(b.cpuPerMessage) : Number.NaN,
        'lower',
      ),
      ownMetric(`webhook latency ${from}, p50, ${label} (burst)`, 'ms', q(o?.delivery, 0.5), 'lower'),
      ownMetric(`webhook latency ${from}, p99, ${label} (burst)`, 'ms', q(o?.delivery, 0.99), 'lower'),
    );
  }
  const o = ours.get(steadyLabel);
  const b = base.get(steadyLabel);
  if (o || b) {
    result.metrics.push(
      ownMetric(`webhook latency ${from}, p50, at ${steadyLabel}`, 'ms', q(o?.delivery, 0.5), 'lower'),
      ownMetric(`webhook latency ${from}, p99, at ${steadyLabel}`, 'ms', q(o?.delivery, 0.99), 'lower'),
      metric(
        `contact's send to the app, p50, at ${steadyLabel}`,
        'ms',
        q(o?.endToEnd, 0.5),
        q(b?.endToEnd, 0.5),
        'lower',
      ),
      metric(
        `contact's send to the app, p99, at ${steadyLabel}`,
        'ms',
        q(o?.endToEnd, 0.99),
        q(b?.endToEnd, 0.99),
        'lower',
      ),
    );
  }
  const total = (m: Map<string, RunFigures>, k: 'lost' | 'duplicates') =>
    m.size ? [...m.values()].reduce((a, f) => a + f[k], 0) : Number.NaN;
  const sentAll = (m: Map<string, RunFigures>) => [...m.values()].reduce((a, f) => a + f.sent.sentAt.size, 0);
  result.metrics.push(
    metric(
      `messages lost (of ${sentAll(ours)} / ${sentAll(base)})`,
      'messages',
      total(ours, 'lost'),
      total(base, 'lost'),
      'lower',
    ),
    metric(
      'messages that arrived more than once',
      'messages',
      total(ours, 'duplicates'),
      total(base, 'duplicates'),
      'lower',
    ),
  );

  result.notes.push(
    "To the app: messages per second from the first send to the last arrival, ours at the webhook receiver (`message.received`, matched by the payload's message id), the baseline at `messages.upsert`. Stored: ours to the commit of the last message's row in `messages` (PostgreSQL's commit timestamp); the baseline keeps nothing, so its figure there is the upsert rate again.",
    'Contacts send through the simulator (`POST /sim/contacts/:phone/messages`, encrypted there), one contact per session, ' +
      `${cfg.inflightPerContact} sends in flight each, as fast as the simulator answers; every run uses fresh contacts, so the first message of each sets up a Signal session (pkmsg); the contacts are registered with the simulator before the run, untimed.`,
    latencyFrom === 'commit'
      ? "Webhook latency: from the commit of the host's transaction that stored the message and wrote its event (`pg_xact_commit_timestamp`, with `track_commit_timestamp` turned on for this scenario; PostgreSQL takes it just before the commit's WAL flush) to the moment the receiver had the whole request. Not the payload's `timestamp` (`events.created_at`): that is the transaction's start, before the message row, the tenant's event lock and the commit."
      : "Webhook latency: from the event's `created_at` (the payload's `timestamp`: the start of the host's transaction) to the moment the receiver had the whole request; commit timestamps are off on this PostgreSQL server, so the transaction itself is included.",
    'Raw Baileys has no webhooks and no store: the latency rows marked "no baseline" have nothing to compare with. The end-to-end rows compare like with like: the contact\'s send to the app having the message (ours: the webhook arrived; raw: `messages.upsert`).',
    `The steady run sends ${cfg.steadyMessages} messages at ${cfg.steadyRate}/s in all, round robin over the sessions, each send on its own schedule, so the latency is the pipeline's, not a queue's.`,
    "CPU per message: user + system CPU time (from /proc) from the first send until the processes are idle after the last arrival (as in the send scenario; the idle span is not counted), divided by the messages sent: ours = host + PostgreSQL (the edge is not on this path and is not running), baseline = the raw process; the simulator's share is in the table below and left out of the row.",
  );

  const rows: { path: string; f: RunFigures }[] = [];
  for (const [label, f] of ours) rows.push({ path: `ours, ${label}`, f });
  for (const [label, f] of base) rows.push({ path: `raw Baileys, ${label}`, f });
  if (rows.length > 0) {
    const processes = ['host', 'postgres', 'raw', 'sim'];
    const cell = (f: RunFigures, k: string) =>
      k in f.cpuPerMessage ? `${fmt(f.cpuPerMessage[k])} (${fmt(f.sysPerMessage[k])})` : '';
    const ms = (v: number[], p: number) => (v.length ? fmt(quantile(v, p)) : '');
    const pair = (v: number[] | undefined) => (v?.length ? `${ms(v, 0.5)} / ${ms(v, 0.99)}` : '');
    const oursRows = rows.filter(({ path }) => path.startsWith('ours'));
    result.extra = [
      "**Each run**: how fast the simulator took the sends, how fast the messages reached the app (and ours its store), and the contact's send to the app (ms).",
      '',
      '| run | sent | sim took msg/s | to the app msg/s | stored msg/s | lost | dup. | send → app p50 / p99 |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        ({ path, f }) =>
          `| ${path} | ${f.sent.sentAt.size} | ${fmt(f.acceptedPerS)} | ${fmt(f.arrivedPerS)} | ${path.startsWith('ours') ? fmt(f.storedPerS) : ''} | ${f.lost} | ${f.duplicates} | ${pair(f.endToEnd)} |`,
      ),
      '',
      "**Ours, where the time goes** (ms, p50 / p99): the host's transaction that stores a message and writes its event, from its start (`created_at`) to its commit (waits for the tenant's event lock included); the webhook latency; PostgreSQL write transactions (each one a WAL flush at commit, but for the webhook worker's records of delivered attempts) and WAL per message, over the whole run (the Signal key store's writes included); the worker's time from one delivery attempt to the next and the POST's own share of it (one endpoint's deliveries go one at a time); the worker's deliveries per second while the run's messages were still being stored (first send to the last commit) and after that.",
      '',
      '| run | transaction | webhook latency | write transactions / msg | WAL KiB / msg | attempt to attempt | POST | deliveries/s while storing | after |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...oursRows.map(
        ({ path, f }) =>
          `| ${path} | ${pair(f.transaction)} | ${pair(f.delivery)} | ${fmt(f.writesPerMessage)} | ${fmt((f.walPerMessage ?? Number.NaN) / 1024)} | ${pair(f.workerCycle)} | ${pair(f.post)} | ${fmt(f.deliveriesWhileStoring)} | ${fmt(f.deliveriesAfter)} |`,
      ),
      '',
      "**Where an inbound message's CPU goes**: CPU ms per message by process, from /proc, with the kernel's part in parentheses.",
      '',
      `| run | ${processes.join(' | ')} | total without sim |`,
      `|---|${processes.map(() => '---:').join('|')}|---:|`,
      ...rows.map(
        ({ path, f }) =>
          `| ${path} | ${processes.map((k) => cell(f, k)).join(' | ')} | ${fmt(sumExceptSim(f.cpuPerMessage))} (${fmt(sumExceptSim(f.sysPerMessage))}) |`,
      ),
    ];
  }
}
