import { createHmac } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { HostTokenError, signHostToken, VerifiedTokens, verifyHostToken } from '../../shared/jwt.js';

const secret = 'test-edge-host-secret-0123456789abcdef';
const key = new TextEncoder().encode(secret);
const hostId = 'host-a';
const base = { secret, hostId, tenantId: 'tenant-1', sessionId: 'session-1', scope: 'session' } as const;

/** Why the token is refused; undefined when it is accepted. */
async function rejection(token: string, options: Partial<Parameters<typeof verifyHostToken>[1]> = {}) {
  try {
    await verifyHostToken(token, { secret, hostId, ...options });
  } catch (err) {
    if (err instanceof HostTokenError) return err.reason;
    throw err;
  }
  return undefined;
}

/** A token made directly with jose, valid unless the overrides break it. */
function forged(claims: Record<string, unknown> = {}, alg = 'HS256') {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenant: 'tenant-1', scope: 'session', ...claims })
    .setProtectedHeader({ alg })
    .setIssuer('edge')
    .setAudience(hostId)
    .setSubject('session-1')
    .setIssuedAt(now)
    .setExpirationTime(now + 30)
    .setJti(crypto.randomUUID());
}

describe('signHostToken', () => {
  it('makes an HS256 token with the agreed claims and a short life', async () => {
    const token = await signHostToken(base);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: 'edge',
      aud: hostId,
      sub: 'session-1',
      tenant: 'tenant-1',
      scope: 'session',
    });
    expect(typeof claims.jti).toBe('string');
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(60);
  });

  it('gives every token its own jti', async () => {
    const tokens = await Promise.all(Array.from({ length: 50 }, () => signHostToken(base)));
    expect(new Set(tokens.map((t) => decodeJwt(t).jti)).size).toBe(50);
  });

  it.each([61, 0, -1, 1.5, 3600, Number.NaN])('refuses ttlSeconds %s', async (ttlSeconds) => {
    await expect(signHostToken({ ...base, ttlSeconds })).rejects.toThrow(RangeError);
  });

  it('refuses a short secret, empty ids and unknown scopes', async () => {
    await expect(signHostToken({ ...base, secret: 'short' })).rejects.toThrow(RangeError);
    await expect(signHostToken({ ...base, sessionId: '' })).rejects.toThrow(TypeError);
    await expect(signHostToken({ ...base, tenantId: '' })).rejects.toThrow(TypeError);
    // @ts-expect-error: not a scope
    await expect(signHostToken({ ...base, scope: 'root' })).rejects.toThrow(TypeError);
  });
});

describe('verifyHostToken', () => {
  it('accepts a fresh token once and returns its claims', async () => {
    const token = await signHostToken({ ...base, ttlSeconds: 30, scope: 'admin' });
    const claims = await verifyHostToken(token, { secret, hostId });
    expect(claims).toMatchObject({
      hostId,
      tenantId: 'tenant-1',
      sessionId: 'session-1',
      scope: 'admin',
    });
    expect(claims.jti).toBe(decodeJwt(token).jti);
    expect(claims.expiresAt.getTime()).toBe((decodeJwt(token).exp ?? 0) * 1000);
  });

  it('accepts a Uint8Array secret, and the same token again within its life (the edge reuses it)', async () => {
    const token = await signHostToken({ ...base, secret: key });
    for (let i = 0; i < 2; i++) {
      await expect(verifyHostToken(token, { secret: key, hostId })).resolves.toMatchObject({
        sessionId: 'session-1',
      });
    }
  });

  it('remembers what it verified, and still refuses the expired and the altered', async () => {
    const verified = new VerifiedTokens();
    const token = await signHostToken({ ...base, ttlSeconds: 10 });
    const claims = await verifyHostToken(token, { secret, hostId, verified });
    expect(verified.size).toBe(1);
    // A hit is the token this host checked: the same claims object, no second check.
    expect(await verifyHostToken(token, { secret, hostId, verified })).toBe(claims);
    // Past its expiry (and the tolerance) it is checked again, and refused.
    expect(await rejection(token, { verified, now: new Date(Date.now() + 30_000) })).toBe('expired');
    expect(verified.size).toBe(0);
    // A token that differs from a remembered one in any character is checked in full.
    await verifyHostToken(token, { secret, hostId, verified });
    const [header, payload, signature = ''] = token.split('.');
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(await rejection(`${header}.${payload}.${flipped}`, { verified })).toBe('bad_signature');
    const forOther = await signHostToken({ ...base, hostId: 'host-b' });
    expect(await rejection(forOther, { verified })).toBe('wrong_audience');
    expect(verified.size).toBe(1);
  });

  it('rejects an expired token (past exp, no sleeping)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await forged()
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(key);
    expect(await rejection(token)).toBe('expired');

    const old = await signHostToken({ ...base, now: new Date(Date.now() - 10 * 60_000) });
    expect(await rejection(old)).toBe('expired');
  });

  it('rejects a token verified after its expiry', async () => {
    const token = await signHostToken({ ...base, ttlSeconds: 10 });
    expect(await rejection(token, { now: new Date(Date.now() + 30_000) })).toBe('expired');
  });

  it('rejects a token for another host', async () => {
    const token = await signHostToken({ ...base, hostId: 'host-b' });
    expect(await rejection(token)).toBe('wrong_audience');
  });

  it('rejects a token addressed to several hosts at once', async () => {
    const token = await forged().setAudience([hostId, 'host-b']).sign(key);
    expect(await rejection(token)).toBe('wrong_audience');
  });

  it('rejects another issuer', async () => {
    const token = await forged().setIssuer('someone-else').sign(key);
    expect(await rejection(token)).toBe('wrong_issuer');
  });

  it('rejects a tampered signature, payload or secret', async () => {
    const token = await signHostToken(base);
    const [header, payload, signature = ''] = token.split('.');
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(await rejection(`${header}.${payload}.${flipped}`)).toBe('bad_signature');

    const claims = { ...decodeJwt(token), tenant: 'tenant-2' };
    const otherPayload = btoa(JSON.stringify(claims))
      .replace(/=+$/, '')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
    expect(await rejection(`${header}.${otherPayload}.${signature}`)).toBe('bad_signature');

    const otherSecret = await signHostToken({ ...base, secret: 'another-secret-of-enough-length-000000' });
    expect(await rejection(otherSecret)).toBe('bad_signature');
  });

  it('rejects alg none and other algorithms', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsecured = new UnsecuredJWT({ tenant: 'tenant-1', scope: 'session' })
      .setIssuer('edge')
      .setAudience(hostId)
      .setSubject('session-1')
      .setIssuedAt(now)
      .setExpirationTime(now + 30)
      .setJti(crypto.randomUUID())
      .encode();
    expect(await rejection(unsecured)).toBe('alg_not_allowed');

    const hs512 = await forged({}, 'HS512').sign(key);
    expect(await rejection(hs512)).toBe('alg_not_allowed');
  });

  it.each([
    ['jti', (t: SignJWT) => t.setJti('')],
    ['tenant', () => forged({ tenant: undefined })],
    ['scope', () => forged({ scope: undefined })],
    ['bad scope', () => forged({ scope: 'root' })],
    ['numeric tenant', () => forged({ tenant: 7 })],
    ['empty tenant', () => forged({ tenant: '' })],
    ['sub', (t: SignJWT) => t.setSubject('')],
  ] as const)('rejects a token whose %s claim is missing or wrong', async (_name, change) => {
    const token = await change(forged()).sign(key);
    expect(await rejection(token)).toBe('missing_claims');
  });

  it('rejects a token without exp, iat or jti', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: 'edge', aud: hostId, sub: 'session-1', tenant: 'tenant-1', scope: 'session' };
    const noExp = await new SignJWT({ ...claims, iat: now, jti: 'a' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(key);
    const noIat = await new SignJWT({ ...claims, exp: now + 30, jti: 'b' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(key);
    const noJti = await new SignJWT({ ...claims, iat: now, exp: now + 30 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(key);
    for (const token of [noExp, noIat, noJti]) expect(await rejection(token)).toBe('missing_claims');
  });

  it('rejects a token that lives longer than 60 s even while young', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await forged()
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
    expect(await rejection(token)).toBe('lifetime_too_long');
  });

  it('rejects a token issued in the future', async () => {
    const token = await signHostToken({ ...base, now: new Date(Date.now() + 120_000) });
    expect(await rejection(token)).toBe('not_yet_valid');
  });

  it('accepts a valid HS256 token made by another implementation (jose)', async () => {
    await expect(verifyHostToken(await forged().sign(key), { secret, hostId })).resolves.toMatchObject({
      sessionId: 'session-1',
      tenantId: 'tenant-1',
      scope: 'session',
    });
  });

  it('rejects a header with critical extensions, a payload that is not an object, a cut signature', async () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    /** A token signed correctly with the shared secret, whatever it says. */
    const signed = (header: unknown, payload: string) => {
      const input = `${b64(header)}.${payload}`;
      return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
    };
    const [, payload = ''] = (await signHostToken(base)).split('.');
    expect(await rejection(signed({ alg: 'HS256' }, payload))).toBeUndefined();
    expect(await rejection(signed({ alg: 'HS256', crit: ['x'], x: 1 }, payload))).toBe('malformed');
    expect(await rejection(signed({ alg: 'HS256' }, b64([1, 2])))).toBe('malformed');
    expect(await rejection(signed({ alg: 'HS256' }, b64('text')))).toBe('malformed');
    const good = signed({ alg: 'HS256' }, payload);
    expect(await rejection(good.slice(0, -10))).toBe('bad_signature');
  });

  it('rejects garbage', async () => {
    expect(await rejection('')).toBe('malformed');
    expect(await rejection('not.a.jwt')).toBe('malformed');
    expect(await rejection('a.b')).toBe('malformed');
  });

  it('refuses to run with a short secret', async () => {
    const token = await signHostToken(base);
    await expect(verifyHostToken(token, { secret: 'short', hostId })).rejects.toThrow(RangeError);
  });
});

describe('VerifiedTokens', () => {
  const claims = (expiresAtMs: number) => ({
    hostId,
    tenantId: 'tenant-1',
    sessionId: 'session-1',
    scope: 'session' as const,
    jti: 'j',
    expiresAt: new Date(expiresAtMs),
  });

  it('forgets tokens once they can no longer be valid, and holds at most its bound', () => {
    const cache = new VerifiedTokens(2);
    cache.remember('a', claims(1_000), 0);
    expect(cache.get('a', 500)).toBeDefined();
    // Expiry plus the 5 s clock tolerance.
    expect(cache.get('a', 6_000)).toBeUndefined();
    cache.remember('b', claims(60_000), 1_000);
    cache.remember('c', claims(60_000), 1_000);
    cache.remember('d', claims(60_000), 1_000);
    expect(cache.size).toBe(2);
    expect(cache.get('b', 1_000)).toBeUndefined();
    expect(cache.get('d', 1_000)).toBeDefined();
    // A sweep (at most every 10 s) drops what has expired.
    cache.remember('e', claims(100_000), 80_000);
    expect(cache.size).toBe(1);
  });
});
