// One webhook POST, as safely as a server can make one: the host name is resolved by us, every address
// it resolves to must be public (checked at each connection, so a name that changes to a private address
// is caught then), no redirect is followed, the whole exchange is bounded in time, and the answer's body
// is read only so far.
import { Agent, request } from 'undici';
import { checkWebhookUrl } from '../../shared/webhook-url.js';
import { publicOnlyLookup } from '../net/public-lookup.js';

export const DELIVERY_TIMEOUT_MS = 10_000;
/** Of a receiver's answer we keep only the status: the body is read up to this much, then dropped. */
const MAX_ANSWER_BYTES = 64 * 1024;

export type PostOutcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/** Posts webhooks; one pool of connections per process. */
export class WebhookPoster {
  private readonly agent: Agent;

  constructor(private readonly options: { allowPrivate: boolean; timeoutMs?: number }) {
    this.agent = new Agent({
      connections: 16,
      keepAliveTimeout: 4_000,
      connect: options.allowPrivate ? {} : { lookup: publicOnlyLookup() },
    });
  }

  async post(url: string, body: string, headers: Record<string, string>): Promise<PostOutcome> {
    const checked = checkWebhookUrl(url, { allowPrivate: this.options.allowPrivate });
    if (!checked.ok) return { ok: false, status: null, error: checked.problem.message };
    try {
      const answer = await request(checked.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? DELIVERY_TIMEOUT_MS),
      });
      await drain(answer.body);
      const status = answer.statusCode;
      if (status >= 200 && status < 300) return { ok: true, status };
      const where =
        status >= 300 && status < 400 ? ` (redirect to ${answer.headers.location ?? '?'}, not followed)` : '';
      return { ok: false, status, error: `HTTP ${status}${where}` };
    } catch (err) {
      return { ok: false, status: null, error: describe(err) };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

async function drain(body: AsyncIterable<Uint8Array> & { destroy(): void }) {
  let read = 0;
  for await (const chunk of body) {
    read += chunk.length;
    if (read > MAX_ANSWER_BYTES) {
      body.destroy();
      return;
    }
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'no answer within the timeout';
  const code = (err as NodeJS.ErrnoException).code;
  const cause = err.cause instanceof Error ? err.cause : undefined;
  const causeCode = cause && (cause as NodeJS.ErrnoException).code;
  const detail = cause ? `${err.message}: ${cause.message}` : err.message;
  const shown = causeCode ?? code;
  return shown && !detail.includes(shown) ? `${shown}: ${detail}` : detail;
}
