// The body limit judges a request by its headers when it can, and never builds the body stream for a
// request that has none (on @hono/node-server that stream is a whole WHATWG Request).
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { limitRequestBody } from '../../shared/body-limit.js';

const app = new Hono();
app.use(
  limitRequestBody(16, (c) => {
    throw new Error(`too large: ${c.req.method}`);
  }),
);
app.onError((err, c) => c.text(err.message, 413));
app.get('/', (c) => c.text('got'));
app.post('/', async (c) => c.text(`read ${(await c.req.text()).length}`));

/** `request` with its `body` getter counted: the limit must not touch it. */
function watched(request: Request) {
  const touched = { body: 0 };
  const proxy = new Proxy(request, {
    get(target, prop) {
      if (prop === 'body') touched.body++;
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { proxy, touched };
}

describe('limitRequestBody', () => {
  it('lets a GET through without looking for a body', async () => {
    const { proxy, touched } = watched(new Request('http://x/'));
    const res = await app.fetch(proxy);
    expect([res.status, await res.text()]).toEqual([200, 'got']);
    expect(touched.body).toBe(0);
  });

  it('refuses a body whose Content-Length is over the limit without reading it', async () => {
    const { proxy, touched } = watched(
      new Request('http://x/', { method: 'POST', body: 'x'.repeat(17), headers: { 'content-length': '17' } }),
    );
    const res = await app.fetch(proxy);
    expect([res.status, await res.text()]).toEqual([413, 'too large: POST']);
    expect(touched.body).toBe(0);
  });

  it('passes a body within its Content-Length limit on to the handler', async () => {
    const res = await app.fetch(
      new Request('http://x/', { method: 'POST', body: 'x'.repeat(16), headers: { 'content-length': '16' } }),
    );
    expect([res.status, await res.text()]).toEqual([200, 'read 16']);
  });

  it('counts a body without a Content-Length while it streams', async () => {
    const stream = (size: number) =>
      new Request('http://x/', {
        method: 'POST',
        body: new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('x'.repeat(size)));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
    const over = await app.fetch(stream(17));
    expect([over.status, await over.text()]).toEqual([413, 'too large: POST']);
    const within = await app.fetch(stream(16));
    expect([within.status, await within.text()]).toEqual([200, 'read 16']);
  });
});
