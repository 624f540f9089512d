import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { GivenBack } from '../../../node-runtime/memory/give-back.js';

const BURST = fileURLToPath(new URL('./burst.ts', import.meta.url));
const MiB = 1024 * 1024;

/** Runs burst.ts in a process of its own (a heap of its own, no --expose-gc) and reads what it saw. */
async function burst(watched: 'watched' | 'unwatched', after: 'quiet' | 'busy') {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', BURST, watched, after]);
  return JSON.parse(stdout) as { afterBurst: number; later: number; given: GivenBack[] };
}

describe.concurrent('giving memory back after a burst', () => {
  it('keeps the pages of a burst when nothing asks V8 for them (what the watcher is for)', async () => {
    const r = await burst('unwatched', 'quiet');
    expect(r.later).toBeGreaterThan(r.afterBurst - 50 * MiB);
  });

  it('gives them back once the process has been quiet', async () => {
    const r = await burst('watched', 'quiet');
    expect(r.given).toHaveLength(1);
    expect(r.given[0]?.freedBytes).toBeGreaterThan(100 * MiB);
    expect(r.later).toBeLessThan(r.afterBurst - 100 * MiB);
  });

  it('waits while the event loop is busy', async () => {
    const r = await burst('watched', 'busy');
    expect(r.given).toEqual([]);
    expect(r.later).toBeGreaterThan(r.afterBurst - 50 * MiB);
  });
});
