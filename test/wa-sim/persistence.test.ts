import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { proto, type UserFacingSocketConfig, type WASocket } from '@whiskeysockets/baileys';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type memoryAuthState, nextUpdate, trustSimulator } from './baileys-client.js';
import {
  control,
  endSocket,
  eventually,
  linkDevice,
  rawStanzas,
  type SimAddress,
  statusReports,
} from './fixtures.js';
import { encodeWorld, SAVE_DELAY_MS, STATE_FILE, StateFileError } from './persistence.js';
import { spawnSimulator } from './process.js';
import { startSimulator } from './server.js';

const dirs: string[] = [];
const newDataDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wa-sim-state-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

type Auth = ReturnType<typeof memoryAuthState>;
type Inbox = { from: string; id: string; text: string; enc: string; receipt: string }[];
const { DELIVERY_ACK, READ } = proto.WebMessageInfo.Status;

const inbox = async (sim: SimAddress, phone: string) =>
  (await control(sim, 'GET', `/sim/contacts/${phone}/messages`)).body as Inbox;

/** Waits until `phone` has received message `id` from a linked device; returns it. */
const receivedBy = (sim: SimAddress, phone: string, id: string | null | undefined) =>
  eventually(async () => (await inbox(sim, phone)).find((m) => m.id === id));

const contactSends = async (sim: SimAddress, contact: string, to: string, text: string) => {
  const res = await control(sim, 'POST', `/sim/contacts/${contact}/messages`, { to, text });
  expect(res.status).toBe(200);
  return res.body.id as string;
};

/** Every message that reaches the socket from someone else, in order, as `{id, text}`. */
const incoming = (sock: WASocket) => {
  const seen: { id: string; text: string }[] = [];
  sock.ev.on('messages.upsert', ({ messages }) => {
    for (const m of messages) {
      const text = m.message?.conversation;
      if (!m.key?.fromMe && m.key?.id && typeof text === 'string') seen.push({ id: m.key.id, text });
    }
  });
  return seen;
};

/** Connects saved credentials and waits for the login; fails on a QR or a close before it opens. */
const reconnect = async (sim: SimAddress, auth: Auth, config: Partial<UserFacingSocketConfig> = {}) => {
  const sock = connect(sim.wsUrl, auth, config);
  const seen = incoming(sock);
  let sawQr = false;
  sock.ev.on('connection.update', (u) => {
    if (u.qr) sawQr = true;
  });
  const first = await nextUpdate(sock, (u) => u.connection === 'open' || u.connection === 'close');
  expect(first.connection).toBe('open');
  expect(sawQr).toBe(false);
  return { sock, seen };
};

/** Waits until the state file is there and has not been written for a while: the saves caught up. */
const quietFile = (dataDir: string) =>
  eventually(async () => {
    const written = await stat(join(dataDir, STATE_FILE)).catch(() => undefined);
    return written && Date.now() - written.mtimeMs > SAVE_DELAY_MS * 3 ? written : undefined;
  });

const pendingOf = async (sim: SimAddress, phone: string) =>
  ((await control(sim, 'GET', `/sim/accounts/${phone}`)).body.devices as { pending: number }[])[0]?.pending;

describe('a simulator on a data directory', () => {
  it('resumes a linked device after a restart: no QR, Signal sessions both ways, inbox kept', async () => {
    const ALICE = '628900000001';
    const CONTACT = '628900000002';
    const dataDir = await newDataDir();
    const first = await startSimulator({ dataDir });
    trustSimulator(first.trustRoot);
    const alice = await linkDevice(first, ALICE, 'Alice');
    const before = incoming(alice.sock);
    const fromContact = await contactSends(first, CONTACT, ALICE, 'hello before');
    await eventually(() => before.find((m) => m.id === fromContact));
    // The device's receipt for that pkmsg confirms the phone's session: wait until the simulator has it.
    await eventually(async () => ((await pendingOf(first, ALICE)) === 0 ? true : undefined));
    const sent = await alice.sock.sendMessage(`${CONTACT}@s.whatsapp.net`, { text: 'before the restart' });
    await receivedBy(first, CONTACT, sent?.key.id);
    const lid = (await control(first, 'GET', `/sim/accounts/${ALICE}`)).body.lid;
    await endSocket(alice.sock);
    await first.close();

    const second = await startSimulator({ dataDir });
    try {
      expect(second.trustRoot).toBe(first.trustRoot);
      const account = await control(second, 'GET', `/sim/accounts/${ALICE}`);
      expect(account.body).toMatchObject({ lid, name: 'Alice', devices: [{ id: 1, connected: false }] });

      const { sock, seen } = await reconnect(second, alice.auth);
      const after = await contactSends(second, CONTACT, ALICE, 'hello after the restart');
      expect(await eventually(() => seen.find((m) => m.id === after))).toEqual({
        id: after,
        text: 'hello after the restart',
      });
      // The contact's phone kept its confirmed session with the device: no second pre-key message.
      expect(second.sim.sentEncTypes(CONTACT)).toEqual(['pkmsg', 'msg']);

      const reply = await sock.sendMessage(`${CONTACT}@s.whatsapp.net`, { text: 'reply after the restart' });
      // A new Baileys socket opens a fresh session from the phone's bundle (as it does without a
      // restart), so this needs the phone's identity, signed pre-key and pre-keys as they were.
      expect((await receivedBy(second, CONTACT, reply?.key.id)).text).toBe('reply after the restart');
      expect((await inbox(second, CONTACT)).map((m) => m.text)).toEqual([
        'before the restart',
        'reply after the restart',
      ]);
      await endSocket(sock);
    } finally {
      await second.close();
    }
  });

  it('keeps its media CA and what each received message was (a location, a file) across a restart', async () => {
    const ALICE = '628900000011';
    const CONTACT = '628900000012';
    const dataDir = await newDataDir();
    const first = await startSimulator({ dataDir });
    trustSimulator(first.trustRoot);
    const alice = await linkDevice(first, ALICE, 'Alice');
    const place = await alice.sock.sendMessage(`${CONTACT}@s.whatsapp.net`, {
      location: { degreesLatitude: 1.5, degreesLongitude: 2.5 },
    });
    await receivedBy(first, CONTACT, place?.key.id);
    await endSocket(alice.sock);
    await first.close();

    const second = await startSimulator({ dataDir });
    try {
      // A gateway that trusts the CA it was given keeps uploading after the simulator restarts.
      expect(second.mediaCa).toBe(first.mediaCa);
      const { sock } = await reconnect(second, alice.auth, {
        fetchAgent: new HttpsAgent({ ca: first.mediaCa }),
      });
      const file = Buffer.from('a file after the restart');
      const image = await sock.sendMessage(`${CONTACT}@s.whatsapp.net`, {
        image: file,
        mimetype: 'image/png',
      });
      expect(await receivedBy(second, CONTACT, image?.key.id)).toMatchObject({
        type: 'image',
        size: file.length,
      });
      expect(await receivedBy(second, CONTACT, place?.key.id)).toMatchObject({
        type: 'location',
        location: { latitude: 1.5, longitude: 2.5 },
      });
      await endSocket(sock);
    } finally {
      await second.close();
    }
  });

  it('delivers a message queued while the device was away once, across restarts', async () => {
    const BOB = '628900000011';
    const CONTACT = '628900000012';
    const dataDir = await newDataDir();
    const first = await startSimulator({ dataDir });
    trustSimulator(first.trustRoot);
    const bob = await linkDevice(first, BOB, 'Bob');
    await endSocket(bob.sock);
    const queued = await contactSends(first, CONTACT, BOB, 'while you were away');
    // The message, and the history sync notification if the device left before answering it.
    const waiting = await pendingOf(first, BOB);
    expect(waiting).toBeGreaterThanOrEqual(1);
    await first.close();

    const second = await startSimulator({ dataDir });
    expect(await pendingOf(second, BOB)).toBe(waiting);
    const back = await reconnect(second, bob.auth);
    await eventually(() => back.seen.find((m) => m.id === queued));
    await eventually(async () => ((await pendingOf(second, BOB)) === 0 ? true : undefined));
    await endSocket(back.sock);
    await second.close();

    // The receipt was kept too: a third start has nothing to deliver again.
    const third = await startSimulator({ dataDir });
    try {
      expect(await pendingOf(third, BOB)).toBe(0);
      const again = await reconnect(third, bob.auth);
      // Stanzas arrive in order, so once this one is in, a redelivered one would have been seen.
      const marker = await contactSends(third, CONTACT, BOB, 'and now');
      await eventually(() => again.seen.find((m) => m.id === marker));
      expect([...back.seen, ...again.seen].map((m) => m.text)).toEqual(['while you were away', 'and now']);
      await endSocket(again.sock);
    } finally {
      await third.close();
    }
  });

  it('keeps a read receipt queued for a device that is away, and the statuses, across a restart', async () => {
    const ERIN = '628900000051';
    const CONTACT = '628900000052';
    const dataDir = await newDataDir();
    const first = await startSimulator({ dataDir });
    trustSimulator(first.trustRoot);
    const erin = await linkDevice(first, ERIN, 'Erin');
    const statuses = statusReports(erin.sock);
    const ids: string[] = [];
    for (const text of ['first', 'second']) {
      const sent = await erin.sock.sendMessage(`${CONTACT}@s.whatsapp.net`, { text });
      ids.push(sent?.key.id ?? '');
    }
    await eventually(() =>
      ids.every((id) => statuses.some((s) => s.id === id && s.status === DELIVERY_ACK)) ? true : undefined,
    );
    await eventually(async () => ((await pendingOf(first, ERIN)) === 0 ? true : undefined));
    await endSocket(erin.sock);
    const read = await control(first, 'POST', `/sim/contacts/${CONTACT}/read`, { to: ERIN, ids });
    expect(read.status).toBe(200);
    expect(await pendingOf(first, ERIN)).toBe(1);
    await first.close();

    const second = await startSimulator({ dataDir });
    try {
      expect(await pendingOf(second, ERIN)).toBe(1);
      expect((await inbox(second, CONTACT)).map((m) => ({ id: m.id, receipt: m.receipt }))).toEqual(
        ids.map((id) => ({ id, receipt: 'read' })),
      );
      // Already read: a second read is not sent again, after the restart either.
      expect(
        (await control(second, 'POST', `/sim/contacts/${CONTACT}/read`, { to: ERIN, ids })).body,
      ).toEqual({
        ids: [],
        skipped: ids,
      });
      const back = connect(second.wsUrl, erin.auth);
      const after = statusReports(back);
      const receipts = rawStanzas(back, 'receipt');
      await eventually(() =>
        ids.every((id) => after.some((s) => s.id === id && s.status === READ)) ? true : undefined,
      );
      expect(receipts.map((r) => [r.attrs.type, r.attrs.id, r.attrs.offline])).toEqual([
        ['read', ids[0], '1'],
      ]);
      await eventually(async () => ((await pendingOf(second, ERIN)) === 0 ? true : undefined));
      await endSocket(back);
    } finally {
      await second.close();
    }
  });

  it('saves every change soon after it happens, not only on close', async () => {
    const dataDir = await newDataDir();
    const sim = await startSimulator({ dataDir });
    trustSimulator(sim.trustRoot);
    const file = join(dataDir, STATE_FILE);
    const withoutTime = ({ savedAt: _, ...rest }: ReturnType<typeof encodeWorld>) => rest;
    /**
     * The file holds the world as it is in memory, and has not been written for a while (so nothing is
     * changing). A change that schedules no write leaves the file behind for good.
     */
    const saved = () =>
      eventually(async () => {
        await quietFile(dataDir);
        const onDisk = withoutTime(JSON.parse(await readFile(file, 'utf8')));
        const live = withoutTime(JSON.parse(JSON.stringify(encodeWorld(sim.sim.state()))));
        return isDeepStrictEqual(onDisk, live) ? onDisk : undefined;
      }, 5000);
    try {
      const dana = await linkDevice(sim, '628900000041', 'Dana');
      await saved();
      const seen = incoming(dana.sock);
      const id = await contactSends(sim, '628900000042', '628900000041', 'hi Dana');
      await eventually(() => seen.find((m) => m.id === id));
      await eventually(async () => ((await pendingOf(sim, '628900000041')) === 0 ? true : undefined));
      await saved();
      const sent = await dana.sock.sendMessage('628900000042@s.whatsapp.net', { text: 'hi back' });
      await receivedBy(sim, '628900000042', sent?.key.id);
      await eventually(async () => ((await pendingOf(sim, '628900000041')) === 0 ? true : undefined));
      await saved();
      // The contact reads it while the device is away: the receipt's status in its inbox and the queued
      // receipt; back online, the device's ack of the receipt (the only change then) empties the queue.
      await endSocket(dana.sock);
      await control(sim, 'POST', '/sim/contacts/628900000042/read', {
        to: '628900000041',
        ids: [sent?.key.id],
      });
      await saved();
      const danaBack = connect(sim.wsUrl, dana.auth);
      await eventually(async () => ((await pendingOf(sim, '628900000041')) === 0 ? true : undefined));
      await saved();
      await endSocket(danaBack);
      const away = await linkDevice(sim, '628900000043', 'Away');
      await endSocket(away.sock);
      await saved();
      // Queued while away; back online, the device's receipts empty the queue. The second time the
      // phone's session is confirmed already, so the receipt is the only change.
      for (const text of ['for later', 'once more']) {
        const queued = await contactSends(sim, '628900000042', '628900000043', text);
        await saved();
        const back = connect(sim.wsUrl, away.auth);
        const backSeen = incoming(back);
        await eventually(() => backSeen.find((m) => m.id === queued));
        await eventually(async () => ((await pendingOf(sim, '628900000043')) === 0 ? true : undefined));
        await saved();
        await endSocket(back);
      }
      await linkDevice(sim, '628900000044');
      await saved();
      await control(sim, 'POST', '/sim/accounts/628900000044/unlink');
      await saved();
      const leaving = await linkDevice(sim, '628900000045');
      await saved();
      await leaving.sock.logout();
      await eventually(async () =>
        ((await control(sim, 'GET', '/sim/accounts/628900000045')).body.devices as unknown[]).length === 0
          ? true
          : undefined,
      );
      const last = await saved();
      expect(last.accounts).toHaveLength(5);
    } finally {
      await sim.close();
    }
  });

  it('survives a kill -9 of the simulator process once the save delay has passed', async () => {
    const CAROL = '628900000021';
    const CONTACT = '628900000022';
    const dataDir = await newDataDir();
    const first = await spawnSimulator(0, { dataDir });
    let second: Awaited<ReturnType<typeof spawnSimulator>> | undefined;
    try {
      trustSimulator(first.trustRoot);
      const carol = await linkDevice(first, CAROL, 'Carol');
      const seen = incoming(carol.sock);
      const fromContact = await contactSends(first, CONTACT, CAROL, 'before the crash');
      await eventually(() => seen.find((m) => m.id === fromContact));
      const sent = await carol.sock.sendMessage(`${CONTACT}@s.whatsapp.net`, { text: 'me too' });
      await receivedBy(first, CONTACT, sent?.key.id);
      await quietFile(dataDir);
      const killed = new Promise((r) => first.child.once('exit', r));
      first.child.kill('SIGKILL');
      await killed;
      await endSocket(carol.sock);

      second = await spawnSimulator(0, { dataDir });
      expect(second.trustRoot).toBe(first.trustRoot);
      const { sock, seen: after } = await reconnect(second, carol.auth);
      const id = await contactSends(second, CONTACT, CAROL, 'after the crash');
      expect(await eventually(() => after.find((m) => m.id === id))).toMatchObject({
        text: 'after the crash',
      });
      const reply = await sock.sendMessage(`${CONTACT}@s.whatsapp.net`, { text: 'still linked' });
      expect((await receivedBy(second, CONTACT, reply?.key.id)).text).toBe('still linked');
      expect((await inbox(second, CONTACT)).map((m) => m.text)).toEqual(['me too', 'still linked']);
      await endSocket(sock);
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
});

describe('a state file it cannot read', () => {
  const refusedWith = async (content: string, message: RegExp) => {
    const dataDir = await newDataDir();
    const file = join(dataDir, STATE_FILE);
    await writeFile(file, content);
    const error = await startSimulator({ dataDir }).then(
      (s) => s.close().then(() => undefined),
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(StateFileError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/delete the directory .* to start afresh/);
    expect((error as Error).message).toMatch(message);
    // Nothing was written over it or beside it.
    expect(await readFile(file, 'utf8')).toBe(content);
    expect(await readdir(dataDir)).toEqual([STATE_FILE]);
  };

  it('refuses a corrupt file with a clear message and leaves it alone', async () => {
    await refusedWith('{"version":1,"root":{"priv', /is not valid JSON/);
  });

  it('refuses a file of an unknown format version, or of none', async () => {
    await refusedWith('{"version":99,"accounts":[]}', /format version 99.*reads version 1 only/);
    await refusedWith('[]', /has no format version/);
  });

  it('refuses a file of the right version whose contents are malformed', async () => {
    // A real saved world with one key cut short.
    const dataDir = await newDataDir();
    const sim = await startSimulator({ dataDir });
    // A contact's send to a number with no account fails, but the contact's own account is made.
    const res = await control(sim, 'POST', '/sim/contacts/628900000031/messages', {
      to: '628900000032',
      text: 'x',
    });
    expect(res.status).toBe(404);
    await sim.close();
    const saved = JSON.parse(await readFile(join(dataDir, STATE_FILE), 'utf8'));
    expect(saved.accounts).toHaveLength(1);
    saved.accounts[0].identity.public = 'AAAA';
    await refusedWith(JSON.stringify(saved), /is malformed \(accounts\.0\.identity\.public: /);
  });
});
