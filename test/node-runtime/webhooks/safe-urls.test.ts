// Webhooks go to public addresses only: checked on the URL, and on what the name resolves to at every
// connection (so a name that later points inside the network is refused then).
import { describe, expect, it } from 'vitest';
import { publicOnlyLookup } from '../../../node-runtime/net/public-lookup.js';
import { WebhookPoster } from '../../../node-runtime/webhooks/http.js';
import { checkWebhookUrl, isPublicAddress } from '../../../shared/webhook-url.js';

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'not an address',
  ])('%s is not public', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is public', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
});

describe('checkWebhookUrl', () => {
  const strict = { allowPrivate: false };
  it.each([
    ['http://example.com/hook', 'WEBHOOK_URL_NOT_HTTPS'],
    ['ftp://example.com/hook', 'WEBHOOK_URL_NOT_HTTPS'],
    ['not a url', 'WEBHOOK_URL_INVALID'],
    ['https://user:pass@example.com/hook', 'WEBHOOK_URL_INVALID'],
    ['https://example.com/hook#part', 'WEBHOOK_URL_INVALID'],
    [`https://example.com/${'x'.repeat(2100)}`, 'WEBHOOK_URL_INVALID'],
    ['https://localhost/hook', 'WEBHOOK_URL_PRIVATE'],
    ['https://api.localhost/hook', 'WEBHOOK_URL_PRIVATE'],
    ['https://metadata.google.internal/computeMetadata', 'WEBHOOK_URL_PRIVATE'],
    ['https://intranet/hook', 'WEBHOOK_URL_PRIVATE'],
    ['https://127.0.0.1/hook', 'WEBHOOK_URL_PRIVATE'],
    ['https://169.254.169.254/latest/meta-data', 'WEBHOOK_URL_PRIVATE'],
    ['https://[::1]/hook', 'WEBHOOK_URL_PRIVATE'],
    ['https://[::ffff:192.168.0.1]/hook', 'WEBHOOK_URL_PRIVATE'],
  ])('%s is refused with %s', (url, code) => {
    const result = checkWebhookUrl(url, strict);
    expect(result.ok ? 'ok' : result.problem.code).toBe(code);
  });

  it('takes public https URLs, and private or plain http ones only when allowed', () => {
    expect(checkWebhookUrl('https://hooks.example.com/wa?x=1', strict).ok).toBe(true);
    expect(checkWebhookUrl('https://8.8.8.8/hook', strict).ok).toBe(true);
    expect(checkWebhookUrl('http://127.0.0.1:8080/hook', { allowPrivate: true }).ok).toBe(true);
  });
});

describe('at delivery', () => {
  it('a name that resolves to a private address is refused when connecting', async () => {
    const lookup = publicOnlyLookup();
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      lookup('localhost', {}, (err) => resolve(err)),
    );
    expect(error?.code).toBe('EPRIVATEADDRESS');
  });

  it('the poster refuses private and plain-http URLs before sending anything', async () => {
    const poster = new WebhookPoster({ allowPrivate: false });
    try {
      expect(await poster.post('https://127.0.0.1:9/hook', '{}', {})).toEqual({
        ok: false,
        status: null,
        error: 'the address is not public',
      });
      expect(await poster.post('http://example.com/hook', '{}', {})).toMatchObject({
        ok: false,
        status: null,
      });
    } finally {
      await poster.close();
    }
  });
});
