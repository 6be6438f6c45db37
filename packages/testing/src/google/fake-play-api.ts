import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { closeLocally, type LocalAnswer, listenLocally, writeAnswer } from "../local-http.ts";
import { readJwt } from "../apple/fake-app-store-auth.ts";
import { checkPlayJwt, type FakePlayAccount } from "./fake-play-auth.ts";
import type { ProductPurchase, SubscriptionPurchaseV2 } from "./play-purchases.ts";

export {
  ANDROID_PUBLISHER_AUDIENCE,
  ANDROID_PUBLISHER_SCOPE,
  createServiceAccountKey,
  type FakePlayAccount,
  type FakePlayServiceAccountKey,
  type GoogleServiceAccountKeyJson,
  type TestServiceAccountKey,
} from "./fake-play-auth.ts";
export * from "./play-purchases.ts";

export interface FakePlayApiOptions {
  accounts: FakePlayAccount[];
  /** Default: any free port. */
  port?: number;
}

export interface FakePlayRequest {
  method: string;
  /** As it came, still percent-encoded; no query. */
  path: string;
  /** The bearer token as it came (to see one reused); null when there is none. */
  token: string | null;
  /** The bearer token's header and claims, decoded without verifying; null when there is none. */
  jwtHeader: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
}

export type FakePlayAnswer = LocalAnswer;

/** Google's JSON error body: `{error: {code, message, status, errors: [{message, domain, reason}]}}`. */
export function googleErrorBody(code: number, status: string, message: string, reason: string, domain = "global"): unknown {
  return { error: { code, message, errors: [{ message, domain, reason }], status } };
}

const UNAUTHENTICATED: FakePlayAnswer = {
  status: 401,
  headers: { "www-authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
  body: googleErrorBody(
    401,
    "UNAUTHENTICATED",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. " +
      "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    "authError",
  ),
};
const PERMISSION_DENIED_MESSAGE = "The current user has insufficient permissions to perform the requested operation.";
const PERMISSION_DENIED: FakePlayAnswer = {
  status: 403,
  body: googleErrorBody(403, "PERMISSION_DENIED", PERMISSION_DENIED_MESSAGE, "permissionDenied", "androidpublisher"),
};
const TOKEN_NOT_FOUND: FakePlayAnswer = {
  status: 404,
  body: googleErrorBody(404, "NOT_FOUND", "The purchase token was not found.", "notFound"),
};
const NO_SUCH_METHOD: FakePlayAnswer = {
  status: 404,
  body: googleErrorBody(404, "NOT_FOUND", "The requested URL was not found on this server.", "notFound"),
};

const APPLICATIONS = "/androidpublisher/v3/applications/";
const SUBSCRIPTION_PATH = /^([^/]+)\/purchases\/subscriptionsv2\/tokens\/([^/]+)$/;
const PRODUCT_PATH = /^([^/]+)\/purchases\/products\/([^/]+)\/tokens\/([^/]+)$/;

/**
 * A local Android Publisher API: purchases.subscriptionsv2.get and purchases.products.get, behind
 * Google's checks of a service account's self-signed JWT (a refused token is 401 with Google's body,
 * and the reason lands in `rejections`) and of the account's access to the app (403). Purchases are
 * what `setSubscription` and `setProduct` gave; any other token is 404.
 */
export class FakePlayApi {
  readonly requests: FakePlayRequest[] = [];
  /** Why each refused token was refused, in order. */
  readonly rejections: string[] = [];
  url = "";
  private server: Server | null = null;
  private readonly subscriptions = new Map<string, SubscriptionPurchaseV2>();
  private readonly products = new Map<string, ProductPurchase>();
  private readonly faults: FakePlayAnswer[] = [];

  constructor(private readonly options: FakePlayApiOptions) {}

  async start(): Promise<this> {
    ({ server: this.server, url: this.url } = await listenLocally((req, res) => this.handle(req, res), this.options.port));
    return this;
  }

  /** What subscriptionsv2.get answers for `token`, in any app the caller may read. */
  setSubscription(token: string, purchase: SubscriptionPurchaseV2): void {
    this.subscriptions.set(token, purchase);
  }

  /** What products.get answers for `token` of `productId`. */
  setProduct(productId: string, token: string, purchase: ProductPurchase): void {
    this.products.set(productKey(productId, token), purchase);
  }

  /** The next `count` requests whose token passes get `answer` instead of what they asked for. */
  failNext(count: number, answer: FakePlayAnswer): void {
    for (let i = 0; i < count; i++) this.faults.push(answer);
  }

  /** Stops listening and drops open connections. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server !== null) await closeLocally(server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Drained so that a caller that sends a body (none should) is not left writing.
    for await (const _ of req);
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const jwt = readJwt(req.headers.authorization);
    this.requests.push({ method, path: url.pathname, token: jwt.token, jwtHeader: jwt.header, claims: jwt.claims });

    const verdict = await checkPlayJwt(jwt, this.options.accounts, Date.now());
    if (verdict.account === undefined) this.rejections.push(verdict.reason);
    const answer =
      verdict.account === undefined ? UNAUTHENTICATED : (this.faults.shift() ?? this.route(method, url.pathname, verdict.account));
    writeAnswer(res, answer, "application/json; charset=UTF-8");
  }

  private route(method: string, path: string, account: FakePlayAccount): FakePlayAnswer {
    if (method !== "GET" || !path.startsWith(APPLICATIONS)) return NO_SUCH_METHOD;
    const rest = path.slice(APPLICATIONS.length);
    const subscription = SUBSCRIPTION_PATH.exec(rest);
    const product = subscription === null ? PRODUCT_PATH.exec(rest) : null;
    const [packageName, ...ids] = (subscription ?? product ?? []).slice(1).map(decoded);
    if (packageName === undefined) return NO_SUCH_METHOD;
    // Google checks the account's access to the app before it looks at the token.
    if (!account.packageNames.includes(packageName)) return PERMISSION_DENIED;
    const [first = "", second = ""] = ids;
    const found = subscription !== null ? this.subscriptions.get(first) : this.products.get(productKey(first, second));
    return found === undefined ? TOKEN_NOT_FOUND : { status: 200, body: found };
  }
}

export async function startFakePlayApi(options: FakePlayApiOptions): Promise<FakePlayApi> {
  return new FakePlayApi(options).start();
}

function productKey(productId: string, token: string): string {
  return JSON.stringify([productId, token]);
}

function decoded(segment: string | undefined): string {
  try {
    return decodeURIComponent(segment ?? "");
  } catch {
    return segment ?? "";
  }
}
