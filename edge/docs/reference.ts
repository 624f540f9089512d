import { Scalar } from '@scalar/hono-api-reference';
import scalarScript from '../generated/scalar.js';
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
  app.get(SCRIPT_PATH, (c) =>
    c.body(scalarScript, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=3600',
    }),
  );
}
