// Runs once per `vitest run`, in the main process: one PostgreSQL server for every test file,
// each of which makes its own database on it (test/helpers/postgres.ts).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../node-runtime/db/embedded.js';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.DATABASE_URL;
  if (external) {
    project.provide('postgresUrl', external);
    return undefined;
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'wa-gateway-test-pg-'));
  // mkdtemp makes it 0700; as root the server runs as the `postgres` user, which must get in.
  await chmod(dataDir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir, ephemeral: true });
  project.provide('postgresUrl', server.url);
  return async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
