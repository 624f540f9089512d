import { afterAll, beforeAll, describe, it } from 'vitest';
import { type RunningEdgeRuntime, startEdgeInDeno, startEdgeInWorkerd } from '../helpers/edge-runtimes.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { useBackend } from './backend.js';
import { pairingCodeFlow, seedFlow } from './flow.js';

// The seed flow with the edge in the real workerd (Postgres over the Hyperdrive binding) and on Deno,
// in front of a real session host and the simulator.
const SECRET = 'runtime-secret-runtime-secret-runtime-0';
const database = useTestDatabase();
const backend = useBackend(database, { hostId: 'host-runtimes', secret: SECRET });

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
    await seedFlow(edge.url, backend().sim, backend().adminKey, tag);
  });

  it('links by pairing code', async () => {
    await pairingCodeFlow(edge.url, backend().sim, backend().adminKey, tag);
  });
});
