// The least a hop in front of the host costs, for the bench: a bare Node HTTP server that sends every
// request to one host URL over undici's Agent (as the edge's Node entry does) with
// the host's token and hands back the answer. No key, no look-up, no middleware: what any proxy, ours or
// another, must do at the least. Environment: TARGET_URL, TARGET_AUTHORIZATION, PORT.
import { createServer } from 'node:http';
import { Agent } from 'undici';

const { TARGET_URL, TARGET_AUTHORIZATION, PORT } = process.env;
if (!TARGET_URL || !TARGET_AUTHORIZATION || !PORT) {
  process.stderr.write('bare proxy: TARGET_URL, TARGET_AUTHORIZATION and PORT are required\n');
  process.exit(2);
}
const target = new URL(TARGET_URL);
const pool = new Agent();

const server = createServer((req, res) => {
  pool
    .request({
      origin: target.origin,
      path: target.pathname,
      method: 'GET',
      headers: { authorization: TARGET_AUTHORIZATION },
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
