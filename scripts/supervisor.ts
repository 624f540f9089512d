import { reportStartFailure } from '../node-runtime/startup-error.js';

export type Supervised = {
  /** Printed once the stack answers. */
  banner: string;
  /** Stops everything, the database last. */
  close(): Promise<void>;
};

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const REPEAT_MS = 2_000;

/**
 * Runs a single-machine entry (`npm start`, `npm run sandbox`): starts it, prints its banner, and stops
 * it once on Ctrl-C, SIGTERM or a closed terminal, exiting 0 when the stop went well. Ctrl-C again
 * while stopping exits at once (the next start cleans up after it).
 */
export const supervise = async (start: () => Promise<Supervised>): Promise<void> => {
  let running: Supervised | undefined;
  let stopping = false;
  const close = (stack: Supervised) => {
    process.stdout.write('Stopping: draining sessions, then the database...\n');
    stack.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(
          `stop failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
        process.exit(1);
      },
    );
  };
  let firstSignalAt = 0;
  const stop = (signal: string) => {
    if (stopping) {
      // One Ctrl-C reaches us up to three times (the terminal's group, npm and tsx pass it on); only a
      // later one is a person asking again.
      if (Date.now() - firstSignalAt < REPEAT_MS) return;
      process.stderr.write(`${signal} again: exiting without a clean stop\n`);
      process.exit(130);
    }
    stopping = true;
    firstSignalAt = Date.now();
    // While still starting, the stop waits for the start to return.
    if (running) close(running);
  };
  for (const signal of SIGNALS) process.on(signal, () => stop(signal));
  try {
    running = await start();
  } catch (err) {
    reportStartFailure(err);
    process.exit(1);
  }
  if (stopping) close(running);
  else process.stdout.write(running.banner);
};
