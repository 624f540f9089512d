import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { type NpmScript, startNpmScript } from '../helpers/npm-script.js';

// The console in a real Chromium, against `npm run sandbox` as a user starts it: sign in, create a
// session, link it (QR shown, a simulated phone scans it), send, see the event, keys, a webhook replay,
// the audit log, a session key's view, the operator's, wrong and revoked keys, and /docs. Each page is
// photographed at 1280×800 and at a phone's width into docs/console/ (the README shows them).

const SHOTS = new URL('../../docs/console/', import.meta.url).pathname;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let sandbox: NpmScript;
let dataDir: string;
let base: string;
let simUrl: string;
let adminKey: string;
let operatorKey: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];
let receiver: Server;
const received: { type: string; id: string }[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'wa-gateway-console-'));
  sandbox = await startNpmScript('sandbox', { DATA_DIR: dataDir });
  const out = sandbox.output();
  adminKey = /waga_[0-9A-Za-z]+/.exec(out)?.[0] ?? '';
  operatorKey = /wago_[0-9A-Za-z]+/.exec(out)?.[0] ?? '';
  base = `http://${sandbox.announced('ready at')}`;
  simUrl = `http://${sandbox.announced('Simulator control API at')}`;
  receiver = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const parsed = JSON.parse(body) as { type: string };
      received.push({ type: parsed.type, id: String(req.headers['webhook-id']) });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  await mkdir(SHOTS, { recursive: true });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: DESKTOP });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  page = await context.newPage();
  // Nothing may load from elsewhere, break the page's policy or fail in its console.
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push(`external: ${r.url()}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  receiver?.close();
  await sandbox?.signal('SIGINT');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Photographs the page at desktop and phone width, secrets masked. */
const shoot = async (name: string) => {
  const mask = [page.locator('.secret')];
  await page.screenshot({ path: join(SHOTS, `${name}.png`), mask });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), mask, fullPage: true });
  await page.setViewportSize(DESKTOP);
};

const signIn = async (key: string) => {
  await page.goto(`${base}/console`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
};

const signOut = () => page.getByRole('button', { name: 'Sign out' }).click();

const shownSecret = async (label: RegExp | string) => {
  const secret = page.locator('.secret-box').filter({ hasText: label }).locator('.secret');
  await secret.waitFor();
  return (await secret.textContent()) ?? '';
};

describe('the console in Chromium', () => {
  let sessionKey = '';

  it('serves the page under a strict Content-Security-Policy', async () => {
    const res = await fetch(`${base}/console`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self';");
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await res.text()).not.toMatch(/<script>|<style>| style=/);
  });

  it('a wrong key shows an error, not a blank page', async () => {
    await signIn('waga_thisisnotakeythisisnotakey000000');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('INVALID_API_KEY');
    await shoot('sign-in-error');
  });

  it('signs in as the tenant admin and creates a session, its key shown once with a copy button', async () => {
    await signIn(adminKey);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await page.getByLabel('Session id').fill('console-demo');
    await page.getByLabel('Description').fill('made in the console');
    await page.getByRole('button', { name: 'Create session' }).click();
    sessionKey = await shownSecret('console-demo');
    expect(sessionKey).toMatch(/^wags_/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(sessionKey);
    await page.getByRole('table', { name: 'Sessions' }).getByText('console-demo').waitFor();
    await shoot('sessions');
  });

  it('links the session by its live QR (a simulated phone scans it) and sends a test message', async () => {
    await page.getByRole('link', { name: /Link console-demo now/ }).click();
    await page.getByRole('button', { name: 'Show QR code' }).click();
    const qr = page.getByAltText('QR code to scan with WhatsApp');
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    await shoot('session-link');
    await page.getByRole('button', { name: 'Simulate a phone scan' }).click();
    await page.locator('.status-line [data-state="connected"]').waitFor({ timeout: 30_000 });
    await page.getByLabel('To (international number)').fill('6289876543210');
    await page.getByLabel('Message', { exact: true }).fill('Halo dari console');
    await page.getByRole('button', { name: 'Send' }).click();
    const sent = await page.getByText(/^Sent: /).textContent();
    const id = sent?.replace('Sent: ', '');
    await expect
      .poll(async () => {
        const inbox = (await (await fetch(`${simUrl}/sim/contacts/6289876543210/messages`)).json()) as {
          id: string;
          text: string;
        }[];
        return inbox.find((m) => m.id === id)?.text;
      })
      .toBe('Halo dari console');
    await shoot('session-connected');
  });

  it('links another session by pairing code, typed on the simulated phone', async () => {
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Sessions' }).click();
    await page.getByLabel('Session id').fill('console-code');
    await page.getByRole('button', { name: 'Create session' }).click();
    const codeKey = await shownSecret('console-code');
    await page.getByRole('link', { name: /Link console-code now/ }).click();
    await page.getByLabel('Phone number').fill('+62 811 2222 3333');
    await page.getByRole('button', { name: 'Get pairing code' }).click();
    const code = (await page.locator('output.code').textContent()) ?? '';
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    await shoot('session-pairing-code');
    const typed = await fetch(`${simUrl}/sim/pair-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone: '6281122223333', code }),
    });
    expect(typed.status).toBe(200);
    await page.locator('.status-line [data-state="connected"]').waitFor({ timeout: 30_000 });
    // A linked session is refused another code: the form is gone, and the API says why.
    const again = await fetch(`${base}/api/session/pairing-code`, {
      method: 'POST',
      headers: { 'x-api-key': codeKey, 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumber: '6281122223333' }),
    });
    expect(again.status).toBe(409);
  });

  it("the sandbox's simulated scan refuses bad input and a linked session", async () => {
    const scan = async (key: string, body: unknown) => {
      const res = await fetch(`${base}/api/sandbox/scan`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { code?: string } };
    };
    expect(await scan(sessionKey, { phone: 6281234567890 })).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_ERROR' },
    });
    expect(await scan(sessionKey, { phone: '6281234567890' })).toMatchObject({
      status: 409,
      body: { code: 'ALREADY_LINKED' },
    });
    // Only a session's own key: an admin key is the wrong kind.
    expect(await scan(adminKey, { phone: '6281234567890' })).toMatchObject({
      status: 403,
      body: { code: 'WRONG_SCOPE' },
    });
  });

  it('shows the events as they happen', async () => {
    await page.getByRole('link', { name: 'Events' }).click();
    const events = page.getByRole('table', { name: 'Events' });
    await events.getByText('message.sent').first().waitFor();
    await events.getByText('session.status').first().waitFor();
    await shoot('events');
  });

  it('adds a webhook, sends a test event and replays its delivery', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    await page.getByLabel('URL').fill(url);
    await page.getByRole('button', { name: 'Add webhook' }).click();
    expect(await shownSecret('Signing secret')).toMatch(/^whsec_/);
    await page.getByRole('link', { name: url }).click();
    await page.getByRole('button', { name: 'Send a test event' }).click();
    const log = page.getByRole('table', { name: 'Deliveries' });
    await log.getByText('webhook.test').first().waitFor({ timeout: 30_000 });
    await expect.poll(() => received.filter((r) => r.type === 'webhook.test').length).toBe(1);
    await log.getByRole('button', { name: 'Replay' }).first().click();
    await page.getByText(/Replayed 1 event/).waitFor();
    // The same event again, under its own id.
    await expect.poll(() => received.filter((r) => r.type === 'webhook.test').length).toBe(2);
    const [first, again] = received.filter((r) => r.type === 'webhook.test');
    expect(again?.id).toBe(first?.id);
    await shoot('webhook');
  });

  it('issues a key (shown once), revokes it, and the audit log says who did what', async () => {
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByLabel('Session (for a session key)').fill('console-demo');
    await page.getByLabel('Label').fill('ci-key');
    await page.getByRole('button', { name: 'Issue key' }).click();
    const issued = await shownSecret('New session key');
    // Re-rolled: a new key replaces it (shown once), the old one is marked replaced.
    const before = page.getByRole('row').filter({ hasText: 'ci-key' }).first();
    await before.getByRole('button', { name: 'Re-roll' }).click();
    const rolled = await shownSecret('New key replacing');
    expect(rolled).toMatch(/^wags_/);
    expect(rolled).not.toBe(issued);
    expect((await fetch(`${base}/api/session/status`, { headers: { 'x-api-key': rolled } })).status).toBe(
      200,
    );
    const row = page
      .getByRole('row')
      .filter({ hasText: 'ci-key' })
      .filter({ has: page.getByRole('button', { name: 'Revoke' }) });
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page
      .getByRole('row')
      .filter({ hasText: rolled.slice(0, 10) })
      .locator('[data-state="revoked"]')
      .waitFor();
    await shoot('keys');
    // The revoked key no longer works anywhere.
    const refused = await fetch(`${base}/api/session/status`, { headers: { 'x-api-key': rolled } });
    expect(refused.status).toBe(403);

    await page.getByRole('link', { name: 'Audit log' }).click();
    const audit = page.getByRole('table', { name: 'Audit log' });
    await audit.getByText('key.revoke').first().waitFor();
    await audit.getByText('session.create').first().waitFor();
    await shoot('audit');
  });

  it('with a session key shows only what that key may do', async () => {
    await signOut();
    await signIn(sessionKey);
    await page.getByRole('heading', { name: 'This session' }).waitFor();
    await page.locator('.status-line [data-state="connected"]').waitFor();
    const nav = page.getByRole('navigation', { name: 'Console' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Session', 'Events']);
    // A route it may not use is not shown: back to its own page.
    await page.goto(`${base}/console#/keys`);
    await page.getByRole('heading', { name: 'This session' }).waitFor();
    await shoot('session-key');
  });

  it('a key revoked while signed in ends the visit with the reason', async () => {
    const made = await fetch(`${base}/api/admin/keys`, {
      method: 'POST',
      headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'session', sessionId: 'console-demo', label: 'short-lived' }),
    });
    const { apiKey, key } = (await made.json()) as { apiKey: string; key: { id: string } };
    await signOut();
    await signIn(apiKey);
    await page.getByRole('heading', { name: 'This session' }).waitFor();
    await fetch(`${base}/api/admin/keys/${key.id}/revoke`, {
      method: 'POST',
      headers: { 'x-api-key': adminKey },
    });
    await page.getByLabel('API key').waitFor({ timeout: 20_000 });
    expect(await page.getByRole('alert').textContent()).toContain('INVALID_API_KEY');
    // And signing in with it again is refused the same way.
    await signIn(apiKey);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('INVALID_API_KEY');
  });

  it('a key that expires while signed in ends the visit too', async () => {
    const made = await fetch(`${base}/api/admin/keys`, {
      method: 'POST',
      headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
      body: JSON.stringify({
        scope: 'admin',
        label: 'expiring',
        expiresAt: new Date(Date.now() + 4_000).toISOString(),
      }),
    });
    expect(made.status).toBe(201);
    const { apiKey } = (await made.json()) as { apiKey: string };
    await signIn(apiKey);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await page.getByLabel('API key').waitFor({ timeout: 30_000 });
    expect(await page.getByRole('alert').textContent()).toContain('INVALID_API_KEY');
  });

  it('the operator sees tenants and hosts', async () => {
    await signIn(operatorKey);
    const tenants = page.getByRole('table', { name: 'Tenants' });
    await tenants.getByText('default').first().waitFor();
    await page.getByLabel('Name').fill('acme');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    expect(await shownSecret('Admin key for acme')).toMatch(/^waga_/);
    await tenants.getByText('acme').waitFor();
    await shoot('tenants');
    await page.getByRole('link', { name: 'Hosts' }).click();
    await page.getByRole('table', { name: 'Hosts' }).locator('[data-state="live"]').first().waitFor();
    await shoot('hosts');
  });

  it('/docs renders the API reference from /openapi.json, all of it served here', async () => {
    const res = await page.goto(`${base}/docs`);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'none'");
    await page.getByText('What this service is and where to go next').first().waitFor({ timeout: 30_000 });
    await page.getByText('Sessions', { exact: true }).first().waitFor();
    await page.getByText('Multi-tenant WhatsApp gateway').first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'docs.png') });
  });

  it('loaded nothing from elsewhere and broke no policy', () => {
    expect(problems).toEqual([]);
  });
});
