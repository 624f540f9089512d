// @peculiar/x509 resolves its ASN.1 serialisers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

const webcrypto = globalThis.crypto;
x509.cryptoProvider.set(webcrypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;

/** The simulator's own certificate authority for its media servers: a PEM certificate and its key. */
export type MediaCa = { cert: string; key: Buffer };

const pem = (label: string, der: ArrayBuffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/.{64}/g, '$&\n')
    .replace(/\n?$/, '\n')}-----END ${label}-----\n`;

const validity = () => ({
  notBefore: new Date(Date.now() - DAY),
  notAfter: new Date(Date.now() + 3650 * DAY),
});

/** A new CA (P-256): what a gateway pointed at the simulator trusts for media, as it trusts its root key. */
export const newMediaCa = async (): Promise<MediaCa> => {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=WhatsApp simulator media CA',
    ...validity(),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const key = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { cert: cert.toString('pem'), key };
};

/** A server certificate for `host` (an IP address or a name), issued by the CA; returned as PEMs for TLS. */
export const issueServerCertificate = async (ca: MediaCa, host: string) => {
  const caKey = await webcrypto.subtle.importKey('pkcs8', new Uint8Array(ca.key), ALG, false, ['sign']);
  const issuer = new x509.X509Certificate(ca.cert);
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const isIp = /^[\d.]+$|:/.test(host);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Date.now().toString(16),
    subject: `CN=${host}`,
    issuer: issuer.subject,
    ...validity(),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: isIp ? 'ip' : 'dns', value: host }]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  return {
    cert: cert.toString('pem'),
    key: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
  };
};
