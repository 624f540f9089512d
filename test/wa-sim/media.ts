import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * WhatsApp media as the apps handle it: a file is encrypted with keys derived from a random 32-byte
 * media key (HKDF-SHA256, info "WhatsApp <Kind> Keys": IV, AES-256-CBC key, HMAC key), a 10-byte
 * HMAC-SHA256 of IV and ciphertext appended; `fileSha256` is the plaintext's hash, `fileEncSha256`
 * that of ciphertext and MAC. The media servers only ever see the encrypted file.
 */
export const MEDIA_KINDS = ['image', 'video', 'audio', 'document', 'sticker'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

const HKDF_INFO: Record<MediaKind, string> = {
  image: 'Image',
  video: 'Video',
  audio: 'Audio',
  document: 'Document',
  sticker: 'Image',
};

const mediaKeys = (mediaKey: Uint8Array, kind: MediaKind) => {
  const expanded = Buffer.from(
    hkdfSync('sha256', mediaKey, Buffer.alloc(32), `WhatsApp ${HKDF_INFO[kind]} Keys`, 112),
  );
  return {
    iv: expanded.subarray(0, 16),
    cipherKey: expanded.subarray(16, 48),
    macKey: expanded.subarray(48, 80),
  };
};

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();

/** Encrypts a file as a WhatsApp app does before uploading it. */
export const encryptMedia = (plain: Buffer, kind: MediaKind) => {
  const mediaKey = randomBytes(32);
  const { iv, cipherKey, macKey } = mediaKeys(mediaKey, kind);
  const cipher = createCipheriv('aes-256-cbc', cipherKey, iv);
  const enc = Buffer.concat([cipher.update(plain), cipher.final()]);
  const mac = createHmac('sha256', macKey).update(iv).update(enc).digest().subarray(0, 10);
  const file = Buffer.concat([enc, mac]);
  return { mediaKey, file, fileSha256: sha256(plain), fileEncSha256: sha256(file), fileLength: plain.length };
};

/** Why a downloaded file was refused. */
export class MediaCheckError extends Error {
  override name = 'MediaCheckError';
}

/**
 * Checks and decrypts a downloaded file as the recipient's app does: the encrypted hash, the MAC, then
 * the plaintext's hash and length. Anything off throws a MediaCheckError naming it.
 */
export const decryptMedia = (
  file: Buffer,
  kind: MediaKind,
  expected: {
    mediaKey: Uint8Array;
    fileEncSha256?: Uint8Array | null;
    fileSha256?: Uint8Array | null;
    fileLength?: number;
  },
): Buffer => {
  if (expected.fileEncSha256 && !sha256(file).equals(expected.fileEncSha256)) {
    throw new MediaCheckError('fileEncSha256 does not match the downloaded file');
  }
  if (file.length < 10 + 16) throw new MediaCheckError('file too short');
  const { iv, cipherKey, macKey } = mediaKeys(expected.mediaKey, kind);
  const enc = file.subarray(0, -10);
  const mac = createHmac('sha256', macKey).update(iv).update(enc).digest().subarray(0, 10);
  if (!mac.equals(file.subarray(-10))) throw new MediaCheckError('MAC does not match');
  const decipher = createDecipheriv('aes-256-cbc', cipherKey, iv);
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(enc), decipher.final()]);
  } catch {
    throw new MediaCheckError('bad padding');
  }
  if (expected.fileSha256 && !sha256(plain).equals(expected.fileSha256)) {
    throw new MediaCheckError('fileSha256 does not match the plaintext');
  }
  if (expected.fileLength !== undefined && expected.fileLength !== plain.length) {
    throw new MediaCheckError('fileLength does not match the plaintext');
  }
  return plain;
};

/** How long an upload token from `media_conn` stays good (WhatsApp's `auth_ttl`), and the hosts' `ttl`. */
export const MEDIA_AUTH_TTL_S = 6 * 3600;
export const MEDIA_CONN_TTL_S = 300;
/** The largest file the simulated media servers take (`maxContentLengthBytes`). */
export const MAX_MEDIA_BYTES = 128 * 1024 * 1024;
/** What the media servers keep in memory at most; past it the oldest files go, as if expired. */
const STORE_LIMIT_BYTES = 512 * 1024 * 1024;
/** How long WhatsApp keeps an uploaded file (the `oe` of a URL); later downloads get a 404. */
const KEEP_MS = 30 * 24 * 3600 * 1000;

/** Upload paths by what Baileys uploads (its MEDIA_PATH_MAP); stickers go where images go. */
const UPLOAD_PATH = /^\/mms\/(image|video|audio|document)\/([A-Za-z0-9_-]+)$/;

type Stored = { file: Buffer; expires: number };

/**
 * The simulated media servers' state: the upload tokens handed out by `media_conn` and the encrypted
 * files, by path. In memory only: after a simulator restart earlier media is gone, as an expired file
 * is on WhatsApp.
 */
export class MediaStore {
  private readonly tokens = new Map<string, number>();
  private readonly files = new Map<string, Stored>();
  private bytes = 0;
  /** Uploads taken and downloads served, for tests. */
  uploads = 0;
  downloads = 0;

  /** A new upload token for a `media_conn` answer. */
  issueToken(): string {
    const now = Date.now();
    for (const [token, expires] of this.tokens) if (expires < now) this.tokens.delete(token);
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, now + MEDIA_AUTH_TTL_S * 1000);
    return token;
  }

  /** Keeps an encrypted file and answers its direct path (`/v/t62.7118-24/<id>.enc?...`). */
  put(file: Buffer): string {
    const expires = Date.now() + KEEP_MS;
    const id = randomBytes(16).toString('hex');
    const path = `/v/t62.7118-24/${id}.enc`;
    this.files.set(path, { file, expires });
    this.bytes += file.length;
    for (const [old, stored] of this.files) {
      if (this.bytes <= STORE_LIMIT_BYTES) break;
      this.files.delete(old);
      this.bytes -= stored.file.length;
    }
    const oh = createHash('sha256').update(path).digest('base64url').slice(0, 22);
    return `${path}?ccb=11-4&oh=${oh}&oe=${Math.floor(expires / 1000).toString(16)}&_nc_sid=5e03e0`;
  }

  /** The encrypted file at a direct path (its query ignored), unless it is unknown or expired. */
  get(directPath: string): Buffer | undefined {
    const path = directPath.split('?')[0] ?? '';
    const stored = this.files.get(path);
    if (!stored || stored.expires < Date.now()) return undefined;
    return stored.file;
  }

  /** Every file expires now (the `media-expired` fault): downloads answer 404 from here on. */
  expireAll() {
    this.files.clear();
    this.bytes = 0;
  }

  /**
   * An HTTPS request to a media host: `POST /mms/<kind>/<encSha256>?auth&token` uploads (the token must
   * be one `media_conn` handed out, and the body must hash to the path's SHA-256), `GET <directPath>`
   * downloads, with `Range` as WhatsApp's CDN serves it.
   */
  async handle(req: IncomingMessage, res: ServerResponse, origin: string) {
    const url = new URL(req.url ?? '/', origin);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const upload = UPLOAD_PATH.exec(url.pathname);
    if (req.method === 'POST' && upload) {
      const auth = url.searchParams.get('auth') ?? '';
      if ((this.tokens.get(auth) ?? 0) < Date.now()) {
        req.resume();
        return json(401, { error: 'bad or expired auth token' });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_MEDIA_BYTES) {
          req.destroy();
          return json(413, { error: 'file too large' });
        }
        chunks.push(chunk);
      }
      const file = Buffer.concat(chunks);
      if (sha256(file).toString('base64url') !== upload[2]) {
        return json(400, { error: 'the body does not hash to the SHA-256 in the path' });
      }
      this.uploads++;
      const directPath = this.put(file);
      return json(200, { url: `${origin}${directPath}`, direct_path: directPath });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v/')) {
      const file = this.get(url.pathname);
      if (!file) return json(404, { error: 'no such file, or it expired' });
      this.downloads++;
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = Math.min(range[2] ? Number(range[2]) : file.length - 1, file.length - 1);
        res.writeHead(206, {
          'content-type': 'application/octet-stream',
          'content-range': `bytes ${start}-${end}/${file.length}`,
        });
        return res.end(file.subarray(start, end + 1));
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length });
      return res.end(file);
    }
    req.resume();
    return json(404, { error: 'not found' });
  }
}

/** The AES-GCM key a media-retry request and its answer are sealed with (from the file's media key). */
const retryKey = (mediaKey: Uint8Array) =>
  Buffer.from(hkdfSync('sha256', mediaKey, Buffer.alloc(32), 'WhatsApp Media Retry Notification', 32));

/** Seals a media-retry answer (a `MediaRetryNotification`) as the phone does: AES-256-GCM, the id as AAD. */
export const sealRetryAnswer = (plain: Uint8Array, mediaKey: Uint8Array, messageId: string) => {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', retryKey(mediaKey), iv);
  cipher.setAAD(Buffer.from(messageId));
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return { ciphertext, iv };
};
