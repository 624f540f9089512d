// The transport an edge uses for a host in its own process (npm start): that host's calls go to its app
// directly, any other host's over the network transport, and a timed-out call is abandoned.
import { describe, expect, it } from 'vitest';
import { type HostHttpRequest, inProcessTransport } from '../../edge/hosts/transport.js';

const request = (url: string, timeoutMs = 5_000): HostHttpRequest => ({
  url,
  method: 'POST',
  headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
  body: '{"a":1}',
  timeoutMs,
});

describe('inProcessTransport', () => {
  it("hands the local host's calls to its app, whole, and sends the rest over the network", async () => {
    const seen: { url: string; method: string; auth: string | null; body: string }[] = [];
    const remote: string[] = [];
    const transport = inProcessTransport(
      {
        url: 'http://127.0.0.1:4000/',
        fetch: async (r) => {
          seen.push({
            url: r.url,
            method: r.method,
            auth: r.headers.get('authorization'),
            body: await r.text(),
          });
          return Response.json({ ok: true }, { status: 201, headers: { 'retry-after': '3' } });
        },
      },
      async (r) => {
        remote.push(r.url);
        return {
          status: 200,
          read: async () => '',
          stream: () => new ReadableStream(),
          header: () => null,
        };
      },
    );
    const local = await transport(request('http://127.0.0.1:4000/internal/sessions/s/send'));
    expect([local.status, local.header('retry-after'), await local.read()]).toEqual([
      201,
      '3',
      '{"ok":true}',
    ]);
    expect(seen).toEqual([
      {
        url: 'http://127.0.0.1:4000/internal/sessions/s/send',
        method: 'POST',
        auth: 'Bearer t',
        body: '{"a":1}',
      },
    ]);
    // Another port, or a URL that only starts like it, is another host.
    await transport(request('http://127.0.0.1:40001/internal/sessions/s/send'));
    await transport(request('http://127.0.0.1:4001/internal/sessions/s/send'));
    expect(remote).toEqual([
      'http://127.0.0.1:40001/internal/sessions/s/send',
      'http://127.0.0.1:4001/internal/sessions/s/send',
    ]);
  });

  it('rejects a call that outlives its time, and one the host refuses', async () => {
    const never = inProcessTransport({ url: 'http://h', fetch: () => new Promise<Response>(() => {}) }, () =>
      Promise.reject(new Error('not remote')),
    );
    await expect(never(request('http://h/internal/sessions/s/status', 20))).rejects.toMatchObject({
      name: 'TimeoutError',
    });

    const stopped = inProcessTransport(
      { url: 'http://h', fetch: () => Promise.reject(new TypeError('fetch failed')) },
      () => Promise.reject(new Error('not remote')),
    );
    await expect(stopped(request('http://h/internal/sessions/s/status'))).rejects.toThrow(TypeError);
  });
});
