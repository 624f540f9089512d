// Baileys bugs the gateway patches (patches/@whiskeysockets+baileys+*.patch), each shown against the
// simulator: every test here fails on unpatched Baileys.
import type { Socket } from 'node:net';
import { Curve, type WAMessage, type WASocket } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTogether } from '../../node-runtime/wa/socket-actor.js';
import { closeCode, connect, memoryAuthState, nextUpdate, trustSimulator } from './baileys-client.js';
import { newKeyPair } from './certificates.js';
import { control, endSocket, eventually, type Linked, linkDevice, startTestSimulator } from './fixtures.js';
import type { SimServer } from './server.js';
import { pendingKey } from './world.js';

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

/** The texts a simulated contact has received, oldest first. */
const inboxOf = async (contact: string) =>
  ((await control(server, 'GET', `/sim/contacts/${contact}/messages`)).body as { text: string }[]).map(
    (m) => m.text,
  );

describe('sends inside one key-store transaction', () => {
  it('commit their keys once, and their stanzas leave after that commit, in order', async () => {
    const alice = await linkDevice(server, '628777000031', 'Alice');
    const contact = '628777000032';
    const inbox = () => inboxOf(contact);
    try {
      // A first message opens the Signal session, so the three below are plain ratchet steps.
      await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'hello' });
      await eventually(async () => ((await inbox()).length === 1 ? true : undefined));
      await new Promise((r) => setTimeout(r, 200)); // its privacy token's write, fire-and-forget
      const { keys } = alice.auth;
      const write = keys.set.bind(keys);
      let commits = 0;
      keys.set = async (data) => {
        commits++;
        return write(data);
      };
      const { authState } = alice.sock;
      let seenInside: string[] = [];
      await authState.keys.transaction(async () => {
        for (const text of ['one', 'two', 'three']) {
          await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text });
        }
        await new Promise((r) => setTimeout(r, 200));
        seenInside = await inbox();
        expect(commits).toBe(0);
      }, authState.creds.me?.id ?? '');
      expect(seenInside).toEqual(['hello']);
      expect(commits).toBe(1);
      expect(await eventually(async () => ((await inbox()).length === 4 ? inbox() : undefined))).toEqual([
        'hello',
        'one',
        'two',
        'three',
      ]);
    } finally {
      await endSocket(alice.sock);
    }
  });
});

/** Counts the system writes of a socket's TCP connection: how many chunks each carried. */
const countWrites = (sock: WASocket) => {
  const tcp = (sock.ws as unknown as { socket: { _socket: Socket } }).socket._socket as Socket & {
    _write(chunk: unknown, encoding: string, cb: (err?: Error | null) => void): void;
    _writev(chunks: unknown[], cb: (err?: Error | null) => void): void;
  };
  const writes: number[] = [];
  const one = tcp._write.bind(tcp);
  const many = tcp._writev.bind(tcp);
  tcp._write = (chunk, encoding, cb) => {
    writes.push(1);
    one(chunk, encoding, cb);
  };
  tcp._writev = (chunks, cb) => {
    writes.push(chunks.length);
    many(chunks, cb);
  };
  return writes;
};

describe('what waits for a key-store transaction to commit', () => {
  let alice: Linked;
  const contact = '628777000042';
  const inbox = () => inboxOf(contact);
  beforeAll(async () => {
    alice = await linkDevice(server, '628777000041', 'Alice');
    // A first message opens the Signal session, so the sends below are plain ratchet steps.
    await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'hello' });
    await eventually(async () => ((await inbox()).length === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200)); // its privacy token's write, fire-and-forget
  });
  afterAll(() => endSocket(alice.sock));

  it('is called in order after the commit, none waiting for the one before', async () => {
    const { authState } = alice.sock;
    const called: string[] = [];
    let letFirstEnd: () => void = () => {};
    const tx = authState.keys.transaction(async () => {
      await authState.keys.afterCommit(async () => {
        called.push('first');
        // Ends only once the second has been called: waiting for it before the second would never end.
        await new Promise<void>((resolve) => {
          letFirstEnd = resolve;
        });
      });
      await authState.keys.afterCommit(async () => {
        called.push('second');
        letFirstEnd();
      });
    }, authState.creds.me?.id ?? '');
    const stuck = new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`only ${called.join(', ')} called`)), 2_000),
    );
    await Promise.race([tx, stuck]);
    expect(called).toEqual(['first', 'second']);
  });

  it("the stanzas of sends made inside one leave in one write when the socket's writes are held (writeTogether)", async () => {
    const { authState } = alice.sock;
    const writes = countWrites(alice.sock);
    await authState.keys.transaction(async () => {
      await authState.keys.afterCommit(async () => writeTogether(alice.sock));
      for (const text of ['one', 'two', 'three']) {
        await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text });
      }
      writes.length = 0; // what the sends wrote before the commit (device queries) is not counted
    }, authState.creds.me?.id ?? '');
    // One system write of the three frames (without the hold: three writes of one frame each).
    expect(writes).toEqual([3]);
    expect(await eventually(async () => ((await inbox()).length === 4 ? inbox() : undefined))).toEqual([
      'hello',
      'one',
      'two',
      'three',
    ]);
  });
});

describe('a socket started again on the same auth state', () => {
  it('keeps its Signal sessions with contacts: no new keys fetched, no session replaced, on its first send', async () => {
    const alice = await linkDevice(server, '628777000021', 'Alice');
    const contact = '628777000022';
    await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'before' });
    await endSocket(alice.sock);
    // A new process: its device cache is empty, so the first send asks WhatsApp for the contact's devices.
    const sock = connect(server.wsUrl, alice.auth);
    try {
      await nextUpdate(sock, (u) => u.connection === 'open');
      const fetches = server.sim.keyFetches;
      await sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'after' });
      const inbox = await eventually(async () => {
        const got = await inboxOf(contact);
        return got.length >= 2 ? got : undefined;
      });
      expect(inbox).toEqual(['before', 'after']);
      expect(server.sim.keyFetches).toBe(fetches);
    } finally {
      await endSocket(sock);
    }
  });
});

describe('Curve.verify', () => {
  it('remembers only valid signatures: a change to any input after a valid one is still refused', () => {
    const signer = Curve.generateKeyPair();
    const message = Buffer.from('certificate details');
    const signature = Curve.sign(signer.private, message);
    expect(Curve.verify(signer.public, message, signature)).toBe(true);
    expect(Curve.verify(signer.public, message, signature)).toBe(true); // remembered
    const flipped = Buffer.from(signature);
    flipped[10] = (flipped[10] ?? 0) ^ 1;
    expect(Curve.verify(signer.public, message, flipped)).toBe(false);
    expect(Curve.verify(signer.public, Buffer.from('certificate detailz'), signature)).toBe(false);
    expect(Curve.verify(Curve.generateKeyPair().public, message, signature)).toBe(false);
    // The message and signature run together differently: not the same inputs.
    expect(
      Curve.verify(signer.public, Buffer.concat([message, signature.subarray(0, 1)]), signature.subarray(1)),
    ).toBe(false);
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

describe('a crash between decrypting a message and acknowledging it', () => {
  const deviceOf = async (phone: string) =>
    (
      (await control(server, 'GET', `/sim/accounts/${phone}`)).body.devices as {
        pending: number;
        connected: boolean;
      }[]
    )[0];

  /**
   * A linked device of `phone` and a way to start it with a store that calls `hook` for each message
   * before its receipt. (Not waiting for "open": Baileys buffers it during a first sync.)
   */
  const device = async (phone: string) => {
    const linked = await linkDevice(server, phone);
    await endSocket(linked.sock);
    await eventually(async () => ((await deviceOf(phone))?.connected ? undefined : true));
    return (hook: (msg: WAMessage, sock: WASocket) => Promise<void>) => {
      const sock: WASocket = connect(server.wsUrl, linked.auth, {
        beforeMessageReceipt: (msg) => hook(msg, sock),
      });
      return sock;
    };
  };

  /** The contact sends a text to `phone`; the device's first socket "dies" in its store; resolves the id. */
  const crashOn = async (
    phone: string,
    contact: string,
    text: string,
    open: Awaited<ReturnType<typeof device>>,
    crash: (sock: WASocket) => Promise<void>,
  ) => {
    let hooked = false;
    open(async (msg, sock) => {
      if (msg.message?.conversation !== text) return; // the phone's own history sync, say
      hooked = true;
      await crash(sock);
    });
    const sent = await control(server, 'POST', `/sim/contacts/${contact}/messages`, { to: phone, text });
    await eventually(async () => (hooked && !(await deviceOf(phone))?.connected ? true : undefined));
    return String(sent.body.id);
  };

  it('before the message is stored: its keys are not committed either, so the copy WhatsApp delivers again decrypts', async () => {
    const open = await device('628777000010');
    const id = await crashOn('628777000010', '628777000011', 'jangan hilang', open, async (sock) => {
      sock.ws.close(); // the process dies here, the message not stored
      await new Promise(() => {});
    });
    const stored: WAMessage[] = [];
    const second = open(async (msg) => {
      if (msg.message?.conversation) stored.push(msg);
    });
    await eventually(() => (stored.length > 0 ? true : undefined));
    expect(stored.map((m) => [m.key.id, m.message?.conversation])).toEqual([[id, 'jangan hilang']]);
    await eventually(async () => ((await deviceOf('628777000010'))?.pending === 0 ? true : undefined));
    expect(server.sim.trouble.get(id)).toBeUndefined();
    await endSocket(second);
  });

  it('after it is stored, before its receipt: the copy delivered again is acked with an error and not delivered after', async () => {
    const open = await device('628777000012');
    const id = await crashOn('628777000012', '628777000013', 'sekali saja', open, async (sock) => {
      sock.ws.close(); // stored and its keys committed; the receipt never leaves
    });
    const stored: (string | null | undefined)[] = [];
    const second = open(async (msg) => {
      if (msg.message?.conversation) stored.push(msg.key.id);
    });
    // Its keys were used up: Baileys cannot decrypt the copy and says so (487), and WhatsApp drops it.
    await eventually(async () => ((await deviceOf('628777000012'))?.pending === 0 ? true : undefined));
    expect(server.sim.trouble.get(id)?.nacks).toEqual(['487']);
    // Counted where a bench can see it, outside the simulator's process.
    const health = (await (await fetch(`${server.url}/sim/health`)).json()) as { trouble: { nacks: number } };
    expect(health.trouble.nacks).toBeGreaterThanOrEqual(1);
    expect(stored).toEqual([]);
    await endSocket(second);
  });
});

describe("receipts for the account's own messages", () => {
  it('reach the store without waiting for the one before it; each is acknowledged only after its own', async () => {
    const phone = '628777000051';
    /** Of `ids`, the delivery receipts WhatsApp delivered to the device and holds until it acknowledges them. */
    const unacked = (ids: string[]) => {
      const [device] = server.sim.world.account(phone)?.devices.values() ?? [];
      return ids.filter((id) => device?.pending.has(pendingKey('receipt', id, 'delivery'))).length;
    };
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stored: string[] = [];
    const alice = await linkDevice(server, phone, 'Alice', {
      beforeReceiptAck: async ({ ids }) => {
        stored.push(...ids);
        await held; // a slow store
      },
    });
    try {
      const ids: string[] = [];
      for (const text of ['satu', 'dua', 'tiga']) {
        const sent = await alice.sock.sendMessage('628777000052@s.whatsapp.net', { text });
        ids.push(sent?.key.id ?? '');
      }
      // Every delivery receipt reached the store while the first was still being written: a store
      // writes those that come together together (one commit), not one after another.
      await eventually(() => (ids.every((id) => stored.includes(id)) ? true : undefined));
      // WhatsApp still holds all three: none was acknowledged before the store had it.
      expect(unacked(ids)).toBe(3);
      release();
      await eventually(() => (unacked(ids) === 0 ? true : undefined));
    } finally {
      release();
      await endSocket(alice.sock);
    }
  });
});

describe('the timeout around every frame sent', () => {
  it('formats no stack trace unless it fires, and a timeout still says where it was set', async () => {
    const { promiseTimeout, delayCancellable } = await import('@whiskeysockets/baileys');
    let formatted = 0;
    const original = Error.prepareStackTrace;
    Error.prepareStackTrace = (err, frames) => {
      formatted++;
      return [String(err), ...frames.map((f) => `    at ${f}`)].join('\n');
    };
    try {
      // What every sendRawMessage does: a timeout that does not fire, then its timer cancelled.
      for (let i = 0; i < 10; i++) await promiseTimeout(1_000, (resolve) => resolve(i));
      const { delay, cancel } = delayCancellable(1_000);
      const cancelled = delay.catch((err: unknown) => err);
      cancel();
      await cancelled;
      expect(formatted).toBe(0);
      const timedOut = await promiseTimeout(10, () => {}).catch((err: unknown) => err);
      expect(timedOut).toMatchObject({ output: { statusCode: 408 } });
      expect((timedOut as { data: { stack: string } }).data.stack).toContain('baileys-fixes.test');
    } finally {
      Error.prepareStackTrace = original;
    }
  });
});
