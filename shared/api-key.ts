// API key format: `<prefix><body><checksum>`, e.g. `waga_` + 43 base62 chars + 6 base62 chars.
//
// - prefix: `wag` (WhatsApp gateway) + one scope letter + `_`, so a leaked key is recognisable by people
//   and by secret scanners (pattern: API_KEY_SCANNER_PATTERN).
// - body: 43 base62 characters drawn without modulo bias = 43 * log2(62) ~ 256.03 random bits.
// - checksum: CRC32 of prefix+body, base62, zero-padded to 6 characters. CRC32 detects every error
//   confined to 32 consecutive bits, so any single-character typo or adjacent swap is rejected
//   before any database look-up.
//
// Web-standard APIs (crypto.getRandomValues, TextEncoder) and pure JavaScript (@noble/hashes), with
// Node's own SHA-256 where the runtime has it: runs on Node, Workers, Deno.

import { sha256 } from '@noble/hashes/sha2.js';

// `admin` is the tenant admin scope; the names match the api_keys.scope column.
export const API_KEY_SCOPES = ['operator', 'admin', 'session'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Whether a value is one of the key scopes. */
export function isApiKeyScope(value: unknown): value is ApiKeyScope {
  return (API_KEY_SCOPES as readonly unknown[]).includes(value);
}

/** The only header a key may travel in. */
export const API_KEY_HEADER = 'x-api-key';

export const API_KEY_PREFIXES = {
  operator: 'wago_',
  admin: 'waga_',
  session: 'wags_',
} as const satisfies Record<ApiKeyScope, string>;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
const PREFIX_LENGTH = 5;
export const API_KEY_LENGTH = PREFIX_LENGTH + BODY_LENGTH + CHECKSUM_LENGTH;
const DISPLAY_PREFIX_LENGTH = 12;

/** Regex source a secret scanner can use to find leaked keys of every scope. */
export const API_KEY_SCANNER_PATTERN = `\\bwag[oas]_[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}\\b`;

const KEY_PATTERN = new RegExp(`^(wag[oas]_)([0-9A-Za-z]{${BODY_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`);
// Any `wag<letter>_` start is reserved for our own format (including future scopes), so such a string
// is always checksum-tested and can never be taken for a custom key.
const RESERVED_PREFIX = /^wag[a-z0-9]_/;

/** Custom keys (the `API_KEY` setting) must be at least this long. */
export const CUSTOM_KEY_MIN_LENGTH = 32;
// Upper bound on anything we hash or compare, so a huge header cannot cost more than a small one.
export const MAX_PRESENTED_KEY_LENGTH = 256;

const SCOPE_BY_PREFIX: ReadonlyMap<string, ApiKeyScope> = new Map(
  API_KEY_SCOPES.map((scope) => [API_KEY_PREFIXES[scope], scope]),
);

export interface GeneratedApiKey {
  /** The plaintext key: shown once, never stored. */
  key: string;
  /** SHA-256 of the key (32 bytes): what the database stores and looks up. */
  digest: Uint8Array;
  /** First characters of the key, safe to show in listings and logs. */
  displayPrefix: string;
  scope: ApiKeyScope;
}

export type ParseApiKeyResult =
  | { ok: true; scope: ApiKeyScope }
  | { ok: false; error: 'malformed' | 'bad_checksum' };

export type PresentedKeyClass =
  | { ok: true; kind: 'prefixed'; scope: ApiKeyScope }
  /** A custom key (the `API_KEY` or `OPERATOR_KEY` setting): its scope is the stored one, found by digest. */
  | { ok: true; kind: 'custom'; scope: 'admin' }
  | { ok: false; error: 'malformed' | 'bad_checksum' };

export type CustomKeyProblem = 'too_short' | 'too_long' | 'reserved_prefix' | 'default' | 'bad_characters';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 (IEEE 802.3, as in zlib) of an ASCII string's bytes, read as its char codes (a key's prefix and
 * body, on every request: no encoded copy).
 */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    crc = (CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] ?? 0) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const encoder = new TextEncoder();

/** The checksum of a prefix and body, which are base62 (ASCII) wherever this is called. */
function checksumOf(prefixAndBody: string): string {
  let value = crc32(prefixAndBody);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62.charAt(value % 62) + out;
    value = Math.floor(value / 62);
  }
  return out;
}

function randomBase62(length: number): string {
  let out = '';
  const buffer = new Uint8Array(64);
  while (out.length < length) {
    crypto.getRandomValues(buffer);
    for (const byte of buffer) {
      // 248 = 4 * 62: rejecting the top 8 byte values keeps every character equally likely.
      if (byte >= 248) continue;
      out += BASE62.charAt(byte % 62);
      if (out.length === length) break;
    }
  }
  return out;
}

const HEX_PAIRS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Lowercase hex of bytes (a key's digest on every request: a table, not a format per byte). */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += HEX_PAIRS[byte];
  return out;
}

/** Bytes of a hex string; null when it is not even-length hex. */
export function hexToBytes(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

type NodeHash = (algorithm: 'sha256', data: string, encoding: 'buffer') => Uint8Array;
// Node's one-shot hash, where the runtime offers Node's modules; found without an import that a Workers
// bundle would have to resolve.
const nodeHash = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => { hash?: NodeHash } | undefined } }
).process?.getBuiltinModule?.('node:crypto')?.hash;

/**
 * SHA-256 of the key's UTF-8 bytes (32 bytes): the only form in which keys are stored. Synchronous,
 * since every request hashes its key to look it up (Web Crypto's asynchronous digest cost about six
 * times as much CPU for a string this short): Node's own hash where there is one (about 60% of the
 * JavaScript one's time), else @noble/hashes.
 */
export function digestApiKey(key: string): Uint8Array {
  return nodeHash ? new Uint8Array(nodeHash('sha256', key, 'buffer')) : sha256(encoder.encode(key));
}

/** Creates a new random key of the scope, with its digest and display prefix. */
export async function generateApiKey(scope: ApiKeyScope): Promise<GeneratedApiKey> {
  const prefixAndBody = API_KEY_PREFIXES[scope] + randomBase62(BODY_LENGTH);
  const key = prefixAndBody + checksumOf(prefixAndBody);
  return { key, digest: digestApiKey(key), displayPrefix: displayPrefixOf(key), scope };
}

/** Checks a key in our format (prefix, length, alphabet, checksum) without any look-up. */
export function parseApiKey(text: string): ParseApiKeyResult {
  const match = KEY_PATTERN.exec(text);
  if (!match) return { ok: false, error: 'malformed' };
  const [, prefix = '', body = '', checksum = ''] = match;
  const scope = SCOPE_BY_PREFIX.get(prefix);
  if (!scope) return { ok: false, error: 'malformed' };
  if (checksumOf(prefix + body) !== checksum) return { ok: false, error: 'bad_checksum' };
  return { ok: true, scope };
}

/** Whether the text starts with a prefix reserved for our own key format. */
export function hasReservedPrefix(text: string): boolean {
  return RESERVED_PREFIX.test(text);
}

/** Why a string cannot be a custom tenant admin key (the `API_KEY` setting), or null when it can. */
export function customApiKeyProblem(text: string): CustomKeyProblem | null {
  if (text.toLowerCase() === 'default') return 'default';
  if (hasReservedPrefix(text)) return 'reserved_prefix';
  if (text.length < CUSTOM_KEY_MIN_LENGTH) return 'too_short';
  if (text.length > MAX_PRESENTED_KEY_LENGTH) return 'too_long';
  // It has to survive as an HTTP header value unchanged: printable ASCII, no surrounding spaces.
  if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(text)) return 'bad_characters';
  return null;
}

/**
 * Classifies a key presented in `x-api-key` before any database look-up: keys with our prefix must
 * pass the checksum; anything else is a candidate custom tenant admin key if it could have been one.
 */
export function classifyPresentedKey(text: string): PresentedKeyClass {
  if (hasReservedPrefix(text)) {
    const parsed = parseApiKey(text);
    return parsed.ok ? { ok: true, kind: 'prefixed', scope: parsed.scope } : parsed;
  }
  if (customApiKeyProblem(text) !== null) return { ok: false, error: 'malformed' };
  return { ok: true, kind: 'custom', scope: 'admin' };
}

/**
 * The part of a key that is safe to show. Our keys: the prefix and 7 body characters (~42 of 256 bits).
 * Custom keys may be human-chosen with little entropy, so only 4 characters of them are shown.
 */
export function displayPrefixOf(key: string): string {
  return key.slice(0, hasReservedPrefix(key) ? DISPLAY_PREFIX_LENGTH : 4);
}

/** Constant-time equality of two byte arrays (the time depends only on the lengths). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) {
    diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  }
  return diff === 0;
}
