import { generateKeyPairSync } from "node:crypto";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { ClientRequest } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { importPKCS8, importSPKI, jwtVerify, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
// The folder's index is another change's; until it re-exports this file, the file is imported itself.
import {
  ANDROID_PUBLISHER_SCOPE as FAKE_SCOPE,
  createServiceAccountKey,
  type FakePlayApi,
  googleErrorBody,
  productPurchase,
  startFakePlayApi,
  subscriptionLineItem,
  subscriptionPurchase,
  type TestServiceAccountKey,
} from "@subgate/testing/google";
import { ANDROID_PUBLISHER_SCOPE, PlayApiError, PlayDeveloperApi } from "../src/google/play-api/index.ts";
import { rejected } from "./fixtures/thrown.ts";

const PACKAGE = "com.example.subgate";
const OTHER_PACKAGE = "com.example.elsewhere";
const TOKEN = "opaque-token-up-to-1000-characters.AO-J1Oy2abcdefghijklmnopqrstuvwxyz";
const failure = (promise: Promise<unknown>): Promise<PlayApiError> => rejected(PlayApiError, promise);

/** Every HTTP request this process starts (node:http, which gaxios's node-fetch uses, and fetch's undici), as `METHOD host/path`. */
class OutgoingRequests {
  readonly seen: string[] = [];
  private readonly onHttp = (message: unknown) => {
    const request = (message as { request: ClientRequest }).request;
    this.seen.push(`${request.method} ${String(request.getHeader("host"))}${request.path}`);
  };
  private readonly onUndici = (message: unknown) => {
    const request = (message as { request: { method: string; origin: string; path: string } }).request;
    this.seen.push(`${request.method} ${new URL(request.origin).host}${request.path}`);
  };
  start(): void {
    subscribe("http.client.request.start", this.onHttp);
    subscribe("undici:request:create", this.onUndici);
  }
  stop(): void {
    unsubscribe("http.client.request.start", this.onHttp);
    unsubscribe("undici:request:create", this.onUndici);
  }
}

describe("PlayDeveloperApi against the fake Android Publisher API", () => {
  let key: TestServiceAccountKey;
  let stranger: TestServiceAccountKey;
  let fake: FakePlayApi;
  const outgoing = new OutgoingRequests();

  const clientWith = (serviceAccountKey: TestServiceAccountKey = key, timeoutMs?: number) =>
    new PlayDeveloperApi({ baseUrl: fake.url, serviceAccountKey, timeoutMs });

  beforeAll(async () => {
    [key, stranger] = await Promise.all([
      createServiceAccountKey({ email: "play-reader@subgate-test.iam.gserviceaccount.com" }),
      createServiceAccountKey(),
    ]);
  });
  beforeEach(async () => {
    fake = await startFakePlayApi({ accounts: [{ serviceAccountKey: key, packageNames: [PACKAGE] }] });
    outgoing.seen.length = 0;
    outgoing.start();
  });
  afterEach(async () => {
    outgoing.stop();
    await fake.close();
  });

  describe("answers", () => {
    it("subscriptionsv2.get returns the subscription the fake holds for the token, as Google's object", async () => {
      const purchase = subscriptionPurchase({
        lineItems: [
          subscriptionLineItem({ productId: "gold", offerDetails: { basePlanId: "yearly", offerId: "intro", offerTags: ["launch"] } }),
        ],
      });
      fake.setSubscription(TOKEN, purchase);
      await expect(clientWith().getSubscription(PACKAGE, TOKEN)).resolves.toEqual(purchase);
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        `GET /androidpublisher/v3/applications/${PACKAGE}/purchases/subscriptionsv2/tokens/${TOKEN}`,
      ]);
    });

    it("products.get returns the one-time purchase the fake holds for that product and token", async () => {
      const purchase = productPurchase({ orderId: "GPA.3333-4444-5555-66666", quantity: 2 });
      fake.setProduct("coins_100", TOKEN, purchase);
      fake.setProduct("coins_500", TOKEN, productPurchase());
      await expect(clientWith().getProductPurchase(PACKAGE, "coins_100", TOKEN)).resolves.toEqual(purchase);
      expect(fake.requests.map((r) => r.path)).toEqual([
        `/androidpublisher/v3/applications/${PACKAGE}/purchases/products/coins_100/tokens/${TOKEN}`,
      ]);
    });
  });

  describe("authentication: a self-signed JWT, no token exchange", () => {
    it("sends Bearer <RS256 JWT> with kid = private_key_id and exactly iss = sub = client_email, scope, iat, exp = iat + 1 h", async () => {
      fake.setSubscription(TOKEN, subscriptionPurchase());
      const before = Math.floor(Date.now() / 1000);
      await clientWith().getSubscription(PACKAGE, TOKEN);

      expect(fake.rejections).toEqual([]);
      const [request] = fake.requests;
      expect(request?.jwtHeader).toEqual({ alg: "RS256", typ: "JWT", kid: key.private_key_id });
      expect(request?.claims).toEqual({
        iss: key.client_email,
        sub: key.client_email,
        scope: ANDROID_PUBLISHER_SCOPE,
        iat: expect.any(Number),
        exp: expect.any(Number),
      });
      const { iat, exp } = request!.claims as { iat: number; exp: number };
      expect(iat).toBeGreaterThanOrEqual(before);
      expect(iat).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
      expect(exp - iat).toBe(3600);
      // Checked here too, not only by the fake: it verifies with the service account's public key.
      await expect(
        jwtVerify(request?.token ?? "", await importSPKI(key.publicKey, "RS256"), { algorithms: ["RS256"] }),
      ).resolves.toBeDefined();
      expect(ANDROID_PUBLISHER_SCOPE).toBe(FAKE_SCOPE);
    });

    it("reaches nothing but the configured base URL: no POST to a token endpoint, one JWT reused across calls", async () => {
      fake.setSubscription(TOKEN, subscriptionPurchase());
      fake.setProduct("coins_100", TOKEN, productPurchase());
      const client = clientWith();
      const settled = (promise: Promise<unknown>) =>
        promise.then(
          () => "ok",
          (error: Error) => error.message,
        );
      const results = [
        await settled(client.getSubscription(PACKAGE, TOKEN)),
        await settled(client.getProductPurchase(PACKAGE, "coins_100", TOKEN)),
        await settled(client.getSubscription(PACKAGE, TOKEN)),
      ];

      // Before the results: a token exchange would fail the calls, and this says where it went.
      const host = new URL(fake.url).host;
      expect(outgoing.seen).toEqual([
        `GET ${host}/androidpublisher/v3/applications/${PACKAGE}/purchases/subscriptionsv2/tokens/${TOKEN}`,
        `GET ${host}/androidpublisher/v3/applications/${PACKAGE}/purchases/products/coins_100/tokens/${TOKEN}`,
        `GET ${host}/androidpublisher/v3/applications/${PACKAGE}/purchases/subscriptionsv2/tokens/${TOKEN}`,
      ]);
      expect(results).toEqual(["ok", "ok", "ok"]);
      expect(fake.requests.map((r) => r.method)).toEqual(["GET", "GET", "GET"]);
      expect(new Set(fake.requests.map((r) => r.token)).size).toBe(1);
      expect(fake.requests[0]?.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    });
  });

  describe("failures, classified", () => {
    it("503 is unavailable, tried once (no retries hidden in the library), and the next call gets the purchase", async () => {
      fake.setSubscription(TOKEN, subscriptionPurchase());
      fake.failNext(1, { status: 503, body: googleErrorBody(503, "UNAVAILABLE", "The service is currently unavailable.", "backendError") });
      const client = clientWith();
      const error = await failure(client.getSubscription(PACKAGE, TOKEN));
      expect(error).toMatchObject({ kind: "unavailable", status: 503, retryAfterMs: null, googleReason: "backendError" });
      expect(error.message).toContain("The service is currently unavailable.");
      expect(fake.requests).toHaveLength(1);
      await expect(client.getSubscription(PACKAGE, TOKEN)).resolves.toMatchObject({ subscriptionState: "SUBSCRIPTION_STATE_ACTIVE" });
      expect(fake.requests).toHaveLength(2);
    });

    it("429 with Retry-After is unavailable with retryAfterMs, tried once", async () => {
      fake.failNext(1, {
        status: 429,
        headers: { "retry-after": "7" },
        body: googleErrorBody(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "rateLimitExceeded"),
      });
      const error = await failure(clientWith().getSubscription(PACKAGE, TOKEN));
      expect(error).toMatchObject({ kind: "unavailable", status: 429, retryAfterMs: 7000, googleReason: "rateLimitExceeded" });
      expect(error.message).toContain("retry after 7 s");
      expect(fake.requests).toHaveLength(1);
    });

    it("429 without Retry-After is unavailable with no retryAfterMs", async () => {
      fake.failNext(1, { status: 429 });
      await expect(failure(clientWith().getSubscription(PACKAGE, TOKEN))).resolves.toMatchObject({
        kind: "unavailable",
        retryAfterMs: null,
      });
    });

    it("401 (a key Google does not know) is unauthorized and names google.service_account_key, never the key", async () => {
      const error = await failure(clientWith(stranger).getSubscription(PACKAGE, TOKEN));
      expect(error).toMatchObject({ kind: "unauthorized", status: 401, googleReason: "authError" });
      expect(error.message).toMatch(/^Google refused the service account key \(HTTP 401\): check google\.service_account_key/);
      expect(error.message).toContain("Request had invalid authentication credentials");
      expect(fake.rejections).toEqual([`iss ${stranger.client_email} is not a service account the fake knows`]);
      expect(JSON.stringify(error)).not.toContain("PRIVATE KEY");
      expect(error.message).not.toContain(stranger.private_key_id);
    });

    it("403 (the app not granted to the account) is unauthorized and says which account needs which Play Console permission", async () => {
      fake.setSubscription(TOKEN, subscriptionPurchase());
      const error = await failure(clientWith().getSubscription(OTHER_PACKAGE, TOKEN));
      expect(error).toMatchObject({ kind: "unauthorized", status: 403, googleReason: "permissionDenied" });
      expect(error.message).toContain(`the service account ${key.client_email} may not read this app's purchases (HTTP 403)`);
      expect(error.message).toContain("Play Console → Users and permissions");
      expect(error.message).toContain("'View financial data, orders and cancellation survey responses'");
      expect(error.message).toContain("The current user has insufficient permissions to perform the requested operation.");
      expect(fake.rejections).toEqual([]);
    });

    it("401 whose reason is permissionDenied (as Google has answered missing permissions) says the permission too", async () => {
      fake.failNext(1, {
        status: 401,
        body: googleErrorBody(401, "UNAUTHENTICATED", "The current user has insufficient permissions.", "permissionDenied"),
      });
      const error = await failure(clientWith().getSubscription(PACKAGE, TOKEN));
      expect(error).toMatchObject({ kind: "unauthorized", status: 401 });
      expect(error.message).toContain("Users and permissions");
    });

    it("404 (an unknown token) and 410 (a purchase gone) are not_found", async () => {
      const unknown = await failure(clientWith().getSubscription(PACKAGE, "no-such-token"));
      expect(unknown).toMatchObject({ kind: "not_found", status: 404, googleReason: "notFound" });
      expect(unknown.message).toMatch(/^Google does not know this purchase token \(HTTP 404\)/);

      const unknownProduct = await failure(clientWith().getProductPurchase(PACKAGE, "coins_100", "no-such-token"));
      expect(unknownProduct).toMatchObject({ kind: "not_found", status: 404 });

      fake.failNext(1, {
        status: 410,
        body: googleErrorBody(
          410,
          "GONE",
          "The subscription purchase is no longer available for query because it has been expired for too long.",
          "subscriptionPurchaseNoLongerAvailable",
          "androidpublisher",
        ),
      });
      const gone = await failure(clientWith().getSubscription(PACKAGE, TOKEN));
      expect(gone).toMatchObject({ kind: "not_found", status: 410, googleReason: "subscriptionPurchaseNoLongerAvailable" });
      expect(gone.message).toMatch(/^Google does not know this purchase token \(HTTP 410\)/);
    });

    it("another 4xx is rejected, with Google's message", async () => {
      fake.failNext(1, { status: 400, body: googleErrorBody(400, "INVALID_ARGUMENT", "Invalid Value", "invalid") });
      const error = await failure(clientWith().getSubscription(PACKAGE, TOKEN));
      expect(error).toMatchObject({ kind: "rejected", status: 400, googleReason: "invalid" });
      expect(error.message).toContain("Invalid Value");
    });

    it("a 200 that is not a JSON object (something in between answered) is unavailable", async () => {
      fake.failNext(1, { status: 200, body: "<html>captive portal</html>" });
      await expect(failure(clientWith().getSubscription(PACKAGE, TOKEN))).resolves.toMatchObject({ kind: "unavailable", status: 200 });
    });

    it("a key that is not a PEM RSA key is unauthorized, and no request is made", async () => {
      const notPem = { ...key, private_key: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n" };
      const error = await failure(clientWith(notPem).getSubscription(PACKAGE, TOKEN));
      expect(error).toMatchObject({ kind: "unauthorized", status: null });
      expect(error.message).toContain("google.service_account_key cannot be used");
      expect(error.message).not.toContain("not a key");

      const ecKey = createEcPem();
      const wrongType = await failure(clientWith({ ...key, private_key: ecKey }).getProductPurchase(PACKAGE, "coins_100", TOKEN));
      expect(wrongType.message).toContain("not an RSA key");
      expect(fake.requests).toEqual([]);
      expect(outgoing.seen).toEqual([]);
    });

    it("a server that never answers is unavailable after timeoutMs, tried once", async () => {
      const silent = await startSilentServer();
      try {
        const client = new PlayDeveloperApi({ baseUrl: silent.url, serviceAccountKey: key, timeoutMs: 300 });
        const started = Date.now();
        const error = await failure(client.getSubscription(PACKAGE, TOKEN));
        expect(error).toMatchObject({ kind: "unavailable", status: null });
        expect(error.message).toContain("no answer within 300 ms");
        expect(error.message).not.toContain(TOKEN);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(silent.connections()).toBe(1);
      } finally {
        await silent.close();
      }
    });

    it("a refused connection is unavailable, and the message does not quote the URL (it holds the token)", async () => {
      const closed = await startSilentServer();
      await closed.close();
      const client = new PlayDeveloperApi({ baseUrl: closed.url, serviceAccountKey: key });
      const error = await failure(client.getSubscription(PACKAGE, TOKEN));
      expect(error).toMatchObject({ kind: "unavailable", status: null });
      expect(error.message).toContain("ECONNREFUSED");
      expect(error.message).not.toContain(TOKEN);
    });
  });
});

describe("the fake refuses JWTs as Google would", () => {
  let key: TestServiceAccountKey;
  let fake: FakePlayApi;

  beforeAll(async () => {
    key = await createServiceAccountKey();
    fake = await startFakePlayApi({ accounts: [{ serviceAccountKey: key, packageNames: [PACKAGE] }] });
    fake.setSubscription(TOKEN, subscriptionPurchase());
  });
  afterAll(() => fake.close());

  const now = () => Math.floor(Date.now() / 1000);
  const sign = async (claims: Record<string, unknown>, header: Record<string, unknown> = {}, pem = key.private_key) =>
    new SignJWT({ iss: key.client_email, sub: key.client_email, scope: ANDROID_PUBLISHER_SCOPE, iat: now(), exp: now() + 3600, ...claims })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: key.private_key_id, ...header })
      .sign(await importPKCS8(pem, "RS256"));
  const status = async (jwt: string) => {
    const response = await fetch(`${fake.url}/androidpublisher/v3/applications/${PACKAGE}/purchases/subscriptionsv2/tokens/${TOKEN}`, {
      headers: { authorization: `Bearer ${jwt}` },
    });
    return response.status;
  };

  it.each([
    [
      "a signature by another key",
      async () => sign({}, {}, (await createServiceAccountKey()).private_key),
      "the signature does not verify",
    ],
    ["another kid", () => sign({}, { kid: "0".repeat(40) }), "kid 0000000000000000000000000000000000000000 is not a key of"],
    ["sub unlike iss", () => sign({ sub: "someone@example.com" }), "sub is someone@example.com"],
    ["another scope", () => sign({ scope: "https://www.googleapis.com/auth/cloud-platform" }), "nor aud"],
    ["both scope and aud", () => sign({ aud: "https://androidpublisher.googleapis.com/" }), "both scope and aud"],
    ["an expired token", () => sign({ iat: now() - 3700, exp: now() - 100 }), "exp is in the past"],
    ["a lifetime over an hour", () => sign({ exp: now() + 3601 }), "more than 3600"],
  ])("refuses %s with 401", async (_what, jwt, reason) => {
    const before = fake.rejections.length;
    expect(await status(await jwt())).toBe(401);
    expect(fake.rejections.slice(before)).toEqual([expect.stringContaining(reason)]);
  });

  it("accepts a JWT signed as the library signs, and one for the API's audience instead of the scope", async () => {
    expect(await status(await sign({}))).toBe(200);
    expect(await status(await sign({ scope: undefined, aud: "https://androidpublisher.googleapis.com/" }))).toBe(200);
  });
});

function createEcPem(): string {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

/** A TCP server that takes connections and never answers them. */
async function startSilentServer(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
