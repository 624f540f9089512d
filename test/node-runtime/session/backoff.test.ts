import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from '../../../node-runtime/session/backoff.js';

describe('backoff', () => {
  it('doubles the ceiling from 1 s per attempt and caps it at 60 s', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 50, 5_000].map((a) => backoffCeiling(a));
    expect(ceilings).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
    expect(backoffCeiling(0)).toBe(1_000);
  });

  it('stays within [0, ceiling) at the extremes of the random source', () => {
    for (const attempt of [1, 2, 5, 6, 7, 100]) {
      const ceiling = backoffCeiling(attempt);
      expect(backoffDelay(attempt, DEFAULT_BACKOFF, () => 0)).toBe(0);
      const highest = backoffDelay(attempt, DEFAULT_BACKOFF, () => 1 - Number.EPSILON);
      expect(highest).toBeLessThan(ceiling);
      expect(highest).toBeGreaterThanOrEqual(ceiling - 1);
    }
  });

  it('spreads delays across the whole range with Math.random (full jitter)', () => {
    const samples = Array.from({ length: 2_000 }, () => backoffDelay(4));
    for (const ms of samples) {
      expect(Number.isInteger(ms)).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(8_000);
    }
    // Not clustered: both halves of the range are used.
    expect(samples.some((ms) => ms < 2_000)).toBe(true);
    expect(samples.some((ms) => ms > 6_000)).toBe(true);
  });

  it('honours other options', () => {
    expect(backoffCeiling(3, { baseMs: 10, capMs: 25 })).toBe(25);
    expect(backoffDelay(2, { baseMs: 10, capMs: 1_000 }, () => 0.5)).toBe(10);
  });
});
