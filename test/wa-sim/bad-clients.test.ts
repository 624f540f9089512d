import { Curve, NOISE_WA_HEADER, proto } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { control, endSocket, eventually, type Linked, linkDevice, startTestSimulator } from './fixtures.js';
import type { SimServer } from './server.js';

let server: SimServer;
let healthy: Linked;
beforeAll(async () => {
  server = await startTestSimulator();
  healthy = await linkDevice(server, '628777000001');
});
afterAll(async () => {
  await endSocket(healthy.sock);
  await server.close();
});

const frame = (payload: Uint8Array) => {
  const out = Buffer.alloc(3 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out.set(payload, 3);
  return out;
};

/** Opens a raw WebSocket, sends `messages` in order and resolves with how it was closed. */
const rawClient = (messages: Buffer[]) =>
  new Promise<{ code: number; gotBytes: number }>((resolve, reject) => {
    const ws = new WebSocket(server.wsUrl);
    let gotBytes = 0;
    ws.on('open', () => {
      for (const m of messages) ws.send(m);
    });
    ws.on('message', (d: Buffer) => {
      gotBytes += d.length;
    });
    ws.on('close', (code) => resolve({ code, gotBytes }));
    ws.on('error', reject);
  });

/** The healthy device still works: it sends, and the contact receives. */
const stillServes = async () => {
  const sent = await healthy.sock.sendMessage('628777100001@s.whatsapp.net', { text: 'unaffected' });
  await eventually(async () => {
    const inbox = (await control(server, 'GET', '/sim/contacts/628777100001/messages')).body as {
      id: string;
    }[];
    return inbox.some((m) => m.id === sent?.key.id) ? true : undefined;
  });
};

describe('bad clients are dropped with no effect on the others', () => {
  it('garbage bytes instead of the intro', async () => {
    const { gotBytes } = await rawClient([Buffer.from('GET / HTTP/1.1 garbage garbage')]);
    expect(gotBytes).toBe(0);
    await stillServes();
  });

  it('a broken handshake: a valid hello, then a finish that does not decrypt', async () => {
    const hello = proto.HandshakeMessage.encode({
      clientHello: { ephemeral: Curve.generateKeyPair().public },
    }).finish();
    const finish = proto.HandshakeMessage.encode({
      clientFinish: { static: Buffer.alloc(48, 7), payload: Buffer.alloc(64, 9) },
    }).finish();
    const { gotBytes } = await rawClient([Buffer.concat([NOISE_WA_HEADER, frame(hello)]), frame(finish)]);
    expect(gotBytes).toBeGreaterThan(0); // the server hello came back before the drop
    expect(server.sim.connectionCount).toBe(1);
    await stillServes();
  });

  it('a hello that is not a protobuf', async () => {
    await rawClient([Buffer.concat([NOISE_WA_HEADER, frame(Buffer.from([0xff, 0xff, 0xff, 0x01]))])]);
    await stillServes();
  });

  it('a frame header announcing an oversized frame', async () => {
    const { gotBytes } = await rawClient([Buffer.concat([NOISE_WA_HEADER, Buffer.from([0xff, 0xff, 0xff])])]);
    expect(gotBytes).toBe(0);
    await stillServes();
  });

  it('a WebSocket message over the size limit', async () => {
    const { code } = await rawClient([Buffer.concat([NOISE_WA_HEADER, Buffer.alloc(2 * 1024 * 1024)])]);
    expect(code).toBe(1009);
    await stillServes();
  });

  it('unknown control routes and methods', async () => {
    expect((await control(server, 'GET', '/sim/nothing')).status).toBe(404);
    expect((await control(server, 'GET', '/sim/scan')).status).toBe(405);
    expect((await control(server, 'POST', '/sim/scan', '[1,2]')).status).toBe(400);
  });
});
