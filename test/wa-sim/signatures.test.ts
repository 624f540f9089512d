import {
  generateSignalPubKey,
  proto,
  WA_ADV_ACCOUNT_SIG_PREFIX,
  WA_ADV_DEVICE_SIG_PREFIX,
} from '@whiskeysockets/baileys';
import { verify } from 'curve25519-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificateChain, newKeyPair } from './certificates.js';
import { endSocket, linkDevice, startTestSimulator } from './fixtures.js';
import type { SimServer } from './server.js';

// Baileys accepts any 64-byte signature (its Curve.verify only catches throws), so the simulator's
// XEdDSA signatures are checked here with curve25519-js's verify, which returns the real verdict.

describe('certificate chain', () => {
  const root = newKeyPair();
  const serverStatic = newKeyPair();
  const chain = proto.CertChain.decode(makeCertificateChain(root, serverStatic).encoded);
  const intermediate = proto.CertChain.NoiseCertificate.Details.decode(
    chain.intermediate?.details ?? new Uint8Array(),
  );
  const leaf = proto.CertChain.NoiseCertificate.Details.decode(chain.leaf?.details ?? new Uint8Array());

  it('has the intermediate signed by the root, with issuer serial 0 written out', () => {
    expect(verify(root.public, chain.intermediate?.details, chain.intermediate?.signature)).toBe(true);
    expect(intermediate.issuerSerial).toBe(0);
    expect(verify(newKeyPair().public, chain.intermediate?.details, chain.intermediate?.signature)).toBe(
      false,
    );
  });

  it('has the leaf, holding the server static key, signed by the intermediate', () => {
    expect(verify(intermediate.key, chain.leaf?.details, chain.leaf?.signature)).toBe(true);
    expect(Buffer.from(leaf.key ?? []).equals(serverStatic.public)).toBe(true);
    expect(verify(root.public, chain.leaf?.details, chain.leaf?.signature)).toBe(false);
  });
});

describe('device identity from pairing', () => {
  let server: SimServer;
  beforeAll(async () => {
    server = await startTestSimulator();
  });
  afterAll(() => server.close());

  it('is signed by the phone account key, and the companion signed it back', async () => {
    const { sock, auth } = await linkDevice(server, '628666000001');
    const account = auth.creds.account;
    const phoneKey = server.sim.world.find('628666000001', 's.whatsapp.net')?.identity.public;
    expect(phoneKey && Buffer.from(account?.accountSignatureKey ?? []).equals(phoneKey)).toBe(true);
    const companion = auth.creds.signedIdentityKey.public;
    const details = account?.details ?? new Uint8Array();
    const accountMsg = Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, details, companion]);
    expect(verify(phoneKey, accountMsg, account?.accountSignature)).toBe(true);
    const deviceMsg = Buffer.concat([
      WA_ADV_DEVICE_SIG_PREFIX,
      details,
      companion,
      phoneKey ?? Buffer.alloc(32),
    ]);
    expect(verify(companion, deviceMsg, account?.deviceSignature)).toBe(true);
    expect(proto.ADVDeviceIdentity.decode(details).keyIndex).toBe(1);
    expect(generateSignalPubKey(companion)).toHaveLength(33);
    await endSocket(sock);
  });
});
