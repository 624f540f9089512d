import './node-version.js';
import { join, resolve } from 'node:path';
import { parseConfig, StackConfigSchema } from '../node-runtime/config.js';
import { StartupError } from '../node-runtime/startup-error.js';
import { StateFileError } from '../test/wa-sim/persistence.js';
import { startSimulator } from '../test/wa-sim/server.js';
import { banner, portInUse, startStack } from './stack.js';
import { supervise } from './supervisor.js';

// `npm run sandbox`: the same gateway against the WhatsApp simulator, for trying the API with no phone.
await supervise(async () => {
  const config = parseConfig(StackConfigSchema, {
    // Its own data, so a sandbox never mixes with sessions linked to the real WhatsApp.
    DATA_DIR: '.data/sandbox',
    // Webhooks to a receiver on this machine, over plain http, are what trying things out needs.
    WEBHOOK_ALLOW_PRIVATE: 'true',
    // Files for messages from a server on this machine, likewise.
    MEDIA_URL_ALLOW_PRIVATE: 'true',
    // Pacing you can watch without waiting on it (a real number keeps the defaults: a second or more).
    PACING_MIN_INTERVAL_MS: '300',
    PACING_JITTER_MS: '200',
    PACING_PER_CHAT_MIN_INTERVAL_MS: '500',
    ...process.env,
  });
  // The simulated network keeps its world (accounts, linked devices, contacts' Signal state) in
  // DATA_DIR, so a restarted sandbox resumes its linked sessions as the real network would.
  const sim = await startSimulator({
    port: config.WA_SIM_PORT,
    dataDir: join(resolve(config.DATA_DIR), 'simulator'),
  }).catch((err: unknown) => {
    if (err instanceof StateFileError) throw new StartupError(err.message, { cause: err });
    return portInUse('WA_SIM_PORT', config.WA_SIM_PORT)(err);
  });
  const stack = await startStack(
    config,
    { wsUrl: sim.wsUrl, trustRoot: sim.trustRoot, mediaCa: sim.mediaCa },
    undefined,
    undefined,
    sim.url,
  ).catch(async (err: unknown) => {
    await sim.close();
    throw err;
  });
  return {
    close: async () => {
      await stack.close();
      await sim.close();
    },
    banner: banner(stack, [
      '',
      `Simulator control API at ${sim.url} (no phone needed): scan the QR text with`,
      `  curl -s -X POST ${sim.url}/sim/scan -H "content-type: application/json" -d '{"qr":"<raw QR text>","phone":"6281234567890","name":"Budi"}'`,
      `  and read what a contact received: curl -s ${sim.url}/sim/contacts/6289876543210/messages`,
    ]),
  };
});
