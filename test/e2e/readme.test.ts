import { execFile } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { type NpmScript, startNpmScript } from '../helpers/npm-script.js';
import { matchesReadme, readmeSteps } from '../helpers/readme.js';
import { until } from './flow.js';

// The README is for a new user: its commands must work as written and its examples must match what the
// code returns. These tests run `npm run sandbox` and `npm start` as the README says (on free ports), and
// the sandbox walk-through's shell blocks verbatim (only the two pasted keys and the ports are filled in).

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);
let script: NpmScript | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  // As Ctrl-C in a terminal would; the stack stops its embedded PostgreSQL last.
  await script?.signal('SIGINT');
  for (let i = 0; i < 100 && dataDir && (await exists(join(dataDir, 'postgres', 'postmaster.pid'))); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  script = undefined;
  dataDir = undefined;
});

const start = async (name: 'start' | 'sandbox') => {
  dataDir = await mkdtemp(join(tmpdir(), 'wa-gateway-readme-'));
  script = await startNpmScript(name, { DATA_DIR: dataDir });
  return script;
};

it('npm run sandbox serves the README walk-through exactly as written', async () => {
  const sandbox = await start('sandbox');
  const adminKey = /waga_[0-9A-Za-z]+/.exec(sandbox.output())?.[0];
  expect(adminKey).toBeDefined();
  const edgeAt = sandbox.announced('ready at');
  const simAt = sandbox.announced('Simulator control API at');
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

it('npm start boots the whole stack with an embedded database, and its health check tells the truth', async () => {
  // No internet here: the host cannot reach WhatsApp, and /health must not say ok.
  const started = await start('start');
  expect(started.output()).toMatch(/Admin key of the default tenant/);
  const health = await until(async () => {
    const res = await fetch(`http://${started.announced('ready at')}/health`);
    const body = (await res.json()) as { whatsapp: string };
    return body.whatsapp === 'unknown' ? undefined : { status: res.status, body };
  });
  expect(health).toEqual({
    status: 503,
    body: {
      ok: false,
      status: 'degraded',
      database: 'ok',
      sessionHosts: 'ok',
      whatsapp: 'unreachable',
      problems: ['no session host can reach WhatsApp'],
    },
  });
});
