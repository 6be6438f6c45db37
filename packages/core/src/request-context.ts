import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";

/** What every log line written while serving one HTTP request carries. */
export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (and everything it starts) as part of the request `context`. */
export function runInRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The id of the HTTP request being served, if any (the logger adds it to each line). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/**
 * A caller's `X-Request-Id` is kept when it is one token of visible ASCII that logs and headers can
 * carry as is; anything else (empty, too long, spaces, control or non-ASCII characters) is replaced.
 */
const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function acceptRequestId(given: string | undefined): string {
  return given !== undefined && WELL_FORMED_REQUEST_ID.test(given) ? given : `req_${randomBytes(12).toString("hex")}`;
}
