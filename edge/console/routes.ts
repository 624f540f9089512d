import { ApiError } from '../../shared/errors.js';
import { requireScope } from '../auth/authenticate.js';
import { script, style } from '../generated/console.js';
import { HostQrReply, hostResult } from '../hosts/replies.js';
import { contentSecurityPolicy } from '../http/csp.js';
import type { EdgeApp, EdgeServices } from '../services.js';

/**
 * The page: no inline script or style, so the policy allows nothing but this gateway's own files. The
 * key never appears in a URL: the script keeps it in sessionStorage and sends it in `x-api-key`.
 */
const shell = (sandbox: boolean) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
${sandbox ? '<meta name="wa-sandbox" content="1">\n' : ''}<title>wa-gateway console</title>
<link rel="stylesheet" href="/console/app.css">
</head>
<body>
<div id="app"><noscript>The console needs JavaScript.</noscript></div>
<script src="/console/app.js"></script>
</body>
</html>
`;

/** GET /console (and its script and style); in the sandbox, POST /api/sandbox/scan. */
export function registerConsole(app: EdgeApp, { config, forwarder }: EdgeServices): void {
  const sandbox = config.simulatorUrl !== undefined;
  const page = shell(sandbox);
  const policy = contentSecurityPolicy();
  app.get('/console', (c) =>
    c.html(page, 200, { 'content-security-policy': policy, 'cache-control': 'no-store' }),
  );
  const file = (body: string, type: string) => () =>
    new Response(body, { headers: { 'content-type': type, 'cache-control': 'no-cache' } });
  app.get('/console/app.js', file(script, 'text/javascript; charset=utf-8'));
  app.get('/console/app.css', file(style, 'text/css; charset=utf-8'));

  const simulatorUrl = config.simulatorUrl;
  if (simulatorUrl === undefined) return;
  // The sandbox's "simulate a phone scan": a phone of the simulated network scans the session's current
  // QR. Only with the session's own key, and only when the edge was started against a simulator.
  app.post('/api/sandbox/scan', requireScope('session'), async (c) => {
    const body = (await c.req.json().catch(() => undefined)) as
      | { phone?: unknown; name?: unknown }
      | undefined;
    if (typeof body?.phone !== 'string' || (body.name !== undefined && typeof body.name !== 'string')) {
      throw new ApiError('VALIDATION_ERROR', { details: 'phone (and name, if given) must be strings' });
    }
    const host = hostResult(await forwarder.toSessionHost(c, { action: 'qr' }), HostQrReply, 'qr');
    if (host.connected) throw new ApiError('ALREADY_LINKED');
    if (!host.qr) throw new ApiError('QR_NOT_READY');
    const res = await fetch(`${simulatorUrl.replace(/\/+$/, '')}/sim/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ qr: host.qr, phone: body.phone, name: body.name }),
    });
    const answer = (await res.json().catch(() => ({}))) as { jid?: string; error?: string };
    if (!res.ok)
      throw new ApiError('VALIDATION_ERROR', { details: answer.error ?? `simulator: ${res.status}` });
    return c.json({ success: true as const, jid: answer.jid }, 200);
  });
}
