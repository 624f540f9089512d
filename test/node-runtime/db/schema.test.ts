// What the schema itself guarantees, whatever the code above it does.
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { KeyScope } from '../../../shared/db-schema.js';
import { useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();

const digest = () => createHash('sha256').update(randomBytes(32)).digest();

async function tenantWithSession(name = 'main') {
  const { db } = database();
  const tenant = await db
    .insertInto('tenants')
    .values({ name: 't' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const session = await db
    .insertInto('sessions')
    .values({ tenant_id: tenant.id, name })
    .returning(['id', 'state', 'lease_epoch', 'created_at', 'updated_at'])
    .executeTakeFirstOrThrow();
  return { tenantId: tenant.id, session };
}

function key(scope: KeyScope, tenantId: string | null, sessionId: string | null) {
  return { digest: digest(), prefix: 'wag_x', scope, tenant_id: tenantId, session_id: sessionId };
}

describe('schema', () => {
  it('fills defaults', async () => {
    const { db } = database();
    const tenant = await db
      .insertInto('tenants')
      .values({ name: 'acme' })
      .returningAll()
      .executeTakeFirstOrThrow();
    expect(tenant.status).toBe('active');
    expect(tenant.created_at).toBeInstanceOf(Date);
    const { session } = await tenantWithSession();
    expect(session).toMatchObject({ state: 'idle', lease_epoch: '0' });
  });

  it('keeps session names unique per tenant only, and in the seed format', async () => {
    const { db } = database();
    const a = await tenantWithSession('shared-name');
    await tenantWithSession('shared-name');
    await expect(
      db.insertInto('sessions').values({ tenant_id: a.tenantId, name: 'shared-name' }).execute(),
    ).rejects.toThrow(/unique/);
    await expect(
      db.insertInto('sessions').values({ tenant_id: a.tenantId, name: 'has space' }).execute(),
    ).rejects.toThrow(/check/);
  });

  it('touches updated_at on update', async () => {
    const { db } = database();
    const { session } = await tenantWithSession();
    await sql`select pg_sleep(0.01)`.execute(db);
    const after = await db
      .updateTable('sessions')
      .set({ state: 'connecting' })
      .where('id', '=', session.id)
      .returning('updated_at')
      .executeTakeFirstOrThrow();
    expect(after.updated_at.getTime()).toBeGreaterThan(session.updated_at.getTime());
  });

  it('ties each key scope to the right owner', async () => {
    const { db } = database();
    const { tenantId, session } = await tenantWithSession();
    await db
      .insertInto('api_keys')
      .values([
        key('operator', null, null),
        key('admin', tenantId, null),
        key('session', tenantId, session.id),
      ])
      .execute();
    for (const bad of [
      key('operator', tenantId, null),
      key('admin', null, null),
      key('admin', tenantId, session.id),
      key('session', tenantId, null),
    ]) {
      await expect(db.insertInto('api_keys').values(bad).execute()).rejects.toThrow(/check/);
    }
  });

  it("refuses a session key for another tenant's session", async () => {
    const { db } = database();
    const mine = await tenantWithSession();
    const theirs = await tenantWithSession();
    await expect(
      db
        .insertInto('api_keys')
        .values(key('session', mine.tenantId, theirs.session.id))
        .execute(),
    ).rejects.toThrow(/foreign key/);
  });

  it('stores only 32-byte digests, each once', async () => {
    const { db } = database();
    const { tenantId } = await tenantWithSession();
    await expect(
      db
        .insertInto('api_keys')
        .values({ ...key('admin', tenantId, null), digest: randomBytes(16) })
        .execute(),
    ).rejects.toThrow(/check/);
    const row = key('admin', tenantId, null);
    await db.insertInto('api_keys').values(row).execute();
    await expect(
      db
        .insertInto('api_keys')
        .values({ ...row, prefix: 'other' })
        .execute(),
    ).rejects.toThrow(/unique/);
    const stored = await db
      .selectFrom('api_keys')
      .select('digest')
      .where('digest', '=', row.digest)
      .executeTakeFirstOrThrow();
    expect(Buffer.from(stored.digest).equals(row.digest)).toBe(true);
  });

  it('deleting a tenant removes its sessions, keys and auth state, but not its audit trail', async () => {
    const { db } = database();
    const { tenantId, session } = await tenantWithSession();
    await db
      .insertInto('api_keys')
      .values(key('session', tenantId, session.id))
      .execute();
    await db
      .insertInto('wa_creds')
      .values({ session_id: session.id, creds: { a: 1 } })
      .execute();
    await db
      .insertInto('wa_keys')
      .values({ session_id: session.id, type: 'session', id: 'x', value: 1 })
      .execute();
    await db.insertInto('audit_log').values({ tenant_id: tenantId, action: 'tenant.delete' }).execute();

    await db.deleteFrom('tenants').where('id', '=', tenantId).execute();

    const count = async (table: 'sessions' | 'api_keys' | 'audit_log', column: 'tenant_id') =>
      (
        await db
          .selectFrom(table)
          .select(sql<number>`count(*)::int`.as('n'))
          .where(column, '=', tenantId)
          .executeTakeFirstOrThrow()
      ).n;
    expect(await count('sessions', 'tenant_id')).toBe(0);
    expect(await count('api_keys', 'tenant_id')).toBe(0);
    expect(await count('audit_log', 'tenant_id')).toBe(1);
    const auth = await sql<{ n: number }>`
      select (select count(*) from wa_creds where session_id = ${session.id})::int
           + (select count(*) from wa_keys where session_id = ${session.id})::int as n`.execute(db);
    expect(auth.rows[0]?.n).toBe(0);
  });

  it('frees sessions of a host that is removed', async () => {
    const { db } = database();
    const { session } = await tenantWithSession();
    await db.insertInto('hosts').values({ id: 'host-a', internal_url: 'http://10.0.0.1:4000' }).execute();
    await db.updateTable('sessions').set({ host_id: 'host-a' }).where('id', '=', session.id).execute();
    await db.deleteFrom('hosts').where('id', '=', 'host-a').execute();
    const row = await db
      .selectFrom('sessions')
      .select('host_id')
      .where('id', '=', session.id)
      .executeTakeFirstOrThrow();
    expect(row.host_id).toBeNull();
  });
});
