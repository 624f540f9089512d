import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningEdge, startEdge } from '../../edge/entries/node.js';
import { ensureDefaultTenant } from '../../edge/tenancy/bootstrap.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { type SimServer, startSimulator } from '../wa-sim/server.js';
import { api, linkByQr, until } from './flow.js';

const SECRET = 'restart-secret-restart-secret-restart-01';
const HOST_MAIN = fileURLToPath(new URL('../../node-runtime/host/main.ts', import.meta.url));
const database = useTestDatabase();
let sim: SimServer;
let edge: RunningEdge;
let host: ChildProcess | undefined;
let adminKey: string;

/** Starts the session host as its own process, as an operator runs it, on a fixed port. */
const startHostProcess = async (port: number) => {
  const child = spawn(process.execPath, ['--import', 'tsx', HOST_MAIN], {
    env: {
      ...process.env,
      DATABASE_URL: database().url,
      EDGE_HOST_SECRET: SECRET,
      HOST_ID: 'host-restart',
      HOST_PORT: String(port),
      WA_WS_URL: sim.wsUrl,
      WA_TRUST_ROOT: sim.trustRoot,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`host exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.includes('"hostId"')) resolve(line);
    });
  });
  expect(JSON.parse(ready)).toMatchObject({ hostId: 'host-restart' });
  return child;
};

const kill = (child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL') =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });

beforeAll(async () => {
  sim = await startSimulator();
  edge = await startEdge({
    db: database().db,
    port: 0,
    hostname: '127.0.0.1',
    hostSecret: SECRET,
    logger: pino({ level: 'silent' }),
  });
  adminKey = (await ensureDefaultTenant(database().db)).adminKey ?? '';
});
afterAll(async () => {
  if (host) await kill(host);
  await edge?.close();
  await sim?.close();
});

it('a host killed and started again resumes its linked sessions with no new QR, and sends work', async () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  host = await startHostProcess(port);
  const created = await api(edge.url, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: 'resume-me' },
  });
  const key = created.body.apiKey as string;
  await linkByQr(edge.url, sim, key, '628130000001', 'Rina');
  await until(async () =>
    (await api(edge.url, 'GET', '/api/session/status', { key })).body.connected ? true : undefined,
  );

  await kill(host); // no shutdown at all: the process is gone
  const down = await api(edge.url, 'GET', '/api/session/status', { key });
  expect(down.status).toBe(503);
  expect(down.headers.get('retry-after')).toMatch(/^\d+$/);

  host = await startHostProcess(port);
  const status = await until(async () => {
    const res = await api(edge.url, 'GET', '/api/session/status', { key });
    return res.body.connected ? res : undefined;
  });
  expect(status.body.user).toEqual({ id: '628130000001@s.whatsapp.net', name: 'Rina' });
  // Resumed, not re-paired: still the one linked device.
  const devices = (await (await fetch(`${sim.url}/sim/accounts/628130000001`)).json()) as {
    devices: unknown[];
  };
  expect(devices.devices).toHaveLength(1);
  const sent = await api(edge.url, 'POST', '/api/send', {
    key,
    body: { to: '628130000099', message: 'after restart' },
  });
  expect(sent.status).toBe(200);
  await until(async () => {
    const inbox = (await (await fetch(`${sim.url}/sim/contacts/628130000099/messages`)).json()) as {
      text: string;
    }[];
    return inbox.find((m) => m.text === 'after restart');
  });
});

it('SIGTERM closes the sockets without logging anyone out; the next start resumes', async () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  if (host) await kill(host);
  host = await startHostProcess(port);
  const created = await api(edge.url, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: 'graceful' },
  });
  const key = created.body.apiKey as string;
  await linkByQr(edge.url, sim, key, '628130000002', 'Tono');
  await until(async () =>
    (await api(edge.url, 'GET', '/api/session/status', { key })).body.connected ? true : undefined,
  );

  expect(await kill(host, 'SIGTERM')).toBe(0);
  const account = (await (await fetch(`${sim.url}/sim/accounts/628130000002`)).json()) as {
    devices: { connected: boolean }[];
  };
  expect(account.devices).toEqual([expect.objectContaining({ connected: false })]); // still linked

  host = await startHostProcess(port);
  await until(async () =>
    (await api(edge.url, 'GET', '/api/session/status', { key })).body.connected ? true : undefined,
  );
  const sent = await api(edge.url, 'POST', '/api/send', {
    key,
    body: { to: '628130000098', message: 'after SIGTERM' },
  });
  expect(sent.status).toBe(200);
});
