import { randomBytes } from 'node:crypto';
import type { BinaryNode, proto } from '@whiskeysockets/baileys';
import type { WebSocket } from 'ws';
import { type KeyPair, makeCertificateChain, newKeyPair } from './certificates.js';
import { SimConnection } from './connection.js';
import { type Addressing, contactReads, findInChat, sendFromContact } from './contact.js';
import { type ContactContent, readContactContent } from './content.js';
import { handleIq } from './iq.js';
import {
  type CompanionHello,
  normalizeCode,
  openKeyBundle,
  primaryHello,
  readCompanionHello,
} from './link-code.js';
import { MediaStore } from './media.js';
import type { MediaCa } from './media-tls.js';
import { child, iqError, iqResult, unixTime } from './nodes.js';
import { NoiseResponder } from './noise.js';
import {
  completePairing,
  offerPairing,
  type ParsedQr,
  parseQr,
  type Registration,
  readRegistration,
} from './pairing.js';
import { readWorld, type SavedWorld, WorldSaver } from './persistence.js';
import { readQr } from './qr-image.js';
import { handleAck, handleMessage, handleReceipt } from './relay.js';
import { type Account, isOnWhatsApp, type LinkedDevice, pendingKey, World } from './world.js';

/** A control-API outcome: an HTTP status and a JSON body. */
export type Outcome = { status: number; body: unknown };

const fail = (status: number, error: string): Outcome => ({ status, body: { error } });
/** How many contact messages the simulator keeps for retry receipts. */
const MAX_REMEMBERED = 20_000;
/** How long a phone waits for the companion's half of a pairing-code exchange. */
const FINISH_TIMEOUT_MS = 15_000;
/** How many files contacts' phones keep to upload again. */
const MAX_REMEMBERED_FILES = 1_000;

/**
 * The simulated WhatsApp network: accounts, phones and linked devices, the connections of the
 * companions (Baileys sockets), pairing, message relay and faults. Transport-agnostic: the server
 * hands it WebSockets and control-API calls.
 */
export class Simulator {
  readonly world: World;
  readonly root: KeyPair;
  private readonly staticKey: KeyPair;
  private readonly certChain;
  private readonly saver: WorldSaver | undefined;
  private readonly connections = new Set<SimConnection>();
  private readonly pairings = new Map<string, { conn: SimConnection; registration: Registration }>();
  /** Pairing codes asked for, by the phone they name: the latest request of each phone waits for it. */
  private readonly linkCodes = new Map<
    string,
    { conn: SimConnection; registration: Registration; hello: CompanionHello; ref: string }
  >();
  /** Connections whose phone sent its half of a pairing-code exchange: the companion's finish goes here. */
  private readonly finishing = new Map<
    SimConnection,
    { resolve: (n: BinaryNode) => void; reject: (err: Error) => void }
  >();
  private readonly awaiting = new Map<
    string,
    { conn: SimConnection; resolve: (n: BinaryNode) => void; reject: (err: Error) => void }
  >();
  /** The media servers' uploads and files (served over HTTPS by the server, see server.ts). */
  readonly media = new MediaStore();
  /** `host:port` of the HTTPS media server, as `media_conn` names it; set once it listens. */
  mediaHost: string | undefined;
  /** The certificate authority of the media server's certificate (kept with the world). */
  mediaCa: MediaCa | undefined;
  /** Pre-key bundles served so far: tests use it to see a Signal session being reused. */
  keyFetches = 0;
  /** What devices said about messages they could not take, by message id (in memory, for tests). */
  readonly trouble = new Map<string, { retries: number; nacks: string[] }>();
  /** usync queries answered (device lists, number checks): tests see a cached answer ask nothing. */
  usyncQueries = 0;
  /**
   * Connections closed with a 440 `replaced` because the same device logged in again while they were
   * open: a gateway running one session on two hosts at once shows up here.
   */
  replacements = 0;
  /** Privacy (trusted-contact) tokens the linked devices asked to issue: tests count them per send. */
  privacyTokenIssues = 0;
  /** Answer the next scan with a device identity signed by a key that is not the phone's. */
  private forgeNextPairing = false;
  private unavailableUntil = 0;
  private readonly phoneUnavailableUntil = new Map<string, number>();
  /**
   * What contacts' phones sent lately, by phone and id, to encrypt again when a device asks for a message
   * it could not decrypt (not saved: after a restart such a request goes unanswered).
   */
  private readonly sentByContacts = new Map<string, proto.IMessage>();
  private readonly retriesAsked = new Map<string, number>();
  /** Phones that are away (switched off, no signal): what devices send them waits for their return. */
  private readonly away = new Map<string, (() => Promise<void>)[]>();
  private readonly sentFiles = new Map<string, Buffer>();
  /** "typing…" and its end, as each contact's phone was shown them (not saved: WhatsApp keeps none). */
  private readonly chatstates = new Map<string, { from: string; state: string; at: string }[]>();

  /**
   * `dataDir`: keep the world there, loading it at start (it throws a StateFileError when the saved
   * world cannot be read). `root` is the root key of a new world; a saved world keeps its own.
   */
  constructor(opts: { root?: KeyPair; dataDir?: string } = {}) {
    const saved = opts.dataDir === undefined ? undefined : readWorld(opts.dataDir);
    if (saved && opts.root && !saved.root.public.equals(opts.root.public)) {
      throw new Error(`the world saved in ${opts.dataDir} has another root key than the one given`);
    }
    this.root = saved?.root ?? opts.root ?? newKeyPair();
    this.staticKey = saved?.serverStatic ?? newKeyPair();
    this.mediaCa = saved?.mediaCa;
    this.certChain = makeCertificateChain(this.root, this.staticKey);
    this.saver = opts.dataDir === undefined ? undefined : new WorldSaver(opts.dataDir, () => this.state());
    const saver = this.saver;
    this.world = new World(saver ? () => saver.changed() : undefined, saved?.accounts);
    // A new world is saved at once, so its root key (the gateway's trust root) stays from now on.
    if (!saved) saver?.changed();
  }

  /** What a data directory keeps of the simulator, as it is now. */
  state(): SavedWorld {
    return {
      root: this.root,
      serverStatic: this.staticKey,
      mediaCa: this.mediaCa,
      accounts: this.world.state(),
    };
  }

  /** The root public key, hex: Baileys' `WA_CERT_DETAILS.PUBLIC_KEY`. */
  get trustRoot() {
    return this.root.public.toString('hex');
  }

  get connectionCount() {
    return this.connections.size;
  }

  /** Takes a new client WebSocket. While the network is unavailable it is accepted, then closed. */
  accept(ws: WebSocket) {
    if (Date.now() < this.unavailableUntil) {
      ws.close(1013, 'unavailable');
      return;
    }
    const conn = new SimConnection(ws, new NoiseResponder(this.staticKey, this.certChain), {
      onLogin: (c, payload, clientStatic) => this.login(c, payload, clientStatic),
      onNode: (c, node) => this.dispatch(c, node),
      onClose: (c) => this.closed(c),
    });
    this.connections.add(conn);
  }

  private login(conn: SimConnection, payload: proto.ClientPayload, clientStatic: Buffer) {
    if (payload.username === null || payload.username === undefined) {
      const registration = readRegistration(payload);
      if (!registration) {
        conn.send({ tag: 'failure', attrs: { reason: '400' } });
        return conn.close();
      }
      conn.pairingRefs = offerPairing(conn);
      for (const ref of conn.pairingRefs) this.pairings.set(ref, { conn, registration });
      return;
    }
    const phone = payload.username.toString();
    const account = this.world.find(phone, 's.whatsapp.net');
    const device = account?.devices.get(payload.device ?? 0);
    if (!account || !device?.noiseKey.equals(clientStatic)) {
      conn.send({ tag: 'failure', attrs: { reason: '401' } });
      return conn.close();
    }
    if (Date.now() < (this.phoneUnavailableUntil.get(phone) ?? 0)) {
      return conn.streamError({ code: '503' });
    }
    const previous = device.connection;
    if (previous && previous !== conn) {
      if (previous.isOpen) this.replacements++;
      previous.streamError({}, { tag: 'conflict', attrs: { type: 'replaced' } });
    }
    device.connection = conn;
    conn.account = account;
    conn.device = device;
    conn.send({
      tag: 'success',
      attrs: { t: unixTime(), lid: `${account.lid}:${device.id}@lid`, props: '1', location: 'sim' },
    });
    // Stanzas that waited while the device was away, then the end-of-offline marker.
    for (const stanza of device.pending.values()) {
      conn.send({ ...stanza, attrs: { ...stanza.attrs, offline: '1' } });
    }
    conn.send({
      tag: 'ib',
      attrs: {},
      content: [{ tag: 'offline', attrs: { count: String(device.pending.size) } }],
    });
  }

  private async dispatch(conn: SimConnection, node: BinaryNode) {
    const waiter = node.tag === 'iq' && node.attrs.id ? this.awaiting.get(node.attrs.id) : undefined;
    if (waiter && waiter.conn === conn) {
      this.awaiting.delete(node.attrs.id ?? '');
      return waiter.resolve(node);
    }
    const { account, device } = conn;
    if (!account || !device) {
      const linkCode = node.tag === 'iq' ? child(node, 'link_code_companion_reg') : undefined;
      if (linkCode?.attrs.stage === 'companion_hello') return this.companionHello(conn, node, linkCode);
      const finishing = this.finishing.get(conn);
      if (linkCode?.attrs.stage === 'companion_finish' && finishing) return finishing.resolve(node);
      if (linkCode) return conn.send(iqError(node, 400, 'bad-request'));
      // A pairing connection answers keep-alive pings, as WhatsApp does: without that, Baileys drops a
      // socket showing a QR after 35 s of silence and reconnects for a new one, forever.
      if (node.tag === 'iq' && node.attrs.xmlns === 'w:p' && node.attrs.type === 'get')
        conn.send(iqResult(node));
      return;
    }
    if (node.tag === 'iq') return handleIq(this, conn, account, device, node);
    if (node.tag === 'message') return handleMessage(this, conn, account, device, node);
    if (node.tag === 'receipt') return handleReceipt(this, conn, account, device, node);
    if (node.tag === 'ack') return handleAck(this, device, node);
    if (node.tag === 'chatstate') return this.chatstate(account, node);
    // presence, ib (unified_session, offline_batch): nothing to answer
  }

  private closed(conn: SimConnection) {
    this.connections.delete(conn);
    for (const ref of conn.pairingRefs) this.pairings.delete(ref);
    for (const [phone, request] of this.linkCodes) if (request.conn === conn) this.linkCodes.delete(phone);
    this.finishing.get(conn)?.reject(new Error('the connection closed'));
    if (conn.device?.connection === conn) conn.device.connection = undefined;
    for (const [id, waiter] of this.awaiting) {
      if (waiter.conn !== conn) continue;
      this.awaiting.delete(id);
      waiter.reject(new Error('the connection closed'));
    }
  }

  /** Waits for the client's reply to a server iq. */
  private awaitReply(conn: SimConnection, id: string, timeoutMs: number) {
    return new Promise<BinaryNode>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.awaiting.delete(id);
        reject(new Error('no reply'));
      }, timeoutMs);
      this.awaiting.set(id, {
        conn,
        resolve: (n) => {
          clearTimeout(timer);
          resolve(n);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  }

  /**
   * Delivers a stanza to a linked device now, or when it next logs in; kept until the device answers
   * it (a message with a receipt, a receipt with an ack).
   */
  deliver(device: LinkedDevice, stanza: BinaryNode) {
    device.pending.set(pendingKey(stanza.tag, stanza.attrs.id, stanza.attrs.type), stanza);
    this.world.changed();
    if (device.connection?.isOpen) device.connection.send(stanza);
  }

  /** Messages a device asked for again (a retry receipt), until it acks the copy it could not use. */
  private readonly resends = new WeakMap<LinkedDevice, Set<string>>();

  private troubleOf(id: string) {
    const entry = this.trouble.get(id) ?? { retries: 0, nacks: [] };
    this.trouble.set(id, entry);
    return entry;
  }

  /** Messages some device asked for again (retry receipts) or refused (nacks), and how many of each, so far. */
  troubleCount(): { messages: number; retries: number; nacks: number } {
    let retries = 0;
    let nacks = 0;
    for (const entry of this.trouble.values()) {
      retries += entry.retries;
      nacks += entry.nacks.length;
    }
    return { messages: this.trouble.size, retries, nacks };
  }

  noteRetry(device: LinkedDevice, id: string) {
    this.troubleOf(id).retries++;
    const asked = this.resends.get(device) ?? new Set();
    asked.add(id);
    this.resends.set(device, asked);
  }

  /** Whether the device asked for message `id` again; the ack that follows the request is taken. */
  resendAsked(device: LinkedDevice, id: string): boolean {
    return this.resends.get(device)?.delete(id) ?? false;
  }

  noteNack(id: string, error: string) {
    this.troubleOf(id).nacks.push(error);
  }

  /** Holds `read` (a phone reading what a device sent it) while `phone` is away: true when held. */
  holdWhileAway(phone: string, read: () => Promise<void>): boolean {
    const held = this.away.get(phone);
    held?.push(read);
    return held !== undefined;
  }

  /** The retry receipts a contact's phone sent for one message from one device so far, this one counted. */
  countRetryAsked(key: string): number {
    const count = (this.retriesAsked.get(key) ?? 0) + 1;
    keepBounded(this.retriesAsked, key, count, MAX_REMEMBERED);
    return count;
  }

  /** Keeps what contact `phone` sent as `id`, for a retry receipt; the oldest go past a bound. */
  rememberSent(phone: string, id: string, message: proto.IMessage) {
    keepBounded(this.sentByContacts, `${phone}/${id}`, message, MAX_REMEMBERED);
  }

  sentMessage(phone: string, id: string): proto.IMessage | undefined {
    return this.sentByContacts.get(`${phone}/${id}`);
  }

  /**
   * Keeps the encrypted file of what contact `phone` sent as `id`, as its phone keeps the photo: a device
   * that finds WhatsApp's copy gone asks the phone to upload it again (in memory; the oldest go first).
   */
  rememberSentFile(phone: string, id: string, file: Buffer) {
    keepBounded(this.sentFiles, `${phone}/${id}`, file, MAX_REMEMBERED_FILES);
  }

  sentFile(phone: string, id: string): Buffer | undefined {
    return this.sentFiles.get(`${phone}/${id}`);
  }

  /** `POST /sim/scan`: phone `phone` scans the QR `qr` (its raw text, or a PNG data URL of it). */
  async scan(qr: unknown, phone: unknown, name: unknown): Promise<Outcome> {
    const parsed = parseQr(readQr(qr));
    if (!parsed) return fail(400, 'malformed QR');
    if (typeof phone !== 'string' || !isOnWhatsApp(phone))
      return fail(400, 'phone must be a number on WhatsApp');
    if (name !== undefined && typeof name !== 'string') return fail(400, 'name must be a string');
    const pairing = this.pairings.get(parsed.ref);
    if (!pairing?.conn.isOpen) return fail(404, 'unknown or expired QR ref');
    const { conn, registration } = pairing;
    if (!conn.noiseKey?.equals(parsed.noiseKey) || !registration.identityKey.equals(parsed.identityKey)) {
      return fail(400, 'QR keys do not match the device that showed it');
    }
    return this.link(conn, this.world.account(phone, name) as Account, parsed, registration);
  }

  /**
   * A companion asks for a pairing code for `phone` (Baileys' `requestPairingCode`): WhatsApp answers with
   * a ref and tells the phone; a number not on WhatsApp is refused. A new request replaces the last one.
   */
  private companionHello(conn: SimConnection, iq: BinaryNode, reg: BinaryNode) {
    const hello = readCompanionHello(reg);
    const registration = this.pairings.get(conn.pairingRefs[0] ?? '')?.registration;
    if (!hello || !registration || !conn.noiseKey?.equals(hello.noiseKey)) {
      return conn.send(iqError(iq, 400, 'bad-request'));
    }
    if (!isOnWhatsApp(hello.phone)) return conn.send(iqError(iq, 404, 'item-not-found'));
    const ref = `2@${randomBytes(30).toString('base64')}`;
    this.linkCodes.set(hello.phone, { conn, registration, hello, ref });
    conn.send(
      iqResult(iq, [
        {
          tag: 'link_code_companion_reg',
          attrs: {},
          content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from(ref) }],
        },
      ]),
    );
  }

  /**
   * `POST /sim/pair-code`: the user of phone `phone` types the pairing code a companion showed. A code that
   * is not the one shown fails at the key exchange (the companion's bundle does not open), as on a phone.
   */
  async enterPairingCode(phone: unknown, typed: unknown, name: unknown): Promise<Outcome> {
    if (typeof phone !== 'string' || !isOnWhatsApp(phone))
      return fail(400, 'phone must be a number on WhatsApp');
    if (name !== undefined && typeof name !== 'string') return fail(400, 'name must be a string');
    const code = normalizeCode(typed);
    if (!code) return fail(400, 'code must be the 8 characters shown, like ABCD-EFGH');
    const request = this.linkCodes.get(phone);
    if (!request?.conn.isOpen) return fail(404, 'no device asked for a pairing code for this phone');
    const { conn, registration, hello, ref } = request;
    const account = this.world.account(phone, name) as Account;
    const primary = await primaryHello(account, hello, ref, code);
    let finish: BinaryNode;
    try {
      finish = await this.awaitFinish(conn, () => conn.send(primary.notification));
    } catch (err) {
      return fail(502, `pairing failed: ${(err as Error).message}`);
    }
    const opened = openKeyBundle(account, primary, finish, {
      ref,
      noiseKey: hello.noiseKey,
      identityKey: registration.identityKey,
    });
    if (typeof opened === 'string') {
      conn.send(iqError(finish, 400, 'bad-request'));
      return opened === 'wrong-code'
        ? fail(400, 'wrong pairing code: the device showed another one')
        : fail(502, 'pairing failed: malformed key bundle');
    }
    conn.send(iqResult(finish));
    this.linkCodes.delete(phone);
    return this.link(conn, account, opened, registration);
  }

  /** Sends the phone's half of the exchange and waits for the companion's `companion_finish` iq. */
  private awaitFinish(conn: SimConnection, send: () => void) {
    return new Promise<BinaryNode>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.finishing.delete(conn);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error('the device did not answer'));
      }, FINISH_TIMEOUT_MS);
      this.finishing.set(conn, {
        resolve: (node) => {
          done();
          resolve(node);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      send();
    });
  }

  /** The phone signs the new device (after a scan or a pairing code); the device then logs in anew. */
  private async link(conn: SimConnection, account: Account, parsed: ParsedQr, registration: Registration) {
    for (const ref of conn.pairingRefs) this.pairings.delete(ref);
    conn.pairingRefs = [];
    let device: LinkedDevice;
    try {
      const forged = this.forgeNextPairing;
      this.forgeNextPairing = false;
      device = await completePairing(
        conn,
        account,
        parsed,
        registration,
        (id, ms) => this.awaitReply(conn, id, ms),
        forged,
      );
    } catch (err) {
      conn.terminate();
      this.world.changed(); // the device number is used up all the same
      return fail(502, `pairing failed: ${(err as Error).message}`);
    }
    account.devices.set(device.id, device);
    this.world.changed();
    // As WhatsApp does: the freshly paired device must reconnect and log in.
    conn.streamError({ code: '515' });
    return { status: 200, body: { jid: `${account.phone}:${device.id}@s.whatsapp.net` } };
  }

  /**
   * `POST /sim/contacts/:phone/messages`: `{to, kind?, quoted?, addressing?, ...}`, the contact's phone
   * sends a text (the default kind), a file, a location, a contact card or a reaction (see the README).
   */
  async contactSends(phone: string, body: Record<string, unknown>): Promise<Outcome> {
    const { to, quoted } = body;
    const contact = this.world.account(phone);
    if (!contact) return fail(400, 'contact phone must be a number on WhatsApp');
    if (typeof to !== 'string' || to.length === 0) return fail(400, '`to` must be a phone number or JID');
    const read = readContactContent(body);
    if (typeof read === 'string') return fail(400, read);
    if (quoted !== undefined && (typeof quoted !== 'string' || quoted.length === 0)) {
      return fail(400, '`quoted` must be a message id');
    }
    const addressing = readAddressing(body.addressing);
    if (!addressing) return fail(400, '`addressing` must be "pn" or "lid"');
    const target = this.world.find(to.split('@')[0] ?? '', 's.whatsapp.net');
    if (!target) return fail(404, 'no such account');
    let quote: { id: string; author: Account; text: string } | undefined;
    if (quoted !== undefined) {
      const found = findInChat(contact, target, quoted);
      if (!found) return fail(404, 'no message with that id in this chat');
      quote = { id: quoted, ...found };
    }
    let content: ContactContent;
    if (read.kind === 'reaction') {
      // The key names the message as the reacting phone sees it: its own (fromMe) or the other side's.
      const found = findInChat(contact, target, read.id);
      if (!found) return fail(404, 'no message with that id in this chat');
      content = {
        kind: 'reaction',
        key: { remoteJid: `${target.phone}@s.whatsapp.net`, fromMe: found.author === contact, id: read.id },
        emoji: read.emoji,
      };
    } else if (read.kind === 'edit' || read.kind === 'delete') {
      // A phone edits or deletes only what it sent itself.
      const found = findInChat(contact, target, read.id);
      if (!found || found.author !== contact)
        return fail(404, 'no message of its own with that id in this chat');
      const key = { remoteJid: `${target.phone}@s.whatsapp.net`, fromMe: true, id: read.id };
      content = read.kind === 'edit' ? { kind: 'edit', key, text: read.text } : { kind: 'delete', key };
    } else content = read;
    const id = await sendFromContact(this, contact, target, content, { quoted: quote, addressing });
    return { status: 200, body: { id } };
  }

  /**
   * `POST /sim/contacts/:phone/read` and `/played`: `{to, ids, addressing?}`. The contact read (or
   * played) messages that `to`'s devices sent it; one receipt goes to every device of `to`.
   */
  contactReceipt(phone: string, type: 'read' | 'played', body: Record<string, unknown>): Outcome {
    const { to, ids } = body;
    if (typeof to !== 'string' || to.length === 0) return fail(400, '`to` must be a phone number or JID');
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      !ids.every((id): id is string => typeof id === 'string' && id.length > 0)
    ) {
      return fail(400, '`ids` must be a non-empty array of message ids');
    }
    const addressing = readAddressing(body.addressing);
    if (!addressing) return fail(400, '`addressing` must be "pn" or "lid"');
    if (!isOnWhatsApp(phone)) return fail(400, 'contact phone must be a number on WhatsApp');
    const target = this.world.find(to.split('@')[0] ?? '', 's.whatsapp.net');
    if (!target) return fail(404, 'no such account');
    // A contact the network never saw has received nothing: every id is unknown.
    const contact = this.world.find(phone, 's.whatsapp.net');
    const unique = [...new Set(ids)];
    const outcome = contact
      ? contactReads(this, contact, target, type, unique, addressing)
      : { ok: false as const, unknown: unique };
    if (!outcome.ok) {
      return {
        status: 404,
        body: {
          error: `contact ${phone} never received these messages from ${to}`,
          unknown: outcome.unknown,
        },
      };
    }
    return { status: 200, body: { ids: outcome.ids, skipped: outcome.skipped } };
  }

  /** `GET /sim/contacts/:phone/messages`. */
  received(phone: string): Outcome {
    const account = this.world.find(phone, 's.whatsapp.net');
    // `deliveries` and `receipt` only when they say more than "delivered once": an entry of a message
    // nobody resent or read keeps the shape the top-level README's walk-through shows (and checks).
    const body = (account?.inbox ?? []).map(({ deliveries, receipt, details, ...entry }) => ({
      ...entry,
      ...details,
      ...(deliveries > 1 ? { deliveries } : {}),
      ...(receipt === 'delivery' ? {} : { receipt }),
    }));
    return { status: 200, body };
  }

  /**
   * A device says its user is typing in (or stopped typing in) a chat: shown to the other side, never
   * stored. Only the first child counts, as on WhatsApp (`composing` or `paused`).
   */
  private chatstate(account: Account, node: BinaryNode) {
    const [user = '', server = ''] = (node.attrs.to ?? '').split('@');
    // Any number on WhatsApp has an account, whether or not anyone wrote to it yet.
    const target = server === 's.whatsapp.net' ? this.world.account(user) : this.world.find(user, server);
    const first = Array.isArray(node.content) ? node.content[0] : undefined;
    // "recording audio…" is a `composing` with `media="audio"`.
    const state = first?.tag === 'composing' && first.attrs.media === 'audio' ? 'recording' : first?.tag;
    if (!target || !state) return;
    const shown = this.chatstates.get(target.phone) ?? [];
    shown.push({ from: `${account.phone}@s.whatsapp.net`, state, at: new Date().toISOString() });
    this.chatstates.set(target.phone, shown.slice(-1_000));
  }

  /**
   * `GET /sim/contacts/:phone/sent`: what the contact's phone sent to linked devices, oldest first, with
   * `read` once a device of the recipient sent a read receipt for it.
   */
  sentBy(phone: string): Outcome {
    const account = this.world.find(phone, 's.whatsapp.net');
    const body = (account?.sent ?? []).map(({ id, to, text, read }) => ({
      id,
      to,
      text,
      ...(read ? { read } : {}),
    }));
    return { status: 200, body };
  }

  /** `GET /sim/contacts/:phone/chatstates`: what the contact's phone was shown, oldest first. */
  shownChatstates(phone: string): Outcome {
    return { status: 200, body: this.chatstates.get(phone) ?? [] };
  }

  /** The enc types a contact's messages went out as (pkmsg until the session is confirmed, then msg). */
  sentEncTypes(phone: string): string[] {
    return this.world.find(phone, 's.whatsapp.net')?.sent.flatMap((m) => m.enc) ?? [];
  }

  /** `GET /sim/accounts/:phone`: the account and its linked devices. */
  accountInfo(phone: string): Outcome {
    const account = this.world.find(phone, 's.whatsapp.net');
    if (!account) return fail(404, 'no such account');
    return {
      status: 200,
      body: {
        phone: account.phone,
        lid: `${account.lid}@lid`,
        name: account.name,
        devices: [...account.devices.values()].map((d) => ({
          id: d.id,
          jid: `${account.phone}:${d.id}@s.whatsapp.net`,
          connected: !!d.connection?.isOpen,
          pending: d.pending.size,
        })),
      },
    };
  }

  /**
   * `PUT /sim/accounts/:phone` `{name?}`: the number installs WhatsApp now. Its account, its phone's keys
   * and a first batch of pre-keys are made here instead of on first use (a contact's keys exist before
   * anyone writes to it on WhatsApp; made lazily, they are the simulator's work inside a caller's timing).
   */
  register(phone: string, name: unknown): Outcome {
    if (name !== undefined && typeof name !== 'string') return fail(400, 'name must be a string');
    if (!isOnWhatsApp(phone)) return fail(404, 'not on WhatsApp');
    const existed = this.world.find(phone, 's.whatsapp.net') !== undefined;
    const account = this.world.account(phone, name) as Account;
    if (!existed) account.device0.uploadPreKeys();
    return { ...this.accountInfo(phone), status: existed ? 200 : 201 };
  }

  /** `POST /sim/accounts/:phone/unlink`: the phone removes every linked device. */
  unlink(phone: string): Outcome {
    const account = this.world.find(phone, 's.whatsapp.net');
    if (!account) return fail(404, 'no such account');
    const removed = account.devices.size;
    for (const device of account.devices.values()) {
      device.connection?.streamError({ code: '401' }, { tag: 'conflict', attrs: { type: 'device_removed' } });
    }
    account.devices.clear();
    this.world.changed();
    return { status: 200, body: { removed } };
  }

  /** Tells a device its one-time pre-keys run low, so it uploads more. */
  preKeysLow(device: LinkedDevice) {
    device.connection?.send({
      tag: 'notification',
      attrs: { from: '@s.whatsapp.net', type: 'encrypt', id: newMessageId(), t: unixTime() },
      content: [{ tag: 'count', attrs: { value: String(device.preKeys.size) } }],
    });
  }

  /** `POST /sim/faults`. */
  fault(kind: unknown, phone: unknown, ms: unknown): Outcome {
    if (phone !== undefined && (typeof phone !== 'string' || !/^\d+$/.test(phone))) {
      return fail(400, 'phone must be digits');
    }
    const targets = [...this.connections].filter((c) => phone === undefined || c.account?.phone === phone);
    // The account the phone-away and sessions-lost faults are about.
    const account = typeof phone === 'string' ? this.world.find(phone, 's.whatsapp.net') : undefined;
    if (kind === 'drop') {
      for (const c of targets) c.terminate();
    } else if (kind === 'restart-required') {
      for (const c of targets) c.streamError({ code: '515' });
    } else if (kind === 'unavailable') {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > 600_000) {
        return fail(400, 'unavailable needs ms between 1 and 600000');
      }
      if (phone === undefined) this.unavailableUntil = Date.now() + ms;
      else this.phoneUnavailableUntil.set(phone, Date.now() + ms);
      for (const c of targets) c.terminate();
    } else if (kind === 'forged-pairing') {
      this.forgeNextPairing = true;
    } else if (kind === 'media-expired') {
      this.media.expireAll();
    } else if (kind === 'phone-away') {
      if (!account || typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > 600_000) {
        return fail(400, 'phone-away needs the phone of an account and ms between 1 and 600000');
      }
      if (!this.away.has(account.phone)) this.away.set(account.phone, []);
      setTimeout(async () => {
        const held = this.away.get(account.phone) ?? [];
        this.away.delete(account.phone);
        for (const read of held) await read();
      }, ms).unref();
      return { status: 200, body: { kind, affected: 1 } };
    } else if (kind === 'sessions-lost') {
      if (!account) return fail(400, 'sessions-lost needs the phone of an account');
      account.device0.forgetSessions();
      return { status: 200, body: { kind, affected: 1 } };
    } else {
      return fail(
        400,
        'kind must be drop, restart-required, unavailable, forged-pairing, media-expired, sessions-lost or phone-away',
      );
    }
    return { status: 200, body: { kind, affected: targets.length } };
  }

  /** Closes every connection and, with a data directory, writes the world a last time. */
  async close() {
    for (const c of this.connections) c.terminate();
    await this.saver?.close();
  }
}

/** The `addressing` option: absent means `pn`; undefined when it is neither. */
const readAddressing = (value: unknown): Addressing | undefined =>
  value === undefined ? 'pn' : value === 'pn' || value === 'lid' ? value : undefined;

/** Sets `key` as the newest entry of `map`; past `max` entries the oldest goes. */
const keepBounded = <K, V>(map: Map<K, V>, key: K, value: V, max: number) => {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
};

/** A new random message id, in the shape WhatsApp uses. */
export const newMessageId = () => `3EB0${randomBytes(10).toString('hex').toUpperCase()}`;
