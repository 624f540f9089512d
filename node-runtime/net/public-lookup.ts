// Outbound requests to addresses a tenant chose (webhooks, media URLs) must not reach inside our network:
// the name is resolved by us and every address it resolves to must be public, at each connection.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isPublicAddress } from '../../shared/webhook-url.js';

/** A DNS lookup that refuses names resolving (even partly) to private addresses. */
export function publicOnlyLookup(): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = addresses.find((a) => !isPublicAddress(a.address));
      if (refused || addresses.length === 0) {
        const error = Object.assign(
          new Error(`${hostname} resolves to a private address (${refused?.address})`),
          {
            code: 'EPRIVATEADDRESS',
          },
        );
        return callback(error, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}
