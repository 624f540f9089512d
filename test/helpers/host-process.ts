// A session host in a process of its own, as an operator runs it (node-runtime/host/main.ts), so tests
// can kill it with SIGKILL or stop it with SIGTERM like the real thing.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HOST_MAIN = fileURLToPath(new URL('../../node-runtime/host/main.ts', import.meta.url));
/** The last lines a host logged (at HOST_LOG_LEVEL, warn by default), kept to explain a failure. */
const LOG_LINES_KEPT = 2_000;
const logs = new WeakMap<ChildProcess, string[]>();

/** What the host logged lately, oldest first. */
export const hostLogOf = (child: ChildProcess): readonly string[] => logs.get(child) ?? [];

export type HostProcessOptions = {
  databaseUrl: string;
  hostId: string;
  secret: string;
  webhookKey: string;
  sim: { wsUrl: string; trustRoot: string };
  env?: Record<string, string>;
};

/** Starts the host on a free port; resolves with the child once it says it is up. */
export async function startHostProcess(options: HostProcessOptions): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOST_MAIN], {
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      EDGE_HOST_SECRET: options.secret,
      WEBHOOK_SECRET_KEY: options.webhookKey,
      HOST_ID: options.hostId,
      HOST_PORT: '0',
      WA_WS_URL: options.sim.wsUrl,
      WA_TRUST_ROOT: options.sim.trustRoot,
      LOG_LEVEL: process.env.HOST_LOG_LEVEL ?? 'warn',
      // A killed host's successor waits for its lease to lapse: short, so restarts in tests stay quick.
      HOST_LEASE_SECONDS: '3',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // HOST_LOG_DIR=/some/dir keeps each host's log (at HOST_LOG_LEVEL, warn by default) for a failure to be
  // read afterwards.
  const logDir = process.env.HOST_LOG_DIR;
  if (logDir) child.stdout?.pipe(createWriteStream(join(logDir, `${options.hostId}-${child.pid}.log`)));
  const lines: string[] = [];
  logs.set(child, lines);
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`host exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > LOG_LINES_KEPT) lines.shift();
      const ready = line.startsWith('{') ? (JSON.parse(line) as { hostId?: string; url?: string }) : {};
      if (ready.hostId === options.hostId && ready.url) resolve();
    });
  });
  return child;
}

/** Sends `signal` and resolves with the exit code once the process is gone. */
export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}
