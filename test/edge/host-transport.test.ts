// The Node entry's client for calls to hosts (edge/entries/node.ts): short answers gathered as they
// arrive, files streamed, and an answer whose body breaks off told apart from no answer at all.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { undiciTransport } from '../../edge/entries/node.js';

let server: Server | undefined;
const pool = new Agent();

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const call = (url: string, extra: { streamed?: boolean; timeoutMs?: number } = {}) =>
  undiciTransport(pool)({ url, method: 'GET', headers: {}, timeoutMs: extra.timeoutMs ?? 5_000, ...extra });

describe('undiciTransport', () => {
  it('gathers an answer sent in pieces, a character split between them included', async () => {
    const text = JSON.stringify({ name: 'Ñandú 🦜'.repeat(2_000) });
    const bytes = Buffer.from(text);
    const url = await serve((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '7' });
      // Cut inside the parrot (4 bytes in UTF-8), then the rest a moment later.
      const cut = bytes.indexOf(Buffer.from('🦜')) + 2;
      res.write(bytes.subarray(0, cut));
      setTimeout(() => res.end(bytes.subarray(cut)), 20);
    });
    const answer = await call(`${url}/x`);
    expect(answer.status).toBe(503);
    expect(answer.header('retry-after')).toBe('7');
    expect(answer.header('x-absent')).toBeNull();
    // Two readers waiting for the end at once: both get it.
    expect(await Promise.all([answer.read(), answer.read()])).toEqual([text, text]);
    // Read again (a caller that logs what it read), the same text.
    expect(await answer.read()).toBe(text);
  });

  it('resolves once answered, and then rejects `read` if the body breaks off', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"state":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const answer = await call(`${url}/x`);
    expect(answer.status).toBe(200);
    await expect(answer.read()).rejects.toThrow();
  });

  it('rejects the call itself when no answer comes: refused, or too slow', async () => {
    const refused = await serve(() => {});
    server?.close();
    await expect(call(`${refused}/x`)).rejects.toThrow();
    const url = await serve(() => {}); // never answers
    await expect(call(`${url}/x`, { timeoutMs: 200 })).rejects.toThrow(/timeout/i);
  });

  it('streams a file as it arrives rather than when it ends', async () => {
    let finish: (() => void) | undefined;
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.from([1, 2, 3]));
      finish = () => res.end(Buffer.from([4, 5]));
    });
    const answer = await call(`${url}/file`, { streamed: true });
    const reader = answer.stream().getReader();
    // The first piece is there while the server still holds the rest back.
    expect(Array.from((await reader.read()).value ?? [])).toEqual([1, 2, 3]);
    finish?.();
    const rest: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(...r.value);
    expect(rest).toEqual([4, 5]);
  });

  it('hands a gathered answer over as a stream too, byte for byte', async () => {
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x41]); // not UTF-8
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(bytes);
    });
    const answer = await call(`${url}/x`);
    const reader = answer.stream().getReader();
    const got: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) got.push(...r.value);
    expect(got).toEqual([...bytes]);
  });
});
