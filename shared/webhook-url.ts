// Where webhooks may go: `https` URLs of public hosts. Checked on the URL when an endpoint is saved (here,
// on every runtime) and on the resolved addresses at every delivery (node-runtime/webhooks/), so a name
// that later points inside the network is refused then too. `allowPrivate` (WEBHOOK_ALLOW_PRIVATE) lifts
// both checks, and allows plain http, for development.
import ipaddr from 'ipaddr.js';

export type WebhookUrlProblem = {
  code: 'WEBHOOK_URL_INVALID' | 'WEBHOOK_URL_NOT_HTTPS' | 'WEBHOOK_URL_PRIVATE';
  message: string;
};

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** Host names that only ever mean something inside a network. */
const PRIVATE_NAME = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa|localdomain)$/i;

/**
 * Whether an address is on the public internet: not loopback, private, link-local (the cloud metadata
 * address 169.254.169.254 among them), carrier-grade NAT, unique-local, multicast, reserved, or an IPv4
 * one of those wrapped in IPv6.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address();
  }
  return parsed.range() === 'unicast';
}

/** The URL, or why it cannot take webhooks. */
export function checkWebhookUrl(
  text: string,
  options: { allowPrivate: boolean },
): { ok: true; url: URL } | { ok: false; problem: WebhookUrlProblem } {
  const fail = (code: WebhookUrlProblem['code'], message: string) => ({
    ok: false as const,
    problem: { code, message },
  });
  if (text.length > MAX_WEBHOOK_URL_LENGTH) return fail('WEBHOOK_URL_INVALID', 'URL is too long');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail('WEBHOOK_URL_INVALID', 'not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(options.allowPrivate && url.protocol === 'http:')) {
    return fail('WEBHOOK_URL_NOT_HTTPS', 'webhook URLs must use https');
  }
  if (url.username || url.password) {
    return fail('WEBHOOK_URL_INVALID', 'no user:password@ in the URL: verify deliveries by their signature');
  }
  if (url.hash) return fail('WEBHOOK_URL_INVALID', 'no #fragment in the URL');
  if (options.allowPrivate) return { ok: true, url };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host)) {
    return isPublicAddress(host)
      ? { ok: true, url }
      : fail('WEBHOOK_URL_PRIVATE', 'the address is not public');
  }
  if (!host.includes('.') || PRIVATE_NAME.test(host.replace(/\.$/, ''))) {
    return fail('WEBHOOK_URL_PRIVATE', 'the host name is not a public one');
  }
  return { ok: true, url };
}
