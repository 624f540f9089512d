import { jidNormalizedUser } from '@whiskeysockets/baileys';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import type { PublicState, RestoredState, SessionUser } from '../session/machine.js';

/** A session as the database has it: where its actor starts, and the account it is linked to. */
export type StoredSession = {
  tenantId: string;
  /** The seed's sessionId, as clients know it. */
  name: string;
  /** The state last mirrored. */
  state: string;
  user: SessionUser | null;
  /** Undefined: idle (never linked, or nothing to resume). */
  restore: RestoredState | undefined;
  /** The host died during a logout: finish it (wipe) rather than resume. */
  finishLogout: boolean;
};

/** States a session rests in until a person asks; a restart must not wake it. */
const RESTING_STATES: readonly RestoredState[] = ['replaced', 'qr-expired', 'failed', 'logged-out'];

type StoredRow = {
  tenant_id: string;
  name: string;
  state: string;
  account_jid: string | null;
  account_name: string | null;
  me_id: string | null;
  me_name: string | null;
};

/**
 * Where a session's actor starts. Linked (the credentials name an account) and not resting: it resumes
 * at once. The account comes from the mirror, else from the credentials themselves, so a row whose
 * mirror lost the account still resumes.
 */
export const storedSession = (row: StoredRow): StoredSession => {
  const of = { tenantId: row.tenant_id, name: row.name, state: row.state };
  const linked = row.me_id !== null;
  const user: SessionUser | null = row.account_jid
    ? { id: row.account_jid, name: row.account_name }
    : row.me_id
      ? { id: jidNormalizedUser(row.me_id), name: row.me_name }
      : null;
  const resting = RESTING_STATES.find((s) => s === row.state);
  if (row.state === ('logging-out' satisfies PublicState)) {
    return { ...of, user, restore: undefined, finishLogout: true };
  }
  if (resting) {
    return { ...of, user: resting === 'logged-out' ? null : user, restore: resting, finishLogout: false };
  }
  return {
    ...of,
    user: linked ? user : null,
    restore: linked ? 'connecting' : undefined,
    finishLogout: false,
  };
};

/** A session this host just took the lease of, under its new epoch. */
export type ClaimedSession = { id: string; epoch: string; stored: StoredSession };

/**
 * Takes the lease of a session assigned to this host: its epoch is bumped, which fences off every write
 * made under an earlier one (this host's own earlier run included). Undefined for a session assigned
 * elsewhere (or none).
 */
export const claimStoredSession = async (
  db: Kysely<Database>,
  hostId: string,
  id: string,
): Promise<ClaimedSession | undefined> => {
  const row = await db
    .with('claimed', (db) =>
      db
        .updateTable('sessions')
        .set({ lease_epoch: sql`lease_epoch + 1` })
        .where('host_id', '=', hostId)
        .where('id', '=', id)
        .returning(['id', 'lease_epoch']),
    )
    .selectFrom('claimed')
    .innerJoin('sessions', 'sessions.id', 'claimed.id')
    .leftJoin('wa_creds', 'wa_creds.session_id', 'sessions.id')
    .select([
      'sessions.id',
      'claimed.lease_epoch',
      'sessions.tenant_id',
      'sessions.name',
      'sessions.state',
      'sessions.account_jid',
      'sessions.account_name',
      sql<string | null>`wa_creds.creds -> 'me' ->> 'id'`.as('me_id'),
      sql<string | null>`wa_creds.creds -> 'me' ->> 'name'`.as('me_name'),
    ])
    .executeTakeFirst();
  return row && { id: row.id, epoch: row.lease_epoch, stored: storedSession(row) };
};

/** Whether the session exists at all (one this host could not claim is then another host's). */
export const sessionExists = async (db: Kysely<Database>, sessionId: string): Promise<boolean> =>
  (await db.selectFrom('sessions').select('id').where('id', '=', sessionId).executeTakeFirst()) !== undefined;
