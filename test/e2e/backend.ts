import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { type RunningEdge, type StartEdgeOptions, startEdge } from '../../edge/entries/node.js';
import { ensureDefaultTenant } from '../../edge/tenancy/bootstrap.js';
import { createListener, type Listener } from '../../node-runtime/db/connect.js';
import { type HostOptions, type RunningHost, startHost } from '../../node-runtime/host/server.js';
import type { Database } from '../../shared/db-schema.js';
import { NO_PACING, type Pacing } from '../../shared/outbox.js';
import type { TestDatabase } from '../helpers/postgres.js';
import { type SimServer, startSimulator } from '../wa-sim/server.js';

export type Backend = { sim: SimServer; host: RunningHost; adminKey: string };

/**
 * Everything behind an edge, for one test file: the simulator, a real session host pointed at it, and the
 * default tenant's admin key. Call it after useTestDatabase(); read the result inside tests.
 */
export function useBackend(
  database: () => TestDatabase,
  opts: {
    hostId: string;
    secret: string;
    webhooks?: HostOptions['webhooks'];
    pacing?: Pacing;
    /** Media URLs on this machine may be downloaded (tests serving files themselves). */
    mediaAllowPrivate?: boolean;
  },
): () => Backend {
  let backend: Backend | undefined;
  let listener: Listener | undefined;
  beforeAll(async () => {
    const { db, url } = database();
    const sim = await startSimulator();
    listener = createListener(url);
    const host = await startHost({
      db,
      hostId: opts.hostId,
      port: 0,
      secret: opts.secret,
      wa: { wsUrl: sim.wsUrl, trustRoot: sim.trustRoot, mediaCa: sim.mediaCa },
      logger: pino({ level: 'silent' }),
      webhooks: opts.webhooks,
      // Sends as fast as the simulator takes them, unless the test is about pacing.
      pacing: opts.pacing ?? NO_PACING,
      mediaAllowPrivate: opts.mediaAllowPrivate,
      listener,
    });
    backend = { sim, host, adminKey: (await ensureDefaultTenant(db)).adminKey ?? '' };
  });
  afterAll(async () => {
    await backend?.host.close();
    await listener?.close();
    await backend?.sim.close();
  });
  return () => {
    if (!backend) throw new Error('backend not ready: use it inside a test or hook');
    return backend;
  };
}

/** The edge on a free local port, silent, over the test's database and the hosts' shared secret. */
export const startTestEdge = (
  db: Kysely<Database>,
  hostSecret: string,
  more: Partial<StartEdgeOptions> = {},
): Promise<RunningEdge> =>
  startEdge({ db, port: 0, hostname: '127.0.0.1', hostSecret, logger: pino({ level: 'silent' }), ...more });
