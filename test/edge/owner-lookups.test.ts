// Which host a session key's request goes to: the edge remembers a session's owner for a moment, and
// requests for one session that miss together share one look-up in PostgreSQL. The host client is the
// test's (what is asked here is the look-up, not the host).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EdgeContext } from '../../edge/context.js';
import type { HostClient } from '../../edge/hosts/client.js';
import { createForwarder } from '../../edge/hosts/forward.js';
import { registerHost } from '../../node-runtime/host/registry.js';
import { insertTenantSession, useTestDatabase } from '../helpers/postgres.js';

const database = useTestDatabase();
const silent = pino({ level: 'silent' });

/** The test database, with its owner look-ups counted and held at a gate until `open()`. */
const gatedOwnerReads = () => {
  let reads = 0;
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const db = database().db.withPlugin({
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      // The owner look-up joins sessions and hosts.
      if (JSON.stringify(args.result.rows[0] ?? {}).includes('internal')) {
        reads++;
        await gate;
      }
      return args.result;
    },
  });
  return { db, reads: () => reads, open: () => open() };
};

describe('requests for one session that miss the owner cache together', () => {
  it('share one look-up, and all go to the owner it found', async () => {
    const { db: plain } = database();
    await registerHost(plain, { id: 'owner-h', internalUrl: 'http://owner-h' }, silent);
    const { tenantId, sessionId } = await insertTenantSession(plain, 'owners', 'owners-s');
    await plain.updateTable('sessions').set({ host_id: 'owner-h' }).where('id', '=', sessionId).execute();

    const { db, reads, open } = gatedOwnerReads();
    const calledOn: string[] = [];
    const hosts = {
      call: async (target: { host: { id: string } }) => {
        calledOn.push(target.host.id);
        return { status: 200, body: { connected: false }, retryAfter: null };
      },
    } as unknown as HostClient;
    const forwarder = createForwarder({
      hosts,
      logger: silent,
      timeoutMsFor: () => 1_000,
      routeCacheMs: 2_000,
      now: () => new Date(),
    });
    const principal = { scope: 'session', tenantId, sessionId, keyId: 'k' };
    const vars: Record<string, unknown> = { db: () => db, principal };
    const c = { get: (name: string) => vars[name] } as unknown as EdgeContext;

    const burst = [1, 2, 3].map(() => forwarder.toSessionHost(c, { action: 'status' }));
    await new Promise((resolve) => setTimeout(resolve, 50)); // all three are waiting on the owner now
    open();
    const replies = await Promise.all(burst);
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200]);
    expect(calledOn).toEqual(['owner-h', 'owner-h', 'owner-h']);
    expect(reads()).toBe(1);
  });
});
