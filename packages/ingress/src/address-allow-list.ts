import { BlockList, isIP } from "node:net";

/**
 * The client addresses allowed to post to one store's ingress URLs (Apple publishes the range its
 * notifications come from). Matching is Node's BlockList: IPv4 and IPv6, and an IPv4-mapped IPv6
 * address (`::ffff:17.1.2.3`, what a socket bound to `::` reports for an IPv4 client) matches an
 * IPv4 range.
 */
export interface AddressAllowList {
  /** What the list is called where it is configured, for the refusal's message. */
  readonly name: string;
  allows(address: string | undefined): boolean;
}

export class AddressAllowListError extends Error {
  override readonly name = "AddressAllowListError";
}

/**
 * Builds a list from entries such as `17.0.0.0/8`, `2001:db8::/32` or `203.0.113.9` (a plain
 * address is a /32 or /128). Throws an AddressAllowListError naming the first entry it cannot read.
 */
export function createAddressAllowList(name: string, entries: readonly string[]): AddressAllowList {
  const list = new BlockList();
  for (const entry of entries) {
    const slash = entry.indexOf("/");
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw new AddressAllowListError(`${JSON.stringify(entry)} is not an IPv4 or IPv6 address or CIDR range`);
    const type = family === 4 ? "ipv4" : "ipv6";
    const maxPrefix = family === 4 ? 32 : 128;
    const prefix = slash === -1 ? String(maxPrefix) : entry.slice(slash + 1);
    // Digits only: Number() would read "", " 8" and "0x8" too.
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > maxPrefix) {
      throw new AddressAllowListError(`${JSON.stringify(entry)}: an IPv${family} prefix length is 0 to ${maxPrefix}`);
    }
    list.addSubnet(address, Number(prefix), type);
  }
  return {
    name,
    allows(address) {
      if (address === undefined) return false;
      const family = isIP(address);
      return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
    },
  };
}
