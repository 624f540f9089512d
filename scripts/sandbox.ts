import { join, resolve } from 'node:path';
import { parseConfig, StackConfigSchema } from '../node-runtime/config.js';
import { startSimulator } from '../test/wa-sim/server.js';
import { banner, closeOnSignals, startStack } from './stack.js';

// `npm run sandbox`: the same gateway against the WhatsApp simulator, for trying the API with no phone.
const config = parseConfig(StackConfigSchema, {
  // Its own data, so a sandbox never mixes with sessions linked to the real WhatsApp.
  DATA_DIR: '.data/sandbox',
  ...process.env,
});
const sim = await startSimulator({
  port: config.WA_SIM_PORT,
  dataDir: join(resolve(config.DATA_DIR), 'simulator'),
});
const stack = await startStack(config, { wsUrl: sim.wsUrl, trustRoot: sim.trustRoot });
closeOnSignals(async () => {
  await stack.close();
  await sim.close();
});
process.stdout.write(
  banner(stack, [
    '',
    `Simulator control API at ${sim.url} (no phone needed): scan the QR text with`,
    `  curl -s -X POST ${sim.url}/sim/scan -H "content-type: application/json" -d '{"qr":"<raw QR text>","phone":"6281234567890","name":"Budi"}'`,
    `  and read what a contact received: curl -s ${sim.url}/sim/contacts/6289876543210/messages`,
  ]),
);
