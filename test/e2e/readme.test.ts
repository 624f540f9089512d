import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { type NpmScript, startNpmScript } from '../helpers/npm-script.js';
import { readmeCode, readmeSteps, runSteps } from '../helpers/readme.js';
import { api, linkByQr, until } from './flow.js';

// The README is for a new user: its commands must work as written and its examples must match what the
// code returns. These tests run `npm run sandbox` and `npm start` as the README says (on free ports), and
// the sandbox walk-through's shell blocks verbatim (only the two pasted keys and the ports are filled in).

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

const ROOT = new URL('../../', import.meta.url).pathname;
let script: NpmScript | undefined;
let dataDir: string | undefined;

let receiver: ChildProcess | undefined;

afterEach(async () => {
  receiver?.kill();
  receiver = undefined;
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
  await runSteps(steps, { env, hosts: { 'localhost:3000': edgeAt, 'localhost:3100': simAt } }, (answer) => {
    const created = answer as { apiKey?: string };
    if (created.apiKey) env.SESSION_KEY = created.apiKey;
  });
});

it('npm start boots the whole stack with an embedded database, and its health check tells the truth', async () => {
  // No internet here: the host cannot reach WhatsApp, and /health must not say ok.
  const started = await start('start');
  expect(started.output()).toMatch(/Admin key of the default tenant/);
  // It runs the compiled JavaScript, with no TypeScript loader (tsx) and no source-map support.
  const node = started.commandLines().find((args) => args.some((a) => a.endsWith('start.js')));
  expect(node?.slice(1)).toEqual(['dist/scripts/start.js']);
  expect(started.commandLines().flat().join(' ')).not.toMatch(/tsx|enable-source-maps/);
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

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

it("the README's events, webhooks and sending walk-throughs: a verified delivery, an idempotent send", async () => {
  const sandbox = await start('sandbox');
  const adminKey = /waga_[0-9A-Za-z]+/.exec(sandbox.output())?.[0] ?? '';
  const edgeAt = sandbox.announced('ready at');
  const simAt = sandbox.announced('Simulator control API at');
  // As the reader has it from the walk-through above: a session linked to 6281234567890.
  const created = await api(`http://${edgeAt}`, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: 'my-session', description: 'Toko Budi' },
  });
  const sessionKey = created.body.apiKey as string;
  await linkByQr(`http://${edgeAt}`, { url: `http://${simAt}` }, sessionKey, '6281234567890', 'Budi');
  await until(async () =>
    (await api(`http://${edgeAt}`, 'GET', '/api/session/status', { key: sessionKey })).body.connected
      ? true
      : undefined,
  );

  // The receiver, saved and started as the README says, where it finds `standardwebhooks`.
  const receiverPort = await freePort();
  const receiverDir = join(ROOT, '.data', `readme-receiver-${receiverPort}`);
  await mkdir(receiverDir, { recursive: true });
  await writeFile(join(receiverDir, 'receiver.mjs'), await readmeCode('receiver'));
  let printed = '';

  const env = { ...process.env, ADMIN_KEY: adminKey, SESSION_KEY: sessionKey };
  const steps = await readmeSteps('events');
  expect(steps.length).toBe(4);
  const hosts = {
    'localhost:3000': edgeAt,
    'localhost:3100': simAt,
    'localhost:4000': `localhost:${receiverPort}`,
  };
  await runSteps(steps, { env, hosts }, async (answer, i) => {
    if (i !== 0) return;
    // "Start the receiver with that secret (WEBHOOK_SECRET=whsec_... node receiver.mjs)".
    receiver = spawn('node', ['receiver.mjs'], {
      cwd: receiverDir,
      env: {
        ...process.env,
        WEBHOOK_SECRET: (answer as { secret: string }).secret,
        PORT: String(receiverPort),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    receiver.stdout?.on('data', (d: Buffer) => {
      printed += d.toString();
    });
    await new Promise((r) => setTimeout(r, 500));
  });
  // What the README says the receiver prints: the verified event.
  const line = await until(async () => printed.split('\n').find((l) => l.startsWith('message.received ')));
  const data = JSON.parse(line.slice('message.received '.length)) as {
    sessionId: string;
    message: { text: string };
  };
  expect(data.sessionId).toBe('my-session');
  expect(data.message.text).toBe('Masih ada stok?');

  // "Sending reliably", on the same session: the replay is the same message, and it is the one delivered.
  const sending = await readmeSteps('sending');
  expect(sending.length).toBe(6);
  const answers: unknown[] = [];
  await runSteps(sending, { env, hosts }, (answer) => {
    answers.push(answer);
  });
  const [queued, replayed, , listed] = answers as [
    { id: string },
    { id: string },
    unknown,
    { messages: { id: string }[] },
  ];
  expect(replayed.id).toBe(queued.id);
  expect(listed.messages[0]?.id).toBe(queued.id);
  const inbox = (await (await fetch(`http://${simAt}/sim/contacts/6289876543210/messages`)).json()) as {
    id: string;
    deliveries?: number;
  }[];
  expect(inbox.filter((m) => m.id === queued.id)).toEqual([expect.not.objectContaining({ deliveries: 2 })]);
  await rm(receiverDir, { recursive: true, force: true });

  // "Files, locations, reactions and chats", on the same session: each kind reaches the contact's phone,
  // which downloaded and checked every file.
  // Back to the sandbox's quick pacing (the section above set a careful one), so this takes seconds.
  await api(`http://${edgeAt}`, 'PATCH', '/api/admin/sessions/my-session', {
    key: adminKey,
    body: { pacing: null },
  });
  const rich = await readmeSteps('rich');
  expect(rich.length).toBe(11);
  const phoneBefore = new Date().toISOString();
  await runSteps(rich, { env, hosts });
  // Everything the section sent, as the contact's phone got it (the reply's question is a plain text).
  const kinds = ['image', 'document', 'video', 'audio', 'sticker', 'location', 'contact', 'text', 'reaction'];
  const phone = await until(async () => {
    const got = (await (await fetch(`http://${simAt}/sim/contacts/6289876543210/messages`)).json()) as {
      at: string;
      type?: string;
    }[];
    const typed = got.filter((m) => m.at >= phoneBefore && m.type);
    return typed.length === kinds.length ? typed : undefined;
  }, 30_000);
  expect(phone.map((m) => m.type)).toEqual(kinds);
  expect(phone[0]).toMatchObject({ caption: 'Foto produk', mimetype: 'image/png', size: 70 });
  expect(phone[1]).toMatchObject({
    fileName: 'faktur-1042.pdf',
    caption: 'Faktur #1042',
    mimetype: 'application/pdf',
  });
  expect(phone[3]).toMatchObject({ ptt: true, mimetype: 'audio/ogg; codecs=opus' });
  expect(phone[4]).toMatchObject({ mimetype: 'image/webp' });
  expect(await exists(join(ROOT, 'faktur-1042.pdf'))).toBe(false);
});
