import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { matchesReadme, readmeSteps } from '../helpers/readme.js';

// The README is for a new user: its commands must work as written and its examples must match what the
// code returns. These tests run `npm run sandbox` and `npm start` as the README says, and the sandbox
// walk-through's shell blocks verbatim (only the two pasted keys are filled in).

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);
let child: ChildProcess | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  // npm, tsx and node form one process group: stop them all, as Ctrl-C in a terminal would.
  if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
  // The stack stops its embedded PostgreSQL on the way out; wait for that before deleting its files.
  for (let i = 0; i < 100 && dataDir && (await exists(join(dataDir, 'postgres', 'postmaster.pid'))); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  child = undefined;
  dataDir = undefined;
});

/** Runs an npm script the way the README says, and waits for its banner. */
const startScript = async (script: 'start' | 'sandbox', env: Record<string, string>) => {
  dataDir = await mkdtemp(join(tmpdir(), 'wa-gateway-readme-'));
  child = spawn('npm', ['run', script], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner in time:\n${out}`)), 60_000);
    child?.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Next: create a session')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child?.once('exit', (code) => reject(new Error(`npm run ${script} exited with ${code}:\n${out}`)));
  });
  return out;
};

/** Free ports only (port 0), so these tests pass while a sandbox runs on the default ones. */
const ANY_PORT = { PORT: '0', HOST_PORT: '0', WA_SIM_PORT: '0' };

/** The host:port the banner announces after `label`, e.g. `ready at http://localhost:41234`. */
const announced = (banner: string, label: string) => {
  const url = new RegExp(`${label} (http://[^\\s]+)`).exec(banner)?.[1];
  if (!url) throw new Error(`banner has no "${label}" URL:\n${banner}`);
  return new URL(url).host;
};

it('npm run sandbox serves the README walk-through exactly as written', async () => {
  const banner = await startScript('sandbox', ANY_PORT);
  const adminKey = /waga_[0-9A-Za-z]+/.exec(banner)?.[0];
  expect(adminKey).toBeDefined();
  const edgeAt = announced(banner, 'ready at');
  const simAt = announced(banner, 'Simulator control API at');
  const env = { ...process.env, ADMIN_KEY: adminKey ?? '', SESSION_KEY: '' };
  const steps = await readmeSteps('walkthrough');
  expect(steps.length).toBeGreaterThanOrEqual(8);
  for (const step of steps) {
    // The README has the user paste the two keys; everything else runs verbatim.
    const script = step.sh
      .replace(/^(ADMIN_KEY|SESSION_KEY)=.*$/gm, '')
      .replaceAll('localhost:3000', edgeAt)
      .replaceAll('localhost:3100', simAt);
    const expected: unknown = JSON.parse(step.json);
    const readOnly = !/-X POST/.test(script);
    let output = '';
    for (let attempt = 0; attempt < (readOnly ? 40 : 1); attempt++) {
      output = (await run('bash', ['-c', script], { env, cwd: ROOT })).stdout;
      if (matchesReadme(expected, JSON.parse(output))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(JSON.parse(output), `README step:\n${step.sh}`).toSatisfy((actual: unknown) =>
      matchesReadme(expected, actual),
    );
    const created = JSON.parse(output) as { apiKey?: string };
    if (created.apiKey) env.SESSION_KEY = created.apiKey;
  }
});

it('npm start boots the whole stack with an embedded database and answers its health check', async () => {
  const banner = await startScript('start', ANY_PORT);
  expect(banner).toMatch(/Admin key of the default tenant/);
  const res = await fetch(`http://${announced(banner, 'ready at')}/health`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({
    ok: true,
    database: 'ok',
    hosts: [{ id: 'host-1', live: true, draining: false, sessions: 0 }],
  });
});
