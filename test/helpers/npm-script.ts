// `npm start` and `npm run sandbox` as a user runs them: in a process group of their own, as a terminal's
// foreground job, so a test can press Ctrl-C (SIGINT to the group) or kill the whole job with SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url).pathname;

export type NpmScript = {
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string;
  /** The host:port the banner announces after `label`, e.g. `ready at` gives `localhost:41234`. */
  announced(label: string): string;
  /** The command lines of the job's processes (its process group), each as its arguments. */
  commandLines(): string[][];
  /** Sends `signal` to the whole job (npm, node); resolves with the exit code (or signal). */
  signal(signal: NodeJS.Signals): Promise<number | NodeJS.Signals | null>;
  exited: Promise<number | NodeJS.Signals | null>;
};

/** Free ports only, so tests pass while a sandbox runs on the default ones. */
export const ANY_PORTS = { PORT: '0', HOST_PORT: '0', WA_SIM_PORT: '0' };

/**
 * Runs `npm run <script>` and resolves once it printed `ready` (default: the end of the stack's banner;
 * `npm run host` prints a JSON line with its `url`).
 */
export async function startNpmScript(
  script: 'start' | 'sandbox' | 'edge' | 'host',
  env: Record<string, string>,
  timeoutMs = 60_000,
  ready = 'Next: create a session',
): Promise<NpmScript> {
  const child = spawn('npm', ['run', '--silent', script], {
    cwd: ROOT,
    env: { ...process.env, ...ANY_PORTS, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  const running: NpmScript = {
    child,
    output: () => out,
    commandLines: () => (child.pid ? groupCommandLines(child.pid) : []),
    announced(label) {
      const url = new RegExp(`${label} (http://[^\\s]+)`).exec(out)?.[1];
      if (!url) throw new Error(`no "${label}" URL in:\n${out}`);
      return new URL(url).host;
    },
    async signal(signal) {
      if (child.pid && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      }
      return exited;
    },
    exited,
  };
  const end = Date.now() + timeoutMs;
  while (!out.includes(ready)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`npm run ${script} exited with ${child.exitCode ?? child.signalCode}:\n${out}`);
    }
    if (Date.now() > end) {
      await running.signal('SIGKILL');
      throw new Error(`npm run ${script}: no banner in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return running;
}

/** The command lines of the processes in process group `group`, from /proc (Linux). */
function groupCommandLines(group: number): string[][] {
  const lines: string[][] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state, ppid, pgrp, ...
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp !== group) continue;
      lines.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean));
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}
