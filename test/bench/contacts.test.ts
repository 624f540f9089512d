// Each session of each bench run sends to a contact of its own (a new Signal session, a new account at
// the simulator), on our side and the baselines' alike: shared contacts would spare one side work.
import { describe, expect, it } from 'vitest';
import { contactPhone } from '../../bench/scenarios/send-throughput.js';
import { normalizePhoneNumber } from '../../shared/schemas.js';

describe('bench contacts', () => {
  it('are distinct phone numbers for every side, run and session', () => {
    const phones = new Set<string>();
    for (const side of [1, 2, 3]) {
      for (let run = 0; run < 40; run++) {
        for (let i = 0; i < 50; i++) {
          const phone = contactPhone(side, run, i);
          expect(normalizePhoneNumber(phone)).toBe(phone);
          phones.add(phone);
        }
      }
    }
    expect(phones.size).toBe(3 * 40 * 50);
  });
});
