// The command line of `npm run bench`: options, progress on stderr, BENCHMARKS.md and a JSON copy.
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { EdgeConfigInput } from '../edge/config.js';
import { FULL, QUICK } from './lib/config.js';
import { renderProfile, summarizeProfile } from './lib/cpuprofile.js';
import { ROOT } from './lib/procs.js';
import { mergeIntoDocument, renderReport } from './lib/report.js';
import { runBench, SCENARIO_IDS, type ScenarioId } from './main.js';

const USAGE = `npm run bench [-- options]
  --quick                 about 27 minutes on 2 cores; default is the full run
  --only=a,b              scenarios: ${SCENARIO_IDS.join(', ')}
  --out=FILE              Markdown report (default BENCHMARKS.md; with --profile, none unless given)
  --json=FILE             the results as JSON too
  --profile               CPU profiles of the host and edge during the measured phases, summarised into
                          <scratch>/profiles.md (the figures of a profiled run are not the official ones)
  --keep                  keep the scratch directory (logs, profiles)
  --log-level=LEVEL       LOG_LEVEL of the host and edge (default info, as npm start)
  --database-url=URL      make a fresh database on this server instead of an embedded PostgreSQL`;

const SKELETON = `# Benchmarks

What the gateway costs over raw Baileys on the same WhatsApp simulator, measured side by side: every
scenario runs our stack and then its baseline in the same run, and every figure is shown with its ratio
(ours ÷ baseline). For latency, time and memory a ratio above 1 is our overhead; for throughput a ratio
below 1 is.

Run it with \`npm run bench -- --quick\` (about 27 minutes on 2 cores) or \`npm run bench\` (the full run). The
code is in \`bench/\`; the generated part below is replaced on every run, the rest of this file is kept.

{{generated}}
`;

export async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'info' },
      'database-url': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scenarios = (values.only?.split(',').map((s) => s.trim()) ?? SCENARIO_IDS) as ScenarioId[];
  const unknown = scenarios.filter((s) => !SCENARIO_IDS.includes(s));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}\n${USAGE}\n`);
    return 2;
  }
  const config = values.quick ? QUICK : FULL;
  const keep = values.keep || values.profile;
  const dir = keep ? await mkdtemp(join(tmpdir(), 'wa-bench-')) : undefined;
  const command = ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' ');
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  log(`bench (${config.mode}): ${scenarios.join(', ')}${dir ? `; scratch in ${dir}` : ''}`);

  const report = await runBench({
    config,
    scenarios,
    command,
    dir,
    log,
    logLevel: values['log-level'],
    cpuProfile: values.profile,
    databaseUrl: values['database-url'] ?? process.env.BENCH_DATABASE_URL,
    // Per-session send limits would measure the limiter, not the gateway: lifted for the bench.
    edgeConfig: BENCH_EDGE_CONFIG,
  });

  const generated = renderReport(report);
  const out = values.out ?? (values.profile ? undefined : join(ROOT, 'BENCHMARKS.md'));
  if (out) {
    const existing = await readFile(out, 'utf8').catch(() => undefined);
    await writeFile(out, mergeIntoDocument(existing, generated, SKELETON));
    log(`wrote ${relative(process.cwd(), out) || out}`);
  } else {
    process.stdout.write(`${generated}\n`);
  }
  if (values.json) {
    await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${values.json}`);
  }
  if (values.profile && dir) {
    const parts: string[] = ['# CPU profiles', ''];
    const profiles = join(dir, 'profiles');
    await mkdir(profiles, { recursive: true });
    for (const phase of (await readdir(profiles)).sort()) {
      for (const file of (await readdir(join(profiles, phase))).filter((f) => f.endsWith('.cpuprofile'))) {
        const title = `${phase}: ${file.replace(/\.cpuprofile$/, '')}`;
        parts.push(renderProfile(await summarizeProfile(join(profiles, phase, file)), title));
      }
    }
    await writeFile(join(dir, 'profiles.md'), parts.join('\n'));
    log(`profiles summarised in ${join(dir, 'profiles.md')}`);
  }
  const failed = report.scenarios.filter((s) => s.error);
  for (const s of failed) log(`scenario ${s.id} failed: ${s.error}`);
  log(`done in ${report.seconds.toFixed(0)} s`);
  return failed.length > 0 ? 1 : 0;
}

/** A limit no bench reaches. */
const UNLIMITED = { perSecond: 1_000_000, burst: 1_000_000 };

/**
 * Edge settings for the bench: the send limits per session and per tenant (by default 20/s and 100/s,
 * edge/config.ts) are lifted, so the send scenario measures the gateway, not the limiter.
 */
export const BENCH_EDGE_CONFIG = {
  rateLimits: { sendPerSession: UNLIMITED, sendPerTenant: UNLIMITED },
} satisfies Partial<EdgeConfigInput>;
