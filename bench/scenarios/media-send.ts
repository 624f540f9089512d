// 7. Media: images of 1 MB sent by a few linked sessions through the outbox (`POST /api/messages` with
// the file inline in base64; the host encrypts it, uploads it to the simulator's HTTPS media server and
// sends the message), against raw Baileys sockets (in-memory auth state) sending the same image with
// `sendMessage`. Delivered counts images the simulated contacts downloaded, checked and decrypted.
import type { BenchConfig } from '../lib/config.js';
import type { BenchEnv } from '../lib/env.js';
import { api, awaitDelivery, linkSession, registerContacts } from '../lib/gateway.js';
import { waitQuiet } from '../lib/procs.js';
import { benchImage } from '../lib/raw.js';
import { metric, type ScenarioResult } from '../lib/report.js';
import { fmt, pool } from '../lib/stats.js';
import { type Job, measured, rawSend, type SendFigures, sendAll, sumExceptSim } from './send-throughput.js';

/** 13-digit numbers apart from the other scenarios': side (1 ours, 2 raw, 3 and 4 their warm-ups), index. */
const accountPhone = (side: number, i: number) => `628${side}7${String(i).padStart(8, '0')}`;
const contactPhone = (side: number, i: number) => `629${side}7${String(i).padStart(8, '0')}`;

const plan = (side: number, sessions: number, perSession: number): Job[] =>
  Array.from({ length: sessions }, (_, s) => ({
    session: s,
    contact: contactPhone(side, s),
    texts: Array.from({ length: perSession }, (_, k) => `image ${s}/${k}`),
  }));

/**
 * Images through one side, untimed, delivered before its measured run (to other contacts, so that run
 * still sets up each contact's Signal session). A process's first images run cold on both sides, and ours
 * open the database connections a burst needs and prepare their statements on each: without a warm-up,
 * a quick run's 16 images cost ours about 145 ms of CPU each and raw Baileys 35; after 16 untimed ones,
 * 85 and 21.
 */
async function warmUp(
  simUrl: string,
  side: number,
  cfg: BenchConfig['media'],
  send: (jobs: Job[]) => Promise<{ acceptedBy: Map<string, number> }>,
): Promise<void> {
  const jobs = plan(side, cfg.sessions, cfg.warmupPerSession);
  await registerContacts(simUrl, jobs);
  const sent = await send(jobs);
  await awaitDelivery(simUrl, sent.acceptedBy, cfg.deliveryTimeoutMs);
}

export async function mediaSend(env: BenchEnv, config: BenchConfig, result: ScenarioResult): Promise<void> {
  const cfg = config.media;
  const kb = Math.round(cfg.bytes / 1024);
  result.title = '7. Media: sending images';
  result.ours = `POST /api/messages with a ${kb} KiB image inline (base64), through the edge to the host's outbox, which encrypts, uploads and sends it`;
  result.baseline =
    'raw Baileys sockets with in-memory auth state, `sendMessage({image})` with the same image';
  result.params = {
    sessions: cfg.sessions,
    'images per session': cfg.perSession,
    'image size (bytes)': cfg.bytes,
    'in flight per session': cfg.inflight,
    'warm-up per side, to other contacts (untimed)': `${cfg.warmupPerSession} images per session`,
  };
  const image = benchImage(cfg.bytes);
  const data = image.toString('base64');
  const sim = await env.startSimulator();
  const simPid = sim.child.pid ?? -1;
  let ours: SendFigures | undefined;
  let base: SendFigures | undefined;
  try {
    const host = await env.startHost(sim);
    const edge = await env.startEdge();
    try {
      const linked = await pool(
        Array.from({ length: cfg.sessions }, (_, i) => i),
        4,
        (i) => linkSession(edge.url, sim.url, env.adminKey, `media-${env.tag()}`, accountPhone(1, i)),
      );
      const post = (job: Job, caption: string) =>
        api(edge.url, 'POST', '/api/messages', {
          key: linked[job.session]?.key,
          body: { to: job.contact, type: 'image', caption, media: { data, mimetype: 'image/jpeg' } },
        }).then((r) => r.status);
      await warmUp(sim.url, 3, cfg, (jobs) => sendAll(jobs, cfg.inflight, post));
      const jobs = plan(1, cfg.sessions, cfg.perSession);
      await registerContacts(sim.url, jobs);
      await waitQuiet([host.proc.pid, edge.proc.pid, simPid]);
      const groups = async () => ({
        host: [host.proc.pid],
        edge: [edge.proc.pid],
        postgres: await env.postgresPids(),
        sim: [simPid],
      });
      ours = await measured(sim.url, cfg.deliveryTimeoutMs, groups, () =>
        env.profile('media-send', [host, edge], () => sendAll(jobs, cfg.inflight, post)),
      );
      env.log(
        `  ours: delivered ${fmt(ours.deliveredPerS)} images/s (${ours.delivered}/${ours.accepted}), CPU ${fmt(sumExceptSim(ours.cpuPerMessage))} ms/image`,
      );
    } finally {
      await edge.stop();
      await host.stop();
    }
    const raw = await env.startRaw(sim, 'raw-media');
    try {
      await raw.link(
        Array.from({ length: cfg.sessions }, (_, i) => accountPhone(2, i)),
        4,
      );
      await warmUp(sim.url, 4, cfg, (jobs) => rawSend(raw, jobs, cfg.inflight, false, cfg.bytes)());
      const jobs = plan(2, cfg.sessions, cfg.perSession);
      await registerContacts(sim.url, jobs);
      await waitQuiet([raw.proc.pid, simPid]);
      base = await measured(
        sim.url,
        cfg.deliveryTimeoutMs,
        async () => ({ raw: [raw.proc.pid], sim: [simPid] }),
        () => env.profile('raw-media-send', [raw], rawSend(raw, jobs, cfg.inflight, false, cfg.bytes)),
      );
      env.log(
        `  raw: delivered ${fmt(base.deliveredPerS)} images/s (${base.delivered}/${base.accepted}), CPU ${fmt(sumExceptSim(base.cpuPerMessage))} ms/image`,
      );
    } finally {
      await raw.close();
    }
  } finally {
    await sim.stop();
    const pick = (f: SendFigures | undefined, k: 'acceptedPerS' | 'deliveredPerS') => f?.[k] ?? Number.NaN;
    result.metrics.push(
      metric(
        `delivered, ${kb} KiB images`,
        'images/s',
        pick(ours, 'deliveredPerS'),
        pick(base, 'deliveredPerS'),
        'higher',
      ),
      metric(
        'CPU per image',
        'ms',
        ours ? sumExceptSim(ours.cpuPerMessage) : Number.NaN,
        base ? sumExceptSim(base.cpuPerMessage) : Number.NaN,
        'lower',
      ),
    );
    for (const [who, f] of [
      ['ours', ours],
      ['baseline', base],
    ] as const) {
      if (f && (!f.complete || f.failed > 0)) {
        result.notes.push(
          `${who}: ${f.delivered} of ${f.accepted} images delivered in time, ${f.failed} refused.`,
        );
      }
    }
    if (ours) {
      const split = Object.entries(ours.cpuPerMessage)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ');
      result.notes.push(`Ours, CPU ms per image by process: ${split}.`);
    }
    result.notes.push(
      'Delivered: images the simulated contacts downloaded from the media server, checked (hashes, MAC) and ' +
        'decrypted, per second from the first send to the last. CPU per image: user + system time of our ' +
        "processes (host, edge, PostgreSQL) or the raw one, from the first send to the last delivery; the simulator's is left out.",
      'Ours carries the file three more times than raw Baileys does: base64 in the request, into PostgreSQL ' +
        '(the outbox keeps it until it leaves) and back out to the host; that is the price of a send that survives a crash.',
    );
  }
}
