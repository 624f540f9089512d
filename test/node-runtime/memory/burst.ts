// A process that has a burst of heap and then sits quiet (or stays busy), for give-back.test.ts.
// argv: `watched` (a MemoryGiveBack with short timings) or `unwatched`; `quiet` or `busy` after the burst.
// Prints one JSON line: its resident set after the burst's ordinary collection, a moment later, and the
// give-backs it heard of.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type GivenBack, MemoryGiveBack } from '../../../node-runtime/memory/give-back.js';

const [watched, after] = process.argv.slice(2);
const MiB = 1024 * 1024;
const given: GivenBack[] = [];
const giveBack =
  watched === 'watched'
    ? new MemoryGiveBack(
        { gaveBack: (g) => given.push(g) },
        {
          sampleMs: 100,
          quietSamples: 3,
          busyBelow: 0.5,
          minGrowthBytes: 64 * MiB,
          minGapMs: 0,
        },
      )
    : undefined;

// The burst: some 300 MiB of small objects, dropped, then an ordinary full collection (as V8 runs by
// itself), which shrinks the heap and keeps its pages.
let burst: { i: number; s: string; a: number[] }[] | undefined = [];
for (let i = 0; i < 2_000_000; i++) burst.push({ i, s: `item ${i}`, a: [i] });
burst = undefined;
setFlagsFromString('--expose-gc');
(runInNewContext('gc') as () => void)();
const afterBurst = process.memoryUsage.rss();

const until = Date.now() + 1_500;
if (after === 'busy') {
  // Mostly busy: 9 ms of work in every 10.
  const spin = () => {
    const end = Date.now() + 9;
    while (Date.now() < end);
    if (Date.now() < until) setTimeout(spin, 1);
  };
  spin();
}
await new Promise((resolve) => setTimeout(resolve, until - Date.now() + 50));
giveBack?.stop();
process.stdout.write(`${JSON.stringify({ afterBurst, later: process.memoryUsage.rss(), given })}\n`);
