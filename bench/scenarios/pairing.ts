// 4. Pairing latency: POST /api/session/create to the first QR, and scan to connected, one session at a
// time, vs raw Baileys (socket creation to the QR event; scan to `open`).
import type { BenchConfig } from '../lib/config.js';
import type { BenchEnv } from '../lib/env.js';
import { type LinkedSession, linkSession } from '../lib/gateway.js';
import type { LinkTiming } from '../lib/raw.js';
import { metric, type ScenarioResult } from '../lib/report.js';
import { fmt, median, quantile } from '../lib/stats.js';

const accountPhone = (side: number, i: number) => `628${side}4${String(i).padStart(8, '0')}`;

export async function pairing(env: BenchEnv, config: BenchConfig, result: ScenarioResult): Promise<void> {
  const n = config.pairing.sessions;
  result.title = '4. Pairing: create to first QR, scan to connected';
  result.ours =
    'POST /api/session/create, then GET /api/session/qr until it has a QR (the host waits for it); after the ' +
    'scan, GET /api/session/status every 10 ms until connected';
  result.baseline =
    "a raw Baileys socket: creation to the `qr` event; scan to `connection: 'open'` (after the 515 restart)";
  result.params = { sessions: n, order: 'one after the other' };
  const sim = await env.startSimulator();
  const ours: LinkedSession[] = [];
  let base: LinkTiming[] = [];
  try {
    const host = await env.startHost(sim);
    const edge = await env.startEdge();
    try {
      for (let i = 0; i < n; i++) {
        ours.push(
          await linkSession(edge.url, sim.url, env.adminKey, `pair-${env.tag()}`, accountPhone(1, i), {
            timed: true,
          }),
        );
      }
    } finally {
      await edge.stop();
      await host.stop();
    }
    const raw = await env.startRaw(sim, 'raw-pair');
    try {
      base = await raw.link(
        Array.from({ length: n }, (_, i) => accountPhone(2, i)),
        1,
      );
    } finally {
      await raw.close();
    }
  } finally {
    await sim.stop();
  }
  const pick = (
    xs: { createToQrMs?: number; scanToConnectedMs?: number }[],
    k: 'createToQrMs' | 'scanToConnectedMs',
  ) => xs.map((x) => x[k] ?? Number.NaN);
  const oq = pick(ours, 'createToQrMs');
  const bq = pick(base, 'createToQrMs');
  const oc = pick(ours, 'scanToConnectedMs');
  const bc = pick(base, 'scanToConnectedMs');
  env.log(
    `  create→QR median ${fmt(median(oq))} ms vs ${fmt(median(bq))}; scan→connected ${fmt(median(oc))} vs ${fmt(median(bc))}`,
  );
  result.metrics.push(
    metric('create → first QR, median', 'ms', median(oq), median(bq), 'lower'),
    metric('scan → connected, median', 'ms', median(oc), median(bc), 'lower'),
    metric('create → first QR, p90', 'ms', quantile(oq, 0.9), quantile(bq, 0.9), 'lower'),
    metric('scan → connected, p90', 'ms', quantile(oc, 0.9), quantile(bc, 0.9), 'lower'),
  );
  result.notes.push(
    'Ours is timed by the client: it includes the HTTP calls and, for the QR, rendering it as a PNG. The QR ' +
      'image is decoded by the bench before the scan clock starts. Status polling adds up to 10 ms.',
    'Both sides start from a fresh process; the first pairing of each warms up code paths, which the median absorbs.',
  );
}
