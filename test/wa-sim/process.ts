import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type SimProcess = {
  url: string;
  wsUrl: string;
  trustRoot: string;
  mediaUrl: string;
  mediaCa: string;
  child: ChildProcess;
  stop(): Promise<void>;
};

/**
 * Starts the simulator in a child process (so its memory can be measured apart from the clients, or it
 * can be killed). With `dataDir`, it keeps its world there.
 */
export const spawnSimulator = async (port = 0, opts: { dataDir?: string } = {}): Promise<SimProcess> => {
  // Compiled (dist/, run by the bench) starts compiled; from source (tests) through tsx.
  const compiled = import.meta.url.endsWith('.js');
  const main = fileURLToPath(new URL(compiled ? './main.js' : './main.ts', import.meta.url));
  const { WA_SIM_DATA_DIR: _, ...env } = process.env;
  const child = spawn(process.execPath, compiled ? [main] : ['--import', 'tsx', main], {
    env: { ...env, WA_SIM_PORT: String(port), ...(opts.dataDir ? { WA_SIM_DATA_DIR: opts.dataDir } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
  });
  const info = JSON.parse(line) as Pick<SimProcess, 'url' | 'wsUrl' | 'trustRoot' | 'mediaUrl' | 'mediaCa'>;
  return {
    ...info,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
};
