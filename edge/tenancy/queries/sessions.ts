import { type Kysely, type SqlBool, sql } from 'kysely';
import type { Database } from '../../../shared/db-schema.js';
import type { Pacing } from '../../../shared/outbox.js';
import { type Page, pageOf } from '../pagination.js';

export interface NewSessionInput {
  tenantId: string;
  name: string;
  description: string | null;
}

/**
 * Inserts a session, with no owner yet; undefined when the tenant already has a session of that name.
 * ON CONFLICT instead of catching the unique violation keeps the surrounding transaction usable.
 */
export async function insertSession(
  db: Kysely<Database>,
  input: NewSessionInput,
): Promise<{ id: string } | undefined> {
  return db
    .insertInto('sessions')
    .values({
      tenant_id: input.tenantId,
      name: input.name,
      description: input.description,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
    .returning('id')
    .executeTakeFirst();
}

/** A session as its tenant's admin sees it. */
export interface TenantSessionRow {
  id: string;
  name: string;
  description: string | null;
  state: string;
  accountJid: string | null;
  accountName: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The admin's pacing, if set (JSON as stored). */
  pacing: unknown;
  /** Messages waiting in its outbox, and when the host plans to send the next one. */
  queued: number;
  nextSendAt: Date | null;
}

function selectTenantSessions(db: Kysely<Database>, tenantId: string) {
  return (
    db
      .selectFrom('sessions')
      .select([
        'id',
        'name',
        'description',
        'state',
        'account_jid',
        'account_name',
        'created_at',
        'updated_at',
        'pacing',
        'outbox_next_at',
      ])
      // The outbox's partial index (queued rows only) answers this.
      .select((eb) =>
        eb
          .selectFrom('messages')
          .select(eb.fn.countAll<string>().as('n'))
          .whereRef('messages.session_id', '=', 'sessions.id')
          .where('messages.queue_seq', 'is not', null)
          .as('queued'),
      )
      .where('tenant_id', '=', tenantId)
  );
}

type SelectedSession = Awaited<
  ReturnType<ReturnType<typeof selectTenantSessions>['executeTakeFirstOrThrow']>
>;

const toSessionRow = (row: SelectedSession): TenantSessionRow => ({
  id: row.id,
  name: row.name,
  description: row.description,
  state: row.state,
  accountJid: row.account_jid,
  accountName: row.account_name,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  pacing: row.pacing,
  queued: Number(row.queued ?? 0),
  // Only a time still ahead: a past one is a plan the host has since carried out.
  nextSendAt: row.outbox_next_at,
});

/** The tenant's sessions, oldest first; the cursor is the id (uuid) of the previous page's last one. */
export async function listTenantSessions(
  db: Kysely<Database>,
  tenantId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<TenantSessionRow>> {
  let query = selectTenantSessions(db, tenantId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.cursor !== undefined) {
    query = query.where(
      sql<SqlBool>`(sessions.created_at, sessions.id) > (select c.created_at, c.id from sessions c where c.id = ${page.cursor} and c.tenant_id = ${tenantId})`,
    );
  }
  const rows = await query.execute();
  return pageOf(rows.map(toSessionRow), page.limit, (s) => s.id);
}

/** The tenant's session named `name` (the client's `sessionId`); undefined in any other tenant. */
export async function findTenantSession(
  db: Kysely<Database>,
  tenantId: string,
  name: string,
): Promise<TenantSessionRow | undefined> {
  const row = await selectTenantSessions(db, tenantId).where('name', '=', name).executeTakeFirst();
  return row ? toSessionRow(row) : undefined;
}

/** Sets (or, with null, clears) the pacing of the tenant's session `name`; its id, or undefined. */
export async function setSessionPacing(
  db: Kysely<Database>,
  tenantId: string,
  name: string,
  pacing: Pacing | null,
): Promise<{ id: string } | undefined> {
  return db
    .updateTable('sessions')
    .set({ pacing, updated_at: new Date() })
    .where('tenant_id', '=', tenantId)
    .where('name', '=', name)
    .returning('id')
    .executeTakeFirst();
}
