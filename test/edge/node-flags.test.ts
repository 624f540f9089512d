// The edge's own process runs with EDGE_NODE_FLAGS: `npm run edge` passes them (what the bench measures
// is what users run), and they keep V8's young generation small under a request load.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EDGE_NODE_FLAGS } from '../../edge/entries/node-flags.js';

const run = promisify(execFile);

// Allocates like a busy server (short-lived objects, a few kept a while) and reports the young
// generation's committed size, in MiB.
const CHURN = `
const v8 = require('node:v8');
let kept = [];
for (let round = 0; round < 60; round++) {
  for (let i = 0; i < 100000; i++) {
    const o = { a: i, b: 'x' + i, c: [i] };
    if (i % 50 === 0) kept.push(o);
  }
  if (kept.length > 20000) kept = kept.slice(10000);
}
const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write(String(young.space_size / 1048576));
`;

const youngMiB = async (flags: readonly string[]) =>
  Number((await run(process.execPath, [...flags, '-e', CHURN])).stdout);

describe('the edge process flags', () => {
  it('are what `npm run edge` starts the edge with', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    const script: string = pkg.scripts.edge;
    expect(script).toContain(`exec node ${EDGE_NODE_FLAGS.join(' ')} dist/scripts/edge.js`);
  });

  it('keep the young generation at a fraction of what V8 grows it to by default', async () => {
    const [capped, uncapped] = await Promise.all([youngMiB(EDGE_NODE_FLAGS), youngMiB([])]);
    expect(capped).toBeLessThanOrEqual(16);
    expect(uncapped).toBeGreaterThan(capped);
  });
});
