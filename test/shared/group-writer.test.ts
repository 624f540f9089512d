// Group commit: what is submitted during a write goes together in the next one, and one bad item does
// not fail the others.
import { describe, expect, it } from 'vitest';
import { GroupWriter } from '../../shared/group-writer.js';

/** Resolves once the callbacks of this turn of the event loop (an idle writer's start among them) have run. */
const turnEnds = () => new Promise((r) => setImmediate(r));

describe('GroupWriter', () => {
  it('writes a lone item in its turn, and those submitted meanwhile together in the next write', async () => {
    const writes: number[][] = [];
    let release = () => {};
    const writer = new GroupWriter<number, string>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await new Promise<void>((r) => (release = r));
      return items.map((n) => `done ${n}`);
    });
    const first = writer.submit(1);
    await turnEnds();
    expect(writes).toEqual([[1]]); // not held back past its turn of the event loop
    const later = [writer.submit(2), writer.submit(3), writer.submit(4)];
    await turnEnds();
    expect(writes).toHaveLength(1); // one write at a time
    release();
    expect(await Promise.all([first, ...later])).toEqual(['done 1', 'done 2', 'done 3', 'done 4']);
    expect(writes).toEqual([[1], [2, 3, 4]]);
  });

  it('writes together what the callbacks of one turn of the event loop submit', async () => {
    const writes: number[][] = [];
    const writer = new GroupWriter<number, number>(async (items) => {
      writes.push(items);
      return items;
    });
    // Two callbacks of one turn (immediates queued together run in one go, as the data of many sockets
    // does under load); a write submitted by the first must not leave before the second's.
    const submitted: Promise<number>[] = [];
    await new Promise<void>((done) => {
      setImmediate(() => submitted.push(writer.submit(1)));
      setImmediate(() =>
        queueMicrotask(() => {
          submitted.push(writer.submit(2));
          done();
        }),
      );
    });
    expect(await Promise.all(submitted)).toEqual([1, 2]);
    expect(writes).toEqual([[1, 2]]);
  });

  it('caps a batch at its size', async () => {
    const writes: number[][] = [];
    const writer = new GroupWriter<number, number>(async (items) => {
      writes.push(items);
      await turnEnds();
      return items;
    }, 2);
    await Promise.all([1, 2, 3, 4, 5].map((n) => writer.submit(n)));
    expect(writes).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('fails only the item that cannot be written: the others of its batch go again alone', async () => {
    const writes: number[][] = [];
    let release = () => {};
    const writer = new GroupWriter<number, number>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await new Promise<void>((r) => (release = r));
      if (items.includes(13)) throw new Error('unlucky');
      return items.map((n) => n * 2);
    });
    const first = writer.submit(1);
    await turnEnds(); // the first write is under way
    const batch = [writer.submit(12), writer.submit(13), writer.submit(14)];
    release();
    await first;
    const settled = await Promise.allSettled(batch);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
      24,
      'unlucky',
      28,
    ]);
    expect(writes).toEqual([[1], [12, 13, 14], [12], [13], [14]]);
  });
});
