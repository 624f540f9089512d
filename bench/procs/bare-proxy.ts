// The least an HTTP hop in front of the host costs, for the bench: a bare Node HTTP server that sends
// every request to one host URL over undici's Agent (as the edge's Node entry did before its call
// channels) with a token for the host (signed afresh every half of its life, as the edge does) and hands
// back the answer. No key, no look-up, no middleware: what any proxy that makes one HTTP request per call
// must do at the least.
// Environment: TARGET_URL, PORT, and the token's TOKEN_SECRET, TOKEN_HOST_ID, TOKEN_TENANT_ID,
// TOKEN_SESSION_ID.
import { createServer } from 'node:http';
import { Agent } from 'undici';
import { MAX_HOST_TOKEN_TTL_SECONDS, signHostToken } from '../../shared/jwt.js';

const { TARGET_URL, PORT, TOKEN_SECRET, TOKEN_HOST_ID, TOKEN_TENANT_ID, TOKEN_SESSION_ID } = process.env;
if (!TARGET_URL || !PORT || !TOKEN_SECRET || !TOKEN_HOST_ID || !TOKEN_TENANT_ID || !TOKEN_SESSION_ID) {
  process.stderr.write('bare proxy: TARGET_URL, PORT and the TOKEN_* variables are required\n');
  process.exit(2);
}
const target = new URL(TARGET_URL);
const pool = new Agent();
const sign = async () =>
  `Bearer ${await signHostToken({
    secret: TOKEN_SECRET,
    hostId: TOKEN_HOST_ID,
    tenantId: TOKEN_TENANT_ID,
    sessionId: TOKEN_SESSION_ID,
    scope: 'session',
    ttlSeconds: MAX_HOST_TOKEN_TTL_SECONDS,
  })}`;
let authorization = await sign();
setInterval(
  () => void sign().then((next) => (authorization = next)),
  (MAX_HOST_TOKEN_TTL_SECONDS * 1000) / 2,
).unref();

const server = createServer((req, res) => {
  pool
    .request({
      origin: target.origin,
      path: target.pathname,
      method: 'GET',
      headers: { authorization },
    })
    .then(async (answer) => {
      const body = Buffer.from(await answer.body.arrayBuffer());
      res.writeHead(answer.statusCode, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    })
    .catch(() => {
      res.writeHead(502).end();
    });
  req.resume();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(PORT), '127.0.0.1');

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
