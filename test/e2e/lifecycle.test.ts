// The single-machine stack on a bad day, run as a user runs it (`npm start` in a terminal job of its own,
// pointed at a simulator with WA_WS_URL): Ctrl-C with linked sessions stops cleanly and the next start
// resumes them; after kill -9 of the whole job the next start finds the database it left running, says
// so in one line, and resumes the sessions with no QR; a start that cannot bind its port says so in one
// line, makes no keys, and leaves nothing running.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isAlive } from '../../node-runtime/db/embedded-process.js';
import { type NpmScript, startNpmScript } from '../helpers/npm-script.js';
import { type SimServer, startSimulator } from '../wa-sim/server.js';
import { api, linkByQr, until } from './flow.js';

let sim: SimServer;
let dataDir: string;
const running: NpmScript[] = [];
/** Directories made for one test, removed with the rest once the scripts that use them have stopped. */
const scratch: string[] = [];
const scratchDir = async (prefix: string) => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};

const startGateway = async (env: Record<string, string> = {}) => {
  const started = await startNpmScript('start', {
    DATA_DIR: dataDir,
    WA_WS_URL: sim.wsUrl,
    WA_TRUST_ROOT: sim.trustRoot,
    LOG_LEVEL: 'info',
    ...env,
  });
  running.push(started);
  return { script: started, url: `http://${started.announced('ready at')}` };
};

const connected = (url: string, key: string) =>
  until(async () => {
    const res = await api(url, 'GET', '/api/session/status', { key });
    return res.body?.connected ? res.body : undefined;
  }, 30_000);

/** pino's JSON lines at error level or worse. */
const errorLines = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter((entry) => entry.level >= 50);

const postgresPid = async () =>
  Number.parseInt(
    (await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '',
    10,
  );

beforeAll(async () => {
  sim = await startSimulator();
  dataDir = await mkdtemp(join(tmpdir(), 'wa-gateway-lifecycle-'));
});
afterAll(async () => {
  for (const script of running) await script.signal('SIGINT');
  await sim?.close();
  for (const dir of [dataDir, ...scratch]) await rm(dir, { recursive: true, force: true });
});

it('Ctrl-C and kill -9 with linked sessions: each next start resumes them with no QR', async () => {
  // First start: keys printed, two sessions linked.
  const first = await startGateway();
  const adminKey = /waga_[0-9A-Za-z]+/.exec(first.script.output())?.[0] ?? '';
  expect(adminKey).not.toBe('');
  const keys: string[] = [];
  for (const [name, phone] of [
    ['kasir-1', '628600000001'],
    ['kasir-2', '628600000002'],
  ] as const) {
    const created = await api(first.url, 'POST', '/api/session/create', {
      key: adminKey,
      body: { sessionId: name },
    });
    const key = created.body.apiKey as string;
    await linkByQr(first.url, sim, key, phone, name);
    await connected(first.url, key);
    keys.push(key);
  }

  // Ctrl-C: the job gets SIGINT (PostgreSQL, in its own group, does not); a clean stop, exit 0.
  expect(await first.script.signal('SIGINT')).toBe(0);
  expect(errorLines(first.script.output())).toEqual([]);

  const second = await startGateway();
  expect(second.script.output()).not.toMatch(/earlier run/);
  for (const key of keys) await connected(second.url, key);

  // kill -9 of the whole job: nothing runs its shutdown, the database is left running.
  const leftRunning = await postgresPid();
  expect(await second.script.signal('SIGKILL')).toBe('SIGKILL');
  expect(isAlive(leftRunning)).toBe(true);

  // The edge's own settings work under npm start: a send burst of one per session.
  const third = await startGateway({
    EDGE_SEND_PER_SESSION_BURST: '1',
    EDGE_SEND_PER_SESSION_PER_SECOND: '0.01',
  });
  const notices = third.script
    .output()
    .split('\n')
    .filter((line) => /earlier run/.test(line));
  expect(notices).toHaveLength(1);
  expect(notices[0]).toContain(String(leftRunning));
  expect(isAlive(leftRunning)).toBe(false);
  for (const key of keys) {
    const status = await connected(third.url, key);
    expect(status.user.id).toMatch(/^6286000000\d\d@s\.whatsapp\.net$/);
  }
  // Resumed, never paired again: each phone still has one linked device.
  for (const phone of ['628600000001', '628600000002']) {
    const account = (await (await fetch(`${sim.url}/sim/accounts/${phone}`)).json()) as {
      devices: unknown[];
    };
    expect(account.devices).toHaveLength(1);
  }
  const sent = await api(third.url, 'POST', '/api/send', {
    key: keys[0],
    body: { to: '628600000099', message: 'after kill -9' },
  });
  expect(sent.status).toBe(200);
  const limited = await api(third.url, 'POST', '/api/send', {
    key: keys[0],
    body: { to: '628600000099', message: 'one too many' },
  });
  expect(limited.status).toBe(429);
  expect(limited.body).toMatchObject({ code: 'RATE_LIMITED', details: { limit: 'session' } });
  expect(await third.script.signal('SIGINT')).toBe(0);
  expect(errorLines(third.script.output())).toEqual([]);
});

it('the sandbox after kill -9: its simulated network kept its world, the sessions resume with no QR', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wa-gateway-sandbox-'));
  const sandbox = async () => {
    const started = await startNpmScript('sandbox', { DATA_DIR: dir, LOG_LEVEL: 'info' });
    running.push(started);
    return {
      script: started,
      url: `http://${started.announced('ready at')}`,
      simUrl: `http://${started.announced('Simulator control API at')}`,
    };
  };
  const first = await sandbox();
  const adminKey = /waga_[0-9A-Za-z]+/.exec(first.script.output())?.[0] ?? '';
  const created = await api(first.url, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: 'toko' },
  });
  const key = created.body.apiKey as string;
  await linkByQr(first.url, { url: first.simUrl }, key, '628600000010', 'Toko');
  await connected(first.url, key);
  // The simulator writes its world within a moment of a change; then the whole job is killed.
  await new Promise((r) => setTimeout(r, 1_000));
  expect(await first.script.signal('SIGKILL')).toBe('SIGKILL');

  const second = await sandbox();
  expect(
    second.script
      .output()
      .split('\n')
      .filter((line) => /earlier run/.test(line)),
  ).toHaveLength(1);
  const status = await connected(second.url, key);
  expect(status.user).toEqual({ id: '628600000010@s.whatsapp.net', name: 'Toko' });
  const account = (await (await fetch(`${second.simUrl}/sim/accounts/628600000010`)).json()) as {
    devices: unknown[];
  };
  expect(account.devices).toHaveLength(1);
  const sent = await api(second.url, 'POST', '/api/send', {
    key,
    body: { to: '628600000011', message: 'after the sandbox was killed' },
  });
  expect(sent.status).toBe(200);
  expect(await second.script.signal('SIGINT')).toBe(0);
  expect(errorLines(second.script.output())).toEqual([]);
  await rm(dir, { recursive: true, force: true });
});

it('a start whose port is taken says so in one line, makes no keys and leaves nothing running', async () => {
  const holder = await startGateway({ DATA_DIR: await scratchDir('wa-gateway-holder-') });
  const port = new URL(holder.url).port;
  const fresh = await mkdtemp(join(tmpdir(), 'wa-gateway-taken-'));
  const failed = await startNpmScript('start', { DATA_DIR: fresh, PORT: port, WA_WS_URL: sim.wsUrl }).then(
    () => {
      throw new Error('started on a taken port');
    },
    (err: Error) => err.message,
  );
  expect(failed).toMatch(/exited with 1/);
  const lines = failed.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('npm run'));
  expect(lines).toEqual([
    `error: port ${port} is already in use (is the gateway running already?): stop what holds it, or set PORT`,
  ]);
  expect(failed).not.toMatch(/waga_|wago_/);
  // Its database was stopped on the way out.
  await expect(readFile(join(fresh, 'postgres', 'postmaster.pid'))).rejects.toThrow();
  await rm(fresh, { recursive: true, force: true });
});

it('a data directory that cannot be made is one line with the fix, no stack trace', async () => {
  // A path under a regular file can never be a directory, whoever runs this (root included).
  const file = join(await scratchDir('wa-gateway-file-'), 'not-a-dir');
  await writeFile(file, 'x');
  const failed = await startNpmScript('start', { DATA_DIR: join(file, 'data') }).then(
    () => 'started',
    (err: Error) => err.message,
  );
  const lines = failed.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('npm run'));
  expect(lines).toEqual([
    `error: cannot create the data directory ${join(file, 'data')}: set DATA_DIR to a writable place`,
  ]);
});

it('run by hand on a Node.js older than 22, the entry says so in one line', async () => {
  // The machine's own Node, found on PATH past node_modules/.bin (Node 20 on CI); skipped where none is old.
  const machineNode = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => !dir.includes('node_modules'))
    .map((dir) => join(dir, 'node'))
    .find((path) => existsSync(path));
  const version = machineNode ? execFileSync(machineNode, ['--version']).toString().trim() : 'v0';
  if (!machineNode || Number(version.slice(1).split('.')[0]) >= 22) return;
  const result = spawnSync(machineNode, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: new URL('../../', import.meta.url).pathname,
    encoding: 'utf8',
  });
  expect(result.status).toBe(1);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/needs Node\.js 22\.12 or newer, not v\d+/);
});
