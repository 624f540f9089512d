// The edge on its own Node process, for the bench: `tsx bench/procs/edge.ts`. (npm start runs the edge in
// the same process as the host; the bench separates them so each one's CPU and memory can be told apart.)
// Environment: DATABASE_URL, EDGE_HOST_SECRET, PORT, LOG_LEVEL, and EDGE_CONFIG, a JSON object of extra
// edge settings (edge/config.ts), e.g. to lift per-session rate limits for throughput runs.
import { pino } from 'pino';
import { type StartEdgeOptions, startEdge } from '../../edge/entries/node.js';
import { createDb } from '../../node-runtime/db/connect.js';

const env = process.env;
if (!env.DATABASE_URL || !env.EDGE_HOST_SECRET) {
  process.stderr.write('bench edge: DATABASE_URL and EDGE_HOST_SECRET are required\n');
  process.exit(2);
}
const extra = JSON.parse(env.EDGE_CONFIG ?? '{}') as Record<string, unknown>;
const db = createDb(env.DATABASE_URL);
const options: StartEdgeOptions = {
  ...extra,
  db,
  port: Number(env.PORT ?? 0),
  hostname: '127.0.0.1',
  hostSecret: env.EDGE_HOST_SECRET,
  webhooks: { secretKey: env.WEBHOOK_SECRET_KEY, allowPrivate: true },
  logger: pino({ level: env.LOG_LEVEL ?? 'info' }),
};
const edge = await startEdge(options);
process.stdout.write(`${JSON.stringify({ edge: edge.url })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await edge.close();
  await db.destroy();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
