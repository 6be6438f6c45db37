import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { closeLocally, type LocalAnswer, listenLocally, writeAnswer } from "../local-http.ts";
import { checkJwt, type FakeAppStoreApiKey, readJwt } from "./fake-app-store-auth.ts";
import { type AppleJwsSigner, signAppleJws } from "./jws.ts";

export { type AppStoreApiTestKey, createAppStoreApiKey, type FakeAppStoreApiKey } from "./fake-app-store-auth.ts";

export interface FakeAppStoreServerApiOptions {
  environment: "Sandbox" | "Production";
  /** Signs the TEST notifications (use a chain from createAppleTestChain). */
  signer: AppleJwsSigner;
  keys: FakeAppStoreApiKey[];
  /** Where TEST notifications are posted; null or absent: nowhere (no send attempt is made). */
  notificationUrl?: string | null;
  /** History items a page; Apple's is 20. */
  pageSize?: number;
  /** Default: any free port. */
  port?: number;
}

export interface FakeSendAttempt {
  attemptDate: number;
  sendAttemptResult: string;
}

export interface FakeHistoryEntry {
  signedPayload: string;
  /** When Apple sent it: what Get Notification History's date range selects by. */
  sentAt: number;
  /** Default: one SUCCESS at sentAt. */
  sendAttempts?: FakeSendAttempt[];
}

export interface FakeAppStoreRequest {
  method: string;
  /** As it came, still percent-encoded; no query. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON; the text when it is not JSON; null when empty. */
  body: unknown;
  /** The bearer token's header and claims, decoded without verifying; null when there is none. */
  jwtHeader: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
}

export type FakeAnswer = LocalAnswer;

interface TestNotification {
  bundleId: string;
  signedPayload: string;
  sendAttempts: FakeSendAttempt[];
  sent: Promise<void>;
}

interface PageCursor {
  startDate: number;
  endDate: number;
  offset: number;
}

/** Apple's TEST delivery gives the receiver this long before TIMED_OUT. */
const SEND_TIMEOUT_MS = 5_000;
const INVALID_PAGINATION_TOKEN: FakeAnswer = { status: 400, body: { errorCode: 4000006, errorMessage: "Invalid pagination token." } };

/**
 * A local App Store Server API: the three notification endpoints, behind Apple's JWT checks (a
 * refused token is 401 with no body, and the reason lands in `rejections`). Request a Test
 * Notification answers, then posts the signed TEST notification to `notificationUrl` and records the
 * attempt as Apple would; history is what `addHistory` gave, paged with opaque tokens.
 */
export class FakeAppStoreServerApi {
  readonly requests: FakeAppStoreRequest[] = [];
  /** Why each refused token was refused, in order. */
  readonly rejections: string[] = [];
  url = "";
  private server: Server | null = null;
  private notificationUrl: string | null;
  private readonly pageSize: number;
  private readonly tests = new Map<string, TestNotification>();
  private readonly history: FakeHistoryEntry[] = [];
  private readonly cursors = new Map<string, PageCursor>();
  private readonly faults: FakeAnswer[] = [];
  private readonly sending = new Set<Promise<void>>();
  private readonly closing = new AbortController();

  constructor(private readonly options: FakeAppStoreServerApiOptions) {
    this.notificationUrl = options.notificationUrl ?? null;
    this.pageSize = options.pageSize ?? 20;
  }

  async start(): Promise<this> {
    ({ server: this.server, url: this.url } = await listenLocally((req, res) => this.handle(req, res), this.options.port));
    return this;
  }

  setNotificationUrl(url: string | null): void {
    this.notificationUrl = url;
  }

  addHistory(entries: FakeHistoryEntry[]): void {
    this.history.push(...entries);
  }

  /** The next `count` authenticated requests get `answer` instead of what they asked for. */
  failNext(count: number, answer: FakeAnswer): void {
    for (let i = 0; i < count; i++) this.faults.push(answer);
  }

  /** Resolves once the TEST notification of `token` was posted and its attempt recorded (at once when no URL was set). */
  whenSent(token: string): Promise<void> {
    return this.tests.get(token)?.sent ?? Promise.reject(new Error(`no test notification ${token}`));
  }

  /** Stops listening, drops open connections and abandons TEST notifications still being posted. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.closing.abort();
    await Promise.allSettled(this.sending);
    if (server !== null) await closeLocally(server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const body = bodyOf(Buffer.concat(chunks).toString("utf8"));
    const jwt = readJwt(req.headers.authorization);
    this.requests.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
      jwtHeader: jwt.header,
      claims: jwt.claims,
    });

    const verdict = await checkJwt(jwt, this.options.keys, Date.now());
    if (verdict.key === undefined) {
      this.rejections.push(verdict.reason);
      // Apple answers a refused token with 401 and no body.
      res.writeHead(401).end();
      return;
    }
    let afterwards: (() => void) | undefined;
    let answer = this.faults.shift();
    if (answer === undefined) ({ answer, afterwards } = this.route(method, url, body, verdict.key));
    writeAnswer(res, answer, "application/json", afterwards);
  }

  private route(method: string, url: URL, body: unknown, key: FakeAppStoreApiKey): { answer: FakeAnswer; afterwards?: () => void } {
    const path = url.pathname;
    if (method === "POST" && path === "/inApps/v1/notifications/test") return this.requestTest(key);
    const prefix = "/inApps/v1/notifications/test/";
    if (method === "GET" && path.startsWith(prefix)) return { answer: this.testStatus(decoded(path.slice(prefix.length)), key) };
    if (method === "POST" && path === "/inApps/v1/notifications/history")
      return { answer: this.historyPage(url.searchParams.get("paginationToken"), body) };
    return { answer: { status: 404 } };
  }

  /** Request a Test Notification: a token at once, the TEST notification posted once the answer is out. */
  private requestTest(key: FakeAppStoreApiKey): { answer: FakeAnswer; afterwards: () => void } {
    const testNotificationToken = `${randomUUID()}_${Date.now()}`;
    const production = this.options.environment === "Production";
    const payload = {
      notificationType: "TEST",
      notificationUUID: randomUUID(),
      // Apple names the app's id in production only.
      data: {
        bundleId: key.bundleId,
        bundleVersion: "1",
        environment: this.options.environment,
        ...(production ? { appAppleId: key.appAppleId } : {}),
      },
      version: "2.0",
      signedDate: Date.now(),
    };
    const signedPayload = signAppleJws(payload, this.options.signer);
    let done = () => {};
    const sent = new Promise<void>((resolve) => (done = resolve));
    const test: TestNotification = { bundleId: key.bundleId, signedPayload, sendAttempts: [], sent };
    this.tests.set(testNotificationToken, test);
    const afterwards = () => {
      const target = this.notificationUrl;
      if (target === null) return done();
      const sending = this.post(target, signedPayload).then((sendAttemptResult) => {
        test.sendAttempts.push({ attemptDate: Date.now(), sendAttemptResult });
        done();
      });
      this.sending.add(sending);
      void sending.finally(() => this.sending.delete(sending));
    };
    return { answer: { status: 200, body: { testNotificationToken } }, afterwards };
  }

  /** Get Test Notification Status: known only to the app that asked for it. */
  private testStatus(token: string | null, key: FakeAppStoreApiKey): FakeAnswer {
    const test = token === null ? undefined : this.tests.get(token);
    if (test === undefined || test.bundleId !== key.bundleId) {
      return { status: 404, body: { errorCode: 4040010, errorMessage: "Test notification not found." } };
    }
    return { status: 200, body: { signedPayload: test.signedPayload, sendAttempts: test.sendAttempts } };
  }

  /** Get Notification History: [startDate, endDate) by sentAt, oldest first, a page at a time. */
  private historyPage(paginationToken: string | null, body: unknown): FakeAnswer {
    const { startDate, endDate } = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    if (!isMs(startDate)) return { status: 400, body: { errorCode: 4000015, errorMessage: "Invalid start date." } };
    if (!isMs(endDate) || endDate <= startDate) return { status: 400, body: { errorCode: 4000016, errorMessage: "Invalid end date." } };
    let offset = 0;
    if (paginationToken !== null) {
      // A token names a place in one query: with another date range it means nothing.
      const cursor = this.cursors.get(paginationToken);
      if (cursor === undefined || cursor.startDate !== startDate || cursor.endDate !== endDate) return INVALID_PAGINATION_TOKEN;
      offset = cursor.offset;
    }
    const matching = this.history
      .filter((entry) => entry.sentAt >= startDate && entry.sentAt < endDate)
      .sort((a, b) => a.sentAt - b.sentAt);
    const page = matching.slice(offset, offset + this.pageSize);
    const hasMore = offset + this.pageSize < matching.length;
    const notificationHistory = page.map((entry) => ({
      signedPayload: entry.signedPayload,
      sendAttempts: entry.sendAttempts ?? [{ attemptDate: entry.sentAt, sendAttemptResult: "SUCCESS" }],
    }));
    if (!hasMore) return { status: 200, body: { notificationHistory, hasMore } };
    const next = randomUUID();
    this.cursors.set(next, { startDate, endDate, offset: offset + this.pageSize });
    return { status: 200, body: { notificationHistory, hasMore, paginationToken: next } };
  }

  /** One delivery, judged as Apple judges it: 200–206 is SUCCESS, any other status is not. */
  private async post(url: string, signedPayload: string): Promise<string> {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ signedPayload }),
        signal: AbortSignal.any([AbortSignal.timeout(SEND_TIMEOUT_MS), this.closing.signal]),
      });
      await response.body?.cancel();
      return response.status >= 200 && response.status <= 206 ? "SUCCESS" : "UNSUCCESSFUL_HTTP_RESPONSE_CODE";
    } catch (error) {
      return error instanceof DOMException && error.name === "TimeoutError" ? "TIMED_OUT" : "NO_RESPONSE";
    }
  }
}

export async function startFakeAppStoreServerApi(options: FakeAppStoreServerApiOptions): Promise<FakeAppStoreServerApi> {
  return new FakeAppStoreServerApi(options).start();
}

function bodyOf(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function isMs(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}
