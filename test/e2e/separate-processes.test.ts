// `npm run host` and `npm run edge` as an operator runs them on machines of their own: each its own
// process, one database between them, compiled JavaScript. A fresh database is migrated by whichever
// starts first; a session made through the edge links and sends through the host.
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { generateSecretKey } from '../../shared/webhook-secrets.js';
import { type NpmScript, startNpmScript } from '../helpers/npm-script.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { type SimServer, startSimulator } from '../wa-sim/server.js';
import { api, linkByQr, until } from './flow.js';

let database: TestDatabase | undefined;
let sim: SimServer | undefined;
const running: NpmScript[] = [];

afterAll(async () => {
  for (const script of running.reverse()) await script.signal('SIGTERM');
  await sim?.close();
  await database?.drop();
});

it('npm run host and npm run edge serve one database apart: a session links and sends through them', async () => {
  database = await createTestDatabase({ migrate: false });
  sim = await startSimulator();
  const shared = {
    DATABASE_URL: database.url,
    EDGE_HOST_SECRET: randomBytes(32).toString('base64url'),
    WEBHOOK_SECRET_KEY: generateSecretKey(),
  };
  const host = await startNpmScript(
    'host',
    { ...shared, HOST_ID: 'apart-1', WA_WS_URL: sim.wsUrl, WA_TRUST_ROOT: sim.trustRoot },
    60_000,
    '"url":',
  );
  running.push(host);
  const edge = await startNpmScript('edge', { ...shared, EDGE_LISTEN: '127.0.0.1' });
  running.push(edge);
  // Each runs its compiled entry, with no TypeScript loader.
  const lines = [...host.commandLines(), ...edge.commandLines()].map((args) => args.join(' '));
  expect(lines.some((l) => l.endsWith('dist/node-runtime/host/main.js'))).toBe(true);
  expect(lines.some((l) => l.endsWith('dist/scripts/edge.js'))).toBe(true);
  expect(lines.join('\n')).not.toMatch(/tsx/);

  const at = `http://${edge.announced('ready at')}`;
  const adminKey = /waga_[0-9A-Za-z]+/.exec(edge.output())?.[0] ?? '';
  const created = await api(at, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: 'apart' },
  });
  expect(created.status).toBe(200);
  const key = created.body.apiKey as string;
  await linkByQr(at, sim, key, '6285700000001', 'Apart');
  await until(async () =>
    (await api(at, 'GET', '/api/session/status', { key })).body.connected ? true : undefined,
  );
  const sent = await api(at, 'POST', '/api/send', {
    key,
    body: { to: '6285700000002', message: 'from two processes' },
  });
  expect(sent.status).toBe(200);
  const inbox = await until(async () => {
    const got = (await (await fetch(`${sim?.url}/sim/contacts/6285700000002/messages`)).json()) as {
      text: string;
    }[];
    return got.length ? got : undefined;
  });
  expect(inbox.map((m) => m.text)).toEqual(['from two processes']);
});
