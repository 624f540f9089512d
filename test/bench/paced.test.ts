import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paced } from '../../bench/lib/paced.js';

describe('paced load', () => {
  let server: Server;
  let url: string;
  /** Requests the server has answered so far. */
  let answered = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      answered++;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the lead-in untimed, then measures only the requests after it', async () => {
    const before = answered;
    let answeredWhenMeasuring: number | undefined;
    const result = await paced({
      url,
      rate: 200,
      seconds: 0.05,
      leadInSeconds: 0.5,
      connections: 2,
      onMeasuring: () => {
        answeredWhenMeasuring ??= answered - before;
      },
    });
    // 100 lead-in requests and 10 measured ones reached the server; only the measured ones are counted.
    expect(answered - before).toBe(110);
    expect(result.requests).toBe(10);
    expect(result.non2xx + result.errors).toBe(0);
    // Measuring began once the lead-in was sent (most of it answered by then), not at the start.
    expect(answeredWhenMeasuring).toBeGreaterThan(50);
    // The measured span leaves the lead-in's half second out (the rate divides by it).
    expect(result.seconds).toBeGreaterThan(0.04);
    expect(result.seconds).toBeLessThan(0.5);
  });

  it('measures from the first request without a lead-in', async () => {
    const before = answered;
    let measuring = 0;
    const result = await paced({
      url,
      rate: 200,
      seconds: 0.05,
      connections: 1,
      onMeasuring: () => measuring++,
    });
    expect(answered - before).toBe(10);
    expect(result.requests).toBe(10);
    expect(measuring).toBe(1);
  });
});
