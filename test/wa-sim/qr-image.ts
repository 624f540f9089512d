import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is CommonJS with a default export in its types: take whichever shape Node hands over.
type Decode = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR: Decode =
  (jsQRModule as unknown as { default?: Decode }).default ?? (jsQRModule as unknown as Decode);

const DATA_URL_PREFIX = 'data:image/png;base64,';

/**
 * What a phone's camera reads: a QR given as a PNG data URL (what the gateway's API returns) is decoded
 * to its text; anything else is taken as the text itself.
 */
export const readQr = (qr: unknown): unknown => {
  if (typeof qr !== 'string' || !qr.startsWith(DATA_URL_PREFIX)) return qr;
  try {
    const png = PNG.sync.read(Buffer.from(qr.slice(DATA_URL_PREFIX.length), 'base64'));
    return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data;
  } catch {
    return undefined;
  }
};
