// The README's "Tenants and keys" walk-through, run as written (curl in bash) against an edge on a fresh
// database, so its examples keep matching what the code returns. Lines where the reader pastes a value
// (`ADMIN_KEY=...`) get the latest such value from the answers before them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { ensureDefaultTenant, ensureOperatorKey } from '../../edge/tenancy/bootstrap.js';
import { matchesReadme, readmeSteps } from '../helpers/readme.js';
import { TestClock } from './admin-helpers.js';
import { useEdge } from './fixture.js';
import type { TestEdge } from './helpers.js';

const run = promisify(execFile);
const PASTED = /^(OPERATOR_KEY|ADMIN_KEY|SESSION_KEY|KEY_ID|TENANT_ID)=.*$/gm;

let operatorKey: string;
const fx = useEdge({
  hosts: ['host-readme'],
  tenants: [],
  edge: async ({ database }) => {
    // As the first start of `npm run sandbox` does.
    await ensureDefaultTenant(database.db);
    operatorKey = String((await ensureOperatorKey(database.db)).operatorKey);
    return { now: new TestClock().now };
  },
});
let edge: TestEdge;

beforeAll(() => {
  ({ edge } = fx());
});

it('the README walk-through of tenants and keys runs as written and answers as shown', async () => {
  const all = await readmeSteps('tenancy');
  expect(all.length).toBeGreaterThanOrEqual(15);
  const latest: Record<string, string> = { OPERATOR_KEY: operatorKey };
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  const base = new URL(edge.url).host;
  for (const step of all) {
    for (const [, name] of step.sh.matchAll(PASTED)) {
      if (name) env[name] = latest[name] ?? '';
    }
    const script = step.sh.replace(PASTED, '').replaceAll('localhost:3000', base);
    const { stdout } = await run('bash', ['-c', script], { env });
    const actual: unknown = JSON.parse(stdout);
    expect(actual, `README step:\n${step.sh}`).toSatisfy((a: unknown) =>
      matchesReadme(JSON.parse(step.json), a),
    );

    // What a reader would copy from this answer for a later step.
    const answer = actual as { apiKey?: string; tenant?: { id: string }; key?: { id: string } };
    if (answer.apiKey?.startsWith('waga_')) latest.ADMIN_KEY = answer.apiKey;
    if (answer.apiKey?.startsWith('wags_')) latest.SESSION_KEY = answer.apiKey;
    if (answer.key?.id) latest.KEY_ID = answer.key.id;
    if (answer.tenant?.id) latest.TENANT_ID = answer.tenant.id;
  }
});
