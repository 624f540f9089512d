import { parseConfig, StackConfigSchema } from '../node-runtime/config.js';
import { banner, closeOnSignals, startStack } from './stack.js';

// `npm start`: the whole gateway on this machine, against the real WhatsApp.
const config = parseConfig(StackConfigSchema, process.env);
const stack = await startStack(config, { wsUrl: config.WA_WS_URL, trustRoot: config.WA_TRUST_ROOT });
closeOnSignals(stack.close);
process.stdout.write(
  banner(stack, ['', 'Scan the QR with WhatsApp on your phone: Settings > Linked devices.']),
);
