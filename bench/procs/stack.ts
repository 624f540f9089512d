// A session host with the edge in the same process, as `npm start` runs them (the edge's calls to its
// host skip the network), for the bench. Environment: the host's (node-runtime/host/from-env.ts), and
// PORT and EDGE_CONFIG as for bench/procs/edge.ts.
import { pino } from 'pino';
import { type StartEdgeOptions, startEdge } from '../../edge/entries/node.js';
import { startConfiguredHost } from '../../node-runtime/host/from-env.js';

const env = process.env;
const started = await startConfiguredHost(env);
const options: StartEdgeOptions = {
  ...(JSON.parse(env.EDGE_CONFIG ?? '{}') as Record<string, unknown>),
  db: started.db,
  port: Number(env.PORT ?? 0),
  hostname: '127.0.0.1',
  hostSecret: env.EDGE_HOST_SECRET ?? '',
  webhooks: { secretKey: env.WEBHOOK_SECRET_KEY, allowPrivate: true },
  localHost: started.host,
  logger: pino({ level: env.LOG_LEVEL ?? 'info' }),
};
const edge = await startEdge(options);
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
