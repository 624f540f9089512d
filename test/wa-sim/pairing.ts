import { createHmac, randomBytes } from 'node:crypto';
import {
  type BinaryNode,
  Curve,
  proto,
  WA_ADV_ACCOUNT_SIG_PREFIX,
  WA_ADV_DEVICE_SIG_PREFIX,
} from '@whiskeysockets/baileys';
import * as curve from 'libsignal/src/curve.js';
import { newKeyPair } from './certificates.js';
import type { SimConnection } from './connection.js';
import { bytes, child, SERVER_JID, uintBE, unixTime } from './nodes.js';
import type { Account, LinkedDevice } from './world.js';

export const QR_PREFIX = 'https://wa.me/settings/linked_devices#';
const REFS_PER_PAIRING = 6;
const SIGN_REPLY_TIMEOUT_MS = 15_000;

/** What a new device told us in its registration payload: its Signal identity and signed pre-key. */
export type Registration = {
  identityKey: Buffer;
  registrationId: number;
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
};

export type ParsedQr = { ref: string; noiseKey: Buffer; identityKey: Buffer; advSecret: Buffer };

/** Parses the text of a pairing QR; undefined when it is not one. */
export const parseQr = (qr: unknown): ParsedQr | undefined => {
  if (typeof qr !== 'string' || !qr.startsWith(QR_PREFIX)) return undefined;
  const parts = qr.slice(QR_PREFIX.length).split(',');
  if (parts.length < 4) return undefined;
  const [ref, noise, identity, adv] = parts as [string, string, string, string];
  const noiseKey = Buffer.from(noise, 'base64');
  const identityKey = Buffer.from(identity, 'base64');
  const advSecret = Buffer.from(adv, 'base64');
  if (!ref || noiseKey.length !== 32 || identityKey.length !== 32 || advSecret.length !== 32)
    return undefined;
  return { ref, noiseKey, identityKey, advSecret };
};

/** Reads the Signal bundle a registering device sends in its ClientPayload. */
export const readRegistration = (payload: proto.IClientPayload): Registration | undefined => {
  const d = payload.devicePairingData;
  if (!d?.eIdent || !d.eRegid || !d.eSkeyId || !d.eSkeyVal || !d.eSkeySig) return undefined;
  const id = uintBE(Buffer.from(d.eSkeyId));
  const reg = uintBE(Buffer.from(d.eRegid));
  if (id === undefined || reg === undefined || d.eIdent.length !== 32) return undefined;
  return {
    identityKey: Buffer.from(d.eIdent),
    registrationId: reg,
    signedPreKey: { keyId: id, publicKey: Buffer.from(d.eSkeyVal), signature: Buffer.from(d.eSkeySig) },
  };
};

/** Offers QR refs to a new device: `pair-device` with several refs, shown one after another. */
export const offerPairing = (conn: SimConnection): string[] => {
  const refs = Array.from({ length: REFS_PER_PAIRING }, () => `2@${randomBytes(30).toString('base64')}`);
  conn.send({
    tag: 'iq',
    attrs: { from: SERVER_JID, type: 'set', id: randomBytes(8).toString('hex'), xmlns: 'md' },
    content: [
      {
        tag: 'pair-device',
        attrs: {},
        content: refs.map((ref) => ({ tag: 'ref', attrs: {}, content: Buffer.from(ref, 'utf8') })),
      },
    ],
  });
  return refs;
};

/**
 * The phone's side of a scan: signs the companion's identity with the account key, HMACs it with the
 * QR's adv secret, sends `pair-success`, checks the companion's `pair-device-sign` and returns the device.
 */
export const completePairing = async (
  conn: SimConnection,
  account: Account,
  qr: ParsedQr,
  registration: Registration,
  awaitReply: (id: string, timeoutMs: number) => Promise<BinaryNode>,
  forged = false,
): Promise<LinkedDevice> => {
  const deviceId = account.nextDeviceId++;
  const keyIndex = account.nextKeyIndex++;
  const deviceDetails = proto.ADVDeviceIdentity.encode({
    rawId: randomBytes(4).readUInt32BE(0),
    timestamp: Math.floor(Date.now() / 1000),
    keyIndex,
  }).finish();
  // A forged pairing is signed by a stranger's key (a server in the middle), not the phone's.
  const signer = forged ? newKeyPair() : account.identity;
  const accountSignature = Curve.sign(
    signer.private,
    Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, deviceDetails, qr.identityKey]),
  );
  const details = proto.ADVSignedDeviceIdentity.encode({
    details: deviceDetails,
    accountSignatureKey: account.identity.public,
    accountSignature,
  }).finish();
  const hmac = createHmac('sha256', qr.advSecret).update(details).digest();
  const id = randomBytes(8).toString('hex');
  const reply = awaitReply(id, SIGN_REPLY_TIMEOUT_MS);
  conn.send({
    tag: 'iq',
    attrs: { from: SERVER_JID, type: 'set', id, xmlns: 'md', t: unixTime() },
    content: [
      {
        tag: 'pair-success',
        attrs: {},
        content: [
          {
            tag: 'device-identity',
            attrs: {},
            content: proto.ADVSignedDeviceIdentityHMAC.encode({ details, hmac }).finish(),
          },
          {
            tag: 'device',
            attrs: {
              jid: `${account.phone}:${deviceId}@s.whatsapp.net`,
              lid: `${account.lid}:${deviceId}@lid`,
            },
          },
          { tag: 'platform', attrs: { name: 'android' } },
          { tag: 'biz', attrs: { name: account.name } },
        ],
      },
    ],
  });
  const answer = await reply;
  const signed = bytes(child(child(answer, 'pair-device-sign'), 'device-identity'));
  if (!signed) throw new Error('pair-device-sign without device-identity');
  const identity = proto.ADVSignedDeviceIdentity.decode(signed);
  const deviceMessage = Buffer.concat([
    WA_ADV_DEVICE_SIG_PREFIX,
    deviceDetails,
    qr.identityKey,
    account.identity.public,
  ]);
  // libsignal's verifySignature returns the verdict (Baileys' Curve.verify only catches throws).
  if (
    !identity.details ||
    !Buffer.from(identity.details).equals(Buffer.from(deviceDetails)) ||
    !identity.deviceSignature ||
    !curve.verifySignature(
      Buffer.concat([Buffer.from([5]), qr.identityKey]),
      deviceMessage,
      Buffer.from(identity.deviceSignature),
    )
  ) {
    throw new Error('companion device signature invalid');
  }
  return {
    id: deviceId,
    keyIndex,
    noiseKey: qr.noiseKey,
    identityKey: registration.identityKey,
    registrationId: registration.registrationId,
    signedPreKey: registration.signedPreKey,
    preKeys: new Map(),
    pending: new Map(),
    historySent: false,
  };
};
