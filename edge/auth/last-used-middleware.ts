import type { MiddlewareHandler } from 'hono';
import type { EdgeContext, EdgeDatabase, EdgeEnv } from '../context.js';
import { type EdgeLogger, errorInfo } from '../logger.js';
import type { LastUsedBuffer } from './last-used.js';
import { type KeyUse, recordKeyUses } from './queries/key-usage.js';

/**
 * Notes the key of every authenticated request in `buffer` and, when a flush is due, writes the buffer
 * after the response: under `waitUntil` on Workers, in the background elsewhere. See last-used.ts.
 */
export function recordLastUsed(options: {
  buffer: LastUsedBuffer;
  database: EdgeDatabase;
  now: () => Date;
  logger: EdgeLogger;
}): MiddlewareHandler<EdgeEnv> {
  const { buffer, database, logger } = options;
  return async (c, next) => {
    await next();
    const principal = c.get('principal');
    if (!principal) return;
    const now = options.now().getTime();
    buffer.record(principal.keyId, now);
    if (!buffer.due(now)) return;
    // Its own connection, not the request's: on Workers that one is closed once the response is out.
    const write = async (uses: KeyUse[]) => {
      const db = database.open(c);
      try {
        return await recordKeyUses(db, uses);
      } finally {
        await database.close?.(db, c);
      }
    };
    afterResponse(c, flushLogged(buffer, write, logger));
  };
}

/** Runs one flush and logs what went wrong; never rejects. */
export async function flushLogged(
  buffer: LastUsedBuffer,
  write: (uses: KeyUse[]) => Promise<unknown>,
  logger: EdgeLogger,
): Promise<void> {
  try {
    const { dropped } = await buffer.flush(write);
    if (dropped > 0) logger.warn({ dropped }, 'last-used times dropped: too many keys between flushes');
  } catch (err) {
    logger.warn({ err: errorInfo(err), pending: buffer.pending }, 'last-used flush failed; retrying later');
  }
}

function afterResponse(c: EdgeContext, work: Promise<void>): void {
  let ctx: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    // Node and Deno: no execution context, and the process outlives the response anyway.
  }
  ctx?.waitUntil(work);
}
