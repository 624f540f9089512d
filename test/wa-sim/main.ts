import { startSimulator } from './server.js';

/** Runs the simulator as its own process: `tsx test/wa-sim/main.ts` (port from WA_SIM_PORT, default 3100). */
const port = Number(process.env.WA_SIM_PORT ?? 3100);
const server = await startSimulator({ port, host: process.env.WA_SIM_HOST ?? '127.0.0.1' });
process.stdout.write(
  `${JSON.stringify({ url: server.url, wsUrl: server.wsUrl, trustRoot: server.trustRoot })}\n`,
);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
