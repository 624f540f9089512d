// A libsignal bug the gateway patches (patches/libsignal+*.patch), shown with two parties that keep their
// sessions serialized between operations, as Baileys does: the test fails on unpatched libsignal.
import { createRequire } from 'node:module';
import { ProtocolAddress, SessionBuilder, SessionCipher, SessionRecord, type SignalStorage } from 'libsignal';
import { afterEach, describe, expect, it, vi } from 'vitest';

type KeyPair = { pubKey: Buffer; privKey: Buffer };
// The package's typings leave out its key helpers.
const { keyhelper } = createRequire(import.meta.url)('libsignal') as {
  keyhelper: {
    generateIdentityKeyPair(): KeyPair;
    generateRegistrationId(): number;
    generateSignedPreKey(
      identity: KeyPair,
      keyId: number,
    ): { keyId: number; keyPair: KeyPair; signature: Buffer };
    generatePreKey(keyId: number): { keyId: number; keyPair: KeyPair };
  };
};

/** One device: its keys, and its sessions stored serialized, read back fresh on every operation. */
const party = (name: string) => {
  const identity = keyhelper.generateIdentityKeyPair();
  const registrationId = keyhelper.generateRegistrationId();
  const signed = keyhelper.generateSignedPreKey(identity, 1);
  const preKeys = new Map<number, KeyPair>();
  const sessions = new Map<string, Uint8Array>();
  const storage: SignalStorage = {
    loadSession: async (id) => {
      const stored = sessions.get(id);
      return stored && SessionRecord.deserialize(stored);
    },
    storeSession: async (id, record) => {
      sessions.set(id, record.serialize());
    },
    isTrustedIdentity: () => true,
    loadPreKey: async (id) => preKeys.get(Number(id)),
    removePreKey: (id) => {
      preKeys.delete(Number(id));
    },
    loadSignedPreKey: () => signed.keyPair,
    getOurRegistrationId: () => registrationId,
    getOurIdentity: () => identity,
  };
  let nextPreKey = 1;
  return {
    address: new ProtocolAddress(name, 0),
    storage,
    /** A pre-key bundle with a one-time key, as a key fetch serves it. */
    bundle() {
      const preKey = keyhelper.generatePreKey(nextPreKey++);
      preKeys.set(preKey.keyId, preKey.keyPair);
      return {
        registrationId,
        identityKey: identity.pubKey,
        signedPreKey: { keyId: signed.keyId, publicKey: signed.keyPair.pubKey, signature: signed.signature },
        preKey: { keyId: preKey.keyId, publicKey: preKey.keyPair.pubKey },
      };
    },
  };
};
type Party = ReturnType<typeof party>;

const send = async (from: Party, to: Party, text: string) =>
  new SessionCipher(from.storage, to.address).encrypt(Buffer.from(text));

const receive = async (by: Party, from: Party, { type, body }: { type: number; body: string }) => {
  const cipher = new SessionCipher(by.storage, from.address);
  const data = Buffer.from(body, 'binary');
  const plain =
    type === 3 ? await cipher.decryptPreKeyWhisperMessage(data) : await cipher.decryptWhisperMessage(data);
  return plain.toString();
};

afterEach(() => vi.restoreAllMocks());

describe('Signal sessions', () => {
  it('a message for an older session does not corrupt the open one (a failed attempt stepped its ratchet)', async () => {
    // libsignal says so on the console each time it decrypts with a session that is not the open one.
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const device = party('device'); // a linked device (Baileys)
    const contact = party('contact'); // a contact's phone
    await new SessionBuilder(device.storage, contact.address).initOutgoing(contact.bundle());
    expect(await receive(contact, device, await send(device, contact, 'first'))).toBe('first');
    // The contact answers on that session; its message is still on the way when...
    const late = await send(contact, device, 'late');
    // ...the device opens a new session from fresh keys (Baileys does on a host's first send to each
    // contact), and the contact takes it up.
    await new SessionBuilder(device.storage, contact.address).initOutgoing(contact.bundle());
    expect(await receive(contact, device, await send(device, contact, 'on the new session'))).toBe(
      'on the new session',
    );
    // The late message decrypts with the older session; trying the open one first must leave it as it was.
    expect(await receive(device, contact, late)).toBe('late');
    expect(await receive(contact, device, await send(device, contact, 'after'))).toBe('after');
    expect(await receive(device, contact, await send(contact, device, 'reply'))).toBe('reply');
  });
});
