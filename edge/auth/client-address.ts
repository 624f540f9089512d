// Which client a request comes from, for the failed-authentication limit. Only two sources are
// trustworthy: the connection itself (what the runtime says about its peer) and a header set by a proxy
// you run, which overwrites whatever the client sent. A header is read only when configured: a client can
// put anything in X-Forwarded-For, and trusting it by default would let it pick its own address.
import type { EdgeContext } from '../context.js';

/** What the runtime knows about the connection's peer (Node: the socket; Deno: the handler's info). */
export type PeerAddress = (c: EdgeContext) => string | undefined;

export interface ClientAddressOptions {
  /** Lower-case header name set by a trusted proxy; unset: the peer address. */
  header?: string | undefined;
  /** The address is the entry this many from the right of the header's comma-separated list. */
  hops: number;
}

/**
 * The request's client, as the throttle keys it: an IPv4 address, or an IPv6 address cut to its /64
 * (one host usually holds a whole /64, so single addresses would give it 2^64 fresh starts). Undefined
 * when there is none to be had (a header configured but missing, and no peer address).
 */
export function clientAddressOf(options: ClientAddressOptions, peer?: PeerAddress): PeerAddress {
  return (c) => {
    if (options.header !== undefined) {
      const entries = (c.req.header(options.header) ?? '').split(',').map((s) => s.trim());
      // Fewer entries than proxies means the request did not come through them all: use the peer.
      const fromHeader = entries.length >= options.hops ? entries[entries.length - options.hops] : undefined;
      const key = fromHeader ? throttleKeyOf(fromHeader) : undefined;
      if (key !== undefined) return key;
    }
    const address = peer?.(c);
    return address ? throttleKeyOf(address) : undefined;
  };
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The throttle's name for an address (see clientAddressOf), or undefined if it is not an IP address. */
export function throttleKeyOf(raw: string): string | undefined {
  let address = raw.trim();
  // [v6]:port, and a zone index, are not part of the address.
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed?.[1]) address = bracketed[1];
  address = address.replace(/%.*$/, '');
  if (IPV4.test(address)) return ipv4(address);
  const groups = ipv6Groups(address);
  if (!groups) return undefined;
  // IPv4-mapped (::ffff:a.b.c.d): the same client as a.b.c.d, as Node reports dual-stack peers.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

function ipv4(address: string): string | undefined {
  const parts = address.split('.').map(Number);
  return parts.every((p) => p <= 255) ? parts.join('.') : undefined;
}

/** The eight 16-bit groups of an IPv6 address, or undefined if it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (!address.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(address)) return undefined;
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined): number[] | undefined => {
    if (!part) return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = ipv4(IPV4.test(piece) ? piece : '');
        if (!v4) return undefined;
        const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(piece)) {
        out.push(Number.parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...new Array<number>(missing).fill(0), ...tail] : undefined;
}
