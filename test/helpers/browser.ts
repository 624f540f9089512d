import { execFileSync } from 'node:child_process';
import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium (`.ci/run` installs it), or the one CHROMIUM_PATH names. Playwright's own browser
 * downloads are not used: nothing may be downloaded at test time.
 */
const chromiumPath = () =>
  process.env.CHROMIUM_PATH ?? execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-dev-shm-usage'] });
