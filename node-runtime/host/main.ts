import { reportStartFailure } from '../startup-error.js';
import { type ConfiguredHost, startConfiguredHost } from './from-env.js';

// A session host on its own (`npm run host`, or `tsx node-runtime/host/main.ts`), configured by the
// environment. It prints one JSON line, `{hostId, url}`, once it serves.
let started: ConfiguredHost;
try {
  started = await startConfiguredHost(process.env);
  process.stdout.write(`${JSON.stringify({ hostId: started.hostId, url: started.host.url })}\n`);
} catch (err) {
  reportStartFailure(err);
  process.exit(1);
}

let stopping = false;
const stop = async (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  // SIGTERM hands the sessions to other live hosts first; the rest end without logging out and resume
  // elsewhere once the lease is released (or here on the next start), with no new QR.
  await started.host.close({ drainMs: signal === 'SIGTERM' ? started.drainMs : 0 });
  await started.closeDatabase();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
