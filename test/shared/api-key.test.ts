import { describe, expect, it } from 'vitest';
import {
  API_KEY_LENGTH,
  API_KEY_PREFIXES,
  API_KEY_SCANNER_PATTERN,
  API_KEY_SCOPES,
  bytesToHex,
  classifyPresentedKey,
  crc32,
  customApiKeyProblem,
  digestApiKey,
  displayPrefixOf,
  generateApiKey,
  hexToBytes,
  parseApiKey,
  timingSafeEqual,
} from '../../shared/api-key.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('generateApiKey', () => {
  it.each(API_KEY_SCOPES)('makes a well-formed %s key that parses back to its scope', async (scope) => {
    const generated = await generateApiKey(scope);
    expect(generated.scope).toBe(scope);
    expect(generated.key).toHaveLength(API_KEY_LENGTH);
    expect(generated.key.startsWith(API_KEY_PREFIXES[scope])).toBe(true);
    expect(generated.key).toMatch(/^wag[oas]_[0-9A-Za-z]{49}$/);
    expect(parseApiKey(generated.key)).toEqual({ ok: true, scope });
    expect(generated.digest).toBeInstanceOf(Uint8Array);
    expect(generated.digest).toHaveLength(32);
    expect(generated.digest).toEqual(await digestApiKey(generated.key));
    expect(generated.displayPrefix).toBe(generated.key.slice(0, 12));
  });

  it('carries at least 256 random bits in its body', () => {
    // 43 base62 characters, each uniform over 62 values.
    expect(43 * Math.log2(62)).toBeGreaterThanOrEqual(256);
    expect(API_KEY_LENGTH - 5 - 6).toBe(43);
  });

  it('never repeats a key or a display prefix, and uses the whole alphabet about evenly', async () => {
    const keys = await Promise.all(Array.from({ length: 2000 }, () => generateApiKey('session')));
    expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => bytesToHex(k.digest))).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.displayPrefix)).size).toBe(keys.length);

    const counts = new Map<string, number>();
    for (const { key } of keys) {
      for (const ch of key.slice(5, 48)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    const expected = (2000 * 43) / 62; // ~1387 per character
    for (const count of counts.values()) {
      // Far outside this band would mean bias (e.g. modulo bias favours the first 8 characters by 1/31).
      expect(count).toBeGreaterThan(expected * 0.8);
      expect(count).toBeLessThan(expected * 1.2);
    }
  });

  it('is found by the secret-scanner pattern inside surrounding text', async () => {
    const { key } = await generateApiKey('admin');
    const found = new RegExp(API_KEY_SCANNER_PATTERN, 'g').exec(`export API_KEY="${key}" # oops`);
    expect(found?.[0]).toBe(key);
  });
});

describe('parseApiKey', () => {
  it('accepts a key made by an earlier version (the checksum is the same CRC-32 as before)', () => {
    expect(parseApiKey('wags_YhM7w6L0geRChItsiY9Cu8FldWshcMVpwsr8CbIDSpp117n7x')).toEqual({
      ok: true,
      scope: 'session',
    });
    expect(parseApiKey('wags_YhM7w6L0geRChItsiY9Cu8FldWshcMVpwsr8CbIDSpp117n7y').ok).toBe(false);
  });

  it('rejects every single-character substitution of a sample of keys', async () => {
    for (let n = 0; n < 20; n++) {
      const { key } = await generateApiKey(API_KEY_SCOPES[n % 3] ?? 'session');
      for (let i = 0; i < key.length; i++) {
        for (const ch of `${BASE62}_-.`) {
          if (ch === key[i]) continue;
          const typo = key.slice(0, i) + ch + key.slice(i + 1);
          const parsed = parseApiKey(typo);
          expect(parsed.ok, `${typo} was accepted`).toBe(false);
        }
      }
    }
  });

  it('rejects adjacent transpositions, dropped and doubled characters', async () => {
    const { key } = await generateApiKey('operator');
    for (let i = 0; i + 1 < key.length; i++) {
      if (key[i] === key[i + 1]) continue;
      const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
      expect(parseApiKey(swapped).ok).toBe(false);
    }
    for (let i = 0; i < key.length; i++) {
      expect(parseApiKey(key.slice(0, i) + key.slice(i + 1))).toEqual({ ok: false, error: 'malformed' });
      expect(parseApiKey(key.slice(0, i) + key.charAt(i) + key.slice(i))).toEqual({
        ok: false,
        error: 'malformed',
      });
    }
  });

  it('says bad_checksum for a typo in body or checksum, malformed for a wrong shape', async () => {
    const { key } = await generateApiKey('session');
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
    expect(parseApiKey(flip(key, 10))).toEqual({ ok: false, error: 'bad_checksum' });
    expect(parseApiKey(flip(key, key.length - 1))).toEqual({ ok: false, error: 'bad_checksum' });
    // Another valid scope letter: still caught, because the checksum covers the prefix.
    expect(parseApiKey(`waga_${key.slice(5)}`)).toEqual({ ok: false, error: 'bad_checksum' });
    expect(parseApiKey(`wagx_${key.slice(5)}`)).toEqual({ ok: false, error: 'malformed' });
    expect(parseApiKey('')).toEqual({ ok: false, error: 'malformed' });
    expect(parseApiKey(` ${key}`)).toEqual({ ok: false, error: 'malformed' });
    expect(parseApiKey(`${key}\n`)).toEqual({ ok: false, error: 'malformed' });
    expect(parseApiKey(key.toUpperCase()).ok).toBe(false);
  });
});

describe('classifyPresentedKey', () => {
  it('accepts our keys by prefix and scope', async () => {
    const { key } = await generateApiKey('session');
    expect(classifyPresentedKey(key)).toEqual({ ok: true, kind: 'prefixed', scope: 'session' });
  });

  it('checksum-tests anything carrying our prefix, never treating it as custom', async () => {
    const { key } = await generateApiKey('admin');
    const typo = `${key.slice(0, 20)}${key[20] === 'Z' ? 'Y' : 'Z'}${key.slice(21)}`;
    expect(classifyPresentedKey(typo)).toEqual({ ok: false, error: 'bad_checksum' });
    expect(classifyPresentedKey(`waga_${'x'.repeat(60)}`)).toEqual({ ok: false, error: 'malformed' });
    expect(classifyPresentedKey(`wagz_${'x'.repeat(60)}`)).toEqual({ ok: false, error: 'malformed' });
  });

  it('takes a long foreign string as a custom tenant admin key', () => {
    const custom = 'my-fixed-container-api-key-0123456789';
    expect(classifyPresentedKey(custom)).toEqual({ ok: true, kind: 'custom', scope: 'admin' });
    expect(classifyPresentedKey('x'.repeat(32))).toMatchObject({ ok: true, kind: 'custom' });
  });

  it('refuses short, default, oversized and unprintable strings', () => {
    for (const text of [
      '',
      'default',
      'x'.repeat(31),
      'x'.repeat(257),
      `${'x'.repeat(40)}\u00e9`,
      ` ${'x'.repeat(40)}`,
      `${'x'.repeat(40)}\t`,
    ]) {
      expect(classifyPresentedKey(text)).toEqual({ ok: false, error: 'malformed' });
    }
  });
});

describe('customApiKeyProblem', () => {
  it('explains why an API_KEY setting is refused', () => {
    expect(customApiKeyProblem('default')).toBe('default');
    expect(customApiKeyProblem('DEFAULT')).toBe('default');
    expect(customApiKeyProblem('short')).toBe('too_short');
    expect(customApiKeyProblem(`wags_${'a'.repeat(49)}`)).toBe('reserved_prefix');
    expect(customApiKeyProblem('a'.repeat(300))).toBe('too_long');
    expect(customApiKeyProblem(`${'a'.repeat(40)}\n`)).toBe('bad_characters');
    expect(customApiKeyProblem('correct horse battery staple 12345')).toBeNull();
  });
});

describe('digestApiKey', () => {
  it('is the stable SHA-256 of the key', async () => {
    expect(bytesToHex(await digestApiKey('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    const { key, digest } = await generateApiKey('operator');
    expect(await digestApiKey(key)).toEqual(digest);
    expect(await digestApiKey(`${key}x`)).not.toEqual(digest);
  });

  it('is what Web Crypto computes, for keys of any text (the digests already stored stay valid)', async () => {
    const encoder = new TextEncoder();
    for (const key of [
      '',
      'waga_x',
      'my-fixed-container-api-key-0123456789',
      'kunci-rahasia-ñ-日本-👋',
      'a'.repeat(300),
    ]) {
      const webCrypto = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(key)));
      expect(digestApiKey(key)).toEqual(webCrypto);
    }
  });
});

describe('displayPrefixOf', () => {
  it('shows 12 characters of our keys and 4 of custom ones', async () => {
    const { key } = await generateApiKey('admin');
    expect(displayPrefixOf(key)).toBe(key.slice(0, 12));
    expect(displayPrefixOf('my-fixed-container-api-key-0123456789')).toBe('my-f');
  });
});

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
  });
});

describe('timingSafeEqual', () => {
  it('compares byte arrays exactly', () => {
    const a = new Uint8Array([1, 2, 3, 4]);
    expect(timingSafeEqual(a, new Uint8Array([1, 2, 3, 4]))).toBe(true);
    expect(timingSafeEqual(a, new Uint8Array([1, 2, 3, 5]))).toBe(false);
    expect(timingSafeEqual(a, new Uint8Array([0, 2, 3, 4]))).toBe(false);
    expect(timingSafeEqual(a, new Uint8Array([1, 2, 3]))).toBe(false);
    expect(timingSafeEqual(a, new Uint8Array([1, 2, 3, 4, 0]))).toBe(false);
    expect(timingSafeEqual(new Uint8Array(), new Uint8Array())).toBe(true);
    expect(timingSafeEqual(new Uint8Array([0]), new Uint8Array())).toBe(false);
  });

  it('agrees with plain comparison on digests', async () => {
    const one = await digestApiKey('one');
    const two = await digestApiKey('two');
    const oneAgain = await digestApiKey('one');
    expect(timingSafeEqual(one, oneAgain)).toBe(true);
    expect(timingSafeEqual(one, two)).toBe(false);
  });
});

describe('hex helpers', () => {
  it('round-trip and reject non-hex', () => {
    const bytes = new Uint8Array([0, 1, 127, 128, 255]);
    expect(bytesToHex(bytes)).toBe('00017f80ff');
    expect(hexToBytes('00017f80ff')).toEqual(bytes);
    expect(hexToBytes('00017F80FF')).toEqual(bytes);
    expect(hexToBytes('abc')).toBeNull();
    expect(hexToBytes('zz')).toBeNull();
  });
});
