import { pino } from 'pino';
import { HostConfigSchema, parseConfig, waConnectionOf } from '../config.js';
import { closeDb, createDb } from '../db/connect.js';
import { startHost } from './server.js';

// A session host on its own: `tsx node-runtime/host/main.ts`, configured by the environment.
const config = parseConfig(HostConfigSchema, process.env);
const logger = pino({ level: config.LOG_LEVEL });
const db = createDb(config.DATABASE_URL);
const host = await startHost({
  db,
  hostId: config.HOST_ID,
  port: config.HOST_PORT,
  listen: config.HOST_LISTEN,
  internalUrl: config.HOST_URL,
  secret: config.EDGE_HOST_SECRET,
  wa: waConnectionOf(config),
  logger,
});
process.stdout.write(`${JSON.stringify({ hostId: config.HOST_ID, url: host.url })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  // Sockets end without logging out: the sessions resume on the next start, with no new QR.
  await host.close();
  await closeDb(db);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
