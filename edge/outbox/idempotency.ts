// Idempotency-Key, with Stripe's semantics: the same key and the same request within 24 hours get the
// first answer again, without sending again. The key is the client's; what it was used for is a hash of
// the route and the request's (validated, normalized) body.
import type { Context } from 'hono';
import { ApiError } from '../../shared/errors.js';
import { IDEMPOTENCY_KEY_HEADER } from '../../shared/outbox.js';

const MAX_KEY_LENGTH = 255;

/** What the request asked for, under its key: which route and body (hashed). */
export type IdempotentRequest = { key: string; hash: Uint8Array };

/** Why a key is refused, in the words of the 400's details. */
function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'is empty';
  if (key.length > MAX_KEY_LENGTH) return `is longer than ${MAX_KEY_LENGTH} characters`;
  if (!/^[\x21-\x7e]+$/.test(key)) return 'may hold only printable ASCII characters, without spaces';
  return undefined;
}

/** The request's Idempotency-Key; undefined when it sent none (no idempotency), 400 for a bad one. */
export function idempotencyKeyOf(c: Context): string | undefined {
  const key = c.req.header(IDEMPOTENCY_KEY_HEADER);
  if (key === undefined) return undefined;
  const problem = keyProblem(key);
  if (problem) {
    throw new ApiError('IDEMPOTENCY_KEY_INVALID', {
      details: [{ path: 'Idempotency-Key', message: `The header ${problem}` }],
    });
  }
  return key;
}

/**
 * The request under its key: SHA-256 of the route and the body with its fields in a fixed order, so the
 * same request written differently (field order, `to` with or without `@s.whatsapp.net`) is the same.
 */
export async function idempotentRequest(
  key: string,
  route: string,
  body: Record<string, unknown>,
): Promise<IdempotentRequest> {
  const fields = sortedEntries(body);
  const canonical = JSON.stringify([route, fields]);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical));
  return { key, hash: new Uint8Array(digest) };
}

/**
 * An object's defined fields in key order, nested objects likewise: the same body hashes the same
 * whatever order the client wrote its keys in.
 */
function sortedEntries(value: Record<string, unknown>): [string, unknown][] {
  return Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k, canonical(v)]);
}

const canonical = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(canonical)
    : value !== null && typeof value === 'object'
      ? sortedEntries(value as Record<string, unknown>)
      : value;

/** Two hashes are the same request. */
export function sameRequest(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
