import {
  Curve,
  encodeWAMessage,
  generateSignalPubKey,
  proto,
  unpadRandomMax16,
} from '@whiskeysockets/baileys';
import { ProtocolAddress, SessionBuilder, SessionCipher, SessionRecord, type SignalStorage } from 'libsignal';
import { type KeyPair, newKeyPair } from './certificates.js';

/** A pre-key bundle as served to key fetches: what a peer needs to open a Signal session. */
export type PreKeyBundle = {
  registrationId: number;
  identityKey: Buffer; // 32 bytes
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
  preKey?: { keyId: number; publicKey: Buffer };
};

const PRE_KEY_BATCH = 20;

/** Everything a phone must keep to go on where it left off: what the simulator saves and restores. */
export type PhoneState = {
  registrationId: number;
  signedPreKey: { keyId: number; keyPair: KeyPair; signature: Buffer };
  /** Private halves of one-time pre-keys not consumed yet, handed out or not. */
  preKeys: Map<number, KeyPair>;
  nextPreKeyId: number;
  /** The pre-keys not handed out in a bundle yet, in the order they will be. */
  unclaimed: number[];
  /** Signal sessions by libsignal address (`user.device`). */
  sessions: Map<string, SessionRecord>;
};

/**
 * A simulated phone (device 0 of an account): a real Signal identity in memory, which serves pre-keys,
 * decrypts what linked devices and contacts send to it and encrypts what it sends. `changed` is called
 * after each change to its Signal state.
 */
export class Phone {
  readonly registrationId: number;
  readonly signedPreKey: { keyId: number; keyPair: KeyPair; signature: Buffer };
  private readonly preKeys: Map<number, KeyPair>;
  private nextPreKeyId: number;
  private readonly unclaimed: number[];
  private readonly sessions: Map<string, SessionRecord>;
  private readonly storage: SignalStorage;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly identity: KeyPair,
    private readonly changed: () => void = () => {},
    saved?: PhoneState,
  ) {
    if (saved) {
      this.registrationId = saved.registrationId;
      this.signedPreKey = saved.signedPreKey;
      this.preKeys = new Map(saved.preKeys);
      this.nextPreKeyId = saved.nextPreKeyId;
      this.unclaimed = [...saved.unclaimed];
      this.sessions = new Map(saved.sessions);
    } else {
      const keyPair = newKeyPair();
      this.registrationId = Math.floor(Math.random() * 0x3fff) + 1;
      this.signedPreKey = {
        keyId: 1,
        keyPair,
        signature: Buffer.from(Curve.sign(identity.private, generateSignalPubKey(keyPair.public))),
      };
      this.preKeys = new Map();
      this.nextPreKeyId = 1;
      this.unclaimed = [];
      this.sessions = new Map();
    }
    this.storage = {
      loadSession: async (id) => this.sessions.get(id),
      storeSession: async (id, record) => {
        this.sessions.set(id, record);
        this.changed();
      },
      isTrustedIdentity: () => true,
      loadPreKey: async (id) => {
        const pair = this.preKeys.get(Number(id));
        return pair && { privKey: pair.private, pubKey: pair.public };
      },
      removePreKey: (id) => {
        this.preKeys.delete(Number(id));
        this.changed();
      },
      loadSignedPreKey: () => ({
        privKey: this.signedPreKey.keyPair.private,
        pubKey: this.signedPreKey.keyPair.public,
      }),
      getOurRegistrationId: () => this.registrationId,
      getOurIdentity: () => ({
        privKey: this.identity.private,
        pubKey: Buffer.from(generateSignalPubKey(this.identity.public)),
      }),
    };
  }

  /** A batch of one-time pre-keys for the server to hand out, as a phone uploads when it registers. */
  uploadPreKeys() {
    for (let i = 0; i < PRE_KEY_BATCH; i++) {
      const id = this.nextPreKeyId++;
      this.preKeys.set(id, newKeyPair());
      this.unclaimed.push(id);
    }
    this.changed();
  }

  /** The bundle for one key fetch; hands out each one-time pre-key once, generating more as needed. */
  bundle(): PreKeyBundle {
    if (this.unclaimed.length === 0) this.uploadPreKeys();
    // The private half stays until a pkmsg consumes it (libsignal's removePreKey).
    const keyId = this.unclaimed.shift();
    const pair = keyId === undefined ? undefined : this.preKeys.get(keyId);
    this.changed();
    return {
      registrationId: this.registrationId,
      identityKey: this.identity.public,
      signedPreKey: {
        keyId: this.signedPreKey.keyId,
        publicKey: this.signedPreKey.keyPair.public,
        signature: this.signedPreKey.signature,
      },
      preKey: keyId !== undefined && pair ? { keyId, publicKey: pair.public } : undefined,
    };
  }

  /** Its state now, for saving (shares the live objects: encode it at once). */
  state(): PhoneState {
    return {
      registrationId: this.registrationId,
      signedPreKey: this.signedPreKey,
      preKeys: this.preKeys,
      nextPreKeyId: this.nextPreKeyId,
      unclaimed: this.unclaimed,
      sessions: this.sessions,
    };
  }

  get sessionCount() {
    return this.sessions.size;
  }

  /**
   * The peer answered a pkmsg with a receipt, so it holds the session: later messages go out as `msg`.
   * (Signal itself only learns this from a reply; WhatsApp's phones act on the delivery receipt.)
   */
  confirmSession(address: string) {
    const record = this.sessions.get(toProtocolAddress(address).toString()) as
      | (SessionRecord & { getOpenSession(): { pendingPreKey?: unknown } | undefined })
      | undefined;
    const open = record?.getOpenSession();
    if (open?.pendingPreKey) {
      delete open.pendingPreKey;
      this.changed();
    }
  }

  /** Loses every Signal session (keeps its identity and pre-keys), as a phone restored from an old backup. */
  forgetSessions() {
    this.sessions.clear();
    this.changed();
  }

  /** Decrypts an `enc` payload from `address` and returns the message it carries. */
  decrypt(address: string, type: string, ciphertext: Uint8Array): Promise<proto.IMessage> {
    return this.serial(() => this.decryptNow(address, type, ciphertext));
  }

  private async decryptNow(address: string, type: string, ciphertext: Uint8Array): Promise<proto.IMessage> {
    const addr = toProtocolAddress(address);
    // libsignal changes the record it loaded while it tries (a ratchet step, a used message key) and
    // stores it only once it succeeds: a phone's stored record stays as it was when it fails. The records
    // here are the live objects, so a failed attempt puts the one from before back.
    const before = this.sessions.get(addr.toString())?.serialize();
    try {
      const cipher = new SessionCipher(this.storage, addr);
      const padded =
        type === 'pkmsg'
          ? await cipher.decryptPreKeyWhisperMessage(ciphertext)
          : type === 'msg'
            ? await cipher.decryptWhisperMessage(ciphertext)
            : undefined;
      if (!padded) throw new Error(`unsupported enc type ${type}`);
      return proto.Message.decode(unpadRandomMax16(padded));
    } catch (err) {
      if (before) this.sessions.set(addr.toString(), SessionRecord.deserialize(before));
      else this.sessions.delete(addr.toString());
      this.changed(); // a save may have caught the record mid-attempt
      throw err;
    }
  }

  /**
   * Encrypts a message for `address`, opening a session from `bundle` first when there is none, or
   * always with `fresh` (the peer lost its side of the session and sent its keys).
   */
  encrypt(
    address: string,
    message: proto.IMessage,
    bundle: () => PreKeyBundle | undefined,
    fresh = false,
  ): Promise<{ type: 'pkmsg' | 'msg'; ciphertext: Buffer }> {
    return this.serial(() => this.encryptNow(address, message, bundle, fresh));
  }

  /** One Signal operation at a time per phone: opening a session and using it must not interleave. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async encryptNow(
    address: string,
    message: proto.IMessage,
    bundle: () => PreKeyBundle | undefined,
    fresh = false,
  ): Promise<{ type: 'pkmsg' | 'msg'; ciphertext: Buffer }> {
    const addr = toProtocolAddress(address);
    // A new session from the bundle archives the open one (libsignal keeps it in the record), so a
    // message the peer sent on the old session before it got this one still decrypts.
    if (fresh || !this.sessions.has(addr.toString())) {
      const b = bundle();
      if (!b) throw new Error(`no pre-key bundle for ${address}`);
      await new SessionBuilder(this.storage, addr).initOutgoing({
        registrationId: b.registrationId,
        identityKey: generateSignalPubKey(b.identityKey),
        signedPreKey: {
          keyId: b.signedPreKey.keyId,
          publicKey: generateSignalPubKey(b.signedPreKey.publicKey),
          signature: b.signedPreKey.signature,
        },
        // libsignal accepts a bundle without a one-time key; its typings do not say so.
        preKey: b.preKey && { keyId: b.preKey.keyId, publicKey: generateSignalPubKey(b.preKey.publicKey) },
      } as Parameters<SessionBuilder['initOutgoing']>[0]);
    }
    const { type, body } = await new SessionCipher(this.storage, addr).encrypt(encodeWAMessage(message));
    return { type: type === 3 ? 'pkmsg' : 'msg', ciphertext: Buffer.from(body, 'binary') };
  }
}

/** `user.device` addresses, the same shape libsignal prints. */
const toProtocolAddress = (address: string) => {
  const dot = address.lastIndexOf('.');
  return new ProtocolAddress(address.slice(0, dot), Number(address.slice(dot + 1)));
};
