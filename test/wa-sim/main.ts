import { StateFileError } from './persistence.js';
import { startSimulator } from './server.js';

/**
 * Runs the simulator as its own process: `tsx test/wa-sim/main.ts`. Port from WA_SIM_PORT (default
 * 3100; 0 picks a free one); WA_SIM_DATA_DIR, when set, is the directory the world is kept in. Prints
 * one JSON line with `url`, `wsUrl`, `trustRoot`, `mediaUrl` and `mediaCa` when ready.
 */
// libsignal reports routine session replacement on the console; in a long-running simulator that is noise.
for (const level of ['log', 'info', 'warn'] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    if (
      typeof args[0] === 'string' &&
      /^(Closing session|Closing open session|Session already)/.test(args[0])
    )
      return;
    original(...args);
  };
}

const port = Number(process.env.WA_SIM_PORT ?? 3100);
const server = await startSimulator({
  port,
  host: process.env.WA_SIM_HOST ?? '127.0.0.1',
  dataDir: process.env.WA_SIM_DATA_DIR || undefined,
}).catch((err: unknown) => {
  if (!(err instanceof StateFileError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
process.stdout.write(
  `${JSON.stringify({
    url: server.url,
    wsUrl: server.wsUrl,
    trustRoot: server.trustRoot,
    mediaUrl: server.mediaUrl,
    mediaCa: server.mediaCa,
  })}\n`,
);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
