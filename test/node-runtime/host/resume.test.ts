// Resume is a state, not a race: a host restores every session where it was before it serves, a request
// can never bring a linked session up idle, the mirror never erases a linked account, and a linked
// session that is reconnecting answers sends with a retryable 503, not "scan the QR".

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHost, startHost } from '../../../node-runtime/host/server.js';
import { SessionHost } from '../../../node-runtime/host/sessions.js';
import { applyTrustRoot, type WaConnection } from '../../../node-runtime/wa/socket-actor.js';
import { NO_PACING } from '../../../shared/outbox.js';
import { queueText } from '../../helpers/outbox.js';
import { useTestDatabase } from '../../helpers/postgres.js';
import { control, eventually } from '../../wa-sim/fixtures.js';
import { type SimServer, startSimulator } from '../../wa-sim/server.js';

const SECRET = 'resume-secret-resume-secret-resume-0123';
const HOST_ID = 'host-resume';
const database = useTestDatabase();
const silent = pino({ level: 'silent' });
let sim: SimServer;
let wa: WaConnection;
let tenantId: string;
const hosts: { close(): Promise<void> }[] = [];

const newSession = async (name: string) => {
  const row = await database()
    .db.insertInto('sessions')
    .values({ tenant_id: tenantId, name, host_id: HOST_ID })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
};

const sessionRow = (id: string) =>
  database().db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

const runHost = async (extra: Partial<WaConnection> = {}): Promise<RunningHost> => {
  const host = await startHost({
    db: database().db,
    hostId: HOST_ID,
    port: 0,
    secret: SECRET,
    wa: { ...wa, ...extra },
    logger: silent,
    pacing: NO_PACING,
  });
  hosts.push(host);
  return host;
};

/** Links session `id` on `sessions` to `phone` through the simulator and waits for it to connect. */
const link = async (sessions: SessionHost, id: string, phone: string) => {
  const view = await sessions.qr(id);
  expect((await control(sim, 'POST', '/sim/scan', { qr: view.qr, phone, name: 'Rina' })).status).toBe(200);
  await eventually(async () => ((await sessions.view(id)).connected ? true : undefined));
  await eventually(async () => ((await sessionRow(id)).state === 'connected' ? true : undefined));
};

beforeAll(async () => {
  sim = await startSimulator();
  wa = { wsUrl: sim.wsUrl, trustRoot: sim.trustRoot };
  applyTrustRoot(sim.trustRoot);
  tenantId = (
    await database().db.insertInto('tenants').values({ name: 't' }).returning('id').executeTakeFirstOrThrow()
  ).id;
});
afterAll(async () => {
  for (const host of hosts.splice(0)) await host.close();
  await sim?.close();
});

describe('resume', () => {
  it('a request that reaches a new host first finds the linked session resuming, never idle', async () => {
    const first = await runHost();
    const id = await newSession('first-request');
    await link(first.sessions, id, '628700000001');
    await first.close();

    // A host whose very first contact with the session is a request, before any resume ran.
    const sessions = new SessionHost({ db: database().db, hostId: HOST_ID, wa, logger: silent });
    hosts.push({ close: () => sessions.stopAll() });
    const view = await sessions.view(id);
    expect(view.state).toBe('connecting');
    expect((await sessionRow(id)).account_jid).toBe('628700000001@s.whatsapp.net');
    await eventually(async () => ((await sessions.view(id)).connected ? true : undefined));
    // Resumed, not paired again: still one linked device.
    expect((await control(sim, 'GET', '/sim/accounts/628700000001')).body.devices).toHaveLength(1);
    await sessions.stopAll();
  });

  it('a restarted host resumes what it owns before it serves; the account is never erased', async () => {
    const first = await runHost();
    const id = await newSession('restart');
    await link(first.sessions, id, '628700000002');
    await first.close();
    // The phone's logins fail for a while: the session stays reconnecting after the restart.
    await control(sim, 'POST', '/sim/faults', { kind: 'unavailable', phone: '628700000002', ms: 3_000 });
    const second = await runHost();
    expect(['connecting', 'reconnecting']).toContain((await second.sessions.view(id)).state);
    const during = await sessionRow(id);
    expect(during.account_jid).toBe('628700000002@s.whatsapp.net');
    expect(during.state).not.toBe('idle');

    const queued = await queueText(database().db, id, '628700000099@s.whatsapp.net', 'while reconnecting');
    expect(await second.sessions.sendQueued(id, queued)).toEqual({ ok: false, error: 'reconnecting' });

    await eventually(async () => ((await second.sessions.view(id)).connected ? true : undefined), 20_000);
    expect((await sessionRow(id)).account_jid).toBe('628700000002@s.whatsapp.net');
    await second.close();
  });

  it('a session that rests (replaced, logged out) stays resting across a restart', async () => {
    const first = await runHost();
    const id = await newSession('resting');
    await link(first.sessions, id, '628700000003');
    await first.sessions.logout(id);
    await first.close();
    const second = await runHost();
    expect((await second.sessions.view(id)).state).toBe('logged-out');
    await second.close();
  });

  it('a pairing nobody scans ends in qr-expired once its QRs run out, and stays there', async () => {
    // Six QRs of 1.5 s each; pings every second, so a socket whose pings go unanswered is lost in ~6 s.
    const host = await runHost({ qrTimeoutMs: 1_500, keepAliveIntervalMs: 1_000 });
    const id = await newSession('nobody-scans');
    const first = await host.sessions.qr(id);
    expect(first.qr).toBeTruthy();
    await eventually(
      async () => ((await host.sessions.view(id)).state === 'qr-expired' ? true : undefined),
      20_000,
    );
    // No reconnect for a new QR: the session rests until someone asks again.
    const connections = (await control(sim, 'GET', '/sim/health')).body.connections;
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await host.sessions.view(id)).state).toBe('qr-expired');
    expect((await control(sim, 'GET', '/sim/health')).body.connections).toBe(connections);
    expect((await sessionRow(id)).state).toBe('qr-expired');
    // Asking again starts a new pairing.
    expect((await host.sessions.qr(id)).qr).toBeTruthy();
    await host.close();
  });

  it('a pairing code nobody types leaves the session able to pair again, not logged out', async () => {
    const host = await runHost({ qrTimeoutMs: 500, keepAliveIntervalMs: 1_000 });
    const id = await newSession('code-never-typed');
    expect((await host.sessions.pairingCode(id, '6283100000001')).code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    await eventually(
      async () => ((await host.sessions.view(id)).state === 'qr-expired' ? true : undefined),
      20_000,
    );
    // Baileys saved the phone as `me` when it asked: the next connection must register, not log in.
    const again = await host.sessions.qr(id);
    expect(again.state).toBe('awaiting-qr');
    expect(again.qr).toBeTruthy();
    await link(host.sessions, id, '6283100000002');
    expect((await host.sessions.view(id)).user?.id).toBe('6283100000002@s.whatsapp.net');
    await host.close();
  });
});
