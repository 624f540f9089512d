// Effectively once, under kill -9: 10 sessions send 1,000 messages through both routes while the host
// that runs them is killed three times and started again. The clients retry as real ones do, with the
// same Idempotency-Key on network errors, timeouts, 5xx and 409. At the end every message a client was
// told about is shown exactly once by its contact's phone, nothing else is, and every status is final.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningEdge } from '../../edge/entries/node.js';
import { ensureDefaultTenant } from '../../edge/tenancy/bootstrap.js';
import { generateSecretKey } from '../../shared/webhook-secrets.js';
import { startHostProcess, stopProcess } from '../helpers/host-process.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { type SimServer, startSimulator } from '../wa-sim/server.js';
import { startTestEdge } from './backend.js';
import { api, linkByQr, until } from './flow.js';

const SECRET = 'crash-secret-crash-secret-crash-secret-01';
const SESSIONS = 10;
const PER_SESSION = 100;
const CONTACTS_PER_SESSION = 5;
const KILLS_AT = [250, 500, 750];
const database = useTestDatabase();
let sim: SimServer;
let edge: RunningEdge;
let host: ChildProcess | undefined;
let adminKey: string;

const runHost = () =>
  startHostProcess({
    databaseUrl: database().url,
    hostId: 'host-crash',
    secret: SECRET,
    webhookKey: generateSecretKey(),
    sim,
    // As fast as the simulator takes them: pacing is not what this is about.
    env: { PACING_MIN_INTERVAL_MS: '0', PACING_JITTER_MS: '0', PACING_PER_CHAT_MIN_INTERVAL_MS: '0' },
  });

beforeAll(async () => {
  sim = await startSimulator();
  edge = await startTestEdge(database().db, SECRET);
  adminKey = (await ensureDefaultTenant(database().db)).adminKey ?? '';
  host = await runHost();
});
afterAll(async () => {
  if (host) await stopProcess(host);
  await edge?.close();
  await sim?.close();
});

type Outcome = { id: string; contact: string; text: string };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One request as a careful client makes it: the same Idempotency-Key on every try, again after a
 * network error, a timeout, a 5xx or a 409 (after Retry-After), until the gateway answers for good.
 */
async function reliably(path: string, key: string, idempotencyKey: string, body: unknown) {
  for (let tries = 1; ; tries++) {
    try {
      const response = await fetch(`${edge.url}${path}`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const answer = (await response.json()) as Record<string, unknown>;
      if (response.status < 300) return { answer, tries };
      if (response.status !== 409 && response.status < 500) {
        throw new Error(`${path} answered ${response.status} ${JSON.stringify(answer)}`);
      }
      await sleep(Math.min(Number(response.headers.get('retry-after') ?? 1), 1) * 300);
    } catch (err) {
      if (err instanceof Error && err.message.includes(' answered ')) throw err;
      await sleep(200); // connection refused or reset, or our own timeout: try again
    }
  }
}

it('kill -9 three times during 1,000 sends: each message shown exactly once, none lost, none doubled', async () => {
  // Ten linked sessions.
  const sessions: { key: string; phone: string; index: number }[] = [];
  for (let s = 0; s < SESSIONS; s++) {
    const name = `crash-${s}`;
    const created = await api(edge.url, 'POST', '/api/session/create', {
      key: adminKey,
      body: { sessionId: name },
    });
    const key = created.body.apiKey as string;
    const phone = `62850000${String(s).padStart(4, '0')}`;
    await linkByQr(edge.url, sim, key, phone, name);
    sessions.push({ key, phone, index: s });
  }
  for (const { key } of sessions) {
    await until(async () =>
      (await api(edge.url, 'GET', '/api/session/status', { key })).body.connected ? true : undefined,
    );
  }

  const accepted: Outcome[] = [];
  let kills = 0;
  let clientsDone = false;
  const contactOf = (s: number, m: number) =>
    `62860${String(s).padStart(3, '0')}${String(m % CONTACTS_PER_SESSION).padStart(4, '0')}`;

  // Each session has two clients: one queues through the outbox, one sends and waits.
  const client = async (session: (typeof sessions)[number], route: 'messages' | 'send') => {
    for (let m = route === 'messages' ? 0 : 1; m < PER_SESSION; m += 2) {
      const contact = contactOf(session.index, m);
      const text = `s${session.index} m${m}`;
      const idempotencyKey = `crash-${session.index}-${m}`;
      if (route === 'messages') {
        const { answer } = await reliably('/api/messages', session.key, idempotencyKey, {
          to: contact,
          text,
        });
        accepted.push({ id: answer.id as string, contact, text });
      } else {
        const { answer } = await reliably('/api/send', session.key, idempotencyKey, {
          to: contact,
          message: text,
        });
        accepted.push({ id: (answer.result as { key: { id: string } }).key.id, contact, text });
      }
    }
  };
  const killer = async () => {
    for (const at of KILLS_AT) {
      while (accepted.length < at && !clientsDone) await sleep(20);
      if (host) await stopProcess(host, 'SIGKILL');
      kills++;
      await sleep(300);
      host = await runHost();
    }
  };
  const killing = killer();
  await Promise.all(sessions.flatMap((s) => [client(s, 'messages'), client(s, 'send')]));
  clientsDone = true;
  await killing;
  expect(kills).toBe(3);
  expect(accepted).toHaveLength(SESSIONS * PER_SESSION);
  expect(new Set(accepted.map((a) => a.id)).size).toBe(SESSIONS * PER_SESSION);

  // Every accepted message ends delivered (the contacts' phones answer with delivery receipts).
  const db = database().db;
  const ids = accepted.map((a) => a.id);
  await until(async () => {
    const rows = await db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('id', 'in', ids)
      .where('status', '=', 'delivered')
      .executeTakeFirstOrThrow();
    return Number(rows.n) === ids.length ? true : undefined;
  }, 120_000);

  // What the contacts' phones show: each accepted message once, with its text, and nothing else.
  const contacts = [...new Set(accepted.map((a) => a.contact))];
  const shown = new Map<string, { text: string; deliveries: number; contact: string }>();
  let extra = 0;
  for (const contact of contacts) {
    const inbox = (await (await fetch(`${sim.url}/sim/contacts/${contact}/messages`)).json()) as {
      id: string;
      text: string;
      deliveries?: number;
    }[];
    for (const m of inbox) {
      if (shown.has(m.id)) extra++;
      shown.set(m.id, { text: m.text, deliveries: m.deliveries ?? 1, contact });
    }
  }
  expect(extra).toBe(0);
  expect(shown.size).toBe(accepted.length);
  for (const a of accepted) {
    expect(shown.get(a.id), a.text).toMatchObject({ text: a.text, contact: a.contact });
  }

  // Every other message the sends made (a try that never left, given up after a 503) is final, and
  // none was shown; nothing is left queued.
  const rest = await db
    .selectFrom('messages')
    .select(['id', 'status', 'attempts'])
    .where('direction', '=', 'out')
    .where('id', 'not in', ids)
    .execute();
  for (const r of rest) {
    expect(['cancelled', 'failed']).toContain(r.status);
    expect(r.attempts).toBe(0);
    expect(shown.has(r.id)).toBe(false);
  }
  const queued = await db.selectFrom('messages').select('id').where('status', '=', 'queued').execute();
  expect(queued).toEqual([]);
  // Resends happened (a kill cuts hand-overs short), and the phones showed each message once anyway.
  const resent = [...shown.values()].filter((s) => s.deliveries > 1).length;
  console.log(
    `crash test: ${kills} kills, ${rest.length} tries given up, ${resent} messages resent under the same id`,
  );
}, 300_000);
