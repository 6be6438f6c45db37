// SSRF protection for webhook targets. Webhook URLs are chosen by API users, so without a guard a
// user could make subgate POST to its own Redis/Postgres ports, to other hosts on the private
// network, or to a cloud metadata service (169.254.169.254). Policy follows Svix: only public
// unicast addresses are allowed unless the operator sets WEBHOOK_ALLOW_PRIVATE_TARGETS.
//
// Two places use this module:
//  - checkWebhookUrl() at registration time, to give the user an early, readable refusal;
//  - the sender's connector (send.ts) at connect time, which is the real guard: a name may resolve
//    to a public address at registration and to 127.0.0.1 later (DNS rebinding).

import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

// IPv6 global unicast space (RFC 4291 / IANA). Everything outside it is reserved, local or special.
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR("2000::/3");
// NAT64 well-known prefix (RFC 6052): the last 32 bits are the IPv4 target, so judge that instead.
// IPv6-only hosts behind DNS64 see every public IPv4 site under this prefix, so it must not be
// blocked wholesale. The local-use prefix 64:ff9b:1::/48 (RFC 8215) stays blocked.
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR("64:ff9b::/96");

/**
 * True when `ip` must not be a webhook target: anything that is not public unicast.
 *
 * IPv4: private (10/8, 172.16/12, 192.168/16), loopback, link-local (incl. 169.254.169.254),
 * CGNAT 100.64/10, 0/8, broadcast, multicast, 240/4, documentation, benchmarking 198.18/15,
 * 192.0.0/24 and the other ipaddr.js special ranges.
 * IPv6: only 2000::/3 that is not special (so ::1, ::, fe80::/10, fc00::/7, multicast, 2001:db8::/32
 * … are refused). Addresses that embed an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo) are
 * judged by the embedded address. Unparseable input counts as forbidden (fail closed).
 */
export function isForbiddenAddress(ip: string): boolean {
  let address: IPv4 | IPv6;
  try {
    address = ipaddr.parse(stripBrackets(ip));
  } catch {
    return true;
  }
  return address.kind() === "ipv4" ? isForbiddenV4(address as IPv4) : isForbiddenV6(address as IPv6);
}

function isForbiddenV4(address: IPv4): boolean {
  return address.range() !== "unicast";
}

function isForbiddenV6(address: IPv6): boolean {
  // A zone id (fe80::1%eth0) only makes sense for link-local targets.
  if (address.zoneId !== undefined) return true;
  // ::ffff:127.0.0.1 connects to 127.0.0.1: canonicalise before judging.
  if (address.isIPv4MappedAddress()) return isForbiddenV4(address.toIPv4Address());

  const parts = address.parts;
  const partAt = (index: number): number => parts[index] ?? 0;
  const v4From = (high: number, low: number): IPv4 => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);

  if (address.match(NAT64_WELL_KNOWN)) {
    return isForbiddenV4(v4From(partAt(6), partAt(7)));
  }
  switch (address.range()) {
    case "6to4":
      // 2002:AABB:CCDD::/48 tunnels to IPv4 AA.BB.CC.DD.
      return isForbiddenV4(v4From(partAt(1), partAt(2)));
    case "teredo":
      // 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC; server address in clear, client address inverted.
      return isForbiddenV4(v4From(partAt(2), partAt(3))) || isForbiddenV4(v4From(partAt(6) ^ 0xffff, partAt(7) ^ 0xffff));
    case "unicast":
      return !address.match(GLOBAL_UNICAST_V6);
    default:
      return true;
  }
}

/** `[::1]` (URL hostname form) → `::1`. */
function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** A refused webhook URL. `reason` is written to be shown to the API user as is. */
export class WebhookUrlRejectedError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`webhook URL rejected: ${reason}`);
    this.name = "WebhookUrlRejectedError";
    this.reason = reason;
  }
}

/** Resolves a host name to all its addresses (default: node:dns/promises lookup with all: true). */
export type ResolveHost = (hostname: string) => Promise<string[]>;

export interface CheckWebhookUrlOptions {
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS: allow loopback/private/link-local targets (tests, local dev). */
  allowPrivateTargets: boolean;
  /** Replaces the system resolver (tests). */
  resolve?: ResolveHost;
  /** How long the registration request may wait for DNS. Default 5000 ms. */
  resolveTimeoutMs?: number;
}

const defaultResolve: ResolveHost = async (hostname) => {
  const addresses = await lookup(hostname, { all: true, verbatim: true });
  return addresses.map((entry) => entry.address);
};

const PRIVATE_TARGET_REASON = "URL points to a loopback, private, link-local or otherwise non-public address";

/**
 * Registration-time check of a webhook URL. Resolves when acceptable, otherwise throws
 * WebhookUrlRejectedError. This is a courtesy check that gives an early answer; the sender
 * checks again at connect time, because DNS answers can change after registration.
 */
export async function checkWebhookUrl(url: string, options: CheckWebhookUrlOptions): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebhookUrlRejectedError("URL is not a valid absolute URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new WebhookUrlRejectedError("URL scheme must be http or https");
  }
  // Credentials would be stored and shown with the endpoint, and are sent nowhere anyway.
  if (parsed.username !== "" || parsed.password !== "") {
    throw new WebhookUrlRejectedError("URL must not contain a user name or password");
  }
  const host = stripBrackets(parsed.hostname);
  if (host === "") {
    throw new WebhookUrlRejectedError("URL has no host");
  }

  // IP literals need no DNS (the URL parser already canonicalised forms like http://2130706433/).
  let addresses: string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    addresses = await resolveWithTimeout(host, options.resolve ?? defaultResolve, options.resolveTimeoutMs ?? 5000);
  }
  if (options.allowPrivateTargets) return;
  // Any forbidden address refuses the URL: the connection could go to any of them.
  if (addresses.some((address) => isForbiddenAddress(address))) {
    throw new WebhookUrlRejectedError(PRIVATE_TARGET_REASON);
  }
}

async function resolveWithTimeout(host: string, resolve: ResolveHost, timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WebhookUrlRejectedError("host name could not be resolved in time")), timeoutMs);
  });
  try {
    const addresses = await Promise.race([resolve(host), timeout]);
    if (addresses.length === 0) throw new Error("no addresses");
    return addresses;
  } catch (error) {
    if (error instanceof WebhookUrlRejectedError) throw error;
    // Deliberately no resolver detail in the reason: it could describe internal DNS.
    throw new WebhookUrlRejectedError("host name does not resolve");
  } finally {
    clearTimeout(timer);
  }
}
