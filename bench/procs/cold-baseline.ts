// Cold-start baseline: the least any app with an embedded PostgreSQL does before it can answer. Started
// the way `npm start` is (npm, then tsx), it starts the same embedded PostgreSQL in DATA_DIR (initdb on
// first use), runs one query, and answers GET /health with 200 on PORT. No migrations, no host, no edge.
import { createServer } from 'node:http';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../../node-runtime/db/embedded.js';

export async function runColdBaseline(): Promise<void> {
  const pg = await startEmbeddedPostgres({ dataDir: process.env.DATA_DIR ?? '.data' });
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  await sql`select 1`;
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', resolve));
  process.stdout.write('cold baseline ready\n');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    await sql.end();
    await pg.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
