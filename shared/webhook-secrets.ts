// Webhook signing secrets: made here, shown once, stored encrypted (AES-256-GCM, WebCrypto, so the edge
// on any runtime and the Node hosts share one implementation). The key comes from configuration
// (`WEBHOOK_SECRET_KEY`, 32 bytes in base64); without it a stolen database holds no usable secret.

/** Standard Webhooks' secret prefix: `whsec_` and the key's bytes in base64. */
export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
const IV_BYTES = 12;

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** A new signing secret, `whsec_...`. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** The encryption key from its configured text: 32 bytes, base64 or base64url. Throws otherwise. */
export function parseSecretKey(text: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(text.trim().replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    throw new Error('WEBHOOK_SECRET_KEY must be 32 bytes in base64');
  }
  if (bytes.length !== 32) throw new Error('WEBHOOK_SECRET_KEY must be 32 bytes in base64');
  return bytes;
}

/** Whether a configured key is usable. */
export function isSecretKey(text: string): boolean {
  try {
    parseSecretKey(text);
    return true;
  } catch {
    return false;
  }
}

/** A new encryption key in base64, for first starts and tests. */
export function generateSecretKey(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** Encrypts and decrypts webhook secrets with one configured key. */
export class SecretBox {
  private readonly key: Promise<CryptoKey>;

  constructor(keyBytes: Uint8Array) {
    // A fresh copy: WebCrypto wants its own ArrayBuffer, not a view into a shared one.
    this.key = crypto.subtle.importKey('raw', new Uint8Array(keyBytes), 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ]);
  }

  /** iv || ciphertext+tag */
  async seal(secret: string): Promise<Uint8Array> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv },
      await this.key,
      new TextEncoder().encode(secret),
    );
    const out = new Uint8Array(IV_BYTES + sealed.byteLength);
    out.set(iv);
    out.set(new Uint8Array(sealed), IV_BYTES);
    return out;
  }

  async open(sealed: Uint8Array): Promise<string> {
    const bytes = new Uint8Array(sealed);
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.slice(0, IV_BYTES) },
      await this.key,
      bytes.slice(IV_BYTES),
    );
    return new TextDecoder().decode(plain);
  }
}
