// Where an endpoint may point, checked when it is saved: the URL itself on every runtime
// (shared/webhook-url.ts), and, where the runtime can resolve names (Node, Deno), every address its host
// name resolves to. Workers cannot resolve: there a name is taken on the URL's word, and the session
// hosts check the resolved addresses at every delivery anyway (node-runtime/webhooks/http.ts), so a name
// pointing inside the network gets nothing either way. This check is there to say so early.
import { ApiError } from '../../shared/errors.js';
import { checkWebhookUrl, isPublicAddress, type WebhookUrlProblem } from '../../shared/webhook-url.js';
import type { ResolveHost } from '../services.js';

/** How long a name may take to resolve before it counts as not resolving. */
export const RESOLVE_TIMEOUT_MS = 5_000;

const refuse = (problem: WebhookUrlProblem) =>
  new ApiError(problem.code, { details: [{ path: 'url', message: problem.message }] });

/**
 * The URL to store (normalised, so one endpoint is not registered twice under two spellings), or 400
 * WEBHOOK_URL_INVALID / WEBHOOK_URL_NOT_HTTPS / WEBHOOK_URL_PRIVATE saying why not.
 */
export async function checkEndpointUrl(
  text: string,
  options: { allowPrivate: boolean; resolveHost: ResolveHost | undefined },
): Promise<string> {
  const checked = checkWebhookUrl(text, { allowPrivate: options.allowPrivate });
  if (!checked.ok) throw refuse(checked.problem);
  const { url } = checked;
  // Private addresses allowed: nothing to learn from resolving (and the sandbox needs no DNS).
  if (options.allowPrivate || options.resolveHost === undefined) return url.href;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // An address literal was judged by checkWebhookUrl: any still here is public.
  if (isPublicAddress(host)) return url.href;
  const addresses = await withTimeout(options.resolveHost(host), RESOLVE_TIMEOUT_MS).catch(() => []);
  if (addresses.length === 0) {
    throw refuse({ code: 'WEBHOOK_URL_INVALID', message: 'the host name does not resolve' });
  }
  if (!addresses.every(isPublicAddress)) {
    throw refuse({
      code: 'WEBHOOK_URL_PRIVATE',
      message: 'the host name resolves to an address that is not public',
    });
  }
  return url.href;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not resolved within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
