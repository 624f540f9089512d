// Compiles the TypeScript that runs in production to JavaScript in dist/, file by file (no bundle), with
// source maps on disk: `npm start`, `npm run sandbox` and the bench's processes run it without tsx, whose
// source-map support makes every formatted stack trace expensive (Baileys makes one per send). Tests and
// development keep running the sources through tsx.
//
// esbuild only strips types (tsc checks them, in `npm test`): the whole tree takes well under a second,
// so `npm start` builds every time and dist/ is never stale. Plain JavaScript, so it runs before anything
// is compiled, on any Node the project accepts.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'dist');
const STAMP = join(OUT, '.built');
/** What runs outside tests: the gateway, its scripts, the simulator (the sandbox's WhatsApp) and the bench. */
const SOURCES = ['edge', 'node-runtime', 'shared', 'scripts', 'test/wa-sim', 'bench'];

async function filesIn(dir, keep) {
  const found = [];
  for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
    // parentPath is Node 20.12+; `path` before it.
    if (entry.isFile() && keep(entry.name))
      found.push(relative(ROOT, join(entry.parentPath ?? entry.path, entry.name)));
  }
  return found;
}

const isSource = (name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts');

/**
 * Writes a file so that a reader sees the old content or the new, never a part: two `npm start`s at once
 * (tests do that) may both build while the other's process is loading dist/.
 */
async function writeAtomically(path, contents) {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, path);
}

// What the edge serves to browsers (the API reference's script, the console's script and style), as
// modules of strings: on Workers there is no file system, so they travel in the edge's code. Written
// next to the sources (git-ignored; a committed .d.ts gives their types) and copied into dist/.
const ASSETS = 'edge/generated';
const SCALAR = 'node_modules/@scalar/api-reference/dist/browser/standalone.js';
const CONSOLE_ENTRY = 'edge/console/client/main.ts';
const CONSOLE_STYLE = 'edge/console/client/style.css';

async function generateAssets() {
  const bundled = await build({
    absWorkingDir: ROOT,
    entryPoints: [CONSOLE_ENTRY],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2022',
    platform: 'browser',
    logLevel: 'warning',
    write: false,
  });
  const modules = {
    'scalar.js': `export default ${JSON.stringify(await readFile(join(ROOT, SCALAR), 'utf8'))};\n`,
    'console.js':
      `export const script = ${JSON.stringify(bundled.outputFiles[0].text)};\n` +
      `export const style = ${JSON.stringify(await readFile(join(ROOT, CONSOLE_STYLE), 'utf8'))};\n`,
  };
  for (const [name, text] of Object.entries(modules)) {
    await writeAtomically(join(ROOT, ASSETS, name), text);
    await writeAtomically(join(OUT, ASSETS, name), text);
  }
}

const started = performance.now();
const entryPoints = (await Promise.all(SOURCES.map((dir) => filesIn(dir, isSource)))).flat();
const migrations = await filesIn('migrations', (name) => name.endsWith('.sql'));
// Nothing changed since the last build (every input has the name, size and time it had then): nothing
// to write.
const consoleFiles = await filesIn('edge/console/client', () => true);
const inputs = [...entryPoints, ...migrations, ...consoleFiles, 'scripts/build.mjs', 'package-lock.json'];
const seen = await Promise.all(
  inputs.map(async (f) => {
    const { mtimeMs, size } = await stat(join(ROOT, f));
    return `${f}:${size}:${mtimeMs}`;
  }),
);
const stamp = createHash('sha256').update(seen.join('\n')).digest('hex');
const generated = await stat(join(ROOT, ASSETS, 'console.js')).then(
  () => true,
  () => false,
);
if (generated && (await readFile(STAMP, 'utf8').catch(() => '')) === stamp) process.exit(0);

await generateAssets();

const { outputFiles } = await build({
  absWorkingDir: ROOT,
  entryPoints,
  outdir: OUT,
  outbase: ROOT,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  sourcemap: 'linked',
  logLevel: 'warning',
  write: false,
});
await Promise.all(outputFiles.map((file) => writeAtomically(file.path, file.contents)));
// Read at run time next to the code that uses them (node-runtime/db/migrate.ts).
for (const file of migrations) await writeAtomically(join(OUT, file), await readFile(join(ROOT, file)));
await writeAtomically(STAMP, stamp);
if (process.argv.includes('--verbose')) {
  console.log(
    `built ${entryPoints.length} files into dist/ in ${Math.round(performance.now() - started)} ms`,
  );
}
