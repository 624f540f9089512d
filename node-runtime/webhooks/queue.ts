// The delivery queue in SQL. Work is claimed per endpoint with a lease (FOR NO KEY UPDATE SKIP LOCKED
// picks endpoints no other worker is claiming; the lease, not a long transaction, keeps them while HTTP
// calls run, and expires if the worker dies, so another takes over: at least once). Within an endpoint,
// deliveries go out one at a time in event order.
import { type Kysely, sql } from 'kysely';
import { asyncCommitIf } from '../../shared/async-commit.js';
import type { Database } from '../../shared/db-schema.js';
import { insertEvent } from '../../shared/event-log.js';
import { fromNow } from '../db/clock.js';

export type ClaimedEndpoint = {
  id: string;
  tenantId: string;
  url: string;
  secret: Uint8Array;
  previousSecret: Uint8Array | null;
  previousUntil: Date | null;
  failingSince: Date | null;
  /** The tenant's enabled endpoints when this one was claimed (the worker knows when it holds them all). */
  tenantEndpoints: number;
};

/**
 * An endpoint as its lease holder (`owner`) claimed it. Every look at its deliveries finds nothing once it
 * is no longer so: disabled, deleted, taken by another worker, or its URL or secrets changed by an admin.
 * The worker then gives it back, and its next claim reads it afresh.
 */
export type HeldEndpoint = Pick<ClaimedEndpoint, 'id' | 'url' | 'secret' | 'previousSecret'> & {
  owner: string;
};

export type DueDelivery = {
  id: string;
  eventId: string;
  eventSeq: string;
  attempts: number;
  parked: boolean;
  firstAttemptAt: Date | null;
  type: string;
  data: unknown;
  createdAt: Date;
};

/**
 * The queue runs by PostgreSQL's clock, the one that stamped each delivery (`now()` when its event was
 * written): what is due, leases, and when an endpoint given back may be claimed again. A host's own clock
 * has milliseconds, not microseconds, and on another machine it may run behind or ahead of the database's:
 * a delivery written just before a wake would not be due by it, and would wait for the next poll; leases
 * taken by hosts with different clocks would overlap. (Retries are still timed by the host's clock: a skew
 * moves a retry by that much.)
 */
const due = (column: string) => sql<boolean>`${sql.ref(column)} <= now()`;

/** Takes up to `limit` endpoints that have a delivery due and no live lease, for `leaseMs`. */
export async function claimEndpoints(
  db: Kysely<Database>,
  owner: string,
  leaseMs: number,
  limit: number,
): Promise<ClaimedEndpoint[]> {
  const rows = await sql<{
    id: string;
    tenant_id: string;
    url: string;
    secret: Uint8Array;
    previous_secret: Uint8Array | null;
    previous_until: Date | null;
    failing_since: Date | null;
    tenant_endpoints: number;
  }>`
    UPDATE webhook_endpoints AS e
    SET lease_owner = ${owner}, lease_until = ${fromNow(leaseMs)}
    WHERE e.id IN (
      SELECT c.id FROM webhook_endpoints AS c
      WHERE c.enabled
        AND ${due('c.next_attempt_at')}
        AND (c.lease_until IS NULL OR c.lease_until < now())
        AND EXISTS (
          SELECT 1 FROM webhook_deliveries AS d
          WHERE d.endpoint_id = c.id AND d.status = 'pending' AND ${due('d.next_attempt_at')}
        )
      ORDER BY c.next_attempt_at
      LIMIT ${limit}
      -- Not FOR UPDATE: that would also skip an endpoint whose deliveries an event is writing meanwhile
      -- (their foreign key share-locks its row).
      FOR NO KEY UPDATE SKIP LOCKED
    )
    RETURNING e.id, e.tenant_id, e.url, e.secret, e.previous_secret, e.previous_until, e.failing_since,
      (SELECT count(*)::int FROM webhook_endpoints AS t WHERE t.tenant_id = e.tenant_id AND t.enabled)
        AS tenant_endpoints
  `.execute(db);
  return rows.rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    url: r.url,
    secret: r.secret,
    previousSecret: r.previous_secret,
    previousUntil: r.previous_until,
    failingSince: r.failing_since,
    tenantEndpoints: r.tenant_endpoints,
  }));
}

/** How many enabled endpoints `tenantId` has. */
export async function enabledEndpointsOf(db: Kysely<Database>, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('enabled', '=', true)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Keeps a lease alive, `leaseMs` from now, while its holder works. False when it was lost (expired and taken). */
export async function renewLease(
  db: Kysely<Database>,
  endpointId: string,
  owner: string,
  leaseMs: number,
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_endpoints')
    .set({ lease_until: fromNow(leaseMs) })
    .where('id', '=', endpointId)
    .where('lease_owner', '=', owner)
    .where('enabled', '=', true)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Whether the endpoint row `table` names is as `endpoint` was claimed: the same URL and secrets. (Not the
 * old secret's end: it changes only with the secrets, and a time read back may have lost precision.)
 */
const asClaimed = (endpoint: HeldEndpoint, table: string) => sql<boolean>`(
  ${sql.ref(`${table}.url`)} = ${endpoint.url}
  and ${sql.ref(`${table}.secret`)} = ${endpoint.secret}
  and ${sql.ref(`${table}.previous_secret`)} is not distinct from ${endpoint.previousSecret}::bytea)`;

const deliveries = (db: Kysely<Database>, endpoint: HeldEndpoint) =>
  db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('events as ev', 'ev.id', 'd.event_id')
    .select([
      'd.id',
      'd.event_id',
      'd.event_seq',
      'd.attempts',
      'd.parked',
      'd.first_attempt_at',
      'ev.type',
      'ev.data',
      'ev.created_at',
    ])
    .where('d.endpoint_id', '=', endpoint.id)
    .where('d.status', '=', 'pending')
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('webhook_endpoints as e')
          .select(sql`1`.as('held'))
          .where('e.id', '=', endpoint.id)
          .where('e.enabled', '=', true)
          .where('e.lease_owner', '=', endpoint.owner)
          .where(asClaimed(endpoint, 'e')),
      ),
    )
    .orderBy('d.event_seq')
    .limit(1);

type DeliveryRow = NonNullable<Awaited<ReturnType<ReturnType<typeof deliveries>['executeTakeFirst']>>>;

const dueOf = (row: DeliveryRow | undefined): DueDelivery | undefined =>
  row && {
    id: row.id,
    eventId: row.event_id,
    eventSeq: row.event_seq,
    attempts: row.attempts,
    parked: row.parked,
    firstAttemptAt: row.first_attempt_at,
    type: row.type,
    data: row.data,
    createdAt: row.created_at,
  };

const lookAhead = (db: Kysely<Database>, endpoint: HeldEndpoint, limit: number) =>
  deliveries(db, endpoint).clearLimit().limit(limit).select(due('d.next_attempt_at').as('due'));

type LookedRow = Awaited<ReturnType<ReturnType<typeof lookAhead>['execute']>>[number];

/**
 * The deliveries to try next, in order. The first is the oldest one not set aside (the head: everything
 * after it waits, so order holds) when it is due, else the oldest set-aside one that is due; after a
 * head come the ones behind it that are due, up to `limit`, so an endpoint that keeps up is not asked
 * for its next delivery once per delivery. They are meant to go while each is delivered: after one that
 * is not, look again. Empty when nothing is due.
 */
export async function dueDeliveries(
  db: Kysely<Database>,
  endpoint: HeldEndpoint,
  limit: number,
): Promise<DueDelivery[]> {
  return dueAmong(await lookAhead(db, endpoint, limit).execute());
}

/**
 * `dueDeliveries`, and in the same statement the endpoint given back (as `releaseEndpoint` does, from
 * now on) if none of what it finds is due: an endpoint that may have emptied its queue is not looked at
 * once more and then given back. `released` is false when something is due or the lease is not `owner`'s;
 * `changed`, that it was given back because it is no longer as claimed (its next claim reads it afresh).
 */
export async function dueOrRelease(
  db: Kysely<Database>,
  endpoint: HeldEndpoint & { failingSince: Date | null },
  limit: number,
): Promise<{ due: DueDelivery[]; released: boolean; changed: boolean }> {
  const release = releasing(db, endpoint.id, endpoint.owner, {
    nextAttemptAt: 'now',
    failingSince: endpoint.failingSince,
  })
    .where(sql<boolean>`not exists (select 1 from looked where due)`)
    .returning(sql<boolean>`not ${asClaimed(endpoint, 'webhook_endpoints')}`.as('changed'));
  const { rows } = await sql<Partial<LookedRow> & { released: boolean; changed: boolean | null }>`
    with looked as (${lookAhead(db, endpoint, limit)}), released as (${release})
    select looked.*, exists (select 1 from released) as released, (select changed from released) as changed
    from (select 1) as one left join looked on true
    order by looked.event_seq`.execute(db);
  const looked = rows.filter(
    (row): row is LookedRow & { released: boolean; changed: boolean } => row.id != null,
  );
  return {
    due: dueAmong(looked),
    released: rows[0]?.released === true,
    changed: rows[0]?.changed === true,
  };
}

function dueAmong(rows: LookedRow[]): DueDelivery[] {
  const head = rows.findIndex((row) => !row.parked);
  const first = rows.findIndex((row, i) => (row.parked || i === head) && row.due);
  if (first === -1) return [];
  if (first !== head) return [dueOf(rows[first]) as DueDelivery];
  const chain: DueDelivery[] = [];
  for (const row of rows.slice(head)) {
    if (row.parked) continue; // set aside: retried on its own, in a later look
    if (!row.due) break;
    chain.push(dueOf(row) as DueDelivery);
  }
  return chain;
}

/** The first delivery waiting behind `seq` (not set aside), to probe an endpoint with. */
export async function deliveryAfter(
  db: Kysely<Database>,
  endpoint: HeldEndpoint,
  seq: string,
): Promise<DueDelivery | undefined> {
  const row = await deliveries(db, endpoint)
    .where('d.parked', '=', false)
    .where('d.event_seq', '>', seq)
    .executeTakeFirst();
  return dueOf(row);
}

export type AttemptRecord = {
  delivery: DueDelivery;
  endpointId: string;
  at: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  outcome: 'delivered' | 'failed' | 'dead' | 'disabled';
  nextAttemptAt: Date | null;
  park?: boolean;
};

/**
 * Writes one attempt to the log and moves its delivery on, in one statement (a data-modifying CTE):
 * atomic on its own, one round trip instead of four (BEGIN, the two writes, COMMIT) per delivery.
 */
export const recordAttempt = (db: Kysely<Database>, attempt: AttemptRecord): Promise<void> =>
  recordAttempts(db, attempt.endpointId, [attempt]);

/**
 * Writes one endpoint's attempts to the log, numbered in the order given, and moves their deliveries
 * on, all in one statement. Attempts that all delivered commit without waiting for the disk
 * (shared/async-commit.ts): if PostgreSQL itself crashes before the WAL writer flushes them, those
 * deliveries are pending again and go once more, under the same `webhook-id`, as at least once allows.
 */
export async function recordAttempts(
  db: Kysely<Database>,
  endpointId: string,
  attempts: readonly AttemptRecord[],
): Promise<void> {
  const column = <T>(pick: (attempt: AttemptRecord) => T) => attempts.map(pick);
  const statusOf = (a: AttemptRecord) =>
    a.outcome === 'delivered' ? 'delivered' : a.outcome === 'dead' ? 'dead' : 'pending';
  await sql`
    with a as (
      select * from unnest(
        ${column((a) => a.delivery.id)}::bigint[], ${column((a) => a.delivery.eventId)}::text[],
        ${column((a) => a.at.toISOString())}::timestamptz[], ${column((a) => a.statusCode)}::int[],
        ${column((a) => a.latencyMs)}::int[], ${column((a) => a.error)}::text[],
        ${column((a) => a.outcome)}::text[], ${column((a) => a.nextAttemptAt?.toISOString() ?? null)}::timestamptz[],
        ${column((a) => a.delivery.attempts + 1)}::int[],
        ${column((a) => (a.delivery.firstAttemptAt ?? a.at).toISOString())}::timestamptz[],
        ${column(statusOf)}::text[], ${column((a) => a.park ?? null)}::boolean[]
      ) with ordinality as a(delivery_id, event_id, at, status_code, latency_ms, error, outcome,
        next_attempt_at, attempts, first_attempt_at, status, park, ord)
    ), logged as (
      -- The endpoint's lease holder is its only writer, one statement at a time: max + n cannot race.
      insert into webhook_attempts (delivery_id, endpoint_id, seq, event_id, attempted_at, status_code,
        latency_ms, error, outcome, next_attempt_at)
      select a.delivery_id, ${endpointId}::uuid, last.seq + a.ord, a.event_id, a.at, a.status_code,
        a.latency_ms, a.error, a.outcome, a.next_attempt_at
      from a, (select coalesce(max(seq), 0) as seq from webhook_attempts
        where endpoint_id = ${endpointId}::uuid) last
      order by a.ord
    ), moved as (
      update webhook_deliveries d set attempts = a.attempts, first_attempt_at = a.first_attempt_at,
        status = a.status, delivered_at = case when a.status = 'delivered' then a.at end,
        next_attempt_at = coalesce(a.next_attempt_at, a.at), parked = coalesce(a.park, d.parked)
      from a where d.id = a.delivery_id
    )
    select ${asyncCommitIf(
      db,
      attempts.every((a) => a.outcome === 'delivered'),
    )} as async_commit`.execute(db);
}

/** When a given-back endpoint may be claimed again: a retry's time, or `now` by the database's clock. */
export type NextAttempt = Date | 'now';

/**
 * Gives the endpoint back: no lease, and not claimed again before `nextAttemptAt` (the failing head's
 * next attempt, or now) or a set-aside delivery's, whichever is first; one statement.
 */
export async function releaseEndpoint(
  db: Kysely<Database>,
  endpointId: string,
  owner: string,
  fields: { nextAttemptAt: NextAttempt; failingSince: Date | null },
): Promise<void> {
  await releasing(db, endpointId, owner, fields).execute();
}

const releasing = (
  db: Kysely<Database>,
  endpointId: string,
  owner: string,
  fields: { nextAttemptAt: NextAttempt; failingSince: Date | null },
) =>
  db
    .updateTable('webhook_endpoints')
    .set((eb) => ({
      lease_owner: null,
      lease_until: null,
      // least() skips the null of an endpoint with nothing set aside.
      next_attempt_at: eb.fn<Date>('least', [
        fields.nextAttemptAt === 'now' ? sql<Date>`now()` : sql<Date>`${fields.nextAttemptAt}::timestamptz`,
        eb
          .selectFrom('webhook_deliveries')
          .select((d) => d.fn.min('next_attempt_at').as('next'))
          .where('endpoint_id', '=', endpointId)
          .where('status', '=', 'pending')
          .where('parked', '=', true),
      ]),
      failing_since: fields.failingSince,
    }))
    .where('id', '=', endpointId)
    .where('lease_owner', '=', owner);

/** Disables an endpoint for good (until an admin enables it again) and says so in a `webhook.disabled` event. */
export async function disableEndpoint(
  db: Kysely<Database>,
  endpoint: { id: string; tenantId: string; url: string },
  reason: string,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('webhook_endpoints')
      .set({ enabled: false, disabled_reason: reason, lease_owner: null, lease_until: null })
      .where('id', '=', endpoint.id)
      .execute();
    await insertEvent(
      trx,
      { tenantId: endpoint.tenantId, sessionId: null, sessionName: null },
      'webhook.disabled',
      {
        webhookId: endpoint.id,
        url: endpoint.url,
        reason,
      },
    );
  });
}
