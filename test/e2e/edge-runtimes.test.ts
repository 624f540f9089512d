import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { type RunningEdgeRuntime, startEdgeInDeno, startEdgeInWorkerd } from '../helpers/edge-runtimes.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { useBackend } from './backend.js';
import { pairingCodeFlow, seedFlow } from './flow.js';

// The seed flow with the edge in the real workerd (Postgres over the Hyperdrive binding) and on Deno,
// in front of a real session host and the simulator.
const SECRET = 'runtime-secret-runtime-secret-runtime-0';
const database = useTestDatabase();
const backend = useBackend(database, { hostId: 'host-runtimes', secret: SECRET });

describe.each([
  ['workerd', startEdgeInWorkerd, '21'],
  ['Deno', startEdgeInDeno, '22'],
] as const)('the seed API end to end, edge in %s', (_name, start, tag) => {
  let edge: RunningEdgeRuntime;
  beforeAll(async () => {
    edge = await start({ databaseUrl: database().url, hostSecret: SECRET });
  });
  afterAll(() => edge?.stop());

  it('create, QR, scan, status, send, logout, fresh QR', async () => {
    await seedFlow(edge.url, backend().sim, backend().adminKey, tag);
  });

  it('links by pairing code', async () => {
    await pairingCodeFlow(edge.url, backend().sim, backend().adminKey, tag);
  });

  it('serves the console and the API reference, and the console signs in in Chromium', async () => {
    for (const [path, type] of [
      ['/console', 'text/html'],
      ['/console/app.js', 'text/javascript'],
      ['/console/app.css', 'text/css'],
      ['/docs', 'text/html'],
      ['/docs/scalar.js', 'text/javascript'],
    ] as const) {
      const res = await fetch(`${edge.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toContain(type);
      if (type === 'text/html')
        expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      await res.arrayBuffer();
    }
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${edge.url}/console`);
      await page.getByLabel('API key').fill(backend().adminKey);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('table', { name: 'Sessions' }).getByText(`flow-${tag}`).waitFor();
    } finally {
      await browser.close();
    }
  });
});
