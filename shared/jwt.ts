// Edge-to-host tokens: the edge signs one short-lived JWT per forwarded request; the host accepts nothing
// else. HS256 over the shared `EDGE_HOST_SECRET`; issuer `edge`, audience the host id, subject the
// session id, `tenant` and `scope` claims, at most 60 s of life and a unique `jti` that a host accepts
// once. A retried forward must therefore be signed afresh.

import { errors, jwtVerify, SignJWT } from 'jose';
import { type ApiKeyScope, isApiKeyScope } from './api-key.js';

export const HOST_TOKEN_ISSUER = 'edge';
export const HOST_TOKEN_ALG = 'HS256';
export const MAX_HOST_TOKEN_TTL_SECONDS = 60;
/** HS256 keys shorter than the hash output weaken it (RFC 7518 section 3.2). */
export const MIN_HOST_SECRET_BYTES = 32;
// Edge and host clocks differ a little; tolerance applies to exp and iat, and to how long a jti is kept.
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
  /** Where seen token ids are kept; default: one cache per process (see SeenJtiCache). */
  seenJtis?: SeenJtiCache;
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
  | 'lifetime_too_long'
  | 'replayed';

/** Why the host refused a token; map it to INVALID_HOST_TOKEN, log the reason. */
export class HostTokenError extends Error {
  readonly reason: HostTokenRejection;

  constructor(reason: HostTokenRejection, options?: { cause?: unknown }) {
    super(`host token rejected: ${reason}`, options);
    this.name = 'HostTokenError';
    this.reason = reason;
  }
}

/**
 * Token ids seen by this process, each kept until its token can no longer be valid. It lives in one
 * host process's memory: a restarted host, or a different host, does not know earlier ids. That is
 * enough because a token names its host as audience and lives at most 60 s + clock tolerance.
 */
export class SeenJtiCache {
  readonly #expiryById = new Map<string, number>();
  #nextSweepMs = 0;

  /** Records the id until `expiresAtMs`; false when it was already recorded and has not expired. */
  remember(jti: string, expiresAtMs: number, nowMs: number): boolean {
    this.#sweep(nowMs);
    const known = this.#expiryById.get(jti);
    if (known !== undefined && known > nowMs) return false;
    this.#expiryById.set(jti, expiresAtMs);
    return true;
  }

  get size(): number {
    return this.#expiryById.size;
  }

  #sweep(nowMs: number): void {
    if (nowMs < this.#nextSweepMs) return;
    this.#nextSweepMs = nowMs + 10_000;
    for (const [jti, expiresAtMs] of this.#expiryById) {
      if (expiresAtMs <= nowMs) this.#expiryById.delete(jti);
    }
  }
}

const processSeenJtis = new SeenJtiCache();

// Importing the HMAC key is a Web Crypto call of its own; jose would repeat it for every token signed or
// checked. A process holds one or two secrets, so their imported keys are kept (strings only).
const importedKeys = new Map<string, Promise<CryptoKey>>();

/** The secret as an imported HMAC-SHA-256 key, for signing and verifying. */
function hmacKey(secret: string | Uint8Array): Promise<CryptoKey> {
  const bytes = secretKey(secret);
  const importKey = () =>
    crypto.subtle.importKey(
      'raw',
      bytes as Uint8Array<ArrayBuffer>,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
  if (typeof secret !== 'string') return importKey();
  let key = importedKeys.get(secret);
  if (!key) {
    key = importKey();
    importedKeys.set(secret, key);
  }
  return key;
}

function secretKey(secret: string | Uint8Array): Uint8Array {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (key.length < MIN_HOST_SECRET_BYTES) {
    throw new RangeError(`EDGE_HOST_SECRET must be at least ${MIN_HOST_SECRET_BYTES} bytes`);
  }
  return key;
}

/** Signs the token the edge sends with one forwarded request (lifetime at most 60 s). */
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
  return new SignJWT({ tenant: input.tenantId, scope: input.scope })
    .setProtectedHeader({ alg: HOST_TOKEN_ALG, typ: 'JWT' })
    .setIssuer(HOST_TOKEN_ISSUER)
    .setAudience(input.hostId)
    .setSubject(input.sessionId)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + ttl)
    .setJti(crypto.randomUUID())
    .sign(await hmacKey(input.secret));
}

function rejectionOf(err: unknown): HostTokenRejection {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return 'missing_claims';
    if (err.claim === 'iss') return 'wrong_issuer';
    if (err.claim === 'aud') return 'wrong_audience';
    // Too old is JWTExpired above; what reaches here is an iat in the future (edge clock ahead).
    if (err.claim === 'iat' || err.claim === 'nbf') return 'not_yet_valid';
  }
  return 'malformed';
}

/**
 * Verifies a token on the host: signature (HS256 only), issuer, audience = this host, expiry, all
 * claims present, lifetime <= 60 s, and a jti not seen before. Throws HostTokenError otherwise.
 */
export async function verifyHostToken(
  token: string,
  options: VerifyHostTokenOptions,
): Promise<HostTokenClaims> {
  const now = options.now ?? new Date();
  const key = await hmacKey(options.secret);
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [HOST_TOKEN_ALG],
      issuer: HOST_TOKEN_ISSUER,
      audience: options.hostId,
      maxTokenAge: MAX_HOST_TOKEN_TTL_SECONDS,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti', 'tenant', 'scope'],
      currentDate: now,
    }));
  } catch (err) {
    throw new HostTokenError(rejectionOf(err), { cause: err });
  }

  const { aud, sub, jti, exp, iat, tenant, scope } = payload;
  // jose accepts a list that merely contains us; a token for several hosts could be replayed on each.
  if (aud !== options.hostId) throw new HostTokenError('wrong_audience');
  if (
    typeof sub !== 'string' ||
    sub.length === 0 ||
    typeof jti !== 'string' ||
    jti.length === 0 ||
    typeof exp !== 'number' ||
    typeof iat !== 'number' ||
    typeof tenant !== 'string' ||
    tenant.length === 0 ||
    !isApiKeyScope(scope)
  ) {
    throw new HostTokenError('missing_claims');
  }
  // A token whose own lifetime exceeds the limit was not made by signHostToken: refuse it even if young.
  if (exp - iat > MAX_HOST_TOKEN_TTL_SECONDS) throw new HostTokenError('lifetime_too_long');

  // Only after the signature checks out, so forged tokens cannot fill the cache or burn real ids.
  const keepUntilMs = (exp + CLOCK_TOLERANCE_SECONDS) * 1000;
  if (!(options.seenJtis ?? processSeenJtis).remember(jti, keepUntilMs, now.getTime())) {
    throw new HostTokenError('replayed');
  }

  return {
    hostId: options.hostId,
    tenantId: tenant,
    sessionId: sub,
    scope,
    jti,
    expiresAt: new Date(exp * 1000),
  };
}
