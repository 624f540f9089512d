import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { BinaryNode } from '@whiskeysockets/baileys';
import { SessionRecord } from 'libsignal';
import { z } from 'zod';
import type { KeyPair } from './certificates.js';
import type { MediaCa } from './media-tls.js';
import { type AccountState, pendingKey, RECEIPT_TYPES } from './world.js';

/**
 * The simulator's world on disk: one JSON file, `world.json`, in the data directory, with a format
 * version and Buffers as base64. Written whole, atomically (temp file, fsync, rename), a short while
 * after a change and on close.
 */
export const STATE_FILE = 'world.json';
export const STATE_VERSION = 1;
/** How long after a change the world is written: a burst of messages becomes one write. */
export const SAVE_DELAY_MS = 150;

/** What the simulator keeps across restarts. */
export type SavedWorld = {
  root: KeyPair;
  serverStatic: KeyPair;
  mediaCa?: MediaCa;
  accounts: AccountState[];
};

/** The state file cannot be used; starting a fresh world instead would log out every linked device. */
export class StateFileError extends Error {
  override name = 'StateFileError';
}

const key = z.base64().length(44); // 32 bytes
const keyPair = z.object({ private: key, public: key });
const bytes = z.base64();
const id = z.number().int().nonnegative();

const NodeJson = z.object({
  tag: z.string(),
  attrs: z.record(z.string(), z.string()),
  bytes: bytes.optional(),
  text: z.string().optional(),
  get nodes() {
    return z.array(NodeJson).optional();
  },
});
type NodeJson = z.infer<typeof NodeJson>;

const ReceivedDetailsJson = z.object({
  type: z.string(),
  mimetype: z.string().optional(),
  size: z.number().optional(),
  caption: z.string().optional(),
  fileName: z.string().optional(),
  sha256: z.string().optional(),
  ptt: z.boolean().optional(),
  mediaError: z.string().optional(),
  location: z
    .object({
      latitude: z.number(),
      longitude: z.number(),
      name: z.string().optional(),
      address: z.string().optional(),
    })
    .optional(),
  contact: z.object({ displayName: z.string().optional(), vcard: z.string() }).optional(),
  reaction: z.object({ id: z.string(), emoji: z.string() }).optional(),
  quoted: z.string().optional(),
  mentions: z.array(z.string()).optional(),
});

const AccountJson = z.object({
  phone: z.string(),
  lid: z.string(),
  name: z.string(),
  identity: keyPair,
  device0: z.object({
    registrationId: id,
    signedPreKey: z.object({ keyId: id, keyPair, signature: bytes }),
    preKeys: z.array(z.object({ id, private: key, public: key })),
    nextPreKeyId: id,
    unclaimed: z.array(id),
    // libsignal's own serialisation of each SessionRecord (a JSON object, whatever its typings say).
    sessions: z.record(
      z.string(),
      z.object({ version: z.string(), _sessions: z.record(z.string(), z.record(z.string(), z.unknown())) }),
    ),
  }),
  devices: z.array(
    z.object({
      id,
      keyIndex: id,
      noiseKey: key,
      identityKey: key,
      registrationId: id,
      signedPreKey: z.object({ keyId: id, publicKey: key, signature: bytes }),
      preKeys: z.array(z.object({ id, public: key })),
      historySent: z.boolean(),
      pending: z.array(NodeJson),
    }),
  ),
  nextDeviceId: id,
  nextKeyIndex: id,
  // `deliveries`, `receipt` and a sent message's `text` came later: files without them still load.
  inbox: z.array(
    z.object({
      from: z.string(),
      id: z.string(),
      text: z.string(),
      at: z.string(),
      enc: z.string(),
      deliveries: z.number().int().positive().default(1),
      receipt: z.enum(RECEIPT_TYPES).default('delivery'),
      details: ReceivedDetailsJson.optional(),
    }),
  ),
  sent: z.array(
    z.object({
      id: z.string(),
      to: z.string(),
      text: z.string().default(''),
      enc: z.array(z.string()),
      read: z.boolean().optional(),
    }),
  ),
});

const StateJson = z.object({
  version: z.literal(STATE_VERSION),
  savedAt: z.string(),
  root: keyPair,
  serverStatic: keyPair,
  // The media servers' certificate authority came later: a file without it gets a new one.
  mediaCa: z.object({ cert: z.string(), key: bytes }).optional(),
  accounts: z.array(AccountJson),
});
type StateJson = z.infer<typeof StateJson>;
type SessionJson = StateJson['accounts'][number]['device0']['sessions'][string];

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const buf = (s: string) => Buffer.from(s, 'base64');
const pairToJson = (p: KeyPair) => ({ private: b64(p.private), public: b64(p.public) });
const pairFromJson = (p: { private: string; public: string }): KeyPair => ({
  private: buf(p.private),
  public: buf(p.public),
});

const nodeToJson = ({ tag, attrs, content }: BinaryNode): NodeJson => ({
  tag,
  attrs,
  ...(Array.isArray(content)
    ? { nodes: content.map(nodeToJson) }
    : content instanceof Uint8Array
      ? { bytes: b64(content) }
      : typeof content === 'string'
        ? { text: content }
        : {}),
});

const nodeFromJson = ({ tag, attrs, bytes, text, nodes }: NodeJson): BinaryNode => ({
  tag,
  attrs,
  content: nodes ? nodes.map(nodeFromJson) : bytes !== undefined ? buf(bytes) : text,
});

/** The file's JSON for `world`. */
export const encodeWorld = (world: SavedWorld): StateJson => ({
  version: STATE_VERSION,
  savedAt: new Date().toISOString(),
  root: pairToJson(world.root),
  serverStatic: pairToJson(world.serverStatic),
  mediaCa: world.mediaCa && { cert: world.mediaCa.cert, key: b64(world.mediaCa.key) },
  accounts: world.accounts.map((a) => ({
    phone: a.phone,
    lid: a.lid,
    name: a.name,
    identity: pairToJson(a.identity),
    device0: {
      registrationId: a.device0.registrationId,
      signedPreKey: {
        keyId: a.device0.signedPreKey.keyId,
        keyPair: pairToJson(a.device0.signedPreKey.keyPair),
        signature: b64(a.device0.signedPreKey.signature),
      },
      preKeys: [...a.device0.preKeys].map(([id, pair]) => ({ id, ...pairToJson(pair) })),
      nextPreKeyId: a.device0.nextPreKeyId,
      unclaimed: a.device0.unclaimed,
      sessions: Object.fromEntries(
        [...a.device0.sessions].map(([address, record]) => [
          address,
          record.serialize() as unknown as SessionJson,
        ]),
      ),
    },
    devices: a.devices.map((d) => ({
      id: d.id,
      keyIndex: d.keyIndex,
      noiseKey: b64(d.noiseKey),
      identityKey: b64(d.identityKey),
      registrationId: d.registrationId,
      signedPreKey: {
        keyId: d.signedPreKey.keyId,
        publicKey: b64(d.signedPreKey.publicKey),
        signature: b64(d.signedPreKey.signature),
      },
      preKeys: [...d.preKeys].map(([id, publicKey]) => ({ id, public: b64(publicKey) })),
      historySent: d.historySent,
      pending: [...d.pending.values()].map(nodeToJson),
    })),
    nextDeviceId: a.nextDeviceId,
    nextKeyIndex: a.nextKeyIndex,
    inbox: a.inbox,
    sent: a.sent,
  })),
});

const fromJson = (json: StateJson): SavedWorld => ({
  root: pairFromJson(json.root),
  serverStatic: pairFromJson(json.serverStatic),
  mediaCa: json.mediaCa && { cert: json.mediaCa.cert, key: buf(json.mediaCa.key) },
  accounts: json.accounts.map((a) => ({
    phone: a.phone,
    lid: a.lid,
    name: a.name,
    identity: pairFromJson(a.identity),
    device0: {
      registrationId: a.device0.registrationId,
      signedPreKey: {
        keyId: a.device0.signedPreKey.keyId,
        keyPair: pairFromJson(a.device0.signedPreKey.keyPair),
        signature: buf(a.device0.signedPreKey.signature),
      },
      preKeys: new Map(a.device0.preKeys.map((k) => [k.id, pairFromJson(k)])),
      nextPreKeyId: a.device0.nextPreKeyId,
      unclaimed: a.device0.unclaimed,
      sessions: new Map(
        Object.entries(a.device0.sessions).map(([address, json]) => [
          address,
          SessionRecord.deserialize(json as unknown as Uint8Array),
        ]),
      ),
    },
    devices: a.devices.map((d) => ({
      id: d.id,
      keyIndex: d.keyIndex,
      noiseKey: buf(d.noiseKey),
      identityKey: buf(d.identityKey),
      registrationId: d.registrationId,
      signedPreKey: {
        keyId: d.signedPreKey.keyId,
        publicKey: buf(d.signedPreKey.publicKey),
        signature: buf(d.signedPreKey.signature),
      },
      preKeys: new Map(d.preKeys.map((k) => [k.id, buf(k.public)])),
      historySent: d.historySent,
      pending: new Map(
        d.pending.map((n) => [pendingKey(n.tag, n.attrs.id, n.attrs.type), nodeFromJson(n)] as const),
      ),
    })),
    nextDeviceId: a.nextDeviceId,
    nextKeyIndex: a.nextKeyIndex,
    inbox: a.inbox,
    sent: a.sent,
  })),
});

const refuse = (dir: string, problem: string) =>
  new StateFileError(
    `Simulator state file ${join(dir, STATE_FILE)} ${problem}. It holds the simulated accounts and ` +
      'linked devices, so the simulator will not start a fresh world over it (that would log out every ' +
      `linked session). Restore the file, or delete the directory ${dir} to start afresh.`,
  );

/**
 * Reads the world saved in `dir`; undefined when there is none yet. Throws a StateFileError when the
 * file is there but unreadable, malformed or of another format version.
 */
export const readWorld = (dir: string): SavedWorld | undefined => {
  let text: string;
  try {
    text = readFileSync(join(dir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refuse(dir, `cannot be read (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw refuse(dir, `is not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || !('version' in raw)) {
    throw refuse(dir, 'has no format version, so it is no simulator state file');
  }
  const { version } = raw;
  if (version !== STATE_VERSION) {
    throw refuse(
      dir,
      `has format version ${JSON.stringify(version)}, and this simulator reads version ${STATE_VERSION} only`,
    );
  }
  const parsed = StateJson.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refuse(dir, `is malformed (${issue?.path.join('.') || 'top level'}: ${issue?.message})`);
  }
  try {
    return fromJson(parsed.data);
  } catch (err) {
    throw refuse(dir, `holds a Signal session libsignal cannot read (${(err as Error).message})`);
  }
};

/** Writes `text` to `file` so that a crash leaves either the old file or the new one, never a mix. */
const writeAtomically = async (file: string, text: string) => {
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w', 0o600); // private keys, even if simulated ones
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
};

/**
 * Saves the world to `dir`: `changed()` schedules a write SAVE_DELAY_MS later (changes meanwhile join
 * it), one write runs at a time, and `close()` writes what is left. A kill -9 loses at most the changes
 * of the last SAVE_DELAY_MS (plus a write under way).
 */
export class WorldSaver {
  private readonly file: string;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    dir: string,
    private readonly snapshot: () => SavedWorld,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, STATE_FILE);
  }

  /** Something in the world changed: write it soon. */
  changed() {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => void this.flush(), SAVE_DELAY_MS);
  }

  /** Writes the latest world now (after a write under way), and no more after. */
  close(): Promise<void> {
    this.closed = true;
    return this.flush();
  }

  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = true;
    this.running ??= this.writeWhileDirty().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async writeWhileDirty() {
    while (this.dirty) {
      this.dirty = false;
      try {
        // The snapshot is taken when the write starts, so it holds every change until then.
        await writeAtomically(this.file, JSON.stringify(encodeWorld(this.snapshot())));
      } catch (err) {
        console.error(`wa-sim: could not save ${this.file}: ${(err as Error).message}`);
      }
    }
  }
}
