// Runs migrations/*.sql in name order through Kysely's Migrator, which records what ran in
// kysely_migration and holds an advisory lock, so hosts starting together migrate once.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Kysely, sql } from 'kysely';
import { type Migration, type MigrationProvider, type MigrationResult, Migrator } from 'kysely/migration';
import { splitSqlStatements } from './split-sql.js';

/** The repository's migrations folder. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

const MIGRATION_FILE = /^(\d+_[A-Za-z0-9_-]+)\.sql$/;

/** Reads `<dir>/NNNN_name.sql` files; the migration's name is the file name without `.sql`. */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string = MIGRATIONS_DIR) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    const files = (await readdir(this.dir)).sort();
    for (const file of files) {
      const name = MIGRATION_FILE.exec(file)?.[1];
      if (!name) continue;
      const statements = splitSqlStatements(await readFile(join(this.dir, file), 'utf8'));
      migrations[name] = {
        // `db` is the Migrator's transaction: a failing statement rolls the whole file back.
        async up(db) {
          for (const statement of statements) await sql.raw(statement).execute(db);
        },
      };
    }
    return migrations;
  }
}

export class MigrationError extends Error {
  constructor(
    readonly migrationName: string | undefined,
    options: { cause: unknown },
  ) {
    super(`migration ${migrationName ?? '(setup)'} failed`, options);
    this.name = 'MigrationError';
  }
}

/** Applies every pending migration; returns what ran (empty when already up to date). */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  dir: string = MIGRATIONS_DIR,
): Promise<MigrationResult[]> {
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(dir) });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error');
    throw new MigrationError(failed?.migrationName, { cause: error });
  }
  return results;
}
