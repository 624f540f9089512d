// Runs the edge app in the real runtimes it ships for, as child processes: workerd through `wrangler dev`
// (local mode, Postgres over the Hyperdrive binding) and Deno (`edge/entries/deno.ts`). Both come from
// npm packages in node_modules; nothing here needs a Cloudflare account or the internet.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
// Vitest sets FORCE_COLOR for its workers; the children's output is for reading in failure messages.
const PLAIN_OUTPUT = { NO_COLOR: '1', FORCE_COLOR: '0' };

export interface EdgeRuntimeOptions {
  /** Where the edge's Postgres is (for workerd: what the local Hyperdrive binding connects to). */
  databaseUrl: string;
  /** EDGE_HOST_SECRET. */
  hostSecret: string;
  /** More variables for the edge (EDGE_* settings). */
  env?: Record<string, string>;
  /** How long the runtime may take to answer its first request. Default 60 s. */
  startTimeoutMs?: number;
}

export interface RunningEdgeRuntime {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Milliseconds from spawn to the first answered request. */
  startupMs: number;
  /** The runtime's output so far (the last lines), for failure messages. */
  output(): string;
  /** Stops the runtime and every process it started. */
  stop(): Promise<void>;
}

/** The edge in workerd via `wrangler dev` on a free 127.0.0.1 port, Postgres through Hyperdrive. */
export async function startEdgeInWorkerd(options: EdgeRuntimeOptions): Promise<RunningEdgeRuntime> {
  const dir = await privateTempDir('wa-gateway-workerd-');
  // The secret goes in a file of our own: on the command line (--var) any local user could read it,
  // and a developer's .dev.vars is ignored when --env-file is given.
  const envFile = join(dir, 'edge.env');
  await writeFile(
    envFile,
    Object.entries({ ...options.env, EDGE_HOST_SECRET: options.hostSecret })
      .map(([name, value]) => `${name}=${JSON.stringify(value)}\n`)
      .join(''),
    { mode: 0o600 },
  );
  const env = withoutCloudflareCredentials({
    ...process.env,
    CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: options.databaseUrl,
    // No network: no usage metrics, no `Request.cf` download, no banner (whose update check asks npm).
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    // Wrangler's config dir (device id, logs, the dev registry of running Workers) goes in our temp dir,
    // not the user's home, and dies with it; parallel runs do not see each other.
    XDG_CONFIG_HOME: join(dir, 'config'),
    WRANGLER_CI_DISABLE_CONFIG_WATCHING: 'true',
    ...PLAIN_OUTPUT,
  });
  const wrangler = join(dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js');
  const args = [
    wrangler,
    'dev',
    '--config',
    join(ROOT, 'wrangler.toml'),
    '--local',
    '--ip',
    '127.0.0.1',
    // Port 0: workerd binds a free port and wrangler prints it, so parallel runs never race for one.
    '--port',
    '0',
    '--inspector-port',
    '0',
    '--env-file',
    envFile,
    '--persist-to',
    join(dir, 'state'),
    '--show-interactive-dev-session=false',
    '--log-level',
    'info',
  ];
  return startRuntime({
    name: 'workerd',
    command: process.execPath,
    args,
    env,
    cwd: ROOT,
    findUrl: (line) => /Ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1],
    startTimeoutMs: options.startTimeoutMs,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  });
}

/** The edge on Deno (`edge/entries/deno.ts`) on a free 127.0.0.1 port. */
export async function startEdgeInDeno(options: EdgeRuntimeOptions): Promise<RunningEdgeRuntime> {
  const edgeEnv = {
    ...options.env,
    EDGE_HOST_SECRET: options.hostSecret,
    DATABASE_URL: options.databaseUrl,
    PORT: '0',
    EDGE_LISTEN: '127.0.0.1',
  };
  const env = {
    ...process.env,
    ...edgeEnv,
    DENO_NO_UPDATE_CHECK: '1',
    DENO_NO_PROMPT: '1',
    ...PLAIN_OUTPUT,
  };
  const args = [
    'run',
    '--config',
    join(ROOT, 'deno.json'),
    // Everything comes from node_modules and the repo; a missing module is an error, never a download.
    '--cached-only',
    '--allow-net',
    // Its own variables and postgres.js's PG* defaults, nothing else.
    `--allow-env=${[...Object.keys(edgeEnv), 'PG*'].join(',')}`,
    join(ROOT, 'edge/entries/deno.ts'),
  ];
  return startRuntime({
    name: 'deno',
    command: denoBinary(),
    args,
    env,
    cwd: ROOT,
    findUrl: (line) => {
      const port = /"msg":"edge listening".*"port":(\d+)/.exec(line)?.[1];
      return port ? `http://127.0.0.1:${port}` : undefined;
    },
    startTimeoutMs: options.startTimeoutMs,
  });
}

/** The `deno` executable from the npm package (its postinstall links it next to bin.cjs). */
function denoBinary(): string {
  const packageDir = dirname(require.resolve('deno/package.json'));
  const linked = join(packageDir, 'deno');
  if (existsSync(linked)) return linked;
  // Without the postinstall the binary is still in the platform package.
  const platformDir = dirname(
    require.resolve(`@deno/${process.platform}-${process.arch}-glibc/package.json`),
  );
  return join(platformDir, 'deno');
}

interface RuntimeSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The base URL, from a line of the runtime's output, once it says it listens. */
  findUrl: (line: string) => string | undefined;
  startTimeoutMs: number | undefined;
  cleanup?: () => Promise<void>;
}

async function startRuntime(spec: RuntimeSpec): Promise<RunningEdgeRuntime> {
  const started = Date.now();
  const output = new OutputTail();
  // Its own process group, so stop() reaches workerd and esbuild too, not just wrangler's node.
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  // If the test process dies without stop(), the group must not outlive it.
  const killOnExit = () => killGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    // Whatever of the group is left (workerd once wrangler is gone).
    killGroup(child, 'SIGKILL');
    await spec.cleanup?.();
  };

  try {
    const url = await waitForUrl(spec, child, output);
    await waitForAnswer(url, child, started + (spec.startTimeoutMs ?? 60_000), output, spec.name);
    return { url, startupMs: Date.now() - started, output: () => output.text(), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function waitForUrl(spec: RuntimeSpec, child: ChildProcess, output: OutputTail): Promise<string> {
  const timeoutMs = spec.startTimeoutMs ?? 60_000;
  return new Promise((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${spec.name} did not listen in ${timeoutMs} ms\n${output.text()}`)),
      timeoutMs,
    );
    const onLine = (line: string) => {
      const url = spec.findUrl(line);
      if (url) {
        clearTimeout(timer);
        resolveUrl(url);
      }
    };
    output.follow(child, onLine);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${spec.name} exited (${signal ?? code}) before listening\n${output.text()}`));
    });
  });
}

/**
 * Polls GET / until the runtime answers at all (an error status is the tests' business): wrangler may
 * print its URL before the Worker is loaded.
 */
async function waitForAnswer(
  url: string,
  child: ChildProcess,
  deadline: number,
  output: OutputTail,
  name: string,
): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited before answering\n${output.text()}`);
    }
    try {
      const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) throw new Error(`${name} at ${url} did not answer GET /\n${output.text()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

async function privateTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o700);
  return dir;
}

/** process.env without anything that would let wrangler reach a Cloudflare account. */
function withoutCloudflareCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of Object.keys(copy)) {
    if (/^(CLOUDFLARE|CF)_(API_TOKEN|API_KEY|ACCOUNT_ID|EMAIL)$/.test(name)) delete copy[name];
  }
  return copy;
}

/** The last lines a child printed, on both streams. */
class OutputTail {
  private lines: string[] = [];

  follow(child: ChildProcess, onLine: (line: string) => void): void {
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          this.lines.push(line);
          if (this.lines.length > 200) this.lines.shift();
          onLine(line);
        }
      });
    }
  }

  text(): string {
    return this.lines.join('\n');
  }
}
