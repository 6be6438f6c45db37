import { z } from "zod";
import { parseRetryAfter } from "@subgate/core";

/**
 * Why a call to the Android Publisher API failed, as a caller acts on it:
 * - unavailable: HTTP 5xx, 429 (after `retryAfterMs` when Google said), no answer, a timeout, or a 2xx
 *   subgate cannot read; retry with backoff;
 * - unauthorized: Google refused the service account (HTTP 401, 403), or its key cannot be used at
 *   all; the message says what to fix in the configuration or in Play Console;
 * - not_found: HTTP 404 or 410: Google does not know (or no longer keeps) the purchase token;
 * - rejected: any other 4xx; Google's message says what was wrong with the request.
 */
export type PlayApiErrorKind = "unavailable" | "unauthorized" | "not_found" | "rejected";

export interface PlayApiErrorInit {
  kind: PlayApiErrorKind;
  /** Google's HTTP status; null when no answer came (network failure, timeout) or nothing was sent. */
  status: number | null;
  retryAfterMs?: number | null;
  googleReason?: string | null;
  /** Safe to show a user: says what happened and what to do, never a key or a token. */
  message: string;
}

export class PlayApiError extends Error {
  override readonly name = "PlayApiError";
  readonly kind: PlayApiErrorKind;
  readonly status: number | null;
  /** From a 429's Retry-After header (seconds or an HTTP date), when there was one. */
  readonly retryAfterMs: number | null;
  /** `error.errors[0].reason` of Google's error body (e.g. permissionDenied), when it had one. */
  readonly googleReason: string | null;

  constructor(init: PlayApiErrorInit) {
    super(init.message);
    this.kind = init.kind;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.googleReason = init.googleReason ?? null;
  }
}

/** What the failed call was, for the messages. */
export interface PlayCallContext {
  serviceAccountEmail: string;
  timeoutMs: number;
}

/** Google's JSON error body (AIP-193 with the older `errors[]` list); everything optional, since proxies answer too. */
const GoogleErrorBodySchema = z.object({
  error: z.object({
    code: z.number().optional(),
    message: z.string().optional(),
    status: z.string().optional(),
    errors: z.array(z.object({ reason: z.string().optional() })).optional(),
  }),
});

interface GoogleError {
  message: string | null;
  reason: string | null;
}

/** Google's message and first reason when `body` is its error JSON (parsed or text), else nulls. */
export function googleErrorOf(body: unknown): GoogleError {
  let json = body;
  if (typeof body === "string") {
    try {
      json = JSON.parse(body);
    } catch {
      return { message: null, reason: null };
    }
  }
  const parsed = GoogleErrorBodySchema.safeParse(json);
  if (!parsed.success) return { message: null, reason: null };
  const { message, errors } = parsed.data.error;
  return { message: message ?? null, reason: errors?.[0]?.reason ?? null };
}

/** Google's reasons for a quota or rate limit (its errors[].reason), whatever the status. */
const QUOTA_REASONS = new Set(["rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"]);

/** What an HTTP error answer means, with a message that says what to do about it. */
export function errorOfResponse(status: number, body: unknown, retryAfter: string | null, context: PlayCallContext): PlayApiError {
  const google = googleErrorOf(body);
  const says = google.message === null ? "" : `; Google says: ${google.message}`;
  const fields = { status, googleReason: google.reason };
  // A used-up quota is a 403 too (reason rateLimitExceeded, domain usageLimits): it passes, so it is
  // an outage to wait out, not a permission for an operator to grant.
  if (status === 403 && google.reason !== null && QUOTA_REASONS.has(google.reason)) {
    return new PlayApiError({
      kind: "unavailable",
      ...fields,
      retryAfterMs: parseRetryAfter(retryAfter ?? undefined),
      message: `the Android Publisher API quota is used up for now (HTTP ${status}, ${google.reason}); subgate tries again later${says}`,
    });
  }
  // Google has answered missing Play Console permissions with 401 as well as 403: the reason decides.
  if (status === 403 || (status === 401 && google.reason === "permissionDenied")) {
    return new PlayApiError({
      kind: "unauthorized",
      ...fields,
      message:
        `the service account ${context.serviceAccountEmail} may not read this app's purchases (HTTP ${status}): ` +
        "in Play Console → Users and permissions, invite it and grant 'View financial data, orders and cancellation survey responses' " +
        `(and 'Manage orders and subscriptions')${says}`,
    });
  }
  if (status === 401) {
    return new PlayApiError({
      kind: "unauthorized",
      ...fields,
      message: `Google refused the service account key (HTTP 401): check google.service_account_key${says}`,
    });
  }
  if (status === 404 || status === 410) {
    const why =
      status === 404
        ? "it is not a purchase of this app, or it was cut or altered on the way"
        : "the purchase is gone (Google stops answering for purchases that ended long ago)";
    return new PlayApiError({
      kind: "not_found",
      ...fields,
      message: `Google does not know this purchase token (HTTP ${status}): ${why}${says}`,
    });
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(retryAfter ?? undefined);
    const when = retryAfterMs === null ? "retry later" : `retry after ${Math.ceil(retryAfterMs / 1000)} s`;
    return new PlayApiError({
      kind: "unavailable",
      ...fields,
      retryAfterMs,
      message: `Google's Android Publisher API rate limited subgate (HTTP 429); ${when}${says}`,
    });
  }
  if (status >= 500) return unavailable(`HTTP ${status}${says}`, fields);
  return new PlayApiError({ kind: "rejected", ...fields, message: `Google refused the request (HTTP ${status})${says}` });
}

/**
 * No answer at all: a timeout or a network failure. Only the error's code (ECONNREFUSED, ENOTFOUND, …) is
 * told: gaxios's message quotes the URL, and the URL holds the purchase token.
 */
export function errorOfNoAnswer(code: string | null, context: PlayCallContext): PlayApiError {
  if (code === "TimeoutError") return unavailable(`no answer within ${context.timeoutMs} ms`, { status: null });
  return unavailable(`network error: ${code ?? "the request failed before an answer came"}`, { status: null });
}

/** A 2xx answer that is not a JSON object: not what Google sends (a proxy's page, a cut body). */
export function errorOfUnreadableAnswer(status: number): PlayApiError {
  return unavailable(`HTTP ${status} with a body that is not a JSON object`, { status });
}

/** A key that cannot sign anything: no request is made, and retrying will not help. */
export function errorOfUnusableKey(what: string): PlayApiError {
  return new PlayApiError({
    kind: "unauthorized",
    status: null,
    message:
      `google.service_account_key cannot be used: ${what}. ` +
      "It must be the JSON key Google Cloud downloads for a service account (IAM → Service accounts → Keys → Add key → JSON)",
  });
}

function unavailable(detail: string, fields: Omit<PlayApiErrorInit, "kind" | "message">): PlayApiError {
  return new PlayApiError({
    kind: "unavailable",
    ...fields,
    message: `Google's Android Publisher API is unavailable (${detail}); try again later`,
  });
}
