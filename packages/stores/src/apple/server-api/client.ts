import { setTimeout as sleepFor } from "node:timers/promises";
import { z } from "zod";
import { parseRetryAfter } from "@subgate/core";
import { AppStoreApiError, errorOfNoAnswer, errorOfResponse, errorOfUnreadableAnswer } from "./errors.ts";
import { type AppStoreApiCredentials, AppStoreApiTokens } from "./token.ts";

/** Apple's documented sendAttemptResult values; any other string is kept as it came (Apple adds values). */
export type SendAttemptResult =
  | "SUCCESS"
  | "TIMED_OUT"
  | "TLS_ISSUE"
  | "CIRCULAR_REDIRECT"
  | "NO_RESPONSE"
  | "SOCKET_ISSUE"
  | "UNSUPPORTED_CHARSET"
  | "INVALID_RESPONSE"
  | "PREMATURE_CLOSE"
  | "UNSUCCESSFUL_HTTP_RESPONSE_CODE"
  | "OTHER"
  | (string & {});

// Apple's answers, as far as subgate reads them; unknown fields are stripped.
const SendAttemptSchema = z.object({
  /** ms since the epoch. */
  attemptDate: z.number().int(),
  sendAttemptResult: z.string() as z.ZodType<SendAttemptResult>,
});
/** CheckTestNotificationResponse, and one notificationHistory item: the same two fields. */
const SignedNotificationSchema = z.object({
  signedPayload: z.string().min(1),
  /** At most six: the first try and Apple's five retries. */
  sendAttempts: z.array(SendAttemptSchema),
});
const TestNotificationSentSchema = z.object({ testNotificationToken: z.string().min(1) });
const NotificationHistoryResponseSchema = z
  .object({
    notificationHistory: z.array(SignedNotificationSchema),
    hasMore: z.boolean(),
    paginationToken: z.string().min(1).optional(),
  })
  .refine((page) => !page.hasMore || page.paginationToken !== undefined, {
    path: ["paginationToken"],
    message: "hasMore is true but there is no paginationToken",
  });

export type SendAttempt = z.infer<typeof SendAttemptSchema>;
export type SignedNotification = z.infer<typeof SignedNotificationSchema>;

/** NotificationHistoryRequest: which notifications Apple sent (or tried to) in [startDate, endDate). */
export interface NotificationHistoryRequest {
  /** ms since the epoch; Apple keeps 180 days of history in production, 30 in sandbox. */
  startDate: number;
  endDate: number;
  notificationType?: string;
  /** Only with a notificationType it belongs to. */
  notificationSubtype?: string;
  /** Instead of notificationType, not with it. */
  transactionId?: string;
  onlyFailures?: boolean;
}

/** One page of history (at most 20 items). Persist `nextPaginationToken` to resume after a restart. */
export interface NotificationHistoryPage {
  items: SignedNotification[];
  /** The token for the page after this one; null on the last page. */
  nextPaginationToken: string | null;
  hasMore: boolean;
}

export interface AppStoreRetryOptions {
  /** Tries in all, the first included. Default 3. */
  attempts?: number;
  /** The first backoff; each later one doubles, with jitter. Default 500 ms. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A 429's Retry-After longer than this is not waited out: the call fails rate_limited. Default 30 s. */
  maxRetryAfterMs?: number;
}

export interface AppStoreServerApiClientOptions {
  /** Apple's production or sandbox host, or a local stand-in: `https://api.storekit.itunes.apple.com`. */
  baseUrl: string;
  credentials: AppStoreApiCredentials;
  /** Per try, for the answer and its body. Default 10 s. */
  timeoutMs?: number;
  retry?: AppStoreRetryOptions;
  fetch?: typeof fetch;
  /** Clock in ms, for the tokens and for Retry-After dates. */
  now?: () => number;
  /** How to wait between tries; default a timer. Tests see the delays through it. */
  sleep?: (ms: number) => Promise<void>;
}

/** How a call reaches Apple: the method, the path below the base URL, what comes back. */
interface Call<T> {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  schema: z.ZodType<T>;
}

/**
 * subgate's client for the App Store Server API's notification endpoints. Every call is signed with
 * a cached token, bounded by a timeout, and retried while the failure may pass (5xx, no answer, a
 * 429 whose Retry-After is short); each failure is an AppStoreApiError whose message says what to do.
 */
export class AppStoreServerApiClient {
  private readonly baseUrl: string;
  private readonly bundleId: string;
  private readonly tokens: AppStoreApiTokens;
  private readonly timeoutMs: number;
  private readonly retry: Required<AppStoreRetryOptions>;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: AppStoreServerApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.bundleId = options.credentials.bundleId;
    this.now = options.now ?? Date.now;
    this.tokens = new AppStoreApiTokens(options.credentials, { now: this.now });
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retry = { attempts: 3, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 30_000, ...options.retry };
    this.fetch = options.fetch ?? fetch;
    this.sleep = options.sleep ?? ((ms) => sleepFor(ms));
  }

  /** Asks Apple to send a TEST notification to the app's notification URL for this environment. */
  requestTestNotification(): Promise<{ testNotificationToken: string }> {
    return this.call({ method: "POST", path: "/inApps/v1/notifications/test", schema: TestNotificationSentSchema });
  }

  /** The TEST notification a token names, and how each try to deliver it went. */
  getTestNotificationStatus(testNotificationToken: string): Promise<SignedNotification> {
    const path = `/inApps/v1/notifications/test/${encodeURIComponent(testNotificationToken)}`;
    return this.call({ method: "GET", path, schema: SignedNotificationSchema });
  }

  /** One page of history: the first, or the one `paginationToken` (from the page before) names. */
  async getNotificationHistory(request: NotificationHistoryRequest, paginationToken?: string): Promise<NotificationHistoryPage> {
    const query = paginationToken === undefined ? "" : `?${new URLSearchParams({ paginationToken })}`;
    const page = await this.call({
      method: "POST",
      path: `/inApps/v1/notifications/history${query}`,
      body: request,
      schema: NotificationHistoryResponseSchema,
    });
    return {
      items: page.notificationHistory,
      nextPaginationToken: page.hasMore ? (page.paginationToken ?? null) : null,
      hasMore: page.hasMore,
    };
  }

  /** Every page from the first (or from a stored token) until hasMore is false, one call a page. */
  async *notificationHistoryPages(
    request: NotificationHistoryRequest,
    fromPaginationToken?: string,
  ): AsyncGenerator<NotificationHistoryPage> {
    let paginationToken = fromPaginationToken;
    for (;;) {
      const page = await this.getNotificationHistory(request, paginationToken);
      yield page;
      if (page.nextPaginationToken === null) return;
      paginationToken = page.nextPaginationToken;
    }
  }

  private async call<T>(call: Call<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await this.try(call);
      } catch (error) {
        const wait = error instanceof AppStoreApiError ? this.waitBeforeRetry(error, tries) : null;
        if (wait === null) throw error;
        await this.sleep(wait);
      }
    }
  }

  private async try<T>(call: Call<T>): Promise<T> {
    // Asked on every try: a retry after a long wait may need a renewed token.
    const jwt = await this.tokens.token();
    const headers: Record<string, string> = { authorization: `Bearer ${jwt}`, accept: "application/json", "user-agent": "subgate" };
    if (call.body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    let text: string;
    try {
      // One signal for the answer and its body: a server that stalls mid-body times out too.
      response = await this.fetch(`${this.baseUrl}${call.path}`, {
        method: call.method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw errorOfNoAnswer(error, this.timeoutMs);
    }
    if (!response.ok) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after") ?? undefined, this.now());
      throw errorOfResponse(response.status, text, retryAfterMs, this.bundleId);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw errorOfUnreadableAnswer(response.status, "it is not JSON");
    }
    const parsed = call.schema.safeParse(json);
    if (!parsed.success) throw errorOfUnreadableAnswer(response.status, firstIssueOf(parsed.error));
    return parsed.data;
  }

  /** How long to wait before the next try, or null to give up with this error. */
  private waitBeforeRetry(error: AppStoreApiError, tries: number): number | null {
    if (tries >= this.retry.attempts) return null;
    if (error.kind === "rate_limited") {
      // Apple does not promise a Retry-After: without one, back off as for an outage.
      if (error.retryAfterMs === null) return this.backoff(tries);
      return error.retryAfterMs <= this.retry.maxRetryAfterMs ? error.retryAfterMs : null;
    }
    // A 5xx or no answer may pass; a 2xx that did not fit would come back the same.
    if (error.kind === "unavailable" && (error.status === null || error.status >= 500)) return this.backoff(tries);
    return null;
  }

  /** Exponential, capped, with "equal jitter": half fixed, half random, so clients that failed together spread out. */
  private backoff(tries: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (tries - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

/** The first issue of a failed parse, as `path: message`. */
function firstIssueOf(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return "it does not fit";
  return issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`;
}
