// `npm run host` and `npm run edge` as an operator runs them on machines of their own: each its own
// process, one database between them, compiled JavaScript. A fresh database is migrated by whichever
// starts first. The edge fronts three hosts, and the README's walk-through runs against it as written.
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { generateSecretKey } from '../../shared/webhook-secrets.js';
import { type NpmScript, startNpmScript } from '../helpers/npm-script.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { readmeSteps, runSteps } from '../helpers/readme.js';
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

it('npm run host (three of them) and npm run edge serve one database apart: the README walk-through passes', async () => {
  database = await createTestDatabase({ migrate: false });
  sim = await startSimulator();
  const shared = {
    DATABASE_URL: database.url,
    EDGE_HOST_SECRET: randomBytes(32).toString('base64url'),
    WEBHOOK_SECRET_KEY: generateSecretKey(),
  };
  const hostIds = ['apart-1', 'apart-2', 'apart-3'];
  for (const id of hostIds) {
    const host = await startNpmScript(
      'host',
      { ...shared, HOST_ID: id, WA_WS_URL: sim.wsUrl, WA_TRUST_ROOT: sim.trustRoot, HOST_DRAIN_SECONDS: '0' },
      60_000,
      '"url":',
    );
    running.push(host);
  }
  const edge = await startNpmScript('edge', { ...shared, EDGE_LISTEN: '127.0.0.1' });
  running.push(edge);
  // Each runs its compiled entry, with no TypeScript loader.
  const lines = running.flatMap((script) => script.commandLines()).map((args) => args.join(' '));
  expect(lines.filter((l) => l.endsWith('dist/node-runtime/host/main.js'))).toHaveLength(3);
  expect(lines.some((l) => l.endsWith('dist/scripts/edge.js'))).toBe(true);
  expect(lines.join('\n')).not.toMatch(/tsx/);

  const edgeAt = edge.announced('ready at');
  const adminKey = /waga_[0-9A-Za-z]+/.exec(edge.output())?.[0] ?? '';
  // Two sessions first, so the walk-through's lands on the third host: each host carries one.
  for (const name of ['first', 'second']) {
    const created = await api(`http://${edgeAt}`, 'POST', '/api/session/create', {
      key: adminKey,
      body: { sessionId: name },
    });
    expect(created.status).toBe(200);
  }
  const env = { ...process.env, ADMIN_KEY: adminKey, SESSION_KEY: '' };
  const steps = await readmeSteps('walkthrough');
  expect(steps.length).toBeGreaterThanOrEqual(8);
  const hosts = { 'localhost:3000': edgeAt, 'localhost:3100': new URL(sim.url).host };
  await runSteps(steps, { env, hosts }, (answer) => {
    const created = answer as { apiKey?: string };
    if (created.apiKey) env.SESSION_KEY = created.apiKey;
  });
  const placed = await database.db.selectFrom('sessions').select('host_id').execute();
  expect(placed.map((s) => s.host_id).sort()).toEqual(hostIds);

  // "Sending reliably", on the same session linked again (the walk-through ended by logging it out).
  await linkByQr(`http://${edgeAt}`, sim, env.SESSION_KEY, '6281234567890', 'Budi');
  await until(async () =>
    (await api(`http://${edgeAt}`, 'GET', '/api/session/status', { key: env.SESSION_KEY })).body.connected
      ? true
      : undefined,
  );
  const sending = await readmeSteps('sending');
  expect(sending.length).toBe(6);
  const answers: unknown[] = [];
  await runSteps(sending, { env, hosts }, (answer) => {
    answers.push(answer);
  });
  const [queued, replayed] = answers as [{ id: string }, { id: string }];
  expect(replayed.id).toBe(queued.id);
});
