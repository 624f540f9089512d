import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../../node-runtime/db/connect.js';
import {
  MigrationError,
  migrateToLatest,
  SqlFileMigrationProvider,
} from '../../../node-runtime/db/migrate.js';
import type { Database } from '../../../shared/db-schema.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

const TABLES = ['api_keys', 'audit_log', 'hosts', 'sessions', 'tenants', 'wa_creds', 'wa_keys'];

async function tablesOf(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(db);
  return rows.map((r) => r.table_name);
}

describe('migrateToLatest', () => {
  const databases: TestDatabase[] = [];
  const fresh = async () => {
    const database = await createTestDatabase({ migrate: false });
    databases.push(database);
    return database;
  };
  afterAll(async () => {
    await Promise.all(databases.map((d) => d.drop()));
  });

  it('finds the SQL files in order', async () => {
    const names = Object.keys(await new SqlFileMigrationProvider().getMigrations());
    expect(names[0]).toBe('0001_init');
    expect(names).toEqual([...names].sort());
  });

  it('creates every table on an empty database', async () => {
    const { db } = await fresh();
    expect(await tablesOf(db)).toEqual([]);
    const results = await migrateToLatest(db);
    expect(results).toContainEqual({ migrationName: '0001_init', direction: 'Up', status: 'Success' });
    expect(results.every((r) => r.status === 'Success')).toBe(true);
    const tables = await tablesOf(db);
    for (const table of TABLES) expect(tables).toContain(table);
    expect(tables).toContain('kysely_migration');
  });

  it('is idempotent: a second run applies nothing and changes nothing', async () => {
    const { db } = await fresh();
    await migrateToLatest(db);
    const before = await tablesOf(db);
    expect(await migrateToLatest(db)).toEqual([]);
    expect(await tablesOf(db)).toEqual(before);
    const applied = await db
      .withoutPlugins()
      .selectFrom('kysely_migration' as never)
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    expect(applied.n).toBe(Object.keys(await new SqlFileMigrationProvider().getMigrations()).length);
  });

  it('applies once when several processes migrate at the same time', async () => {
    const { db, url } = await fresh();
    const others = [createDb(url), createDb(url), createDb(url)];
    try {
      const runs = await Promise.all([db, ...others].map((d) => migrateToLatest(d)));
      const applied = runs.flat().filter((r) => r.status === 'Success');
      expect(applied.map((r) => r.migrationName).filter((n) => n === '0001_init')).toHaveLength(1);
      expect(await tablesOf(db)).toEqual(expect.arrayContaining(TABLES));
    } finally {
      await Promise.all(others.map((d) => d.destroy()));
    }
  });

  describe('a failing migration', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'wa-gateway-migrations-'));
      await writeFile(
        join(dir, '0001_good.sql'),
        "CREATE TABLE good (id int);\n-- a ';' in a comment\nINSERT INTO good VALUES (1);",
      );
      await writeFile(join(dir, '0002_bad.sql'), 'CREATE TABLE half (id int);\nSELECT * FROM no_such_table;');
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('throws with its name and leaves none of its statements applied', async () => {
      const { db } = await fresh();
      const error = await migrateToLatest(db, dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).migrationName).toBe('0002_bad');
      const tables = await tablesOf(db);
      expect(tables).not.toContain('half');
      // Kysely runs one transaction for the whole batch, so the good file is rolled back as well.
      expect(tables).not.toContain('good');
    });
  });
});
