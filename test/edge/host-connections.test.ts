// The edge's connections to session hosts on the Node entry: one pooled keep-alive connection carries
// call after call, the edge closes an idle one before the host would, and a connection the host drops
// just as the edge reuses it costs an idempotent call nothing (it goes once more) while
// a send or logout is never sent twice. The hosts are stand-ins on real node:http servers.
import { afterEach, describe, expect, it } from 'vitest';
import { HOST_CONNECTION_IDLE_MS } from '../../edge/entries/node.js';
import { HOST_KEEP_ALIVE_TIMEOUT_MS } from '../../node-runtime/host/server.js';
import { useEdge } from './fixture.js';
import { call, createKey, createSessionRow, expectError, putHost } from './helpers.js';
import type { StandInHost } from './stand-in-host.js';

const fx = useEdge({
  hosts: [
    'host-main',
    { id: 'host-like-real', register: false, keepAliveTimeoutMs: HOST_KEEP_ALIVE_TIMEOUT_MS },
  ],
});

let sessions = 0;
/** A session owned by `host`, with its session key. */
async function sessionOn(host: StandInHost): Promise<string> {
  const { db, tenantId } = fx();
  await putHost(db, { id: host.id, url: host.url });
  const sessionId = await createSessionRow(db, { tenantId, name: `conn-${++sessions}`, hostId: host.id });
  return createKey(db, 'session', { tenantId, sessionId });
}

const status = (key: string) => call(fx().edge.url, '/api/session/status', { key });
const RESET = { reset: true } as const;

afterEach(async () => {
  await fx().db.deleteFrom('hosts').where('id', '=', 'host-like-real').execute();
});

describe('pooled keep-alive connections', () => {
  it('carries sequential calls over one connection', async () => {
    const key = await sessionOn(fx().host);
    for (let i = 0; i < 20; i++) expect((await status(key)).status).toBe(200);
    const { calls } = fx().host;
    expect(calls).toHaveLength(20);
    expect(new Set(calls.map((c) => c.connection)).size).toBe(1);
  });

  it('closes an idle connection itself, well before the host server would', async () => {
    expect(HOST_CONNECTION_IDLE_MS).toBeLessThanOrEqual(HOST_KEEP_ALIVE_TIMEOUT_MS / 2);
    const host = fx().hostById('host-like-real');
    const key = await sessionOn(host);
    expect((await status(key)).status).toBe(200);
    const answered = performance.now();
    const [connection] = host.connections;
    await expect
      .poll(() => connection?.closedAt, { timeout: HOST_KEEP_ALIVE_TIMEOUT_MS, interval: 100 })
      .toBeDefined();
    // The edge's FIN came first, within its idle timeout (and the timer's tick) of the last answer.
    expect(connection?.endedByClientAt).toBeDefined();
    expect((connection?.endedByClientAt ?? Infinity) - answered).toBeLessThan(
      HOST_CONNECTION_IDLE_MS + 1_500,
    );
  });
});

describe('a connection the host drops as it is reused', () => {
  /** A first call, so the next one goes over a pooled connection; returns that connection's index. */
  async function warm(key: string): Promise<number> {
    expect((await status(key)).status).toBe(200);
    const warmed = fx().host.calls.at(-1)?.connection ?? -1;
    fx().host.reset();
    return warmed;
  }

  it.each([
    ['status', '/api/session/status', {}],
    ['qr', '/api/session/qr', {}],
  ] as const)('%s is retried once, on a new connection', async (action, path, init) => {
    const key = await sessionOn(fx().host);
    const pooled = await warm(key);
    fx().host.answerOnce(action, () => RESET);
    const response = await call(fx().edge.url, path, { key, ...init });
    expect(response.status).toBe(200);
    const [dropped, retried] = fx().host.calls;
    expect(fx().host.calls.map((c) => c.action)).toEqual([action, action]);
    expect(dropped?.connection).toBe(pooled);
    expect(retried?.connection).not.toBe(pooled);
    expect(fx().host.refused).toEqual([]);
    expect(fx().edge.logger.lines.some((l) => l.message === 'host connection reset; retrying once')).toBe(
      true,
    );
  });

  it('start (after creating a session) is retried once too', async () => {
    const { edge, admin, host } = fx();
    host.answerOnce('start', () => RESET);
    const response = await call(edge.url, '/api/session/create', {
      key: admin,
      json: { sessionId: 'retried' },
    });
    expect(response.status).toBe(200);
    expect(host.calls.map((c) => c.action)).toEqual(['start', 'start']);
    expect(edge.logger.lines.filter((l) => l.message === 'host did not start the new session')).toEqual([]);
  });

  it('is retried once only: a second drop is 503 HOST_UNAVAILABLE', async () => {
    const key = await sessionOn(fx().host);
    await warm(key);
    fx().host.answer('status', () => RESET);
    const response = await status(key);
    await expectError(response, 503, 'HOST_UNAVAILABLE');
    expect(fx().host.calls.map((c) => c.action)).toEqual(['status', 'status']);
  });

  it.each([
    ['send', '/api/send', { json: { to: '6281234567890', message: 'sekali saja' } }],
    ['logout', '/api/session/logout', { method: 'POST' }],
  ] as const)(
    '%s is never sent twice: 503 with Retry-After, one call at the host',
    async (action, path, init) => {
      const key = await sessionOn(fx().host);
      await warm(key);
      fx().host.answerOnce(action, () => RESET);
      const response = await call(fx().edge.url, path, { key, ...init });
      await expectError(response, 503, 'HOST_UNAVAILABLE');
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      // Give a retry, were there one, time to arrive.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(fx().host.calls.map((c) => c.action)).toEqual([action]);
    },
  );
});
