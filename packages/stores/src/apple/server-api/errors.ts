import { z } from "zod";

/**
 * Why a call to the App Store Server API failed, as a caller acts on it:
 * - unauthorized: Apple refused the key (HTTP 401), or the key could not be used at all; fix the credentials;
 * - rate_limited: HTTP 429; try again after `retryAfterMs` (when Apple said);
 * - unavailable: HTTP 5xx, no answer, a timeout, or an answer subgate cannot read; try again later;
 * - not_found: HTTP 404 (e.g. an unknown test notification token);
 * - rejected: any other 4xx; Apple's errorCode says what was wrong with the request.
 */
export type AppStoreApiErrorKind = "unauthorized" | "rate_limited" | "unavailable" | "not_found" | "rejected";

export interface AppStoreApiErrorInit {
  kind: AppStoreApiErrorKind;
  /** Apple's HTTP status; null when no answer came (network failure, timeout) or nothing was sent. */
  status: number | null;
  errorCode?: number | null;
  errorMessage?: string | null;
  retryAfterMs?: number | null;
  /** Safe to show a user: says what happened and what to do, never a key or a token. */
  message: string;
}

export class AppStoreApiError extends Error {
  override readonly name = "AppStoreApiError";
  readonly kind: AppStoreApiErrorKind;
  readonly status: number | null;
  /** Apple's numeric error code (e.g. 4000006 InvalidPaginationTokenError), when its body had one. */
  readonly errorCode: number | null;
  readonly errorMessage: string | null;
  /** From the Retry-After header (seconds or an HTTP date), when there was one. */
  readonly retryAfterMs: number | null;

  constructor(init: AppStoreApiErrorInit) {
    super(init.message);
    this.kind = init.kind;
    this.status = init.status;
    this.errorCode = init.errorCode ?? null;
    this.errorMessage = init.errorMessage ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
  }
}

/** Apple's error body; 401 usually comes without one. */
const AppleErrorBodySchema = z.object({ errorCode: z.number().int(), errorMessage: z.string() });

/** Apple's error code and message when `body` is its error JSON, else nulls (a proxy's HTML page, nothing). */
export function appleErrorOf(body: string): { errorCode: number | null; errorMessage: string | null } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { errorCode: null, errorMessage: null };
  }
  const parsed = AppleErrorBodySchema.safeParse(json);
  return parsed.success ? parsed.data : { errorCode: null, errorMessage: null };
}

/** What an HTTP error answer means, with a message that says what to do about it. */
export function errorOfResponse(status: number, body: string, retryAfterMs: number | null, bundleId: string): AppStoreApiError {
  const apple = appleErrorOf(body);
  const fields = { status, ...apple, retryAfterMs };
  if (status === 401) {
    return new AppStoreApiError({
      kind: "unauthorized",
      ...fields,
      message:
        "Apple refused the App Store Server API key (HTTP 401): check the app's apple.issuer_id, apple.key_id and apple.private_key " +
        "(an In-App Purchase key from App Store Connect → Users and Access → Integrations), " +
        `and that bundle id ${bundleId} belongs to that team`,
    });
  }
  if (status === 429) {
    const when = retryAfterMs === null ? "retry later" : `retry after ${Math.ceil(retryAfterMs / 1000)} s`;
    return new AppStoreApiError({
      kind: "rate_limited",
      ...fields,
      message: `The App Store Server API rate limited subgate (HTTP 429); ${when}`,
    });
  }
  if (status >= 500) return unavailable(`HTTP ${status}${describeApple(apple)}`, fields);
  const kind = status === 404 ? "not_found" : "rejected";
  return new AppStoreApiError({ kind, ...fields, message: `Apple refused the request (HTTP ${status}${describeApple(apple)})` });
}

/** No answer at all: a timeout or a network failure (the cause's text names no secret). */
export function errorOfNoAnswer(error: unknown, timeoutMs: number): AppStoreApiError {
  if (error instanceof DOMException && error.name === "TimeoutError")
    return unavailable(`no answer within ${timeoutMs} ms`, { status: null });
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
  return unavailable(`network error: ${cause}`, { status: null });
}

/** A 2xx answer whose body is not what Apple documents. */
export function errorOfUnreadableAnswer(status: number, what: string): AppStoreApiError {
  return unavailable(`HTTP ${status} with a body subgate cannot read: ${what}`, { status });
}

function unavailable(detail: string, fields: Omit<AppStoreApiErrorInit, "kind" | "message">): AppStoreApiError {
  return new AppStoreApiError({
    kind: "unavailable",
    ...fields,
    message: `Apple's App Store Server API is unavailable (${detail}); try again later`,
  });
}

function describeApple(apple: { errorCode: number | null; errorMessage: string | null }): string {
  return apple.errorCode === null ? ", no error code" : `, errorCode ${apple.errorCode}: ${apple.errorMessage}`;
}
