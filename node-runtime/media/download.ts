// A message's file (received, or one this session sent), downloaded from WhatsApp's media servers when a
// client asks for it (GET /api/messages/{id}/media): decrypted as it streams, and checked against the
// message's hash. The check can only end once the last byte has passed, so a file that does not match
// ends the stream with an error: the client sees a broken download, never a wrong file that looks whole.
import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { downloadContentFromMessage } from '@whiskeysockets/baileys';
import { Agent } from 'undici';
import { ApiError } from '../../shared/errors.js';
import type { MediaDownload } from '../../shared/message-view.js';

/** How long WhatsApp's media servers get to start answering. */
const DOWNLOAD_HEADERS_TIMEOUT_MS = 30_000;

export class MediaFetcher {
  private readonly agent: Agent;

  /** `extraCa`: the simulator's media CA (WA_MEDIA_CA), trusted besides the system's; never in production. */
  constructor(extraCa: string | undefined) {
    this.agent = new Agent({
      headersTimeout: DOWNLOAD_HEADERS_TIMEOUT_MS,
      ...(extraCa ? { connect: { ca: extraCa } } : {}),
    });
  }

  /**
   * The decrypted file as a stream. 410 MEDIA_EXPIRED when WhatsApp no longer has it (its servers keep a
   * file for a limited time; after that only the sender's phone could upload it again).
   */
  async open(download: MediaDownload): Promise<Readable> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await downloadContentFromMessage(
        {
          directPath: download.directPath,
          url: download.url,
          mediaKey: Buffer.from(download.mediaKey, 'base64'),
        },
        download.type,
        { options: { dispatcher: this.agent } as RequestInit },
      );
    } catch (err) {
      const status = (err as { output?: { statusCode?: number } }).output?.statusCode;
      if (status === 404 || status === 410) throw new ApiError('MEDIA_EXPIRED', { cause: err });
      throw new ApiError('MEDIA_UNAVAILABLE', { cause: err });
    }
    const expected = download.fileSha256 ? Buffer.from(download.fileSha256, 'base64') : undefined;
    const hash = createHash('sha256');
    const checked = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        if (expected && !hash.digest().equals(expected)) {
          done(new Error('the downloaded file does not match the message (fileSha256)'));
        } else done();
      },
    });
    stream.on('error', (err) => checked.destroy(err));
    return stream.pipe(checked);
  }

  close(): Promise<void> {
    if (this.agent.closed || this.agent.destroyed) return Promise.resolve();
    return this.agent.close();
  }
}
