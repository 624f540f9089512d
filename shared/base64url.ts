// Unpadded base64url (RFC 4648 section 5) of bytes: JWTs and opaque cursors; and plain base64's decoding.
// Web-standard APIs, or a runtime's native decoder where it has one.

export function toBase64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The bytes of unpadded base64url text; undefined when it is not that. */
export function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  return fromBase64(text.replace(/-/g, '+').replace(/_/g, '/'));
}

type Decoder = (text: string) => Uint8Array<ArrayBuffer>;
const runtime = globalThis as {
  Uint8Array: { fromBase64?: Decoder };
  Buffer?: { from(text: string, encoding: 'base64'): Uint8Array<ArrayBuffer> };
};

/**
 * The bytes of base64 text already known to be well formed: Node's decoder skips what is not base64
 * rather than refusing it. A native decoder where the runtime has one (the web's `Uint8Array.fromBase64`,
 * or Node's `Buffer`): for a file of a megabyte, `atob` and a loop over its string cost about 5 ms more.
 */
const nodeBuffer = runtime.Buffer;
export const fromBase64: Decoder =
  runtime.Uint8Array.fromBase64?.bind(Uint8Array) ??
  (nodeBuffer ? (text) => nodeBuffer.from(text, 'base64') : viaAtob);

function viaAtob(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  // A plain loop: Uint8Array.from with a mapping function costs an iterator step and a call per byte.
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
