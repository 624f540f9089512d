// What every scenario runs on: one PostgreSQL (embedded, as `npm start` runs it, or a fresh database on
// an external server), the default tenant's admin key, the edge-host secret, and helpers that start the
// simulator, a session host and the edge, each in its own process.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import postgres from 'postgres';
import { EDGE_NODE_FLAGS } from '../../edge/entries/node-flags.js';
import { ensureDefaultTenant } from '../../edge/tenancy/bootstrap.js';
import { createDb } from '../../node-runtime/db/connect.js';
import type { RunningPostgres } from '../../node-runtime/db/embedded.js';
import { migrateToLatest } from '../../node-runtime/db/migrate.js';
import type { Database } from '../../shared/db-schema.js';
import { generateSecretKey } from '../../shared/webhook-secrets.js';
import { type SimProcess, spawnSimulator } from '../../test/wa-sim/process.js';
import { InspectorSession } from './inspector.js';
import { descendants, entryOf, freePort, NodeProc, type NodeProcOptions, waitForHttp } from './procs.js';
import { RawBaileys } from './raw.js';

const HOST_MAIN = entryOf(new URL('../../node-runtime/host/main.ts', import.meta.url));
const EDGE_MAIN = entryOf(new URL('../procs/edge.ts', import.meta.url));
const STACK_MAIN = entryOf(new URL('../procs/stack.ts', import.meta.url));
const BARE_PROXY_MAIN = entryOf(new URL('../procs/bare-proxy.ts', import.meta.url));

export interface BenchEnvOptions {
  /** A PostgreSQL server to make a fresh database on; default an embedded one in `dir`. */
  databaseUrl?: string;
  /** Scratch directory (logs, profiles, the embedded cluster); default a new temp dir, removed at close. */
  dir?: string;
  /** LOG_LEVEL of the host and edge processes; default `info`, what `npm start` runs with. */
  logLevel?: string;
  /** Profile the host and edge processes during the measured phases, into `<dir>/profiles`. */
  cpuProfile?: boolean;
  /** Extra edge settings (edge/config.ts), e.g. lifted rate limits. */
  edgeConfig?: Record<string, unknown>;
  /** fsync off in the embedded cluster (never what `npm start` does); default false. */
  ephemeralDb?: boolean;
  log?: (line: string) => void;
}

export interface RunningHostProc {
  id: string;
  url: string;
  proc: NodeProc;
  stop(): Promise<void>;
}

export interface RunningEdgeProc {
  url: string;
  proc: NodeProc;
  stop(): Promise<void>;
}

/** Something `profile` can profile: a process started with an inspector port. */
export interface Profilable {
  proc: NodeProc;
}

export class BenchEnv {
  private counter = 0;
  private readonly cleanups: (() => Promise<void>)[] = [];

  private constructor(
    readonly options: BenchEnvOptions,
    readonly dir: string,
    readonly databaseUrl: string,
    readonly db: Kysely<Database>,
    readonly adminKey: string,
    readonly tenantId: string,
    readonly secret: string,
    /** The embedded server, when there is one; `commitTimestamps` restarts it. */
    private readonly embedded: { pg?: RunningPostgres },
  ) {}

  /** The key webhook secrets are encrypted with, shared by the bench's hosts and edges. */
  readonly webhookKey = generateSecretKey();

  static async create(options: BenchEnvOptions = {}): Promise<BenchEnv> {
    const ownDir = !options.dir;
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'wa-bench-')));
    await mkdir(dir, { recursive: true });
    // As root, PostgreSQL runs as `postgres`, which must be able to enter the directory.
    await chmod(dir, 0o755);
    const cleanups: (() => Promise<void>)[] = [];
    const embedded: { pg?: RunningPostgres } = {};
    let databaseUrl: string;
    if (options.databaseUrl) {
      const name = `bench_${randomBytes(6).toString('hex')}`;
      await withAdmin(options.databaseUrl, (sql) => sql.unsafe(`CREATE DATABASE ${name}`));
      const u = new URL(options.databaseUrl);
      u.pathname = `/${name}`;
      databaseUrl = u.toString();
      const admin = options.databaseUrl;
      cleanups.push(() =>
        withAdmin(admin, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
      );
    } else {
      const { startEmbeddedPostgres } = await import('../../node-runtime/db/embedded.js');
      const pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), ephemeral: options.ephemeralDb });
      embedded.pg = pg;
      databaseUrl = pg.url;
      // The server running at close (`commitTimestamps` may have restarted it).
      cleanups.push(async () => embedded.pg?.stop());
    }
    if (ownDir) cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // Named, so that the memory scenario can leave the bench's own connections out of PostgreSQL's share.
    const db = createDb(databaseUrl, { applicationName: BENCH_APPLICATION });
    let boot: Awaited<ReturnType<typeof ensureDefaultTenant>>;
    try {
      await migrateToLatest(db);
      boot = await ensureDefaultTenant(db);
      if (!boot.adminKey) throw new Error('bench database was not fresh: no admin key');
    } catch (err) {
      for (const cleanup of [() => db.destroy(), ...cleanups]) await cleanup().catch(() => undefined);
      throw err;
    }
    const env = new BenchEnv(
      options,
      dir,
      databaseUrl,
      db,
      boot.adminKey as string,
      boot.tenantId,
      randomBytes(32).toString('base64url'),
      embedded,
    );
    // In order at close: the pool, then the server (or the database), then the scratch directory.
    env.cleanups.push(() => db.destroy(), ...cleanups);
    return env;
  }

  log(line: string): void {
    this.options.log?.(line);
  }

  /** A unique tag for names (sessions, hosts, phones) within this run. */
  tag(): number {
    return ++this.counter;
  }

  logFile(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  get profileDir(): string | undefined {
    return this.options.cpuProfile ? join(this.dir, 'profiles') : undefined;
  }

  /** The raw Baileys baseline in its own process (with an inspector when profiling). */
  /** Raw Baileys sockets; with `authDir`, on Baileys' own file auth state there. */
  async startRaw(sim: SimProcess, name: string, authDir?: string): Promise<RawBaileys> {
    return RawBaileys.start(sim, this.logFile(`${name}-${this.tag()}`), {
      inspectPort: this.options.cpuProfile ? await freePort() : undefined,
      authDir,
    });
  }

  /** The simulator in its own process. */
  async startSimulator(): Promise<SimProcess> {
    return spawnSimulator(0);
  }

  /**
   * A session host in its own process (node-runtime/host/main.ts, as an operator runs it), with the
   * memory probe. Previous hosts must be stopped first, or new sessions may be placed on them.
   */
  async startHost(sim: SimProcess, opts: { name?: string; env?: Record<string, string> } = {}) {
    return this.#startHost(sim, HOST_MAIN, opts);
  }

  /**
   * A session host with the edge in the same process (bench/procs/stack.ts), as `npm start` runs them:
   * the edge's calls to its host skip the network. Both share one process, so `host.proc` is `edge.proc`.
   */
  async startStack(sim: SimProcess): Promise<{ host: RunningHostProc; edge: RunningEdgeProc }> {
    const edgePort = await freePort();
    const host = await this.#startHost(sim, STACK_MAIN, {
      name: `bench-stack-${this.tag()}`,
      env: { PORT: String(edgePort), EDGE_CONFIG: JSON.stringify(this.options.edgeConfig ?? {}) },
    });
    const url = `http://127.0.0.1:${edgePort}`;
    await host.proc.whileRunning(waitForHttp(`${url}/`));
    return { host, edge: { url, proc: host.proc, stop: async () => {} } };
  }

  async #startHost(sim: SimProcess, script: string, opts: { name?: string; env?: Record<string, string> }) {
    const id = opts.name ?? `bench-host-${this.tag()}`;
    // Earlier scenarios' sessions stay where they were left, unassigned: a host would otherwise claim
    // them as the sessions of a host that stopped (failover), and measure them with its own.
    await this.db
      .updateTable('sessions')
      .set({ host_id: null })
      .where(({ eb, selectFrom }) =>
        eb(
          'host_id',
          'in',
          selectFrom('hosts').select('id').where(sql<boolean>`lease_until is null or lease_until <= now()`),
        ),
      )
      .execute();
    const port = await freePort();
    const proc = new NodeProc({
      name: id,
      script,
      env: {
        DATABASE_URL: this.databaseUrl,
        EDGE_HOST_SECRET: this.secret,
        WEBHOOK_SECRET_KEY: this.webhookKey,
        HOST_ID: id,
        HOST_PORT: String(port),
        WA_WS_URL: sim.wsUrl,
        WA_TRUST_ROOT: sim.trustRoot,
        WA_MEDIA_CA: sim.mediaCa,
        // The events scenario's webhook receiver listens on 127.0.0.1.
        WEBHOOK_ALLOW_PRIVATE: 'true',
        // Throughput is measured unpaced; pacing is a choice per deployment and session.
        PACING_MIN_INTERVAL_MS: '0',
        PACING_JITTER_MS: '0',
        PACING_PER_CHAT_MIN_INTERVAL_MS: '0',
        LOG_LEVEL: this.options.logLevel ?? 'info',
        ...opts.env,
      },
      logFile: this.logFile(id),
      probe: true,
      inspectPort: this.options.cpuProfile ? await freePort() : undefined,
    });
    const url = `http://127.0.0.1:${port}`;
    await proc.whileRunning(waitForHttp(`${url}/internal/health`));
    return { id, url, proc, stop: async () => void (await proc.stop()) } satisfies RunningHostProc;
  }

  /** The edge in its own process (bench/procs/edge.ts), over the same database. */
  async startEdge(opts: { name?: string } = {}): Promise<RunningEdgeProc> {
    const inspectPort = this.options.cpuProfile ? await freePort() : undefined;
    return this.#startServer(opts.name ?? `bench-edge-${this.tag()}`, (port) => ({
      script: EDGE_MAIN,
      nodeFlags: EDGE_NODE_FLAGS,
      env: {
        DATABASE_URL: this.databaseUrl,
        EDGE_HOST_SECRET: this.secret,
        WEBHOOK_SECRET_KEY: this.webhookKey,
        PORT: String(port),
        LOG_LEVEL: this.options.logLevel ?? 'info',
        EDGE_CONFIG: JSON.stringify(this.options.edgeConfig ?? {}),
      },
      probe: true,
      inspectPort,
    }));
  }

  /** A bare proxy (bench/procs/bare-proxy.ts) sending every request to `target` with a token for it. */
  startBareProxy(
    target: string,
    token: { hostId: string; tenantId: string; sessionId: string },
  ): Promise<RunningEdgeProc> {
    return this.#startServer(`bench-bare-proxy-${this.tag()}`, (port) => ({
      script: BARE_PROXY_MAIN,
      env: {
        TARGET_URL: target,
        PORT: String(port),
        TOKEN_SECRET: this.secret,
        TOKEN_HOST_ID: token.hostId,
        TOKEN_TENANT_ID: token.tenantId,
        TOKEN_SESSION_ID: token.sessionId,
      },
    }));
  }

  /** An HTTP server in a process of its own, on a free port; resolves once it answers `GET /`. */
  async #startServer(
    name: string,
    options: (port: number) => Omit<NodeProcOptions, 'name' | 'logFile'>,
  ): Promise<RunningEdgeProc> {
    const port = await freePort();
    const proc = new NodeProc({ name, ...options(port), logFile: this.logFile(name) });
    const url = `http://127.0.0.1:${port}`;
    await proc.whileRunning(waitForHttp(`${url}/`));
    return { url, proc, stop: async () => void (await proc.stop()) };
  }

  /**
   * Runs `work`; with profiling on, CPU-profiles `procs` meanwhile, into
   * `<dir>/profiles/<label>/<process>.cpuprofile`.
   */
  async profile<T>(label: string, procs: Profilable[], work: () => Promise<T>): Promise<T> {
    const dir = this.profileDir;
    if (!dir) return work();
    const sessions = await Promise.all(
      procs.map(async (p) => {
        const port = p.proc.options.inspectPort;
        if (!port) throw new Error(`${p.proc.options.name} was started without an inspector`);
        const session = await InspectorSession.connect(port);
        await session.startProfiling();
        return { session, name: p.proc.options.name };
      }),
    );
    try {
      return await work();
    } finally {
      const out = join(dir, label.replace(/[^A-Za-z0-9_.-]+/g, '-'));
      await mkdir(out, { recursive: true });
      for (const { session, name } of sessions) {
        await session.stopProfiling(join(out, `${name}.cpuprofile`)).catch((err) => this.log(String(err)));
        session.close();
      }
    }
  }

  /**
   * Turns PostgreSQL's commit timestamps (`track_commit_timestamp`, so `pg_xact_commit_timestamp(xmin)`
   * tells when a row's transaction committed) on or off. The embedded server is restarted on the same
   * port for it, so no host may be running; the pool reconnects by itself. With an external server
   * nothing is changed. Resolves to whether they are on now.
   */
  async commitTimestamps(on: boolean): Promise<boolean> {
    const current = async () =>
      (await sql<{ on: string }>`SELECT current_setting('track_commit_timestamp') AS on`.execute(this.db))
        .rows[0]?.on === 'on';
    const pg = this.embedded.pg;
    if (!pg || (await current()) === on) return current();
    await sql`ALTER SYSTEM SET track_commit_timestamp = ${sql.lit(on ? 'on' : 'off')}`.execute(this.db);
    await this.restartPostgres();
    return current();
  }

  /**
   * Stops the embedded PostgreSQL and starts it again on the same port, its shared buffers empty (with
   * an external server, nothing). No host may be running; the pool reconnects by itself.
   */
  async restartPostgres(): Promise<void> {
    const pg = this.embedded.pg;
    if (!pg) return;
    await pg.stop();
    const { startEmbeddedPostgres } = await import('../../node-runtime/db/embedded.js');
    this.embedded.pg = await startEmbeddedPostgres({
      dataDir: join(this.dir, 'pg'),
      port: pg.port,
      ephemeral: this.options.ephemeralDb,
    });
  }

  /** The ids of the bench tenant's sessions named `names`, by name. */
  async sessionIds(names: readonly string[]): Promise<Map<string, string>> {
    if (names.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('sessions')
      .select(['id', 'name'])
      .where('tenant_id', '=', this.tenantId)
      .where('name', 'in', [...names])
      .execute();
    return new Map(rows.map((r) => [r.name, r.id]));
  }

  /**
   * The embedded PostgreSQL's processes (postmaster and backends), for CPU accounting; empty with an
   * external server, whose CPU is then not counted.
   */
  async postgresPids(): Promise<number[]> {
    if (this.options.databaseUrl) return [];
    const pidFile = await readFile(join(this.dir, 'pg', 'postgres', 'postmaster.pid'), 'utf8').catch(
      () => '',
    );
    const postmaster = Number(pidFile.split('\n')[0]);
    if (!(postmaster > 0)) return [];
    return [postmaster, ...(await descendants(postmaster)).map((p) => p.pid)];
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups) await cleanup().catch((err) => this.log(`cleanup: ${String(err)}`));
  }
}

/** The application name of the bench process's own database connections. */
export const BENCH_APPLICATION = 'wa-bench';

async function withAdmin<T>(url: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}
