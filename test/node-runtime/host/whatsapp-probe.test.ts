// A host checks that it can reach WhatsApp (here the simulator) and records the answer in its row, which
// /health reads: with no way to WhatsApp, the gateway must not look healthy.
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost } from '../../../node-runtime/host/server.js';
import { checkWhatsApp } from '../../../node-runtime/host/whatsapp-probe.js';
import { useTestDatabase } from '../../helpers/postgres.js';
import { eventually } from '../../wa-sim/fixtures.js';
import { type SimServer, startSimulator } from '../../wa-sim/server.js';

const database = useTestDatabase();
let sim: SimServer;

/** A URL on a local port nothing listens on. */
const closedPort = async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `ws://127.0.0.1:${port}/ws/chat`;
};

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim?.close());

describe('checkWhatsApp', () => {
  it('reaches the simulator', async () => {
    expect(await checkWhatsApp(sim.wsUrl)).toMatchObject({ status: 'reachable' });
  });

  it('says why when nothing answers, or the name does not resolve, or the upgrade is refused', async () => {
    expect(await checkWhatsApp(await closedPort())).toMatchObject({
      status: 'unreachable',
      error: expect.stringContaining('ECONNREFUSED'),
    });
    expect(await checkWhatsApp('ws://wa-gateway-test.invalid/ws/chat')).toMatchObject({
      status: 'unreachable',
      error: expect.stringMatching(/ENOTFOUND|EAI_AGAIN/),
    });
    // A proxy that refuses the upgrade: an HTTP server that answers 403 to everything.
    const proxy = createHttpServer((_req, res) => res.writeHead(403).end());
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as { port: number };
    expect(await checkWhatsApp(`ws://127.0.0.1:${port}/ws/chat`)).toMatchObject({
      status: 'unreachable',
      error: 'WebSocket upgrade refused (HTTP 403)',
    });
    await new Promise((resolve) => proxy.close(resolve));
  });
});

it('a host records whether it reaches WhatsApp in its row, and notices when that changes', async () => {
  const { db } = database();
  const row = (id: string) =>
    db
      .selectFrom('hosts')
      .select(['whatsapp', 'whatsapp_error'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  const reaching = await startHost({
    db,
    hostId: 'host-reaching',
    port: 0,
    secret: 'probe-secret-probe-secret-probe-secret-01',
    wa: { wsUrl: sim.wsUrl, trustRoot: sim.trustRoot },
    logger: pino({ level: 'silent' }),
  });
  const cut = await startHost({
    db,
    hostId: 'host-cut-off',
    port: 0,
    secret: 'probe-secret-probe-secret-probe-secret-01',
    wa: { wsUrl: await closedPort() },
    logger: pino({ level: 'silent' }),
    whatsappCheckMs: 200,
  });
  try {
    expect(
      await eventually(async () =>
        (await row('host-reaching')).whatsapp === 'reachable' ? true : undefined,
      ),
    ).toBe(true);
    const offline = await eventually(async () => {
      const r = await row('host-cut-off');
      return r.whatsapp === 'unreachable' ? r : undefined;
    });
    expect(offline.whatsapp_error).toContain('ECONNREFUSED');
  } finally {
    await reaching.close();
    await cut.close();
  }
});
