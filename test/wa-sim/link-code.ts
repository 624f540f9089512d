import { createCipheriv, createDecipheriv, hkdfSync, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { type BinaryNode, Curve } from '@whiskeysockets/baileys';
import { type KeyPair, newKeyPair } from './certificates.js';
import { bytes, child, childBytes, SERVER_JID, unixTime } from './nodes.js';
import type { ParsedQr } from './pairing.js';
import type { Account } from './world.js';

/**
 * Linking by pairing code, as WhatsApp does it (the companion side is Baileys' `requestPairingCode` and
 * its `link_code_companion_reg` notification handler):
 * 1. `companion_hello`: the companion sends its ephemeral public key wrapped with the code it shows
 *    (PBKDF2 of the code, AES-CTR) and names the phone; the server answers with a pairing ref.
 * 2. The phone's user types the code: the phone unwraps the companion's key with it, wraps its own
 *    ephemeral key the same way and sends it with its identity key (a notification to the companion).
 * 3. `companion_finish`: the companion sends a key bundle sealed (AES-GCM) under the two ephemeral keys'
 *    agreement. A wrong code gives the two sides different agreements: the bundle does not open.
 * 4. Both derive the adv secret from both agreements; the phone then signs the device as after a scan.
 */

const CODE_ROUNDS = 2 << 16;
const pbkdf2Async = promisify(pbkdf2);

/** What the phone's user types: the 8 characters shown, with or without the dash, in any case. */
export const normalizeCode = (code: unknown) => {
  if (typeof code !== 'string') return undefined;
  const plain = code.replace('-', '').toUpperCase();
  return /^[0-9A-Z]{8}$/.test(plain) ? plain : undefined;
};

const codeKey = (code: string, salt: Buffer) => pbkdf2Async(code, salt, CODE_ROUNDS, 32, 'sha256');

/** `salt(32) ‖ iv(16) ‖ AES-256-CTR(key from the code)` of a 32-byte public key. */
const wrapKey = async (key: Buffer, code: string) => {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-ctr', await codeKey(code, salt), iv);
  return Buffer.concat([salt, iv, cipher.update(key), cipher.final()]);
};

/** The key wrapped by `wrapKey`, as this code opens it (CTR has no check: a wrong code gives noise). */
const unwrapKey = async (wrapped: Buffer, code: string) => {
  const decipher = createDecipheriv(
    'aes-256-ctr',
    await codeKey(code, wrapped.subarray(0, 32)),
    wrapped.subarray(32, 48),
  );
  return Buffer.concat([decipher.update(wrapped.subarray(48, 80)), decipher.final()]);
};

const hkdf = (key: Buffer, info: string, salt: Buffer = Buffer.alloc(0)) =>
  Buffer.from(hkdfSync('sha256', key, salt, info, 32));

/** What a companion asked for in its `companion_hello`. */
export type CompanionHello = { phone: string; wrappedEphemeral: Buffer; noiseKey: Buffer };

/** Reads a `link_code_companion_reg` of stage `companion_hello`; undefined when it is malformed. */
export const readCompanionHello = (reg: BinaryNode): CompanionHello | undefined => {
  const phone = /^(\d+)@s\.whatsapp\.net$/.exec(reg.attrs.jid ?? '')?.[1];
  const wrappedEphemeral = childBytes(reg, 'link_code_pairing_wrapped_companion_ephemeral_pub');
  const noiseKey = childBytes(reg, 'companion_server_auth_key_pub');
  if (!phone || wrappedEphemeral?.length !== 80 || noiseKey?.length !== 32) return undefined;
  return { phone, wrappedEphemeral, noiseKey };
};

/** The phone's half of the exchange, kept until the companion's `companion_finish` comes back. */
export type PrimaryHello = { ephemeral: KeyPair; companionEphemeral: Buffer; notification: BinaryNode };

/** The phone, once its user typed `code`: its notification to the companion (step 2). */
export const primaryHello = async (
  account: Account,
  hello: CompanionHello,
  ref: string,
  code: string,
): Promise<PrimaryHello> => {
  const ephemeral = newKeyPair();
  const companionEphemeral = await unwrapKey(hello.wrappedEphemeral, code);
  const notification: BinaryNode = {
    tag: 'notification',
    attrs: {
      from: SERVER_JID,
      type: 'link_code_companion_reg',
      id: randomBytes(8).toString('hex'),
      t: unixTime(),
    },
    content: [
      {
        tag: 'link_code_companion_reg',
        attrs: {},
        content: [
          { tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from(ref) },
          { tag: 'primary_identity_pub', attrs: {}, content: account.identity.public },
          {
            tag: 'link_code_pairing_wrapped_primary_ephemeral_pub',
            attrs: {},
            content: await wrapKey(ephemeral.public, code),
          },
        ],
      },
    ],
  };
  return { ephemeral, companionEphemeral, notification };
};

/**
 * The phone opens the companion's key bundle (step 3) and derives the adv secret (step 4). Returns what a
 * scanned QR would have told it, or why not: `wrong-code` when the bundle does not open.
 */
export const openKeyBundle = (
  account: Account,
  primary: PrimaryHello,
  finish: BinaryNode,
  expected: { ref: string; noiseKey: Buffer; identityKey: Buffer },
): ParsedQr | 'wrong-code' | 'malformed' => {
  const reg = child(finish, 'link_code_companion_reg');
  const bundle = childBytes(reg, 'link_code_pairing_wrapped_key_bundle');
  const identity = childBytes(reg, 'companion_identity_public');
  const ref = bytes(child(reg, 'link_code_pairing_ref'))?.toString();
  if (!bundle || bundle.length < 32 + 12 + 16 || identity?.length !== 32 || ref !== expected.ref)
    return 'malformed';
  const shared = Buffer.from(Curve.sharedKey(primary.ephemeral.private, primary.companionEphemeral));
  const key = hkdf(shared, 'link_code_pairing_key_bundle_encryption_key', bundle.subarray(0, 32));
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bundle.subarray(32, 44));
    decipher.setAuthTag(bundle.subarray(bundle.length - 16));
    plain = Buffer.concat([decipher.update(bundle.subarray(44, bundle.length - 16)), decipher.final()]);
  } catch {
    return 'wrong-code';
  }
  // companion identity ‖ primary identity ‖ 32 random bytes, each side's identity as the other saw it.
  if (
    plain.length !== 96 ||
    !plain.subarray(0, 32).equals(identity) ||
    !identity.equals(expected.identityKey) ||
    !plain.subarray(32, 64).equals(account.identity.public)
  ) {
    return 'malformed';
  }
  const identityShared = Buffer.from(Curve.sharedKey(account.identity.private, identity));
  const advSecret = hkdf(Buffer.concat([shared, identityShared, plain.subarray(64)]), 'adv_secret');
  return { ref, noiseKey: expected.noiseKey, identityKey: identity, advSecret };
};
