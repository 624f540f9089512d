// A TCP proxy in front of PostgreSQL, to take the database away from one process and give it back: an
// outage as that process sees it (its connections drop, new ones are refused), while others go on.
import { createServer, Socket } from 'node:net';

export type TcpProxy = {
  /** `url` with the host and port replaced by the proxy's. */
  url: string;
  /** Drops every connection and refuses new ones until `restore`. */
  cut(): void;
  restore(): void;
  /** Bytes the clients have sent towards PostgreSQL so far. */
  bytesToServer(): number;
  /** Bytes PostgreSQL has sent back to the clients so far. */
  bytesToClients(): number;
  close(): Promise<void>;
};

export async function startTcpProxy(url: string): Promise<TcpProxy> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  let down = false;
  let toServer = 0;
  let toClients = 0;
  const server = createServer((client) => {
    if (down) return client.destroy();
    const upstream = new Socket();
    upstream.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      toServer += chunk.length;
    });
    upstream.on('data', (chunk: Buffer) => {
      toClients += chunk.length;
    });
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  return {
    url: proxied.toString(),
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    bytesToServer: () => toServer,
    bytesToClients: () => toClients,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
