// The bench code runs end to end on tiny numbers and produces a report of the expected shape. No figure
// is checked: timings on a shared test machine mean nothing.
import { describe, expect, inject, it } from 'vitest';
import { SMOKE } from '../../bench/lib/config.js';
import {
  GENERATED_END,
  GENERATED_START,
  mergeIntoDocument,
  metric,
  renderReport,
} from '../../bench/lib/report.js';
import { runBench } from '../../bench/main.js';

describe('bench', () => {
  it('runs the API, send, memory, pairing, events, media and failover scenarios on tiny numbers and reports every figure', async () => {
    const report = await runBench({
      config: SMOKE,
      scenarios: ['api', 'send', 'memory', 'pairing', 'events', 'media', 'failover'],
      databaseUrl: inject('postgresUrl'),
      logLevel: 'warn',
      edgeConfig: {
        rateLimits: {
          sendPerSession: { perSecond: 1_000_000, burst: 1_000_000 },
          sendPerTenant: { perSecond: 1_000_000, burst: 1_000_000 },
        },
      },
    });
    expect(report).toMatchObject({ version: 1, mode: 'smoke', machine: { cores: expect.any(Number) } });
    expect(report.scenarios.map((s) => s.id)).toEqual([
      'api',
      'send',
      'memory',
      'pairing',
      'events',
      'media',
      'failover',
    ]);
    for (const s of report.scenarios) {
      expect(s.error).toBeUndefined();
      expect(s.ours).not.toBe('');
      expect(s.baseline).not.toBe('');
      expect(s.metrics.length).toBeGreaterThan(0);
      for (const m of s.metrics) {
        expect(m).toEqual({
          name: expect.any(String),
          unit: expect.any(String),
          ours: expect.any(Number),
          baseline: expect.any(Number),
          better: expect.stringMatching(/^(lower|higher)$/),
          ratio: expect.any(Number),
          // A figure with nothing to compare it with (webhook latency) says so.
          ...(m.noBaseline ? { noBaseline: true } : {}),
        });
        // Named, so a figure that came out empty says which one it is.
        expect(Number.isFinite(m.ours), `${s.id}: ${m.name}, ours = ${m.ours}`).toBe(true);
        expect(Number.isFinite(m.baseline), `${s.id}: ${m.name}, baseline = ${m.baseline}`).toBe(
          !m.noBaseline,
        );
      }
    }
    // The floors beside our figures answered every request: a bare proxy in front of the host, and a
    // gateway as small as the seed in front of raw Baileys on file auth.
    const api = report.scenarios.find((s) => s.id === 'api');
    expect(api?.metrics.filter((m) => m.name.endsWith('a bare proxy (the least a hop costs)'))).toHaveLength(
      4,
    );
    expect(api?.notes.filter((n) => /, bare: /.test(n))).toEqual([]);
    // What the scheduler counted, per process of each path: the edge and the host apart, the two in one
    // process, each on a CPU for some time per request.
    const scheduled = api?.notes.filter((n) => n.startsWith('Per request at')) ?? [];
    expect(scheduled).toHaveLength(4);
    expect(scheduled[0]).toMatch(/through the edge: edge [1-9][\d.,]* \/ [\d.,]+ µs, .*, host [1-9]/);
    expect(scheduled[0]).toMatch(/through the bare proxy: bare proxy [1-9]/);
    expect(scheduled[2]).toMatch(/through the edge: edge and host [1-9]/);
    const send = report.scenarios.find((s) => s.id === 'send');
    expect(send?.metrics.filter((m) => m.name.endsWith('against a seed-like gateway')).length).toBe(
      2 * SMOKE.send.sessions.length,
    );
    expect(send?.notes.filter((n) => n.startsWith('seed-like gateway'))).toEqual([]);
    // Every inbound message reached the webhook receiver once, signed.
    const events = report.scenarios.find((s) => s.id === 'events');
    expect(events?.metrics.find((m) => m.name.startsWith('messages lost'))?.ours).toBe(0);
    expect(events?.notes.some((n) => /Signatures: ([1-9]\d*) of \1 deliveries verified/.test(n))).toBe(true);
    // Every image went through the media server to the contact, on both sides.
    const media = report.scenarios.find((s) => s.id === 'media');
    expect(media?.notes.some((n) => /delivered in time/.test(n))).toBe(false);
    const markdown = renderReport(report);
    for (const s of report.scenarios) expect(markdown).toContain(`### ${s.title}`);
    expect(markdown).toContain('ratio (ours ÷ baseline)');
  }, 300_000);

  it('replaces only the generated part of BENCHMARKS.md', () => {
    const report = {
      version: 1 as const,
      mode: 'smoke',
      command: 'npm run bench',
      machine: { cores: 2, cpuModel: 'cpu', memoryGiB: 1, node: 'v24', os: 'linux' },
      startedAt: '2026-01-01T00:00:00.000Z',
      seconds: 1,
      scenarios: [
        {
          id: 'api',
          title: 'API',
          ours: 'edge',
          baseline: 'host',
          params: {},
          metrics: [metric('p50', 'ms', 2, 1, 'lower')],
          notes: [],
          seconds: 1,
        },
      ],
    };
    const first = mergeIntoDocument(undefined, renderReport(report), '# B\n\n{{generated}}\n');
    expect(first).toContain(GENERATED_START);
    const edited = first.replace('# B', '# B\n\nFindings written by hand.');
    const again = mergeIntoDocument(edited, 'new figures', '# B\n\n{{generated}}\n');
    expect(again).toContain('Findings written by hand.');
    expect(again).toContain(`${GENERATED_START}\nnew figures\n${GENERATED_END}`);
    expect(again).not.toContain('| p50 |');
  });
});
