// Files waiting in outbox_media are stored as they are: PostgreSQL does not try to compress them
// (migrations/0014), and what the host reads back is the file, byte for byte.
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { fileOf, keepUnclaimed } from '../../../node-runtime/media/outbox-media.js';
import { insertTenantSession, useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();

it('a file is kept uncompressed, even one that would compress well, and read back unchanged', async () => {
  const db = database().db;
  const { sessionId } = await insertTenantSession(db, 'files', 'files');
  // A megabyte of a repeated pattern: pglz would shrink it to a few kilobytes.
  const file = new Uint8Array(1024 * 1024).map((_, i) => i % 7);
  const id = await keepUnclaimed(db, sessionId, { data: file, mimetype: 'application/octet-stream' });
  const stored = await sql<{ method: string | null; size: number }>`
    select pg_column_compression(data) as method, pg_column_size(data) as size
    from outbox_media where id = ${id}`.execute(db);
  expect(stored.rows).toEqual([{ method: null, size: file.length }]);
  const back = await fileOf(db, sessionId, id);
  expect(back && Buffer.compare(back, file)).toBe(0);
  expect(await fileOf(db, sessionId, crypto.randomUUID())).toBeUndefined();
});
