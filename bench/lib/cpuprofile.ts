// Summaries of V8 CPU profiles (`node --cpu-prof`): where a process spent its time, by function (self
// and inclusive) and by package, so the biggest cost can be named without a profiler UI.
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  busyMs: number;
  gcMs: number;
  self: ProfileEntry[];
  inclusive: ProfileEntry[];
  packages: ProfileEntry[];
}

/** `node_modules/<pkg>` (scoped too), `node:` internals, or the project's file. */
export function packageOf(url: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return 'node (internals)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const root = url.indexOf('/work/');
  const rel = url.replace(/^file:\/\//, '');
  return root >= 0 ? rel.split('/').slice(3, 5).join('/') : rel;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^\/work\/[^/]+\//, '');
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

export async function summarizeProfile(file: string, top = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfMs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    selfMs.set(id, (selfMs.get(id) ?? 0) + dt);
  }
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  let gc = 0;
  const self = new Map<string, number>();
  const packages = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const chains = new Map<number, Set<string>>();
  const chainOf = (id: number): Set<string> => {
    const known = chains.get(id);
    if (known) return known;
    const node = byId.get(id);
    const up = parent.get(id);
    const set = new Set(up === undefined ? [] : chainOf(up));
    if (node && !SPECIAL.has(node.callFrame.functionName)) set.add(frameName(node));
    chains.set(id, set);
    return set;
  };
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (!node) continue;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') continue;
    if (fn === '(garbage collector)') gc += ms;
    const name = SPECIAL.has(fn) ? fn : frameName(node);
    self.set(name, (self.get(name) ?? 0) + ms);
    const pkg = SPECIAL.has(fn) ? fn : packageOf(node.callFrame.url);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
    for (const f of chainOf(id)) inclusive.set(f, (inclusive.get(f) ?? 0) + ms);
  }
  const busy = [...self.values()].reduce((a, b) => a + b, 0);
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, pct: (100 * ms) / (busy || 1) }));
  return {
    file,
    wallMs,
    busyMs: busy,
    gcMs: gc,
    self: rank(self),
    inclusive: rank(inclusive),
    packages: rank(packages),
  };
}

export function renderProfile(s: ProfileSummary, title: string): string {
  const table = (label: string, rows: ProfileEntry[]) =>
    [
      `| ${label} | ms | % of busy |`,
      '|---|---:|---:|',
      ...rows.map(
        (r) => `| \`${r.name.replaceAll('|', '\\|')}\` | ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} |`,
      ),
      '',
    ].join('\n');
  return [
    `#### ${title}`,
    '',
    `Wall ${s.wallMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms, of which GC ${s.gcMs.toFixed(0)} ms.`,
    '',
    table('package (self time)', s.packages),
    table('function (self time)', s.self),
    table('function (inclusive time)', s.inclusive),
  ].join('\n');
}
