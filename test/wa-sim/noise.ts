import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { Curve, NOISE_MODE, NOISE_WA_HEADER, proto } from '@whiskeysockets/baileys';
import type { CertificateChain } from './certificates.js';

type KeyPair = { private: Uint8Array; public: Uint8Array };

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

const hkdf = (ikm: Uint8Array, salt: Uint8Array): [Buffer, Buffer] => {
  const out = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.alloc(0), 64));
  return [out.subarray(0, 32), out.subarray(32)];
};

const ivFor = (counter: number) => {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(counter, 8);
  return iv;
};

const gcmEncrypt = (key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) => {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
};

const gcmDecrypt = (key: Uint8Array, iv: Uint8Array, aad: Uint8Array, data: Uint8Array) => {
  if (data.length < 16) throw new Error('ciphertext too short');
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(aad);
  d.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
};

/** One direction of the transport phase: its own key and counter, no AAD. */
class Direction {
  private counter = 0;
  constructor(private readonly key: Uint8Array) {}
  encrypt(data: Uint8Array) {
    return gcmEncrypt(this.key, ivFor(this.counter++), Buffer.alloc(0), data);
  }
  decrypt(data: Uint8Array) {
    return gcmDecrypt(this.key, ivFor(this.counter++), Buffer.alloc(0), data);
  }
}

export type Transport = { encrypt(data: Uint8Array): Buffer; decrypt(data: Uint8Array): Buffer };

/**
 * The responder side of WhatsApp's Noise XX handshake (Noise_XX_25519_AESGCM_SHA256).
 * The client is Baileys' noise-handler; this mirrors it step for step.
 */
export class NoiseResponder {
  private hash: Buffer;
  private salt: Buffer;
  private key: Buffer;
  private counter = 0;
  private ephemeral: KeyPair = Curve.generateKeyPair();

  constructor(
    private readonly staticKey: KeyPair,
    private readonly certChain: CertificateChain,
  ) {
    this.hash = Buffer.from(NOISE_MODE);
    this.salt = this.hash;
    this.key = this.hash;
    this.mixHash(NOISE_WA_HEADER);
  }

  private mixHash(data: Uint8Array) {
    this.hash = sha256(this.hash, data);
  }

  private mixKey(ikm: Uint8Array) {
    const [salt, key] = hkdf(ikm, this.salt);
    this.salt = salt;
    this.key = key;
    this.counter = 0;
  }

  private encrypt(plaintext: Uint8Array) {
    const out = gcmEncrypt(this.key, ivFor(this.counter++), this.hash, plaintext);
    this.mixHash(out);
    return out;
  }

  private decrypt(ciphertext: Uint8Array) {
    const out = gcmDecrypt(this.key, ivFor(this.counter++), this.hash, ciphertext);
    this.mixHash(ciphertext);
    return out;
  }

  /** Takes the client hello, returns the encoded server hello. */
  answerHello(clientHello: Uint8Array): Uint8Array {
    const msg = proto.HandshakeMessage.decode(clientHello);
    const clientEphemeral = msg.clientHello?.ephemeral;
    if (clientEphemeral?.length !== 32) throw new Error('bad client hello');
    this.mixHash(clientEphemeral);
    this.mixHash(this.ephemeral.public);
    this.mixKey(Curve.sharedKey(this.ephemeral.private, clientEphemeral));
    const encStatic = this.encrypt(this.staticKey.public);
    this.mixKey(Curve.sharedKey(this.staticKey.private, clientEphemeral));
    const encPayload = this.encrypt(this.certChain.encoded);
    return proto.HandshakeMessage.encode({
      serverHello: { ephemeral: this.ephemeral.public, static: encStatic, payload: encPayload },
    }).finish();
  }

  /** Takes the client finish; returns the client's static key, its ClientPayload and the transport. */
  acceptFinish(clientFinish: Uint8Array): {
    clientStatic: Buffer;
    payload: proto.ClientPayload;
    transport: Transport;
  } {
    const msg = proto.HandshakeMessage.decode(clientFinish);
    const encStatic = msg.clientFinish?.static;
    const encPayload = msg.clientFinish?.payload;
    if (!encStatic || !encPayload) throw new Error('bad client finish');
    const clientStatic = this.decrypt(encStatic);
    if (clientStatic.length !== 32) throw new Error('bad client static key');
    this.mixKey(Curve.sharedKey(this.ephemeral.private, clientStatic));
    const payload = proto.ClientPayload.decode(this.decrypt(encPayload));
    const [clientToServer, serverToClient] = hkdf(Buffer.alloc(0), this.salt);
    const send = new Direction(serverToClient);
    const recv = new Direction(clientToServer);
    return {
      clientStatic,
      payload,
      transport: { encrypt: (d) => send.encrypt(d), decrypt: (d) => recv.decrypt(d) },
    };
  }
}
