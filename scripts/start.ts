import './node-version.js';
import { parseConfig, StackConfigSchema, waConnectionOf } from '../node-runtime/config.js';
import { banner, startStack } from './stack.js';
import { supervise } from './supervisor.js';

// `npm start`: the whole gateway on this machine, against the real WhatsApp.
await supervise(async () => {
  const config = parseConfig(StackConfigSchema, process.env);
  const stack = await startStack(config, waConnectionOf(config));
  return {
    close: stack.close,
    banner: banner(stack, ['', 'Scan the QR with WhatsApp on your phone: Settings > Linked devices.']),
  };
});
