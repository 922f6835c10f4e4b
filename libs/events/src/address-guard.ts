import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as dnsLookupAll } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Only global unicast IPv6 is routable on the internet; everything outside 2000::/3 is special-purpose. */
const GLOBAL_UNICAST_V6: [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('2000::'), 3];

export class ForbiddenAddressError extends Error {
  override name = 'ForbiddenAddressError';
  readonly code = 'EFORBIDDENADDRESS';
}

/**
 * Whether an IP literal is a public unicast address. Refuses private (RFC 1918), loopback, link-local (the cloud
 * metadata service at 169.254.169.254 included), CGNAT, unique-local, multicast, reserved and translation ranges;
 * an IPv4-mapped IPv6 address is judged as the IPv4 address it maps to.
 */
export function isPublicAddress(address: string): boolean {
  if (!isIP(address)) return false;
  const parsed = ipaddr.parse(address);
  if (parsed instanceof ipaddr.IPv6) {
    if (parsed.isIPv4MappedAddress()) return parsed.toIPv4Address().range() === 'unicast';
    return parsed.range() === 'unicast' && parsed.match(GLOBAL_UNICAST_V6);
  }
  return parsed.range() === 'unicast';
}

/** A URL's host without IPv6 brackets or the trailing dot of a fully qualified name. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/** `localhost` and its subdomains are loopback by definition (RFC 6761), whatever a resolver says. */
function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * Refuses a URL whose host is, or resolves to, a non-public address: an IP literal is judged as it is, a name by
 * every address it resolves to (one private answer is enough to refuse).
 * @throws {ForbiddenAddressError} the destination is not public
 * @throws the resolver's error (`code` ENOTFOUND, EAI_AGAIN...) when the name does not resolve
 * @example await assertPublicDestination('https://hooks.example.com/images');
 */
export async function assertPublicDestination(url: string | URL): Promise<void> {
  const host = bareHost(new URL(url));
  if (isLocalhostName(host)) throw new ForbiddenAddressError(`${host} is a loopback name`);
  if (isIP(host)) {
    if (!isPublicAddress(host)) throw new ForbiddenAddressError(`${host} is not a public address`);
    return;
  }
  const addresses = await dnsLookupAll(host, { all: true });
  const refused = addresses.find((entry) => !isPublicAddress(entry.address));
  if (refused) throw new ForbiddenAddressError(`${host} resolves to a non-public address (${refused.address})`);
}

/**
 * The connect-time half of the guard, for a request about to be sent: IP literals never reach a `lookup`, so they
 * are judged here; names are left to {@link guardedLookup}.
 * @throws {ForbiddenAddressError}
 */
export function assertNotPrivateLiteral(url: URL): void {
  const host = bareHost(url);
  if (isLocalhostName(host)) throw new ForbiddenAddressError(`${host} is a loopback name`);
  if (isIP(host) && !isPublicAddress(host)) throw new ForbiddenAddressError(`${host} is not a public address`);
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
      return callback(new ForbiddenAddressError(`${hostname} resolves to a non-public address (${refused.address})`), []);
    }
    if ((options as { all?: boolean }).all) return callback(null, list);
    const first = list[0];
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}
