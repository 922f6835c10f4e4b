import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Ranges a webhook must never reach unless private targets are explicitly allowed. */
const PUBLIC_RANGES = new Set(['unicast']);

export class ForbiddenAddressError extends Error {
  override name = 'ForbiddenAddressError';
}

/** Whether an IP literal is a public unicast address (not private, loopback, link-local, metadata, CGNAT...). */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return PUBLIC_RANGES.has(parsed.range());
}

/** Checks a URL's host without resolving it: refuses IP literals and `localhost` names outside public space. */
export function isObviouslyPrivateHost(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return !isPublicAddress(host);
  return host === 'localhost' || host.endsWith('.localhost');
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that refuses private addresses at connect time. Checking the address the socket
 * actually connects to (not a separate resolution beforehand) closes the DNS-rebinding gap.
 */
export function guardedLookup(hostname: string, options: object, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const list = addresses as LookupAddress[];
    const refused = list.find((entry) => !isPublicAddress(entry.address));
    if (refused) {
      return callback(
        Object.assign(new ForbiddenAddressError(`${hostname} resolves to a non-public address (${refused.address})`), {
          code: 'EFORBIDDENADDRESS',
        }),
        [],
      );
    }
    if ((options as { all?: boolean }).all) return callback(null, list);
    const first = list[0];
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}
