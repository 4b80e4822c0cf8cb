// Where a webhook may point: checked by the API when a webhook is registered, and again by the
// delivery at send time (the name may resolve elsewhere by then). Its own module, because the API
// server loads it and none of the activities' clients.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

// Addresses a webhook must not reach unless SHIPYARD_WEBHOOK_ALLOW_PRIVATE=true: the control
// plane's own network, the cloud metadata service (169.254.169.254), the host itself. IPv4-mapped
// IPv6 addresses are checked against the IPv4 rules by BlockList.
const privateAddresses = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  privateAddresses.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  privateAddresses.addSubnet(net, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  return family === 0 || privateAddresses.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why `url` may not be a webhook target, or undefined when it may. Resolves the host and checks every address. */
export async function refusedTarget(url: string, allowPrivate: boolean): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http or https URL';
  if (allowPrivate) return undefined;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  } catch {
    return `its host "${host}" does not resolve`;
  }
  const refused = addresses.filter(isPrivateAddress);
  if (refused.length > 0) {
    return `its host resolves to a private, loopback or link-local address (${refused.join(', ')}); set SHIPYARD_WEBHOOK_ALLOW_PRIVATE=true to allow that`;
  }
  return undefined;
}
