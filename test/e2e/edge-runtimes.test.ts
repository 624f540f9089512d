import { pino } from 'pino';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ensureDefaultTenant } from '../../edge/bootstrap.js';
import { type RunningHost, startHost } from '../../node-runtime/host/server.js';
import { type RunningEdgeRuntime, startEdgeInDeno, startEdgeInWorkerd } from '../helpers/edge-runtimes.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { type SimServer, startSimulator } from '../wa-sim/server.js';
import { seedFlow } from './flow.js';

// The seed flow with the edge in the real workerd (Postgres over the Hyperdrive binding) and on Deno,
// in front of a real session host and the simulator.
const SECRET = 'runtime-secret-runtime-secret-runtime-0';
const database = useTestDatabase();
let sim: SimServer;
let host: RunningHost;
let adminKey: string;

beforeAll(async () => {
  const { db } = database();
  sim = await startSimulator();
  host = await startHost({
    db,
    hostId: 'host-runtimes',
    port: 0,
    secret: SECRET,
    wa: { wsUrl: sim.wsUrl, trustRoot: sim.trustRoot },
    logger: pino({ level: 'silent' }),
  });
  adminKey = (await ensureDefaultTenant(db)).adminKey ?? '';
});
afterAll(async () => {
  await host?.close();
  await sim?.close();
});

describe.each([
  ['workerd', startEdgeInWorkerd, '21'],
  ['Deno', startEdgeInDeno, '22'],
] as const)('the seed API end to end, edge in %s', (_name, start, tag) => {
  let edge: RunningEdgeRuntime;
  beforeAll(async () => {
    edge = await start({ databaseUrl: database().url, hostSecret: SECRET });
  });
  afterAll(() => edge?.stop());

  it('create, QR, scan, status, send, logout, fresh QR', async () => {
    await seedFlow(edge.url, sim, adminKey, tag);
  });
});
