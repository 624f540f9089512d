// The Deno entry. From the repo root, after `npm install`:
//   EDGE_HOST_SECRET=... DATABASE_URL=postgres://... PORT=8000 npx deno run --config deno.json \
//     --cached-only --allow-net '--allow-env=EDGE_*,WEBHOOK_*,DATABASE_URL,PORT,PG*' edge/entries/deno.ts
// deno.json maps our `.js` import suffixes to the `.ts` files (sloppy imports) and takes npm packages from
// node_modules; --cached-only makes a missing one an error instead of a download. PG* is postgres.js
// reading its defaults.
import { z } from 'zod';
import { createEdge } from '../app.js';
import { EdgeEnvSchema, edgeConfigFrom, parseEnv } from './env.js';
import { createEdgeDb } from './postgres.js';

// Only what this file uses of Deno's API, so the Node type-check passes without Deno's types.
declare const Deno: {
  env: { get(name: string): string | undefined };
  serve(
    options: {
      port: number;
      hostname: string;
      onListen?: (addr: { hostname: string; port: number }) => void;
    },
    handler: (
      request: Request,
      info: { remoteAddr: { hostname: string } | { path: string } },
    ) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  resolveDns(query: string, recordType: 'A' | 'AAAA'): Promise<string[]>;
  exit(code?: number): never;
};

const DenoEnvSchema = EdgeEnvSchema.extend({
  DATABASE_URL: z.string().min(1),
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  /** Interface to listen on; all of them by default, as the Node entry. */
  EDGE_LISTEN: z.string().min(1).default('0.0.0.0'),
});

// Read by name, so `--allow-env` can be narrowed to exactly these; one it does not allow counts as unset.
const readEnv = (name: string) => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};
const env = parseEnv(
  DenoEnvSchema,
  Object.fromEntries(Object.keys(DenoEnvSchema.shape).map((name) => [name, readEnv(name)])),
);
// A long-lived process: one pool for every request, as on Node.
const db = createEdgeDb(env.DATABASE_URL, { max: 10 });
/** The name's IPv4 and IPv6 addresses; rejects when it has neither. */
const resolveHost = async (hostname: string): Promise<string[]> => {
  const found = await Promise.allSettled([Deno.resolveDns(hostname, 'A'), Deno.resolveDns(hostname, 'AAAA')]);
  const addresses = found.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  if (addresses.length === 0) throw new Error(`${hostname} does not resolve`);
  return addresses;
};
const { app, flush } = createEdge({
  ...edgeConfigFrom(env),
  db,
  resolveHost,
  // The connection's peer, handed over as the request's bindings (below).
  peerAddress: (c) => (typeof c.env.peerAddress === 'string' ? c.env.peerAddress : undefined),
});

const server = Deno.serve(
  {
    port: env.PORT,
    hostname: env.EDGE_LISTEN,
    onListen: ({ hostname, port }) => console.log(JSON.stringify({ msg: 'edge listening', hostname, port })),
  },
  // Deno's second argument is connection info, not Hono's `env`: only the peer's address goes on.
  (request, info) =>
    app.fetch(request, { peerAddress: 'hostname' in info.remoteAddr ? info.remoteAddr.hostname : undefined }),
);

const stop = async () => {
  await server.shutdown();
  await flush();
  await db.destroy();
  Deno.exit(0);
};
Deno.addSignalListener('SIGINT', stop);
Deno.addSignalListener('SIGTERM', stop);
