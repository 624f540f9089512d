// Number checks against the simulator with real Baileys sockets: a number asked about while a query for
// it is under way waits for that answer instead of asking WhatsApp again (bulk lookups get numbers
// banned, and the outbox checks every message of a batch).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNumbers, isOnWhatsApp } from '../../../node-runtime/wa/number-check.js';
import { endSocket, type Linked, linkDevice, startTestSimulator } from '../../wa-sim/fixtures.js';
import type { SimServer } from '../../wa-sim/server.js';

let server: SimServer;
let alice: Linked;
beforeAll(async () => {
  server = await startTestSimulator();
  alice = await linkDevice(server, '628555000001', 'Alice');
});
afterAll(async () => {
  await endSocket(alice.sock);
  await server.close();
});

/** Waits until the sockets' own queries after login are over (no usync query for 300 ms). */
const quiet = async () => {
  for (let last = -1; last !== server.sim.usyncQueries; ) {
    last = server.sim.usyncQueries;
    await new Promise((r) => setTimeout(r, 300));
  }
};

const queriesDuring = async <T>(work: () => Promise<T>) => {
  await quiet();
  const before = server.sim.usyncQueries;
  const result = await work();
  return { result, queries: server.sim.usyncQueries - before };
};

describe('number checks asked together', () => {
  it('ask WhatsApp once for a number checked by eight sends at once', async () => {
    const jid = '628555000101@s.whatsapp.net';
    const { result, queries } = await queriesDuring(() =>
      Promise.all(Array.from({ length: 8 }, () => isOnWhatsApp(alice.sock, jid))),
    );
    expect(result).toEqual(Array(8).fill(true));
    expect(queries).toBe(1);
  });

  it('ask only for the numbers no query is asking about already, and answer every caller', async () => {
    const [a, b, c] = ['628555000201', '628555000202', '9990000203'].map((n) => `${n}@s.whatsapp.net`) as [
      string,
      string,
      string,
    ];
    const { result, queries } = await queriesDuring(() =>
      Promise.all([
        checkNumbers(alice.sock, [a, b]),
        checkNumbers(alice.sock, [b]),
        checkNumbers(alice.sock, [c, a, b]),
      ]),
    );
    expect(result.map((answers) => answers.map((x) => [x.jid, x.exists]))).toEqual([
      [
        [a, true],
        [b, true],
      ],
      [[b, true]],
      [
        [c, false],
        [a, true],
        [b, true],
      ],
    ]);
    // The first asked about a and b; the second waited for it; the third asked only about c.
    expect(queries).toBe(2);
  });

  it('ask again through their own socket when the query they waited for failed', async () => {
    const closed = await linkDevice(server, '628555000002', 'Closed');
    await endSocket(closed.sock);
    const jid = '628555000301@s.whatsapp.net';
    const failing = checkNumbers(closed.sock, [jid]);
    const waiting = checkNumbers(alice.sock, [jid]);
    await expect(failing).rejects.toThrow();
    expect(await waiting).toEqual([{ jid, exists: true, found: jid }]);
  });
});
