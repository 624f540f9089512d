// Files for messages, downloaded from the https URL a client gave (POST /api/messages with media.url):
// only public addresses (each resolved address checked at connection time, as for webhooks), no
// redirect followed, the whole download bounded in time, the size checked against the kind's limit from
// the Content-Length and again while the body streams (stopped at the limit, never read to the end),
// and the type checked against what WhatsApp takes for the kind.
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { ApiError } from '../../shared/errors.js';
import {
  baseMimetype,
  MEDIA_FETCH_TIMEOUT_MS,
  MEDIA_LIMITS,
  type MediaType,
  mimetypeAllowed,
  sniffMimetype,
} from '../../shared/message-content.js';
import { checkWebhookUrl } from '../../shared/webhook-url.js';
import { publicOnlyLookup } from '../net/public-lookup.js';

export type DownloadedMedia = { data: Buffer; mimetype: string };

export type MediaDownloaderOptions = {
  /** Private addresses allowed (MEDIA_URL_ALLOW_PRIVATE): development and tests only. */
  allowPrivate: boolean;
  /** A CA trusted besides the system's (WA_MEDIA_CA, the simulator's; never in production). */
  extraCa?: string | undefined;
  timeoutMs?: number;
};

/** Type-blind answers that say nothing about the file: the bytes decide. */
const UNTYPED = new Set(['', 'application/octet-stream', 'binary/octet-stream']);

export class MediaDownloader {
  private readonly agent: Agent;

  constructor(private readonly options: MediaDownloaderOptions) {
    this.agent = new Agent({
      connections: 8,
      connect: {
        ...(options.allowPrivate ? {} : { lookup: publicOnlyLookup() }),
        ...(options.extraCa ? { ca: [...rootCertificates, options.extraCa] } : {}),
      },
    });
  }

  /** The file at `url`, or the ApiError (MEDIA_*) that says why it cannot be had. */
  async download(url: string, type: MediaType): Promise<DownloadedMedia> {
    if (!url.startsWith('https://')) throw new ApiError('MEDIA_URL_NOT_HTTPS');
    const checked = checkWebhookUrl(url, { allowPrivate: this.options.allowPrivate });
    if (!checked.ok) {
      throw new ApiError(
        checked.problem.code === 'WEBHOOK_URL_PRIVATE' ? 'MEDIA_URL_PRIVATE' : 'MEDIA_URL_INVALID',
      );
    }
    const maxBytes = MEDIA_LIMITS[type].maxBytes;
    const signal = AbortSignal.timeout(this.options.timeoutMs ?? MEDIA_FETCH_TIMEOUT_MS);
    let answer: Awaited<ReturnType<typeof request>>;
    try {
      answer = await request(checked.url, { method: 'GET', dispatcher: this.agent, signal });
    } catch (err) {
      throw refusal(err);
    }
    const { statusCode, headers, body } = answer;
    const header = (name: string) => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    if (statusCode < 200 || statusCode >= 300) {
      discard(body);
      if (statusCode >= 300 && statusCode < 400) throw new ApiError('MEDIA_URL_REDIRECT');
      throw new ApiError('MEDIA_URL_UNREACHABLE', { details: { status: statusCode } });
    }
    const length = Number(header('content-length') ?? Number.NaN);
    if (length > maxBytes) {
      discard(body);
      throw new ApiError('MEDIA_TOO_LARGE', { details: { maxBytes } });
    }
    const served = baseMimetype(header('content-type') ?? '');
    if (!UNTYPED.has(served) && !mimetypeAllowed(type, served)) {
      discard(body);
      throw new ApiError('MEDIA_TYPE_NOT_ALLOWED', { details: { contentType: served } });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) {
          discard(body);
          throw new ApiError('MEDIA_TOO_LARGE', { details: { maxBytes } });
        }
        chunks.push(chunk);
      }
    } catch (err) {
      throw err instanceof ApiError ? err : refusal(err);
    }
    const data = Buffer.concat(chunks);
    const mimetype = UNTYPED.has(served)
      ? (sniffMimetype(data) ?? (type === 'document' ? 'application/octet-stream' : ''))
      : served;
    if (!mimetypeAllowed(type, mimetype)) throw new ApiError('MEDIA_TYPE_NOT_ALLOWED');
    return { data, mimetype };
  }

  close(): Promise<void> {
    // A host closed twice (tests do) must not fail the second time.
    if (this.agent.closed || this.agent.destroyed) return Promise.resolve();
    return this.agent.close();
  }
}

/** Stops reading an answer's body; undici reports the abort as an error no one needs to hear. */
function discard(body: { on(event: 'error', listener: () => void): unknown; destroy(): void }) {
  body.on('error', () => undefined);
  body.destroy();
}

/** What a failed download was, for the client: too slow, a private address, or unreachable. */
function refusal(err: unknown): ApiError {
  const error = err as Error & { code?: string; cause?: { code?: string } };
  if (error?.name === 'TimeoutError' || error?.name === 'AbortError' || error?.code === 'UND_ERR_ABORTED') {
    return new ApiError('MEDIA_URL_TIMEOUT', { cause: err });
  }
  if (error?.code === 'EPRIVATEADDRESS' || error?.cause?.code === 'EPRIVATEADDRESS') {
    return new ApiError('MEDIA_URL_PRIVATE', { cause: err });
  }
  return new ApiError('MEDIA_URL_UNREACHABLE', { cause: err });
}
