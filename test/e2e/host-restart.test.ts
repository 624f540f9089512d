// A session host as its own process, killed and started again under load: linked sessions resume every
// time with no new QR, and a client sending all along only ever sees success or a retryable 503.
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

const SECRET = 'restart-secret-restart-secret-restart-01';
const database = useTestDatabase();
let sim: SimServer;
let edge: RunningEdge;
let host: ChildProcess | undefined;
let adminKey: string;

const runHost = () =>
  startHostProcess({
    databaseUrl: database().url,
    hostId: 'host-restart',
    secret: SECRET,
    webhookKey: generateSecretKey(),
    sim,
  });

const connected = (key: string, timeoutMs = 20_000) =>
  until(async () => {
    const res = await api(edge.url, 'GET', '/api/session/status', { key });
    return res.body?.connected ? res.body : undefined;
  }, timeoutMs);

/** Creates a session through the edge and links it to `phone`. */
const linkedSession = async (name: string, phone: string) => {
  const created = await api(edge.url, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: name },
  });
  const key = created.body.apiKey as string;
  await linkByQr(edge.url, sim, key, phone, name);
  await connected(key);
  return key;
};

const devicesOf = async (phone: string) =>
  ((await (await fetch(`${sim.url}/sim/accounts/${phone}`)).json()) as { devices: { connected: boolean }[] })
    .devices;

beforeAll(async () => {
  sim = await startSimulator();
  edge = await startTestEdge(database().db, SECRET);
  adminKey = (await ensureDefaultTenant(database().db)).adminKey ?? '';
});
afterAll(async () => {
  if (host) await stopProcess(host);
  await edge?.close();
  await sim?.close();
});

it('SIGTERM closes the sockets without logging anyone out; the next start resumes', async () => {
  host = await runHost();
  const key = await linkedSession('graceful', '628130000002');

  expect(await stopProcess(host, 'SIGTERM')).toBe(0);
  expect(await devicesOf('628130000002')).toEqual([expect.objectContaining({ connected: false })]); // still linked

  host = await runHost();
  await connected(key);
  const sent = await api(edge.url, 'POST', '/api/send', {
    key,
    body: { to: '628130000098', message: 'after SIGTERM' },
  });
  expect(sent.status).toBe(200);
});

it('killed and started again 10 times while sends arrive every 100 ms: every session resumes every time, no send is told to scan a QR', async () => {
  if (host) await stopProcess(host);
  host = await runHost();
  const phones = ['628130000011', '628130000012', '628130000013'];
  const keys: string[] = [];
  for (const [i, phone] of phones.entries()) keys.push(await linkedSession(`restart-${i}`, phone));

  const answers: { status: number; code?: string; retryAfter: string | null }[] = [];
  let sending = true;
  const sender = (async () => {
    for (let n = 0; sending; n++) {
      const key = keys[n % keys.length] ?? '';
      const res = await api(edge.url, 'POST', '/api/send', {
        key,
        body: { to: '628130000099', message: `load ${n}` },
      });
      answers.push({ status: res.status, code: res.body?.code, retryAfter: res.headers.get('retry-after') });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const resumeMs: number[] = [];
  for (let round = 0; round < 10; round++) {
    await stopProcess(host);
    const down = await api(edge.url, 'GET', '/api/session/status', { key: keys[0] });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
    const started = Date.now();
    host = await runHost();
    for (const key of keys) await connected(key);
    resumeMs.push(Date.now() - started);
    // Serving again: the next sends through every session go out.
    const from = answers.length;
    await until(async () =>
      answers.slice(from).filter((a) => a.status === 200).length >= keys.length ? true : undefined,
    );
  }
  sending = false;
  await sender;

  // Resumed, never paired again: each phone still has exactly one linked device, and it is connected.
  for (const phone of phones)
    expect(await devicesOf(phone)).toEqual([expect.objectContaining({ connected: true })]);
  const refused = answers.filter((a) => a.status !== 200);
  expect(answers.filter((a) => a.code === 'SESSION_NOT_AUTHENTICATED')).toEqual([]);
  for (const answer of refused) {
    expect(answer.status).toBe(503);
    expect(answer.code).toMatch(/^(HOST_UNAVAILABLE|SESSION_RECONNECTING)$/);
    expect(answer.retryAfter).toMatch(/^\d+$/);
  }
  expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(30);
  process.stdout.write(`${JSON.stringify({ sends: answers.length, refused: refused.length, resumeMs })}\n`);
});
