import './node-version.js';
import { parseConfig, StackConfigSchema, waConnectionOf } from '../node-runtime/config.js';
import { banner, closeOnSignals, startStack } from './stack.js';

// `npm start`: the whole gateway on this machine, against the real WhatsApp.
const config = parseConfig(StackConfigSchema, process.env);
const stack = await startStack(config, waConnectionOf(config));
closeOnSignals(stack.close);
process.stdout.write(
  banner(stack, ['', 'Scan the QR with WhatsApp on your phone: Settings > Linked devices.']),
);
