// 5. Cold start: spawning `npm start` (fresh DATA_DIR, embedded PostgreSQL) until it serves (/health: database and a host up),
// and a restart on the same DATA_DIR; vs the same launch (npm, tsx) of an app that only starts the same
// embedded PostgreSQL and answers /health (bench/procs/cold-baseline.ts): the floor of any app built on
// an embedded database, so the ratio shows what migrations, bootstrap, Baileys, the host and the edge add.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchConfig } from '../lib/config.js';
import type { BenchEnv } from '../lib/env.js';
import { cleanEnv, descendants, freePort, ROOT, waitForHttp } from '../lib/procs.js';
import { metric, type ScenarioResult } from '../lib/report.js';
import { fmt, median, sleep } from '../lib/stats.js';

interface Launch {
  /** Time until it serves (/health: database and a session host up), ms. */
  readyMs: number;
  /** From the process's own log lines, ms after the spawn (ours only). */
  hostStartedMs?: number;
  edgeListeningMs?: number;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Stops what `npm ...` started the way Ctrl-C would reach the app: SIGTERM to the Node processes under
 * npm (PostgreSQL is left to the app, which stops it), then to npm; anything left after 20 s is killed.
 */
async function stopTree(child: ChildProcess, dataDir: string): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const tree = await descendants(pid);
  const nodes = tree.filter((p) => p.comm !== 'postgres' && p.comm !== 'esbuild');
  for (const p of nodes) {
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {}
  }
  const deadline = Date.now() + 20_000;
  while (nodes.some((p) => alive(p.pid)) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) child.kill('SIGTERM');
  for (const p of await descendants(pid)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {}
  }
  // A PostgreSQL the app did not get to stop.
  const pidFile = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => undefined);
  const postmaster = Number(pidFile?.split('\n')[0]);
  if (postmaster > 0 && alive(postmaster)) {
    process.kill(postmaster, 'SIGINT');
    for (let i = 0; i < 100 && alive(postmaster); i++) await sleep(50);
  }
}

/** /health says the database answers and a session host is alive. */
const serving = (body: string) => {
  try {
    const health = JSON.parse(body) as { database?: string; sessionHosts?: string; ok?: boolean };
    return health.ok === true || (health.database === 'ok' && health.sessionHosts === 'ok');
  } catch {
    return false;
  }
};

async function launch(args: string[], dataDir: string, logFile: string, parseLog: boolean): Promise<Launch> {
  const port = await freePort();
  const hostPort = await freePort();
  const out = openSync(logFile, 'a');
  const spawnedAt = Date.now();
  const t0 = performance.now();
  const child = spawn('npm', args, {
    cwd: ROOT,
    env: {
      ...cleanEnv(),
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST_PORT: String(hostPort),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  try {
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`npm ${args.join(' ')} exited with ${code}; see ${logFile}`)),
      ),
    );
    await Promise.race([
      // Serving: the database answers and a session host is up. Whether WhatsApp is reachable is the
      // network's business (/health is 503 "degraded" on a machine with no internet), not start-up's.
      waitForHttp(`http://127.0.0.1:${port}/health`, { everyMs: 10, timeoutMs: 120_000, ready: serving }),
      exited,
    ]);
    const readyMs = performance.now() - t0;
    const result: Launch = { readyMs };
    if (parseLog) {
      const lines = (await readFile(logFile, 'utf8')).split('\n');
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as { time?: number; msg?: string };
          if (!entry.time || entry.time < spawnedAt) continue;
          if (entry.msg === 'session host started') result.hostStartedMs = entry.time - spawnedAt;
          if (entry.msg === 'edge listening') result.edgeListeningMs = entry.time - spawnedAt;
        } catch {}
      }
    }
    return result;
  } finally {
    child.removeAllListeners('exit');
    await stopTree(child, dataDir);
  }
}

/** A bare Node HTTP server's start, for scale: the runtime floor with no npm, tsx or database. */
async function bareNode(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    ['-e', `require('http').createServer((q,s)=>s.end('ok')).listen(${port},'127.0.0.1')`],
    { stdio: 'ignore' },
  );
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, { everyMs: 5 });
    return performance.now() - t0;
  } finally {
    child.kill('SIGTERM');
  }
}

export async function coldStart(env: BenchEnv, config: BenchConfig, result: ScenarioResult): Promise<void> {
  const runs = config.cold.runs;
  result.title = '5. Cold start: `npm start` to the first answered request';
  result.ours =
    '`npm start` with a fresh DATA_DIR (initdb, PostgreSQL start, migrations, default tenant, host, edge), ' +
    'then again on the same DATA_DIR (restart); timed from the spawn until GET /health says the database and a session host are up';
  result.baseline =
    '`npm run bench -- --cold-baseline`: the same npm launch of compiled JavaScript, a script that only starts the same ' +
    'embedded PostgreSQL (bench/procs/cold-baseline.ts) and answers /health';
  result.params = { runs, 'health polled every (ms)': 10 };
  const ours: Launch[] = [];
  const oursRestart: Launch[] = [];
  const base: Launch[] = [];
  const baseRestart: Launch[] = [];
  for (let i = 0; i < runs; i++) {
    for (const side of ['ours', 'baseline'] as const) {
      const dataDir = await mkdtemp(join(env.dir, `cold-${side}-`));
      try {
        const args = side === 'ours' ? ['start'] : ['run', 'bench', '--', '--cold-baseline'];
        const log = env.logFile(`cold-${side}-${i}`);
        const first = await launch(args, dataDir, log, side === 'ours');
        const again = await launch(args, dataDir, log, side === 'ours');
        (side === 'ours' ? ours : base).push(first);
        (side === 'ours' ? oursRestart : baseRestart).push(again);
        env.log(`  ${side}: first start ${fmt(first.readyMs)} ms, restart ${fmt(again.readyMs)} ms`);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  }
  const med = (xs: Launch[], k: keyof Launch) => median(xs.map((x) => x[k] ?? Number.NaN));
  result.metrics.push(
    metric(
      'first start (fresh DATA_DIR) to serving (/health: database and a host up)',
      'ms',
      med(ours, 'readyMs'),
      med(base, 'readyMs'),
      'lower',
    ),
    metric(
      'restart (existing DATA_DIR) to serving',
      'ms',
      med(oursRestart, 'readyMs'),
      med(baseRestart, 'readyMs'),
      'lower',
    ),
  );
  const bare = median([await bareNode(), await bareNode(), await bareNode()]);
  result.notes.push(
    `Where ours spends it (first start, from its own log lines): session host started after ${fmt(med(ours, 'hostStartedMs'))} ms, ` +
      `edge listening after ${fmt(med(ours, 'edgeListeningMs'))} ms; on restart ${fmt(med(oursRestart, 'hostStartedMs'))} ms and ` +
      `${fmt(med(oursRestart, 'edgeListeningMs'))} ms.`,
    `For scale, a bare \`node -e\` HTTP server (no npm, no tsx, no database) answers ${fmt(bare)} ms after its spawn.`,
    'The median over the runs is shown. The embedded PostgreSQL runs with its durable defaults, as `npm start` runs it.',
  );
}
