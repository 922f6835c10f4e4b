import type { Request } from 'express';
import ipaddr from 'ipaddr.js';

/**
 * The key one network client is counted under. IPv4 as is (an IPv4-mapped IPv6 address as its IPv4); IPv6 by its
 * /64, since a single host is routinely handed a whole /64 and could otherwise rotate through 2^64 addresses.
 */
export function addressKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  // process(): an IPv4-mapped IPv6 address (::ffff:1.2.3.4) comes back as its IPv4.
  const parsed = ipaddr.process(address);
  if (parsed instanceof ipaddr.IPv4) return parsed.toString();
  return `${parsed.parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}

/** An Imgur client id as Imgur issues them; anything else in the header is ignored rather than trusted as a key. */
const CLIENT_ID = /^Client-ID\s+([A-Za-z0-9._~-]{1,64})\s*$/i;

/**
 * Whom an upload counts against (RATE_LIMIT_UPLOADS_PER_MINUTE, concurrent uploads per client): an Imgur
 * `Authorization: Client-ID <x>` when one is sent, as the contract says, else the client's address. `req.ip`
 * honours TRUST_PROXY: behind a trusted proxy it is the X-Forwarded-For address, otherwise the socket's.
 */
export function clientKey(req: Request): string {
  const clientId = CLIENT_ID.exec(req.headers.authorization ?? '')?.[1];
  return clientId ? `client-id:${clientId}` : addressKeyOf(req);
}

/** The client's address as a key, whatever Client-ID it names. */
export function addressKeyOf(req: Request): string {
  return `ip:${addressKey(req.ip ?? req.socket.remoteAddress ?? 'unknown')}`;
}
