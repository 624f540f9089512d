import { describe, expect, it } from 'vitest';
import { setNewest } from '../../shared/bounded-map.js';

describe('setNewest', () => {
  it('keeps at most `max` entries, the oldest set first out', () => {
    const map = new Map<string, number>();
    for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) setNewest(map, key, i, 3);
    expect([...map]).toEqual([
      ['b', 1],
      ['c', 2],
      ['d', 3],
    ]);
  });

  it('a key set again becomes the newest, and nothing else goes for it', () => {
    const map = new Map([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
    setNewest(map, 'a', 9, 3);
    expect([...map.keys()]).toEqual(['b', 'c', 'a']);
    expect(map.get('a')).toBe(9);
    setNewest(map, 'd', 3, 3);
    expect([...map.keys()]).toEqual(['c', 'a', 'd']);
  });

  it('a bound of 0 keeps nothing', () => {
    const map = new Map<string, number>();
    setNewest(map, 'a', 1, 0);
    expect(map.size).toBe(0);
  });
});
