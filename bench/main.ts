// The benchmark: runs the scenarios (each: our stack, then the baseline, in the same run) and returns the
// report; bench/run.ts is the command line around it.
import type { BenchConfig } from './lib/config.js';
import { BenchEnv, type BenchEnvOptions } from './lib/env.js';
import { type BenchReport, machine, type ScenarioResult } from './lib/report.js';
import { apiOverhead } from './scenarios/api-overhead.js';
import { coldStart } from './scenarios/cold-start.js';
import { events } from './scenarios/events.js';
import { failover } from './scenarios/failover.js';
import { mediaSend } from './scenarios/media-send.js';
import { pairing } from './scenarios/pairing.js';
import { sendThroughput } from './scenarios/send-throughput.js';
import { sessionsPerHost } from './scenarios/sessions-per-host.js';

export const SCENARIOS = {
  api: apiOverhead,
  send: sendThroughput,
  memory: sessionsPerHost,
  pairing,
  cold: coldStart,
  events,
  media: mediaSend,
  failover,
} as const;

export type ScenarioId = keyof typeof SCENARIOS;
export const SCENARIO_IDS = Object.keys(SCENARIOS) as ScenarioId[];

export interface RunOptions extends BenchEnvOptions {
  config: BenchConfig;
  scenarios?: ScenarioId[];
  /** How the run was started, for the report. */
  command?: string;
}

/** Runs the chosen scenarios; a failing scenario is reported as failed and the others still run. */
export async function runBench(options: RunOptions): Promise<BenchReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const env = await BenchEnv.create(options);
  const scenarios: ScenarioResult[] = [];
  try {
    for (const id of options.scenarios ?? SCENARIO_IDS) {
      const result: ScenarioResult = {
        id,
        title: id,
        ours: '',
        baseline: '',
        params: {},
        metrics: [],
        notes: [],
        seconds: 0,
      };
      const t0 = Date.now();
      log(`[${id}] start`);
      try {
        await SCENARIOS[id](env, options.config, result);
      } catch (err) {
        result.error = err instanceof Error ? err.message : String(err);
        log(`[${id}] failed: ${(err as Error)?.stack ?? err}`);
      }
      result.seconds = (Date.now() - t0) / 1000;
      log(`[${id}] done in ${result.seconds.toFixed(1)} s`);
      scenarios.push(result);
    }
  } finally {
    await env.close();
  }
  return {
    version: 1,
    mode: options.config.mode,
    command: options.command ?? 'npm run bench',
    machine: machine(),
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    scenarios,
  };
}
