import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { eventually } from "@subgate/testing";
import { TEST_BUNDLE_ID } from "@subgate/testing/apple";
import { createAppWithAppStoreKey, useAppStoreApiFixture } from "./app-store-api-fixture.ts";
import { ADMIN_TOKEN, apiClient, useGatewayWithReceiver } from "./harness.ts";

/*
 * Apple's "Test your server setup", through subgate's API: Request a Test Notification against a
 * local App Store Server API that checks the JWT as Apple does, the TEST notification it then posts
 * to the app's ingress, and Get Test Notification Status beside what subgate stored.
 */

const { key, strangerKey, sandbox, config } = await useAppStoreApiFixture();
const context = useGatewayWithReceiver(config);
const apiKeyBlock = (k: typeof key) => ({ issuer_id: k.issuerId, key_id: k.keyId, private_key: k.privateKeyPem });
const createApp = (apiKey: typeof key | null = key) => createAppWithAppStoreKey(context.gateway, apiKey);

/** The ingress URL as this test's gateway serves it (the public base URL is not reachable here). */
const reachable = (publicUrl: string) => `${context.gateway.url}${new URL(publicUrl).pathname}`;

describe("Apple test notifications", () => {
  it("asks Apple for a TEST, which arrives, is delivered as TEST and reported with Apple's attempts", async () => {
    const app = await createApp();
    await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: context.receiver.url });
    sandbox.setNotificationUrl(reachable(app.appleUrl));

    const requested = await app.api.post(`/v1/apps/${app.appId}/apple/test-notifications`, { environment: "sandbox" });
    expect(requested.status, JSON.stringify(requested.body)).toBe(201);
    const token = requested.body.test_notification_token as string;
    expect(token).toMatch(/^[0-9a-f-]{36}_\d+$/);
    await sandbox.whenSent(token);

    const status = await app.api.get(`/v1/apps/${app.appId}/apple/test-notifications/${token}?environment=sandbox`);
    expect(status.status, JSON.stringify(status.body)).toBe(200);
    expect(status.body.send_attempts).toEqual([{ attempted_at: expect.any(String), result: "SUCCESS" }]);
    expect(status.body.received_at).not.toBeNull();
    expect(status.body.notification_id).toMatch(/^ntf_/);

    // The JWT Apple received: ES256 with the key id, and the claims Apple requires.
    const call = sandbox.requests.find((request) => request.path === "/inApps/v1/notifications/test");
    expect(call?.jwtHeader).toEqual({ alg: "ES256", kid: key.keyId, typ: "JWT" });
    expect(call?.claims).toMatchObject({ iss: key.issuerId, aud: "appstoreconnect-v1", bid: TEST_BUNDLE_ID });

    const event = await eventually(
      async () => context.receiver.delivered.map((request) => JSON.parse(request.body).event).find((e: any) => e.app_id === app.appId),
      15_000,
      "TEST delivered",
    );
    expect(event).toMatchObject({ type: "TEST", store: "APP_STORE", environment: "SANDBOX" });
    const entry = (await app.api.get(`/v1/apps/${app.appId}/notification-status`)).body.stores.find(
      (row: any) => row.store === "app_store" && row.environment === "sandbox",
    );
    expect(entry.last_test_received_at).not.toBeNull();
    expect(entry.last_received_at).toBeNull();
  });

  it("reports an attempt that did not reach subgate as Apple saw it, with received_at null", async () => {
    const app = await createApp();
    sandbox.setNotificationUrl(`${context.gateway.url}/ingress/apple/${"x".repeat(43)}`);
    const requested = await app.api.post(`/v1/apps/${app.appId}/apple/test-notifications`, { environment: "sandbox" });
    const token = requested.body.test_notification_token as string;
    await sandbox.whenSent(token);
    const status = await app.api.get(`/v1/apps/${app.appId}/apple/test-notifications/${token}?environment=sandbox`);
    expect(status.body).toMatchObject({ send_attempts: [{ result: "UNSUCCESSFUL_HTTP_RESPONSE_CODE" }], received_at: null });
  });

  it("never shows the key back", async () => {
    const app = await createApp();
    const shown = await apiClient(context.gateway.url as string, ADMIN_TOKEN).get(`/v1/apps/${app.appId}`);
    expect(shown.body.stores.apple).toMatchObject({ issuer_id_set: true, key_id_set: true, private_key_set: true });
    expect(JSON.stringify(shown.body)).not.toContain(key.keyId);
    expect(JSON.stringify(shown.body)).not.toContain("PRIVATE KEY");
  });

  it("refuses a partial or malformed key when the app is configured", async () => {
    const admin = apiClient(context.gateway.url as string, ADMIN_TOKEN);
    const partial = await admin.post("/v1/apps", { name: "x", apple: { bundle_id: TEST_BUNDLE_ID, key_id: key.keyId } });
    expect(partial.status).toBe(400);
    expect(partial.body.error.message).toMatch(/apple\.(issuer_id|private_key)/);
    const notP8 = await admin.post("/v1/apps", {
      name: "x",
      apple: { bundle_id: TEST_BUNDLE_ID, ...apiKeyBlock(key), private_key: "nope" },
    });
    expect(notP8.status).toBe(400);
    expect(notP8.body.error.message).toContain(".p8");
  });

  it("takes a .p8 pasted with literal \\n for its line breaks, and signs with it", async () => {
    const admin = apiClient(context.gateway.url as string, ADMIN_TOKEN);
    const escaped = { ...apiKeyBlock(key), private_key: key.privateKeyPem.replaceAll("\n", "\\n") };
    const created = await admin.post("/v1/apps", { name: "Pasted", apple: { bundle_id: TEST_BUNDLE_ID, ...escaped } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const answer = await admin.post(`/v1/apps/${created.body.id}/apple/test-notifications`, { environment: "sandbox" });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  });

  it("answers 409 for an app without an App Store Server API key, naming the fields to set", async () => {
    const app = await createApp(null);
    const answer = await app.api.post(`/v1/apps/${app.appId}/apple/test-notifications`, { environment: "sandbox" });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({ code: "not_configured" });
    expect(answer.body.error.message).toContain("apple.issuer_id, apple.key_id and apple.private_key");
  });

  it("answers 422 naming the credentials to check when Apple refuses the key", async () => {
    const app = await createApp(strangerKey);
    const answer = await app.api.post(`/v1/apps/${app.appId}/apple/test-notifications`, { environment: "sandbox" });
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe("store_credentials_rejected");
    expect(answer.body.error.message).toMatch(/apple\.issuer_id, apple\.key_id and apple\.private_key/);
    expect(sandbox.rejections.at(-1)).toMatch(/kid/);
  });

  it("passes Apple's rate limit on with its Retry-After, and Apple's 404 for an unknown token", async () => {
    const app = await createApp();
    sandbox.failNext(1, { status: 429, headers: { "retry-after": "120" } });
    const limited = await app.api.post(`/v1/apps/${app.appId}/apple/test-notifications`, { environment: "sandbox" });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");

    const response = await fetch(`${context.gateway.url}/v1/apps/${app.appId}/apple/test-notifications/nope_1?environment=sandbox`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(404);
    expect(((await response.json()) as any).error.details).toMatchObject({ apple_error_code: 4040010 });
  });

  it("refuses a token that is only dots, which would name another of Apple's paths", async () => {
    const app = await createApp();
    const before = sandbox.requests.length;
    // Sent as written: fetch would resolve the dot segments itself, a raw HTTP client need not.
    for (const token of ["..", "."]) {
      const status = await new Promise<number>((resolve, reject) => {
        const url = new URL(context.gateway.url as string);
        request(
          {
            host: url.hostname,
            port: url.port,
            path: `/v1/apps/${app.appId}/apple/test-notifications/${token}?environment=sandbox`,
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
          .on("error", reject)
          .end();
      });
      expect(status, token).toBe(400);
    }
    expect(sandbox.requests.length).toBe(before);
  });

  it("answers 503 with Retry-After when Apple is away, and 400 for a missing environment", async () => {
    const app = await createApp();
    const away = await fetch(`${context.gateway.url}/v1/apps/${app.appId}/apple/test-notifications`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ environment: "production" }),
    });
    expect(away.status).toBe(503);
    expect(away.headers.get("retry-after")).toBe("30");
    expect(((await away.json()) as any).error.code).toBe("store_unavailable");

    const missing = await app.api.post(`/v1/apps/${app.appId}/apple/test-notifications`, {});
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/^environment/);
  });
});
