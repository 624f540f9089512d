import { Scalar } from '@scalar/hono-api-reference';
import { contentSecurityPolicy, newNonce } from '../http/csp.js';
import type { EdgeApp } from '../services.js';

const SCRIPT_PATH = '/docs/scalar.js';

/**
 * GET /docs: the interactive API reference (Scalar) over /openapi.json. Its script is served from here,
 * not a CDN; nothing on the page loads from elsewhere (no fonts, no telemetry), and "try it" calls go
 * to this gateway only.
 */
export function registerDocs(app: EdgeApp): void {
  app.get(
    '/docs',
    Scalar((c) => {
      const nonce = newNonce();
      c.header('content-security-policy', contentSecurityPolicy({ nonce, inlineStyles: true }));
      return {
        url: '/openapi.json',
        cdn: SCRIPT_PATH,
        nonce,
        pageTitle: 'wa-gateway API reference',
        withDefaultFonts: false,
        telemetry: false,
        showDeveloperTools: 'never',
        // Its AI assistant is a remote service: nothing here leaves this gateway.
        agent: { disabled: true },
      };
    }),
  );
  // Loaded on the first request: 4.8 MB of script (twice over in V8: the module's source and the string)
  // that an edge nobody opens /docs on need not hold.
  app.get(SCRIPT_PATH, async (c) =>
    c.body((await import('../generated/scalar.js')).default, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=3600',
    }),
  );
}
