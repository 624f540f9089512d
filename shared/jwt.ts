// Edge-to-host tokens: the edge signs a short-lived JWT per host, session, tenant and scope, and reuses it
// for the first half of its life; the host accepts nothing else. HS256 over the shared
// `EDGE_HOST_SECRET`; issuer `edge`, audience the host id, subject the session id, `tenant` and `scope`
// claims, at most 60 s of life and a unique `jti`. A host remembers the tokens it verified until they
// expire, so a reused one costs a map look-up on both sides instead of an HMAC and JSON (issue 11: a
// token per request cost the edge 8% of a status call's CPU and the host a quarter of its own).
//
// Signed and checked here rather than with jose: jose goes through Web Crypto's asynchronous HMAC, which
// cost about 55 µs a token on each side, for every forwarded request. This is HS256 only, with the one
// key both sides hold, and every check jose made for us (test/shared/jwt.test.ts makes its adversarial
// tokens with jose). The HMAC is @noble/hashes', synchronous, in plain JavaScript (Workers, Deno, Node).

import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { type ApiKeyScope, isApiKeyScope, timingSafeEqual } from './api-key.js';
import { fromBase64url, toBase64url } from './base64url.js';
import { setNewest } from './bounded-map.js';

export const HOST_TOKEN_ISSUER = 'edge';
export const HOST_TOKEN_ALG = 'HS256';
export const MAX_HOST_TOKEN_TTL_SECONDS = 60;
/** HS256 keys shorter than the hash output weaken it (RFC 7518 section 3.2). */
export const MIN_HOST_SECRET_BYTES = 32;
// Edge and host clocks differ a little; tolerance applies to exp and iat, and to how long a token is kept.
const CLOCK_TOLERANCE_SECONDS = 5;

export interface SignHostTokenInput {
  secret: string | Uint8Array;
  hostId: string;
  tenantId: string;
  sessionId: string;
  scope: ApiKeyScope;
  /** 1 to 60; default 60. */
  ttlSeconds?: number;
  /** Signing time, for tests. */
  now?: Date;
}

export interface VerifyHostTokenOptions {
  secret: string | Uint8Array;
  /** This host's id: the only audience it accepts. */
  hostId: string;
  /** Tokens this host verified already (see VerifiedTokens); default: none, every token is checked. */
  verified?: VerifiedTokens;
  /** Verification time, for tests. */
  now?: Date;
}

export interface HostTokenClaims {
  hostId: string;
  tenantId: string;
  sessionId: string;
  scope: ApiKeyScope;
  jti: string;
  expiresAt: Date;
}

export type HostTokenRejection =
  | 'malformed'
  | 'bad_signature'
  | 'alg_not_allowed'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claims'
  | 'lifetime_too_long';

/** Why the host refused a token; map it to INVALID_HOST_TOKEN, log the reason. */
export class HostTokenError extends Error {
  readonly reason: HostTokenRejection;

  constructor(reason: HostTokenRejection, options?: { cause?: unknown }) {
    super(`host token rejected: ${reason}`, options);
    this.name = 'HostTokenError';
    this.reason = reason;
  }
}

/** Past its expiry and the clock tolerance: no longer valid anywhere. */
const expired = (claims: HostTokenClaims, nowMs: number) =>
  claims.expiresAt.getTime() + CLOCK_TOLERANCE_SECONDS * 1000 <= nowMs;

/**
 * Tokens one host verified, each kept until it expires (and the map bounded): a hit is the exact token
 * string, signature included, so nothing but a token this host accepted before can skip the checks.
 */
export class VerifiedTokens {
  readonly #byToken = new Map<string, HostTokenClaims>();
  readonly #max: number;
  #nextSweepMs = 0;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /** The claims of `token` if it was verified here and has not expired by `nowMs`. */
  get(token: string, nowMs: number): HostTokenClaims | undefined {
    const claims = this.#byToken.get(token);
    if (!claims) return undefined;
    if (!expired(claims, nowMs)) return claims;
    this.#byToken.delete(token);
    return undefined;
  }

  remember(token: string, claims: HostTokenClaims, nowMs: number): void {
    if (nowMs >= this.#nextSweepMs) {
      this.#nextSweepMs = nowMs + 10_000;
      for (const [known, kept] of this.#byToken) if (expired(kept, nowMs)) this.#byToken.delete(known);
    }
    // The oldest goes first: a full map means tokens are reused less than the edge could, nothing worse.
    setNewest(this.#byToken, token, claims, this.#max);
  }

  get size(): number {
    return this.#byToken.size;
  }
}

// A keyed HMAC state per secret (a process holds one or two): each token clones it instead of hashing
// the key again.
const keyedHmacs = new Map<string, ReturnType<typeof hmac.create>>();

/** HMAC-SHA-256 of `input` under the secret. */
function mac(secret: string | Uint8Array, input: string): Uint8Array {
  const bytes = secretKey(secret);
  if (typeof secret !== 'string') return hmac(sha256, bytes, encoder.encode(input));
  let keyed = keyedHmacs.get(secret);
  if (!keyed) {
    keyed = hmac.create(sha256, bytes);
    keyedHmacs.set(secret, keyed);
  }
  return keyed.clone().update(encoder.encode(input)).digest();
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The JSON object a base64url segment carries; undefined for anything else. */
function jsonSegment(text: string): Record<string, unknown> | undefined {
  const bytes = fromBase64url(text);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(decoder.decode(bytes));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const HEADER = toBase64url(encoder.encode(JSON.stringify({ alg: HOST_TOKEN_ALG, typ: 'JWT' })));
const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'exp', 'iat', 'jti', 'tenant', 'scope'] as const;

function secretKey(secret: string | Uint8Array): Uint8Array {
  const key = typeof secret === 'string' ? encoder.encode(secret) : secret;
  if (key.length < MIN_HOST_SECRET_BYTES) {
    throw new RangeError(`EDGE_HOST_SECRET must be at least ${MIN_HOST_SECRET_BYTES} bytes`);
  }
  return key;
}

/** Signs a token the edge sends with its forwarded requests (lifetime at most 60 s). */
export async function signHostToken(input: SignHostTokenInput): Promise<string> {
  const ttl = input.ttlSeconds ?? MAX_HOST_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_HOST_TOKEN_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be an integer from 1 to ${MAX_HOST_TOKEN_TTL_SECONDS}`);
  }
  for (const [name, value] of [
    ['hostId', input.hostId],
    ['tenantId', input.tenantId],
    ['sessionId', input.sessionId],
  ] as const) {
    if (value.length === 0) throw new TypeError(`${name} must not be empty`);
  }
  if (!isApiKeyScope(input.scope)) throw new TypeError(`unknown scope ${String(input.scope)}`);
  const nowSeconds = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const payload = toBase64url(
    encoder.encode(
      JSON.stringify({
        tenant: input.tenantId,
        scope: input.scope,
        iss: HOST_TOKEN_ISSUER,
        aud: input.hostId,
        sub: input.sessionId,
        iat: nowSeconds,
        exp: nowSeconds + ttl,
        jti: crypto.randomUUID(),
      }),
    ),
  );
  const signingInput = `${HEADER}.${payload}`;
  return `${signingInput}.${toBase64url(mac(input.secret, signingInput))}`;
}

/**
 * Verifies a token on the host: signature (HS256 only), issuer, audience = this host, expiry, all
 * claims present and lifetime <= 60 s. Throws HostTokenError otherwise.
 */
export async function verifyHostToken(
  token: string,
  options: VerifyHostTokenOptions,
): Promise<HostTokenClaims> {
  const now = options.now ?? new Date();
  const known = options.verified?.get(token, now.getTime());
  if (known) return known;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  secretKey(options.secret); // a short secret is a configuration error, not a bad token
  const [headerText, payloadText, signatureText, ...rest] = token.split('.');
  if (headerText === undefined || payloadText === undefined || signatureText === undefined || rest.length) {
    throw new HostTokenError('malformed');
  }
  const header = jsonSegment(headerText);
  if (!header || header.crit !== undefined) throw new HostTokenError('malformed');
  if (header.alg !== HOST_TOKEN_ALG) throw new HostTokenError('alg_not_allowed');
  const signature = fromBase64url(signatureText);
  if (!signature || !timingSafeEqual(signature, mac(options.secret, `${headerText}.${payloadText}`))) {
    throw new HostTokenError('bad_signature');
  }
  const payload = jsonSegment(payloadText);
  if (!payload) throw new HostTokenError('malformed');
  if (REQUIRED_CLAIMS.some((claim) => payload[claim] === undefined))
    throw new HostTokenError('missing_claims');

  const { iss, aud, sub, jti, exp, iat, tenant, scope } = payload;
  if (iss !== HOST_TOKEN_ISSUER) throw new HostTokenError('wrong_issuer');
  // A list that merely contains us is refused too: a token for several hosts could be replayed on each.
  if (aud !== options.hostId) throw new HostTokenError('wrong_audience');
  if (typeof exp !== 'number' || typeof iat !== 'number') throw new HostTokenError('missing_claims');
  if (iat > nowSeconds + CLOCK_TOLERANCE_SECONDS) throw new HostTokenError('not_yet_valid');
  if (nowSeconds - iat > MAX_HOST_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS)
    throw new HostTokenError('expired');
  if (exp <= nowSeconds - CLOCK_TOLERANCE_SECONDS) throw new HostTokenError('expired');
  if (
    typeof sub !== 'string' ||
    sub.length === 0 ||
    typeof jti !== 'string' ||
    jti.length === 0 ||
    typeof tenant !== 'string' ||
    tenant.length === 0 ||
    !isApiKeyScope(scope)
  ) {
    throw new HostTokenError('missing_claims');
  }
  // A token whose own lifetime exceeds the limit was not made by signHostToken: refuse it even if young.
  if (exp - iat > MAX_HOST_TOKEN_TTL_SECONDS) throw new HostTokenError('lifetime_too_long');

  const claims: HostTokenClaims = {
    hostId: options.hostId,
    tenantId: tenant,
    sessionId: sub,
    scope,
    jti,
    expiresAt: new Date(exp * 1000),
  };
  options.verified?.remember(token, claims, now.getTime());
  return claims;
}
