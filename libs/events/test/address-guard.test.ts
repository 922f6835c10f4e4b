import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { assertPublicDestination, ForbiddenAddressError, isPublicAddress } from '../src/address-guard';

describe('isPublicAddress', () => {
  it.each([
    ['127.0.0.1', 'IPv4 loopback'],
    ['127.255.0.9', 'IPv4 loopback, anywhere in 127/8'],
    ['10.0.0.1', 'RFC 1918'],
    ['172.16.5.4', 'RFC 1918'],
    ['192.168.1.10', 'RFC 1918'],
    ['169.254.169.254', 'link-local: the cloud metadata service'],
    ['100.64.0.1', 'CGNAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'documentation'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fe80::1', 'IPv6 link-local'],
    ['fc00::1', 'IPv6 unique-local'],
    ['fd00:ec2::254', 'IPv6 unique-local: the EC2 metadata service'],
    ['ff02::1', 'IPv6 multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:10.1.2.3', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata service'],
    ['64:ff9b::a00:1', 'NAT64 translation of 10.0.0.1'],
    ['::7f00:1', 'IPv4-compatible (deprecated), outside global unicast'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['not-an-ip', 'a name, not an address'],
  ])('refuses %s (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8'])(
    'allows the public address %s',
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );
});

describe('assertPublicDestination', () => {
  it.each([
    'http://127.0.0.1:8080/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/',
    'http://[::ffff:a00:1]/',
    'http://0x7f.1/',
    'http://localhost/',
    'http://LOCALHOST./',
    'http://api.localhost:3000/',
  ])('refuses %s without resolving anything', async (url) => {
    await expect(assertPublicDestination(url)).rejects.toBeInstanceOf(ForbiddenAddressError);
  });

  it('refuses a name that resolves to a non-public address', async () => {
    // The machine's own hostname resolves (through /etc/hosts) to loopback or the host's private address.
    const url = `http://${os.hostname()}:8080/hook`;
    await expect(assertPublicDestination(url)).rejects.toThrow(/resolves to a non-public address/);
  });

  it('accepts a public address literal', async () => {
    await expect(assertPublicDestination('https://93.184.216.34/hook')).resolves.toBeUndefined();
    await expect(assertPublicDestination('https://[2606:4700:4700::1111]/hook')).resolves.toBeUndefined();
  });
});
