import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { expect } from 'vitest';

const README = new URL('../../README.md', import.meta.url);
const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

/** The shell blocks of one README section (between `<!-- name:start -->` and `<!-- name:end -->`),
 * each with the JSON block the README shows right after it. */
export async function readmeSteps(name: string): Promise<{ sh: string; json: string }[]> {
  const readme = await readFile(README, 'utf8');
  const section = readme.split(`<!-- ${name}:start -->`)[1]?.split(`<!-- ${name}:end -->`)[0] ?? '';
  const blocks = [...section.matchAll(/```(sh|json)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1],
    text: m[2] ?? '',
  }));
  const out: { sh: string; json: string }[] = [];
  blocks.forEach((block, i) => {
    const next = blocks[i + 1];
    if (block.lang === 'sh' && next?.lang === 'json') out.push({ sh: block.text, json: next.text });
  });
  return out;
}

/** Whether `actual` has the README's shape: same keys and values, where "x..." means "starts with x". */
export function matchesReadme(expected: unknown, actual: unknown): boolean {
  if (typeof expected === 'string' && expected.endsWith('...')) {
    return typeof actual === 'string' && actual.startsWith(expected.slice(0, -3));
  }
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      expected.length === actual.length &&
      expected.every((e, i) => matchesReadme(e, actual[i]))
    );
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const keys = Object.keys(expected);
    return (
      keys.length === Object.keys(actual).length &&
      keys.every((k) =>
        matchesReadme((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k]),
      )
    );
  }
  return expected === actual;
}

/** The one code block of a README section (between `<!-- name:start -->` and `<!-- name:end -->`). */
export async function readmeCode(name: string): Promise<string> {
  const readme = await readFile(README, 'utf8');
  const section = readme.split(`<!-- ${name}:start -->`)[1]?.split(`<!-- ${name}:end -->`)[0] ?? '';
  const code = /```[a-z]*\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error(`README has no code block in section ${name}`);
  return code;
}

/**
 * Runs a README section's shell blocks as written (the pasted keys come from `env`, the ports from
 * `hosts`) and checks each answer against the JSON the README shows; read-only steps are retried for a
 * while, since what they read may still be on its way. `after` sees each answer.
 */
export async function runSteps(
  steps: { sh: string; json: string }[],
  options: { env: NodeJS.ProcessEnv; hosts: Record<string, string> },
  after: (answer: unknown, index: number) => void | Promise<void> = () => {},
) {
  const place = (text: string) =>
    Object.entries(options.hosts).reduce((out, [from, to]) => out.replaceAll(from, to), text);
  for (const [i, step] of steps.entries()) {
    // The README has the user paste the keys; everything else runs verbatim.
    const script = place(step.sh.replace(/^(ADMIN_KEY|SESSION_KEY)=.*$/gm, ''));
    const expected: unknown = JSON.parse(place(step.json));
    const readOnly = !/-X POST/.test(script);
    let output = '';
    for (let attempt = 0; attempt < (readOnly ? 40 : 1); attempt++) {
      output = (await run('bash', ['-c', script], { env: options.env, cwd: ROOT })).stdout;
      if (matchesReadme(expected, JSON.parse(output))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const answer: unknown = JSON.parse(output);
    expect(answer, `README step:\n${step.sh}`).toSatisfy((actual: unknown) =>
      matchesReadme(expected, actual),
    );
    await after(answer, i);
  }
}
