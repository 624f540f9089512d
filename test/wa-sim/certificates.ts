import { Curve, proto } from '@whiskeysockets/baileys';

export type KeyPair = { private: Buffer; public: Buffer };

export type CertificateChain = { encoded: Uint8Array };

/** A new X25519 key pair (32-byte halves) as Buffers. */
export const newKeyPair = (): KeyPair => {
  const pair = Curve.generateKeyPair();
  return { private: Buffer.from(pair.private), public: Buffer.from(pair.public) };
};

const YEAR = 365 * 24 * 3600;

/** Encodes and signs one certificate's details with the issuer's private key. */
const certificate = (
  issuer: KeyPair,
  fields: { serial: number; issuerSerial: number; key: Uint8Array },
): proto.CertChain.INoiseCertificate => {
  const now = Math.floor(Date.now() / 1000);
  // issuerSerial 0 must be written explicitly: Baileys compares it with `!==` to WA_CERT_DETAILS.SERIAL.
  const details = proto.CertChain.NoiseCertificate.Details.encode({
    ...fields,
    notBefore: now - YEAR,
    notAfter: now + YEAR,
  }).finish();
  return { details, signature: Curve.sign(issuer.private, details) };
};

/**
 * The simulator's certificate chain: root (the trust root handed to Baileys) signs the intermediate,
 * which signs the leaf holding the server's static Noise key.
 */
export const makeCertificateChain = (root: KeyPair, serverStatic: KeyPair): CertificateChain => {
  const intermediate = newKeyPair();
  const intermediateCert = certificate(root, { serial: 1, issuerSerial: 0, key: intermediate.public });
  const leafCert = certificate(intermediate, { serial: 2, issuerSerial: 1, key: serverStatic.public });
  return { encoded: proto.CertChain.encode({ leaf: leafCert, intermediate: intermediateCert }).finish() };
};
