import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCode, connect, memoryAuthState, nextUpdate } from './baileys-client.js';
import { control, endSocket, linkDevice, startTestSimulator } from './fixtures.js';
import type { SimServer } from './server.js';

let server: SimServer;
beforeAll(async () => {
  server = await startTestSimulator();
});
afterAll(() => server.close());

describe('QR pairing', () => {
  it('shows a QR, links on scan, restarts with 515 and logs in as the scanned phone', async () => {
    const auth = memoryAuthState();
    const sock = connect(server.wsUrl, auth);
    const { qr } = await nextUpdate(sock, (u) => !!u.qr);
    expect(qr).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#2@/);
    const restarted = nextUpdate(sock, (u) => u.connection === 'close');
    const scan = await control(server, 'POST', '/sim/scan', { qr, phone: '628111000001', name: 'Ani' });
    expect(scan.status).toBe(200);
    expect(scan.body.jid).toBe('628111000001:1@s.whatsapp.net');
    expect(closeCode(await restarted)).toBe(515);
    expect(auth.creds.me?.id).toBe('628111000001:1@s.whatsapp.net');
    expect(auth.creds.me?.lid).toMatch(/^\d+:1@lid$/);

    const again = connect(server.wsUrl, auth);
    await nextUpdate(again, (u) => u.connection === 'open');
    expect(again.user?.id).toBe('628111000001:1@s.whatsapp.net');
    expect(again.user?.name).toBe('Ani');
    const info = await control(server, 'GET', '/sim/accounts/628111000001');
    expect(info.body.devices).toMatchObject([
      { id: 1, jid: '628111000001:1@s.whatsapp.net', connected: true },
    ]);
    await endSocket(again);
  });

  it('rotates the QR through several refs, any of which links while the socket waits', async () => {
    const auth = memoryAuthState();
    const sock = connect(server.wsUrl, auth, { qrTimeout: 200 });
    const first = await nextUpdate(sock, (u) => !!u.qr);
    const second = await nextUpdate(sock, (u) => !!u.qr && u.qr !== first.qr);
    expect(second.qr?.split(',')[0]).not.toBe(first.qr?.split(',')[0]);
    const restarted = nextUpdate(sock, (u) => u.connection === 'close');
    expect(
      (await control(server, 'POST', '/sim/scan', { qr: second.qr, phone: '628111000002' })).status,
    ).toBe(200);
    expect(closeCode(await restarted)).toBe(515);
  });

  it('gives the next device of the same phone a new device number', async () => {
    const a = await linkDevice(server, '628111000003');
    const b = await linkDevice(server, '628111000003');
    expect(a.auth.creds.me?.id).toBe('628111000003:1@s.whatsapp.net');
    expect(b.auth.creds.me?.id).toBe('628111000003:2@s.whatsapp.net');
    await endSocket(a.sock);
    await endSocket(b.sock);
  });

  it('refuses malformed QR text with 400 and an unknown or expired ref with 404', async () => {
    const bad = await control(server, 'POST', '/sim/scan', { qr: 'hello', phone: '628111000004' });
    expect(bad.status).toBe(400);
    const notJson = await control(server, 'POST', '/sim/scan', '{oops');
    expect(notJson.status).toBe(400);

    const auth = memoryAuthState();
    const sock = connect(server.wsUrl, auth);
    const { qr } = await nextUpdate(sock, (u) => !!u.qr);
    const closed = nextUpdate(sock, (u) => u.connection === 'close');
    await endSocket(sock);
    await closed;
    const expired = await control(server, 'POST', '/sim/scan', { qr, phone: '628111000004' });
    expect(expired.status).toBe(404);
    const unknown = (qr ?? '').replace(/#2@[^,]+/, '#2@doesnotexist');
    expect((await control(server, 'POST', '/sim/scan', { qr: unknown, phone: '628111000004' })).status).toBe(
      404,
    );
  });

  it('refuses to link a phone number that is not on WhatsApp', async () => {
    const sock = connect(server.wsUrl, memoryAuthState());
    const { qr } = await nextUpdate(sock, (u) => !!u.qr);
    expect((await control(server, 'POST', '/sim/scan', { qr, phone: '9991234567' })).status).toBe(400);
    await endSocket(sock);
  });
});

describe('pairing code', () => {
  /** A companion that asked for a pairing code for `phone`, as Baileys' users do once the QR shows. */
  const askForCode = async (phone: string) => {
    const auth = memoryAuthState();
    const sock = connect(server.wsUrl, auth);
    await nextUpdate(sock, (u) => !!u.qr);
    const code = await sock.requestPairingCode(phone);
    return { auth, sock, code };
  };

  it('links when the phone types the code, with the key exchange WhatsApp runs', async () => {
    const { auth, sock, code } = await askForCode('628111000011');
    expect(code).toMatch(/^[1-9A-HJ-NP-TV-Z]{8}$/);
    const restarted = nextUpdate(sock, (u) => u.connection === 'close');
    // Typed as the phone shows it, with the dash.
    const typed = `${code.slice(0, 4)}-${code.slice(4)}`;
    const entered = await control(server, 'POST', '/sim/pair-code', {
      phone: '628111000011',
      code: typed,
      name: 'Budi',
    });
    expect(entered).toMatchObject({ status: 200, body: { jid: '628111000011:1@s.whatsapp.net' } });
    expect(closeCode(await restarted)).toBe(515);
    expect(auth.creds.registered).toBe(true);
    expect(auth.creds.me?.id).toBe('628111000011:1@s.whatsapp.net');

    const again = connect(server.wsUrl, auth);
    await nextUpdate(again, (u) => u.connection === 'open');
    expect(again.user?.name).toBe('Budi');
    await endSocket(again);
  });

  it('refuses a wrong code at the key exchange, and the right one still links afterwards', async () => {
    const { auth, sock, code } = await askForCode('628111000012');
    const wrong = code === 'ABCDEFGH' ? 'ABCDEFGJ' : 'ABCDEFGH';
    const refused = await control(server, 'POST', '/sim/pair-code', { phone: '628111000012', code: wrong });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/wrong pairing code/);
    expect(auth.creds.registered).toBe(false);

    const restarted = nextUpdate(sock, (u) => u.connection === 'close');
    expect((await control(server, 'POST', '/sim/pair-code', { phone: '628111000012', code })).status).toBe(
      200,
    );
    expect(closeCode(await restarted)).toBe(515);
  });

  it('is only asked on the phone the code was requested for', async () => {
    const { sock, code } = await askForCode('628111000013');
    const other = await control(server, 'POST', '/sim/pair-code', { phone: '628111000014', code });
    expect(other.status).toBe(404);
    await endSocket(sock);
    // Once the device is gone, its code is too.
    expect((await control(server, 'POST', '/sim/pair-code', { phone: '628111000013', code })).status).toBe(
      404,
    );
  });

  it('refuses malformed input', async () => {
    for (const body of [
      { phone: '628111000015', code: 'ABC' },
      { phone: '628111000015', code: 12345678 },
      { phone: 'nope', code: 'ABCDEFGH' },
      { phone: '628111000015', code: 'ABCDEFGH', name: 7 },
    ]) {
      expect((await control(server, 'POST', '/sim/pair-code', body)).status).toBe(400);
    }
  });

  it('a pairing code for a number not on WhatsApp is refused (patched Baileys waits for the answer)', async () => {
    const sock = connect(server.wsUrl, memoryAuthState());
    await nextUpdate(sock, (u) => !!u.qr);
    await expect(sock.requestPairingCode('99912345678')).rejects.toMatchObject({
      message: 'item-not-found',
      data: 404,
    });
    await endSocket(sock);
  });
});
