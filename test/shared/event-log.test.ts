// Event ids: `evt_` and a ULID whose random part comes from a pooled source, still distinct and in
// the order they were made, across many pool refills.
import { describe, expect, it } from 'vitest';
import { newEventId } from '../../shared/event-log.js';

describe('newEventId', () => {
  it('makes distinct, ordered ULIDs whose random part varies', () => {
    const ids = Array.from({ length: 5_000 }, () => newEventId());
    for (const id of ids) expect(id).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // Random parts of ids made in different milliseconds are not a counter: most characters vary.
    const randoms = new Set(ids.map((id) => id.slice(14, 20)));
    expect(randoms.size).toBeGreaterThan(1);
    const seen = new Set(ids.map((id) => id.at(-1)));
    expect(seen.size).toBeGreaterThan(16);
  });
});
