// The README's "Tenants and keys" walk-through, run as written (curl in bash) against an edge on a fresh
// database, so its examples keep matching what the code returns. Lines where the reader pastes a value
// (`ADMIN_KEY=...`) get the latest such value from the answers before them.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureDefaultTenant, ensureOperatorKey } from '../../edge/bootstrap.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { startTenancyEdge, TestClock } from './admin-helpers.js';
import { HOST_SECRET, putHost, type TestEdge } from './helpers.js';
import { type StandInHost, startStandInHost } from './stand-in-host.js';

const run = promisify(execFile);
const README = new URL('../../README.md', import.meta.url);
const PASTED = /^(OPERATOR_KEY|ADMIN_KEY|SESSION_KEY|KEY_ID|TENANT_ID)=.*$/gm;

const database = useTestDatabase();
let edge: TestEdge;
let host: StandInHost;
let operatorKey: string;

beforeAll(async () => {
  const { db } = database();
  host = await startStandInHost({ id: 'host-readme', secret: HOST_SECRET });
  await putHost(db, { id: host.id, url: host.url });
  // As the first start of `npm run sandbox` does.
  await ensureDefaultTenant(db);
  operatorKey = String((await ensureOperatorKey(db)).operatorKey);
  edge = await startTenancyEdge(db, new TestClock());
});

afterAll(async () => {
  await edge?.close();
  await host?.close();
});

/** The section's shell blocks, each with the JSON the README shows after it. */
async function steps(): Promise<{ sh: string; json: string }[]> {
  const readme = await readFile(README, 'utf8');
  const section = readme.split('<!-- tenancy:start -->')[1]?.split('<!-- tenancy:end -->')[0] ?? '';
  const blocks = [...section.matchAll(/```(sh|json)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1],
    text: m[2] ?? '',
  }));
  const out: { sh: string; json: string }[] = [];
  blocks.forEach((block, i) => {
    const next = blocks[i + 1];
    if (block.lang === 'sh' && next?.lang === 'json') out.push({ sh: block.text, json: next.text });
  });
  return out;
}

/** Whether `actual` has the README's shape: same keys and values, where "x..." means "starts with x". */
function matches(expected: unknown, actual: unknown): boolean {
  if (typeof expected === 'string' && expected.endsWith('...')) {
    return typeof actual === 'string' && actual.startsWith(expected.slice(0, -3));
  }
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      expected.length === actual.length &&
      expected.every((e, i) => matches(e, actual[i]))
    );
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const keys = Object.keys(expected);
    return (
      keys.length === Object.keys(actual).length &&
      keys.every((k) =>
        matches((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k]),
      )
    );
  }
  return expected === actual;
}

it('the README walk-through of tenants and keys runs as written and answers as shown', async () => {
  const all = await steps();
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
    expect(actual, `README step:\n${step.sh}`).toSatisfy((a: unknown) => matches(JSON.parse(step.json), a));

    // What a reader would copy from this answer for a later step.
    const answer = actual as { apiKey?: string; tenant?: { id: string }; key?: { id: string } };
    if (answer.apiKey?.startsWith('waga_')) latest.ADMIN_KEY = answer.apiKey;
    if (answer.apiKey?.startsWith('wags_')) latest.SESSION_KEY = answer.apiKey;
    if (answer.key?.id) latest.KEY_ID = answer.key.id;
    if (answer.tenant?.id) latest.TENANT_ID = answer.tenant.id;
  }
});
