import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebhookReceiver } from "@subgate/testing";
import {
  type AppleTestChain,
  type AppStoreApiTestKey,
  createAppleTestChain,
  createAppStoreApiKey,
  type FakeAppStoreServerApi,
  startFakeAppStoreServerApi,
  TEST_BUNDLE_ID,
} from "@subgate/testing/apple";
import { importPKCS8, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { rejected } from "./fixtures/thrown.ts";
import { AppleJwsVerifier } from "../src/apple/jws/index.ts";
import { AppStoreApiError, AppStoreServerApiClient, type AppStoreServerApiClientOptions } from "../src/apple/server-api/index.ts";

const BUNDLE_ID = TEST_BUNDLE_ID;
/** Fixed, so the table of the fake's refusals can name it before the key exists. */
const KEY_ID = "2X9R4HXF34";
const APP_APPLE_ID = 1234567890;
const MINUTE = 60_000;
const failure = (promise: Promise<unknown>): Promise<AppStoreApiError> => rejected(AppStoreApiError, promise);

describe("AppStoreServerApiClient against the fake App Store Server API", () => {
  const receiver = new WebhookReceiver();
  let chain: AppleTestChain;
  let key: AppStoreApiTestKey;
  let fake: FakeAppStoreServerApi;
  /** What the client waited between tries, in ms (the recording sleep answers at once). */
  let sleeps: number[];

  const credentials = (signingKey: AppStoreApiTestKey = key, overrides: { privateKey?: string; bundleId?: string } = {}) => ({
    issuerId: signingKey.issuerId,
    keyId: signingKey.keyId,
    privateKey: signingKey.privateKeyPem,
    bundleId: BUNDLE_ID,
    ...overrides,
  });
  /** The key as the fake knows it; the app's id shows only in production notifications. */
  const known = () => ({
    issuerId: key.issuerId,
    keyId: key.keyId,
    publicKey: key.publicKey,
    bundleId: BUNDLE_ID,
    appAppleId: APP_APPLE_ID,
  });
  const clientWith = (options: Partial<AppStoreServerApiClientOptions> = {}, signingKey: AppStoreApiTestKey = key) =>
    new AppStoreServerApiClient({
      baseUrl: fake.url,
      credentials: credentials(signingKey),
      retry: { baseDelayMs: 10 },
      sleep: async (ms) => void sleeps.push(ms),
      ...options,
    });

  beforeAll(async () => {
    await receiver.start();
    chain = await createAppleTestChain();
    key = await createAppStoreApiKey({ keyId: KEY_ID });
  });
  afterAll(() => receiver.close());
  beforeEach(async () => {
    sleeps = [];
    receiver.received.length = 0;
    // No notificationUrl: the tests that read what was posted set it, since a TEST notification
    // another test asked for could otherwise arrive after the receiver was cleared.
    fake = await startFakeAppStoreServerApi({ environment: "Sandbox", signer: chain, keys: [known()] });
  });
  afterEach(() => fake.close());

  describe("tokens", () => {
    it("signs each request as Apple asks: ES256 with the key id, iss/aud/bid, exp 20 min after iat; user-agent subgate", async () => {
      const sent: RequestInit[] = [];
      const recording: typeof fetch = (input, init) => {
        if (init) sent.push(init);
        return fetch(input, init);
      };
      const client = clientWith({ fetch: recording });
      const before = Math.floor(Date.now() / 1000);
      await client.requestTestNotification();
      const after = Math.ceil(Date.now() / 1000);

      expect(fake.rejections).toEqual([]);
      const [request] = fake.requests;
      expect(request?.jwtHeader).toEqual({ alg: "ES256", kid: key.keyId, typ: "JWT" });
      expect(request?.claims).toEqual({
        iss: key.issuerId,
        aud: "appstoreconnect-v1",
        bid: BUNDLE_ID,
        iat: expect.any(Number),
        exp: expect.any(Number),
      });
      const { iat, exp } = request!.claims as { iat: number; exp: number };
      expect(iat).toBeGreaterThanOrEqual(before);
      expect(iat).toBeLessThanOrEqual(after);
      expect(exp - iat).toBe(20 * 60);
      expect(sent[0]?.headers).toMatchObject({ "user-agent": "subgate" });
      expect(sent[0]?.signal).toBeInstanceOf(AbortSignal);
    });

    it("reuses one token until under 2 minutes remain, then signs a new one", async () => {
      // Start 19 min back, so every token the fake sees is still valid on its real clock.
      const start = Math.floor(Date.now() / 1000) * 1000 - 19 * MINUTE;
      let clock = start;
      const client = clientWith({ now: () => clock });
      const tokens = async () => {
        await client.requestTestNotification();
        return fake.requests.at(-1)?.claims?.iat;
      };

      const first = await tokens();
      expect(first).toBe(start / 1000);
      clock = start + 18 * MINUTE - 1_000; // 2 min 1 s left
      expect(await tokens()).toBe(first);
      clock = start + 18 * MINUTE + 1_000; // 1 min 59 s left
      expect(await tokens()).toBe(clock / 1000);
      expect(fake.rejections).toEqual([]);
    });
  });

  describe("test notifications", () => {
    beforeEach(() => fake.setNotificationUrl(receiver.url));

    it("requests a TEST notification, which is posted signed; its status carries the same payload and the attempt", async () => {
      const client = clientWith();
      const { testNotificationToken } = await client.requestTestNotification();
      expect(testNotificationToken).toMatch(/^[0-9a-f-]{36}_\d+$/);
      expect(fake.requests[0]).toMatchObject({ method: "POST", path: "/inApps/v1/notifications/test", body: null });

      await fake.whenSent(testNotificationToken);
      const status = await client.getTestNotificationStatus(testNotificationToken);
      expect(fake.requests[1]).toMatchObject({ method: "GET", path: `/inApps/v1/notifications/test/${testNotificationToken}` });
      expect(receiver.received.map((request) => JSON.parse(request.body))).toEqual([{ signedPayload: status.signedPayload }]);
      expect(receiver.received[0]?.headers["content-type"]).toBe("application/json");
      expect(status.sendAttempts).toEqual([{ attemptDate: expect.any(Number), sendAttemptResult: "SUCCESS" }]);

      const payload = await new AppleJwsVerifier({ trustedRoots: [chain.rootDer] }).verify(status.signedPayload);
      expect(payload).toEqual({
        notificationType: "TEST",
        notificationUUID: expect.any(String),
        data: { bundleId: BUNDLE_ID, bundleVersion: "1", environment: "Sandbox" },
        version: "2.0",
        signedDate: expect.any(Number),
      });
    });

    it("percent-encodes the token in the path", async () => {
      const error = await failure(clientWith().getTestNotificationStatus("a/b?c#d"));
      expect(error.kind).toBe("not_found");
      expect(fake.requests[0]?.path).toBe("/inApps/v1/notifications/test/a%2Fb%3Fc%23d");
    });

    it("is not_found for an unknown token, with Apple's code, and does not retry", async () => {
      const error = await failure(clientWith().getTestNotificationStatus("unknown_1"));
      expect(error).toMatchObject({ kind: "not_found", status: 404, errorCode: 4040010, errorMessage: "Test notification not found." });
      expect(error.message).toBe("Apple refused the request (HTTP 404, errorCode 4040010: Test notification not found.)");
      expect(fake.requests).toHaveLength(1);
    });

    it("keeps unknown sendAttemptResult values as strings and strips unknown fields", async () => {
      const sendAttempts = [{ attemptDate: 1, sendAttemptResult: "SOMETHING_NEW", extra: 1 }];
      fake.failNext(1, { status: 200, body: { signedPayload: "a.b.c", sendAttempts, extra: true } });
      expect(await clientWith().getTestNotificationStatus("t")).toEqual({
        signedPayload: "a.b.c",
        sendAttempts: [{ attemptDate: 1, sendAttemptResult: "SOMETHING_NEW" }],
      });
    });

    it("the fake records a failed delivery as Apple does: another status, or no answer at all", async () => {
      const client = clientWith();
      receiver.respondWith(500);
      const refused = await client.requestTestNotification();
      await fake.whenSent(refused.testNotificationToken);
      const closed = await startFakeAppStoreServerApi({ environment: "Sandbox", signer: chain, keys: [] });
      await closed.close();
      fake.setNotificationUrl(closed.url);
      const unanswered = await client.requestTestNotification();
      await fake.whenSent(unanswered.testNotificationToken);

      const results = async (token: string) => (await client.getTestNotificationStatus(token)).sendAttempts.map((a) => a.sendAttemptResult);
      expect(await results(refused.testNotificationToken)).toEqual(["UNSUCCESSFUL_HTTP_RESPONSE_CODE"]);
      expect(await results(unanswered.testNotificationToken)).toEqual(["NO_RESPONSE"]);
    });

    it("the fake names the app's id in production TEST notifications", async () => {
      await fake.close();
      fake = await startFakeAppStoreServerApi({ environment: "Production", signer: chain, keys: [known()] });
      const client = clientWith();
      const { signedPayload } = await client.getTestNotificationStatus((await client.requestTestNotification()).testNotificationToken);
      const payload = await new AppleJwsVerifier({ trustedRoots: [chain.rootDer] }).verify(signedPayload);
      expect(payload.data).toEqual({ bundleId: BUNDLE_ID, bundleVersion: "1", environment: "Production", appAppleId: APP_APPLE_ID });
    });
  });

  describe("notification history", () => {
    const START = 1_760_000_000_000;
    const range = { startDate: START, endDate: START + 45_000 };
    const payloads = Array.from({ length: 45 }, (_, i) => `history-${String(i).padStart(2, "0")}`);

    beforeEach(() => {
      // Added out of order, with one just before the range and one at its (exclusive) end.
      const inRange = payloads.map((signedPayload, i) => ({ signedPayload, sentAt: START + i * 1_000 }));
      fake.addHistory([...inRange.slice(30), { signedPayload: "before", sentAt: START - 1 }, ...inRange.slice(0, 30)]);
      fake.addHistory([{ signedPayload: "at-end", sentAt: range.endDate }]);
    });

    it("pages through 45 entries: 20, 20, 5, each once and in order", async () => {
      const pages = [];
      for await (const page of clientWith().notificationHistoryPages(range)) pages.push(page);

      expect(pages.map((page) => page.items.length)).toEqual([20, 20, 5]);
      expect(pages.map((page) => page.hasMore)).toEqual([true, true, false]);
      expect(pages.flatMap((page) => page.items.map((item) => item.signedPayload))).toEqual(payloads);
      expect(pages[0]?.items[0]?.sendAttempts).toEqual([{ attemptDate: START, sendAttemptResult: "SUCCESS" }]);
      // Each page asks with the token of the one before; the last has none to give.
      expect(fake.requests.map((request) => request.query.paginationToken)).toEqual([
        undefined,
        pages[0]?.nextPaginationToken,
        pages[1]?.nextPaginationToken,
      ]);
      expect(pages[2]?.nextPaginationToken).toBeNull();
      for (const request of fake.requests)
        expect(request).toMatchObject({ method: "POST", path: "/inApps/v1/notifications/history", body: range });
    });

    it("resumes from a stored pagination token with a new client", async () => {
      const first = await clientWith().getNotificationHistory(range);
      const stored = first.nextPaginationToken;
      expect(stored).toEqual(expect.any(String));

      const rest = [];
      for await (const page of clientWith().notificationHistoryPages(range, stored ?? undefined)) rest.push(...page.items);
      expect(rest.map((item) => item.signedPayload)).toEqual(payloads.slice(20));
    });

    it("gives no next token on the last page, even when Apple sends one", async () => {
      fake.failNext(1, { status: 200, body: { notificationHistory: [], hasMore: false, paginationToken: "stale" } });
      const pages = [];
      for await (const page of clientWith().notificationHistoryPages(range)) pages.push(page);
      expect(pages).toEqual([{ items: [], nextPaginationToken: null, hasMore: false }]);
    });

    it("sends the optional filters in the body", async () => {
      const request = { ...range, notificationType: "DID_RENEW", notificationSubtype: "BILLING_RECOVERY", onlyFailures: true };
      await clientWith().getNotificationHistory(request);
      expect(fake.requests[0]?.body).toEqual(request);
    });

    it("is rejected with Apple's code for a token of another date range, or a bad date range, without retrying", async () => {
      const client = clientWith();
      const token = (await client.getNotificationHistory(range)).nextPaginationToken ?? "";
      const elsewhere = await failure(client.getNotificationHistory({ ...range, endDate: range.endDate + 1 }, token));
      expect(elsewhere).toMatchObject({ kind: "rejected", status: 400, errorCode: 4000006, errorMessage: "Invalid pagination token." });
      expect(elsewhere.message).toBe("Apple refused the request (HTTP 400, errorCode 4000006: Invalid pagination token.)");

      const backwards = await failure(client.getNotificationHistory({ startDate: START, endDate: START }));
      expect(backwards).toMatchObject({ kind: "rejected", errorCode: 4000016 });
      const noStart = await failure(client.getNotificationHistory({ endDate: START } as never));
      expect(noStart).toMatchObject({ kind: "rejected", errorCode: 4000015 });
      expect(fake.requests).toHaveLength(4);
    });

    it("is unavailable when hasMore comes without a paginationToken", async () => {
      fake.failNext(1, { status: 200, body: { notificationHistory: [], hasMore: true } });
      const error = await failure(clientWith().getNotificationHistory(range));
      expect(error.kind).toBe("unavailable");
      expect(error.message).toContain("paginationToken: hasMore is true but there is no paginationToken");
    });
  });

  describe("401: the key refused", () => {
    const refusedBy = async (client: AppStoreServerApiClient, bundleId = BUNDLE_ID) => {
      const error = await failure(client.requestTestNotification());
      expect(error).toMatchObject({ kind: "unauthorized", status: 401, errorCode: null, retryAfterMs: null });
      expect(fake.requests).toHaveLength(1); // not retried
      for (const name of ["apple.issuer_id", "apple.key_id", "apple.private_key", `bundle id ${bundleId}`])
        expect(error.message).toContain(name);
      expect(error.message).not.toContain("eyJ"); // no JWT
      return fake.rejections;
    };

    it("refuses a token signed with another key under the same key id", async () => {
      const impostor = await createAppStoreApiKey({ issuerId: key.issuerId, keyId: key.keyId });
      expect(await refusedBy(clientWith({}, impostor))).toEqual([`the signature does not verify with key ${key.keyId}`]);
    });

    it("refuses an unknown key id", async () => {
      const stranger = await createAppStoreApiKey();
      expect(await refusedBy(clientWith({}, stranger))).toEqual([`unknown kid ${stranger.keyId}`]);
    });

    it("refuses a token for another bundle id", async () => {
      const client = clientWith({ credentials: credentials(key, { bundleId: "com.example.other" }) });
      expect(await refusedBy(client, "com.example.other")).toEqual([
        `bid is com.example.other, not ${BUNDLE_ID}, the bundle id of key ${key.keyId}`,
      ]);
    });

    it("is unauthorized, without sending anything, when the private key is not a .p8 key", async () => {
      const client = clientWith({ credentials: credentials(key, { privateKey: "not a key" }) });
      const error = await failure(client.requestTestNotification());
      expect(error).toMatchObject({ kind: "unauthorized", status: null });
      expect(error.message).toContain("apple.private_key is not an App Store Server API key");
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe("the fake's token checks", () => {
    const NOW_S = () => Math.floor(Date.now() / 1000);
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const signed = async (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: key.keyId, typ: "JWT", ...header })
        .sign(await importPKCS8(key.privateKeyPem, "ES256"));
    const valid = () => ({ iss: key.issuerId, aud: "appstoreconnect-v1", bid: BUNDLE_ID, iat: NOW_S(), exp: NOW_S() + 600 });
    const reasonFor = async (authorization: string | null) => {
      const response = await fetch(`${fake.url}/inApps/v1/notifications/test`, {
        method: "POST",
        headers: authorization === null ? {} : { authorization },
      });
      if (response.status !== 401) return response.status;
      expect(await response.text()).toBe(""); // Apple's 401 comes without a body
      return fake.rejections.at(-1);
    };

    it("accepts a valid token", async () => {
      expect(await reasonFor(`Bearer ${await signed(valid())}`)).toBe(200);
    });

    const cases: [string, () => Promise<string | null>, string][] = [
      ["no Authorization", async () => null, "no Bearer token in Authorization"],
      ["not a JWT", async () => "Bearer nonsense", "the Bearer token is not a JWT"],
      [
        "alg ES384",
        async () => `Bearer ${b64({ alg: "ES384", kid: key.keyId, typ: "JWT" })}.${b64(valid())}.AAAA`,
        "alg is ES384, not ES256",
      ],
      ["no typ", async () => `Bearer ${await signed(valid(), { typ: undefined })}`, "typ is undefined, not JWT"],
      [
        "another issuer",
        async () => `Bearer ${await signed({ ...valid(), iss: "someone" })}`,
        `iss is someone, not the issuer of key ${KEY_ID}`,
      ],
      [
        "another audience",
        async () => `Bearer ${await signed({ ...valid(), aud: "elsewhere" })}`,
        'aud is "elsewhere", not appstoreconnect-v1',
      ],
      ["expired", async () => `Bearer ${await signed({ ...valid(), iat: NOW_S() - 700, exp: NOW_S() - 100 })}`, "exp is in the past"],
      ["no exp", async () => `Bearer ${await signed({ ...valid(), exp: undefined })}`, "no exp"],
      ["no iat", async () => `Bearer ${await signed({ ...valid(), iat: undefined })}`, "no iat"],
      ["iat 2 min ahead", async () => `Bearer ${await signed({ ...valid(), iat: NOW_S() + 120 })}`, "iat is more than 60 s in the future"],
      [
        "61 min lifetime",
        async () => `Bearer ${await signed({ ...valid(), exp: NOW_S() + 3601 })}`,
        "exp is 3601 s after iat, more than 3600",
      ],
    ];
    for (const [what, authorization, reason] of cases) {
      it(`refuses ${what}`, async () => {
        expect(await reasonFor(await authorization())).toBe(reason);
      });
    }
  });

  describe("429: rate limited", () => {
    it("waits out a short Retry-After (seconds), then succeeds", async () => {
      fake.failNext(1, { status: 429, headers: { "retry-after": "1" } });
      await expect(clientWith().requestTestNotification()).resolves.toEqual({ testNotificationToken: expect.any(String) });
      expect(sleeps).toEqual([1_000]);
      expect(fake.requests).toHaveLength(2);
    });

    it("reads a Retry-After HTTP date against its clock", async () => {
      const now = Math.floor(Date.now() / 1000) * 1000;
      fake.failNext(1, { status: 429, headers: { "retry-after": new Date(now + 5_000).toUTCString() } });
      await clientWith({ now: () => now }).requestTestNotification();
      expect(sleeps).toEqual([5_000]);
    });

    it("is rate_limited at once, with retryAfterMs, when Retry-After is longer than maxRetryAfterMs", async () => {
      fake.failNext(1, {
        status: 429,
        headers: { "retry-after": "120" },
        body: { errorCode: 4290000, errorMessage: "Rate limit exceeded." },
      });
      const error = await failure(clientWith().requestTestNotification());
      expect(error).toMatchObject({ kind: "rate_limited", status: 429, retryAfterMs: 120_000, errorCode: 4290000 });
      expect(error.message).toBe("The App Store Server API rate limited subgate (HTTP 429); retry after 120 s");
      expect(sleeps).toEqual([]);
      expect(fake.requests).toHaveLength(1);
    });

    it("is rate_limited when the attempts are used up", async () => {
      fake.failNext(3, { status: 429, headers: { "retry-after": "2" } });
      const error = await failure(clientWith().requestTestNotification());
      expect(error).toMatchObject({ kind: "rate_limited", retryAfterMs: 2_000 });
      expect(sleeps).toEqual([2_000, 2_000]);
      expect(fake.requests).toHaveLength(3);
    });
  });

  describe("5xx, no answer, unreadable answers", () => {
    it("retries 503 with a real timer and succeeds on the third try", async () => {
      fake.failNext(2, { status: 503 });
      const client = clientWith({ sleep: undefined });
      await expect(client.requestTestNotification()).resolves.toEqual({ testNotificationToken: expect.any(String) });
      expect(fake.requests).toHaveLength(3);
    });

    it("backs off exponentially with jitter, capped at maxDelayMs", async () => {
      // Half of each delay is fixed, half random: with random() at 0.25 a ceiling c gives c/2 + c/8.
      const random = vi.spyOn(Math, "random").mockReturnValue(0.25);
      try {
        fake.failNext(3, { status: 500 });
        await clientWith({ retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 15 } }).requestTestNotification();
      } finally {
        random.mockRestore();
      }
      // Ceilings 10, 20 and 40, the last two capped at 15.
      expect(sleeps).toEqual([6.25, 9.375, 9.375]);
    });

    it("is unavailable after `attempts` tries of 503, naming Apple's code", async () => {
      fake.failNext(5, { status: 503, body: { errorCode: 5000000, errorMessage: "An unknown error occurred." } });
      const error = await failure(clientWith({ retry: { attempts: 5, baseDelayMs: 10 } }).requestTestNotification());
      expect(error).toMatchObject({ kind: "unavailable", status: 503, errorCode: 5000000 });
      expect(error.message).toBe(
        "Apple's App Store Server API is unavailable (HTTP 503, errorCode 5000000: An unknown error occurred.); try again later",
      );
      expect(fake.requests).toHaveLength(5);
    });

    it("is rejected, without retrying, for a 400", async () => {
      fake.failNext(1, { status: 400, body: { errorCode: 4000000, errorMessage: "Bad request." } });
      const error = await failure(clientWith().requestTestNotification());
      expect(error).toMatchObject({ kind: "rejected", status: 400, errorCode: 4000000 });
      expect(fake.requests).toHaveLength(1);
    });

    it("is unavailable, without retrying, for a 200 whose body does not fit or is not JSON", async () => {
      fake.failNext(1, { status: 200, body: { testNotificationToken: 42 } });
      const misfit = await failure(clientWith().requestTestNotification());
      expect(misfit).toMatchObject({ kind: "unavailable", status: 200 });
      expect(misfit.message).toMatch(
        /^Apple's App Store Server API is unavailable \(HTTP 200 with a body subgate cannot read: testNotificationToken: /,
      );
      fake.failNext(1, { status: 200, body: "<html>" });
      expect((await failure(clientWith().requestTestNotification())).message).toContain("cannot read: it is not JSON");
      expect(fake.requests).toHaveLength(2);
    });

    it("is unavailable when nothing listens, after retrying", async () => {
      await fake.close();
      const error = await failure(clientWith().requestTestNotification());
      expect(error).toMatchObject({ kind: "unavailable", status: null });
      expect(error.message).toMatch(/^Apple's App Store Server API is unavailable \(network error: .*ECONNREFUSED/);
      expect(sleeps).toHaveLength(2);
    });

    it("times out a server that never answers, on every try", async () => {
      const held: ServerResponse[] = [];
      const silent = createServer((_req, res) => void held.push(res));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      try {
        const baseUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
        const error = await failure(
          clientWith({ baseUrl, timeoutMs: 100, retry: { attempts: 2, baseDelayMs: 10 } }).requestTestNotification(),
        );
        expect(error).toMatchObject({ kind: "unavailable", status: null });
        expect(error.message).toBe("Apple's App Store Server API is unavailable (no answer within 100 ms); try again later");
        expect(held).toHaveLength(2);
      } finally {
        silent.closeAllConnections();
        await new Promise((resolve) => silent.close(resolve));
      }
    });
  });
});
