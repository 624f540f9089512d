import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCode, connect, nextUpdate } from './baileys-client.js';
import { control, endSocket, eventually, linkDevice, startTestSimulator } from './fixtures.js';
import type { SimServer } from './server.js';

let server: SimServer;
beforeAll(async () => {
  server = await startTestSimulator();
});
afterAll(() => server.close());

const devices = async (phone: string) =>
  (await control(server, 'GET', `/sim/accounts/${phone}`)).body.devices as {
    id: number;
    connected: boolean;
  }[];

describe('logout', () => {
  it("Baileys' own logout unlinks the device in the simulator", async () => {
    const { sock } = await linkDevice(server, '628555000001');
    expect(await devices('628555000001')).toHaveLength(1);
    const closed = nextUpdate(sock, (u) => u.connection === 'close');
    await sock.logout();
    expect(closeCode(await closed)).toBe(401);
    await eventually(async () => ((await devices('628555000001')).length === 0 ? true : undefined));
  });

  it("the phone's unlink closes the socket as logged out (401), and the credentials no longer log in", async () => {
    const { sock, auth } = await linkDevice(server, '628555000002');
    const closed = nextUpdate(sock, (u) => u.connection === 'close');
    const res = await control(server, 'POST', '/sim/accounts/628555000002/unlink');
    expect(res.body).toEqual({ removed: 1 });
    expect(closeCode(await closed)).toBe(401);
    const again = connect(server.wsUrl, auth);
    expect(closeCode(await nextUpdate(again, (u) => u.connection === 'close'))).toBe(401);
  });

  it('unlinking an unknown account is a 404', async () => {
    expect((await control(server, 'POST', '/sim/accounts/628555000099/unlink')).status).toBe(404);
  });
});

describe('registration', () => {
  it('a number registered ahead keeps its account, and its pre-made keys take messages', async () => {
    const contact = '628555000010';
    const made = await control(server, 'PUT', `/sim/accounts/${contact}`, { name: 'Dewi' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ phone: contact, name: 'Dewi', devices: [] });
    const again = await control(server, 'PUT', `/sim/accounts/${contact}`);
    expect(again.status).toBe(200);
    expect(again.body.lid).toBe(made.body.lid);
    const { sock } = await linkDevice(server, '628555000011');
    await sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'to a registered number' });
    const inbox = await eventually(async () => {
      const got = (await control(server, 'GET', `/sim/contacts/${contact}/messages`)).body;
      return got.length > 0 ? got : undefined;
    });
    expect(inbox).toMatchObject([{ text: 'to a registered number', from: '628555000011@s.whatsapp.net' }]);
    expect((await control(server, 'GET', `/sim/accounts/${contact}`)).body.lid).toBe(made.body.lid);
    await endSocket(sock);
  });

  it('refuses a number not on WhatsApp, a name that is not a string, and a body that is not JSON', async () => {
    expect(await control(server, 'PUT', '/sim/accounts/9995550001')).toEqual({
      status: 404,
      body: { error: 'not on WhatsApp' },
    });
    expect(await control(server, 'PUT', '/sim/accounts/628555000012', { name: 7 })).toEqual({
      status: 400,
      body: { error: 'name must be a string' },
    });
    expect((await control(server, 'PUT', '/sim/accounts/628555000012', '{nope')).status).toBe(400);
    expect((await control(server, 'GET', '/sim/accounts/628555000012')).status).toBe(404);
  });
});

describe('replacement', () => {
  it('a second socket with the same credentials closes the first with 440', async () => {
    const { sock, auth } = await linkDevice(server, '628555000003');
    const replaced = nextUpdate(sock, (u) => u.connection === 'close');
    const second = connect(server.wsUrl, auth);
    await nextUpdate(second, (u) => u.connection === 'open');
    expect(closeCode(await replaced)).toBe(440);
    expect(await devices('628555000003')).toMatchObject([
      { id: 1, jid: '628555000003:1@s.whatsapp.net', connected: true },
    ]);
    await endSocket(second);
  });
});

describe('faults', () => {
  it('after a drop the socket reconnects with the same credentials and resumes with no new QR', async () => {
    const { sock, auth } = await linkDevice(server, '628555000004');
    const dropped = nextUpdate(sock, (u) => u.connection === 'close');
    const res = await control(server, 'POST', '/sim/faults', { kind: 'drop', phone: '628555000004' });
    expect(res.body).toMatchObject({ kind: 'drop', affected: 1 });
    expect(closeCode(await dropped)).toBe(428);
    const again = connect(server.wsUrl, auth);
    let sawQr = false;
    again.ev.on('connection.update', (u) => {
      if (u.qr) sawQr = true;
    });
    await nextUpdate(again, (u) => u.connection === 'open');
    expect(sawQr).toBe(false);
    const sent = await again.sendMessage('628555100004@s.whatsapp.net', { text: 'still here' });
    await eventually(async () => {
      const inbox = (await control(server, 'GET', '/sim/contacts/628555100004/messages')).body as {
        id: string;
      }[];
      return inbox.some((m) => m.id === sent?.key.id) ? true : undefined;
    });
    await endSocket(again);
  });

  it('restart-required closes with 515 and the next socket logs straight in', async () => {
    const { sock, auth } = await linkDevice(server, '628555000005');
    const closed = nextUpdate(sock, (u) => u.connection === 'close');
    await control(server, 'POST', '/sim/faults', { kind: 'restart-required', phone: '628555000005' });
    expect(closeCode(await closed)).toBe(515);
    const again = connect(server.wsUrl, auth);
    await nextUpdate(again, (u) => u.connection === 'open');
    await endSocket(again);
  });

  it('while unavailable, connecting fails; afterwards it succeeds', async () => {
    const { sock, auth } = await linkDevice(server, '628555000006');
    const dropped = nextUpdate(sock, (u) => u.connection === 'close');
    await control(server, 'POST', '/sim/faults', { kind: 'unavailable', ms: 1500 });
    await dropped;
    const during = connect(server.wsUrl, auth);
    let opened = false;
    during.ev.on('connection.update', (u) => {
      if (u.connection === 'open') opened = true;
    });
    const refused = await nextUpdate(during, (u) => u.connection === 'close');
    expect(opened).toBe(false);
    expect(closeCode(refused)).toBe(428);
    await new Promise((r) => setTimeout(r, 1600));
    const after = connect(server.wsUrl, auth);
    await nextUpdate(after, (u) => u.connection === 'open');
    await endSocket(after);
  });

  it('an unavailable phone is refused after the handshake with 503; other phones are not', async () => {
    const a = await linkDevice(server, '628555000007');
    const b = await linkDevice(server, '628555000008');
    await control(server, 'POST', '/sim/faults', { kind: 'unavailable', phone: '628555000007', ms: 60_000 });
    const again = connect(server.wsUrl, a.auth);
    expect(closeCode(await nextUpdate(again, (u) => u.connection === 'close'))).toBe(503);
    expect((await devices('628555000008'))[0]?.connected).toBe(true);
    await endSocket(b.sock);
  });

  it('refuses bad fault requests with 400', async () => {
    for (const body of [
      { kind: 'explode' },
      { kind: 'unavailable' },
      { kind: 'unavailable', ms: -5 },
      { kind: 'drop', phone: 'abc' },
    ]) {
      expect((await control(server, 'POST', '/sim/faults', body)).status).toBe(400);
    }
  });
});
