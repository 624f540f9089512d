// Downloading a message's file from a client's URL, against real HTTPS servers on this machine (their
// certificate from a CA of the test's own, which the downloader is told to trust, as a host is told to
// trust the simulator's).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaDownloader } from '../../../node-runtime/media/url-fetch.js';
import { MEDIA_LIMITS } from '../../../shared/message-content.js';
import { issueServerCertificate, type MediaCa, newMediaCa } from '../../wa-sim/media-tls.js';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(2_000, 7),
]);

let ca: MediaCa;
let server: Server;
let base: string;
/** How far the server got writing each path's body, to see a download stopped while streaming. */
const written = new Map<string, number>();

const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/image.png': (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(PNG);
  },
  '/untyped': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(PNG);
  },
  '/page.html': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html></html>');
  },
  '/moved': (_req, res) => {
    res.writeHead(302, { location: '/image.png' });
    res.end();
  },
  '/missing': (_req, res) => {
    res.writeHead(404);
    res.end();
  },
  '/slow': (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    res.write(PNG.subarray(0, 10));
    setTimeout(() => res.end(PNG.subarray(10)), 2_000);
  },
  '/declared-huge': (_req, res) => {
    res.writeHead(200, {
      'content-type': 'image/png',
      'content-length': String(MEDIA_LIMITS.image.maxBytes + 1),
    });
    res.end();
  },
  // No Content-Length: only counting the body can stop it. It would send 64 MB.
  '/endless': (req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 1);
    const pump = () => {
      while (sent < 64 * 1024 * 1024) {
        sent += chunk.length;
        written.set(req.url ?? '', sent);
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => undefined);
    pump();
  },
};

beforeAll(async () => {
  ca = await newMediaCa();
  server = createHttpsServer(await issueServerCertificate(ca, '127.0.0.1'), (req, res) =>
    (routes[req.url ?? ''] ?? routes['/missing'])?.(req, res),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const downloader = (options: Partial<ConstructorParameters<typeof MediaDownloader>[0]> = {}) =>
  new MediaDownloader({ allowPrivate: true, extraCa: ca.cert, timeoutMs: 1_000, ...options });

const refusal = async (d: MediaDownloader, url: string, type: 'image' | 'document' = 'image') => {
  const err = await d.download(url, type).then(
    () => undefined,
    (e: unknown) => e as { code: string },
  );
  return err?.code;
};

describe('downloading a file for a message', () => {
  it('takes an https file of an allowed type, and sniffs a file served without one', async () => {
    const d = downloader();
    expect(await d.download(`${base}/image.png`, 'image')).toEqual({ data: PNG, mimetype: 'image/png' });
    expect((await d.download(`${base}/untyped`, 'image')).mimetype).toBe('image/png');
    await d.close();
  });

  it('refuses http, a private address, a redirect, an error, the wrong type, and a slow server', async () => {
    const plain = createServer((_req, res) => res.end('x'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const d = downloader();
    expect(await refusal(d, `http://127.0.0.1:${(plain.address() as AddressInfo).port}/`)).toBe(
      'MEDIA_URL_NOT_HTTPS',
    );
    expect(await refusal(d, `${base}/moved`)).toBe('MEDIA_URL_REDIRECT');
    expect(await refusal(d, `${base}/missing`)).toBe('MEDIA_URL_UNREACHABLE');
    expect(await refusal(d, `${base}/page.html`)).toBe('MEDIA_TYPE_NOT_ALLOWED');
    expect(await refusal(d, `${base}/slow`)).toBe('MEDIA_URL_TIMEOUT');
    // A port nobody listens on.
    plain.close();
    expect(await refusal(d, `https://127.0.0.1:${(plain.address() as AddressInfo | null)?.port ?? 1}/`)).toBe(
      'MEDIA_URL_UNREACHABLE',
    );
    await d.close();
    // Without the development switch, this machine's addresses are private: by literal, and by name.
    const strict = downloader({ allowPrivate: false });
    expect(await refusal(strict, `${base}/image.png`)).toBe('MEDIA_URL_PRIVATE');
    const port = new URL(base).port;
    expect(await refusal(strict, `https://localhost:${port}/image.png`)).toBe('MEDIA_URL_PRIVATE');
    await strict.close();
  });

  it('refuses a file over the limit from its Content-Length, or while it streams', async () => {
    const d = downloader({ timeoutMs: 10_000 });
    expect(await refusal(d, `${base}/declared-huge`)).toBe('MEDIA_TOO_LARGE');
    expect(await refusal(d, `${base}/endless`)).toBe('MEDIA_TOO_LARGE');
    // Stopped at the limit: the server did not get to write anywhere near its 64 MB.
    await new Promise((r) => setTimeout(r, 200));
    expect(written.get('/endless')).toBeLessThan(MEDIA_LIMITS.image.maxBytes + 4 * 1024 * 1024);
    await d.close();
  });
});
