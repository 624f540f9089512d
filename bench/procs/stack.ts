// A session host with the edge in the same process, as `npm start` runs them (the edge's calls to its
// host skip the network), for the bench. Environment: the host's (node-runtime/host/from-env.ts) and the
// edge's (bench/lib/edge-options.ts).
import { startEdge } from '../../edge/entries/node.js';
import { startConfiguredHost } from '../../node-runtime/host/from-env.js';
import { benchEdgeOptions } from '../lib/edge-options.js';

const env = process.env;
const started = await startConfiguredHost(env);
const edge = await startEdge({ ...benchEdgeOptions(env, started.db), localHost: started.host });
process.stdout.write(`${JSON.stringify({ edge: edge.url, host: started.host.url })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await edge.close();
  await started.host.close();
  await started.closeDatabase();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
