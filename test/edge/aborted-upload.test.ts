// A client that goes away in the middle of its upload is the client's business: a 4xx and an info line,
// not a 500 and an error in the operator's log.
import { connect } from 'node:net';
import { beforeAll, expect, it } from 'vitest';
import { newSession, newTenant, TestClock } from './admin-helpers.js';
import { useEdge } from './fixture.js';
import type { TestEdge } from './helpers.js';

const fx = useEdge({
  hosts: ['host-aborted'],
  tenants: [],
  operator: true,
  edge: { now: new TestClock().now },
});
let edge: TestEdge;
let operator: string;

beforeAll(() => {
  ({ edge, operator } = fx());
});

/** Sends the headers and part of a body of `length` bytes, then closes the connection. */
const abortedUpload = (path: string, key: string, length: number) =>
  new Promise<void>((resolve, reject) => {
    const { port } = new URL(edge.url);
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n{"to":"62812`,
      );
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
    socket.on('error', reject);
  });

it('an upload the client aborts is logged at info as a 4xx, never as an error', async () => {
  const tenant = await newTenant(edge, operator, 'aborting');
  const sessionKey = await newSession(edge, tenant.adminKey, 'aborting');
  const before = edge.logger.lines.length;
  await abortedUpload('/api/send', sessionKey, 10_000);
  await abortedUpload('/api/session/create', tenant.adminKey, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  const lines = edge.logger.lines.slice(before);
  expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  const requests = lines.filter(
    (l) => l.fields.path === '/api/send' || l.fields.path === '/api/session/create',
  );
  expect(requests.length).toBe(2);
  for (const line of requests) {
    expect(line.level).toBe('info');
    expect(Number(line.fields.status)).toBeGreaterThanOrEqual(400);
    expect(Number(line.fields.status)).toBeLessThan(500);
  }
  expect(fx().host.calls.filter((c) => c.action === 'send')).toEqual([]);
});
