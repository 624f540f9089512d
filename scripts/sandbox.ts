import './node-version.js';
import { parseConfig, StackConfigSchema } from '../node-runtime/config.js';
import { startSimulator } from '../test/wa-sim/server.js';
import { banner, portInUse, startStack } from './stack.js';
import { supervise } from './supervisor.js';

// `npm run sandbox`: the same gateway against the WhatsApp simulator, for trying the API with no phone.
await supervise(async () => {
  const config = parseConfig(StackConfigSchema, {
    // Its own data, so a sandbox never mixes with sessions linked to the real WhatsApp.
    DATA_DIR: '.data/sandbox',
    ...process.env,
  });
  const sim = await startSimulator({ port: config.WA_SIM_PORT }).catch(
    portInUse('WA_SIM_PORT', config.WA_SIM_PORT),
  );
  const stack = await startStack(config, { wsUrl: sim.wsUrl, trustRoot: sim.trustRoot }).catch(
    async (err: unknown) => {
      await sim.close();
      throw err;
    },
  );
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
