// Request logs: errors and slow requests at info, fast successes only at debug.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { EdgeEnv } from '../../edge/context.js';
import { logRequests, SLOW_REQUEST_MS } from '../../edge/http/request-log.js';
import type { EdgeLogger, LogFields } from '../../edge/logger.js';
import { generateApiKey } from '../../shared/api-key.js';

function recording() {
  const lines: { level: string; fields: LogFields }[] = [];
  const at = (level: string) => (fields: LogFields) => lines.push({ level, fields });
  const logger: EdgeLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, logger };
}

/** An app whose clock moves by `tookMs` while a request is handled. */
function appWith(logger: EdgeLogger, tookMs: number) {
  let clock = 0;
  const app = new Hono<EdgeEnv>();
  app.use(logRequests(logger, () => clock));
  app.get('/ok', (c) => {
    clock += tookMs;
    return c.json({ ok: true });
  });
  app.get('/missing', (c) => c.json({ error: 'no' }, 404));
  app.get('/broken', (c) => c.json({ error: 'oops' }, 500));
  return app;
}

describe('request logs', () => {
  it('a fast success is logged at debug only', async () => {
    const { lines, logger } = recording();
    await appWith(logger, 3).request('/ok');
    expect(lines).toEqual([
      { level: 'debug', fields: expect.objectContaining({ path: '/ok', status: 200, ms: 3 }) },
    ]);
  });

  it('a fast success costs nothing when debug is off (the line is not even built)', async () => {
    const { lines, logger } = recording();
    let built = 0;
    const quiet: EdgeLogger = {
      ...logger,
      isLevelEnabled: () => false,
      debug: () => {
        built++;
      },
    };
    await appWith(quiet, 3).request('/ok');
    await appWith(quiet, 3).request('/missing');
    expect(built).toBe(0);
    expect(lines.map((l) => [l.level, l.fields.status])).toEqual([['info', 404]]);
  });

  it('an error answer and a slow request are logged at info', async () => {
    const { lines, logger } = recording();
    const app = appWith(logger, SLOW_REQUEST_MS);
    await app.request('/missing');
    await app.request('/broken');
    await app.request('/ok');
    expect(lines.map((l) => [l.level, l.fields.status, l.fields.path])).toEqual([
      ['info', 404, '/missing'],
      ['info', 500, '/broken'],
      ['info', 200, '/ok'],
    ]);
  });

  it('a key pasted into a path is redacted in the line', async () => {
    const { lines, logger } = recording();
    const { key } = await generateApiKey('session');
    await appWith(logger, 0).request(`/missing/${key}`);
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain(key);
    expect(lines[0]?.fields.path).toBe('/missing/[key]');
  });
});
