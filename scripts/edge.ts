import './node-version.js';
import { pino } from 'pino';
import { edgeConfigFrom } from '../edge/entries/env.js';
import { startEdge } from '../edge/entries/node.js';
import { ensureDefaultTenant, ensureOperatorKey } from '../edge/tenancy/bootstrap.js';
import { EdgeProcessConfigSchema, parseConfig } from '../node-runtime/config.js';
import { closeDb, createDb } from '../node-runtime/db/connect.js';
import { migrateToLatest } from '../node-runtime/db/migrate.js';
import { banner, portInUse } from './stack.js';
import { supervise } from './supervisor.js';

// `npm run edge`: one edge on Node against DATABASE_URL, in front of the session hosts registered there
// (`npm run host`, on this machine or others). Several edges may serve the same database.
await supervise(async () => {
  const config = parseConfig(EdgeProcessConfigSchema, process.env);
  const db = createDb(config.DATABASE_URL);
  try {
    // Under an advisory lock: hosts and edges that start together migrate once.
    await migrateToLatest(db);
    const edge = await startEdge({
      ...edgeConfigFrom(config),
      db,
      port: config.PORT,
      ...(config.EDGE_LISTEN ? { hostname: config.EDGE_LISTEN } : {}),
      logger: pino({ level: config.LOG_LEVEL }),
    }).catch(portInUse('PORT', config.PORT));
    // The first edge (or host stack) to start on a new database makes the keys, printed once.
    const { adminKey } = await ensureDefaultTenant(db, { apiKey: config.API_KEY });
    const { operatorKey } = await ensureOperatorKey(db, { operatorKey: config.OPERATOR_KEY });
    const close = async () => {
      await edge.close();
      await closeDb(db);
    };
    return { close, banner: banner({ url: edge.url, hostUrl: '', adminKey, operatorKey, close }) };
  } catch (err) {
    await closeDb(db);
    throw err;
  }
});
