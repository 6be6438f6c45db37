// The connect-time half of the SSRF guard (see ssrf.ts for the policy). The check sits in the
// socket layer rather than before the request, so it judges the address that is actually dialled:
// a host name that resolved to a public address at registration and to 127.0.0.1 now (DNS
// rebinding) is refused here.

import { lookup as dnsLookup } from "node:dns";
import type { LookupAddress, LookupAllOptions } from "node:dns";
import { isIP } from "node:net";
import type { LookupFunction } from "node:net";
import { buildConnector } from "undici";
import { isForbiddenAddress } from "./ssrf.ts";

/** Error code carried by connections the guard refused, so the sender can recognise them. */
export const FORBIDDEN_TARGET_CODE = "ERR_WEBHOOK_TARGET_FORBIDDEN";

export class ForbiddenTargetError extends Error {
  readonly code = FORBIDDEN_TARGET_CODE;

  constructor(message: string) {
    super(message);
    this.name = "ForbiddenTargetError";
  }
}

/**
 * A `lookup` for net/tls.connect that resolves normally and then drops forbidden addresses
 * (like Svix's NonLocalDnsResolver). If nothing is left the connection fails.
 * Node calls it with `all: true` when autoSelectFamily (happy eyeballs) is on, and without otherwise,
 * so it answers in both shapes.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  const allOptions: LookupAllOptions = { ...options, all: true };
  dnsLookup(hostname, allOptions, (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
    if (error) {
      callback(error, "", 0);
      return;
    }
    const allowed = addresses.filter((entry) => !isForbiddenAddress(entry.address));
    const first = allowed[0];
    if (first === undefined) {
      callback(new ForbiddenTargetError("blocked: resolves to a private address"), "", 0);
      return;
    }
    if (options.all) {
      callback(null, allowed);
    } else {
      callback(null, first.address, first.family);
    }
  });
};

/**
 * An undici connector that refuses forbidden targets. net.connect skips `lookup` for IP-literal
 * hosts, so those are judged here before any socket is opened; names go through guardedLookup.
 */
export function createGuardedConnector(options: { allowPrivateTargets: boolean; connectTimeoutMs: number }): buildConnector.connector {
  if (options.allowPrivateTargets) {
    return buildConnector({ timeout: options.connectTimeoutMs });
  }
  const connect = buildConnector({ timeout: options.connectTimeoutMs, lookup: guardedLookup });
  return (connectOptions, callback) => {
    // undici passes IPv6 literals without brackets.
    if (isIP(connectOptions.hostname) !== 0 && isForbiddenAddress(connectOptions.hostname)) {
      callback(new ForbiddenTargetError("blocked: private address"), null);
      return;
    }
    connect(connectOptions, callback);
  };
}
