// The edge on its own Node process, for the bench: `tsx bench/procs/edge.ts`. (npm start runs the edge in
// the same process as the host; the bench separates them so each one's CPU and memory can be told apart.)
// Environment: DATABASE_URL, and the edge's (bench/lib/edge-options.ts).
import { startEdge } from '../../edge/entries/node.js';
import { createDb } from '../../node-runtime/db/connect.js';
import { benchEdgeOptions } from '../lib/edge-options.js';

const env = process.env;
if (!env.DATABASE_URL || !env.EDGE_HOST_SECRET) {
  process.stderr.write('bench edge: DATABASE_URL and EDGE_HOST_SECRET are required\n');
  process.exit(2);
}
const db = createDb(env.DATABASE_URL);
const edge = await startEdge(benchEdgeOptions(env, db));
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
