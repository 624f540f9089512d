// Baileys bugs the gateway patches (patches/@whiskeysockets+baileys+*.patch), each shown against the
// simulator: every test here fails on unpatched Baileys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCode, connect, memoryAuthState, nextUpdate, trustSimulator } from './baileys-client.js';
import { newKeyPair } from './certificates.js';
import { control, endSocket, eventually, type Linked, linkDevice, startTestSimulator } from './fixtures.js';
import type { SimServer } from './server.js';

let server: SimServer;
beforeAll(async () => {
  server = await startTestSimulator();
});
afterAll(() => server.close());

describe('privacy tokens', () => {
  let alice: Linked;
  beforeAll(async () => {
    alice = await linkDevice(server, '628777000001', 'Alice');
  });
  afterAll(() => endSocket(alice.sock));

  it('are issued to a contact once, not again on every send (the write outlived its key transaction)', async () => {
    const contact = '628777000002@s.whatsapp.net';
    const before = server.sim.privacyTokenIssues;
    await alice.sock.sendMessage(contact, { text: 'first' });
    // The issuance is fire-and-forget after the send: wait for it before the next one.
    await eventually(() => (server.sim.privacyTokenIssues > before ? true : undefined));
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 5; i++) await alice.sock.sendMessage(contact, { text: `again ${i}` });
    await new Promise((r) => setTimeout(r, 300));
    expect(server.sim.privacyTokenIssues - before).toBe(1);
  });
});

describe('signatures', () => {
  it('a server whose certificate chain the trusted root did not sign is refused', async () => {
    trustSimulator(newKeyPair().public.toString('hex'));
    try {
      const sock = connect(server.wsUrl, memoryAuthState());
      const updates: string[] = [];
      sock.ev.on('connection.update', (u) => {
        if (u.qr) updates.push('qr');
        if (u.connection) updates.push(u.connection);
      });
      await nextUpdate(sock, (u) => u.connection === 'close');
      expect(updates).not.toContain('qr');
    } finally {
      trustSimulator(server.trustRoot);
    }
  });

  it('a pairing whose device identity the phone did not sign is refused, and nothing is linked', async () => {
    const auth = memoryAuthState();
    const sock = connect(server.wsUrl, auth);
    const { qr } = await nextUpdate(sock, (u) => !!u.qr);
    const closed = nextUpdate(sock, (u) => u.connection === 'close');
    expect((await control(server, 'POST', '/sim/faults', { kind: 'forged-pairing' })).status).toBe(200);
    const scan = await control(server, 'POST', '/sim/scan', { qr, phone: '628777000003' });
    expect(scan.status).toBe(502);
    expect(closeCode(await closed)).not.toBe(515);
    expect(auth.creds.me).toBeUndefined();
    expect(auth.creds.account).toBeUndefined();
    const account = await control(server, 'GET', '/sim/accounts/628777000003');
    expect(account.body.devices).toEqual([]);
  });
});
