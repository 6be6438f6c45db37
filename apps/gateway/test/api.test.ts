import { silentLogger } from "@subgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, STRIPE_SECRET, apiClient, createStripeApp, createTestEnvironment, type TestEnvironment } from "./harness.ts";

/** The HTTP API as an app's backend (app key) and an operator (admin token) use it. */

type Answer = { status: number; body: any };
type StripeApp = Awaited<ReturnType<typeof createStripeApp>>;

let env: TestEnvironment;
let gateway: Gateway;
let admin: ReturnType<typeof apiClient>;

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await env.start("all");
  admin = apiClient(gateway.url as string, ADMIN_TOKEN);
});

afterAll(async () => {
  await env?.close();
});

function expectError(answer: Answer, status: number, code?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(Object.keys(answer.body ?? {})).toContain("error");
  expect(answer.body.error.code).toEqual(code ?? expect.any(String));
  expect(answer.body.error.message).toEqual(expect.any(String));
  expect(JSON.stringify(answer.body)).not.toContain("    at ");
}

async function raw(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; body: any }> {
  const response = await fetch(`${gateway.url}${path}`, init);
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

describe("authentication", () => {
  let app: StripeApp;
  beforeAll(async () => {
    app = await createStripeApp(gateway);
  });

  it("refuses a call without Authorization (401)", async () => {
    const answer = await raw(`/v1/apps/${app.appId}`);
    expectError(answer, 401, "unauthenticated");
  });

  it("refuses a wrong key (401), and a malformed Authorization header (401)", async () => {
    expectError(await apiClient(gateway.url as string, "sk_not_a_real_key").get(`/v1/apps/${app.appId}`), 401, "unauthenticated");
    expectError(await apiClient(gateway.url as string, `${app.apiKey}x`).get(`/v1/apps/${app.appId}`), 401, "unauthenticated");
    const basic = await raw(`/v1/apps/${app.appId}`, { headers: { authorization: `Basic ${app.apiKey}` } });
    expectError(basic, 401, "unauthenticated");
  });

  it("refuses creating an app with an app key (403)", async () => {
    const before = await gateway.db.app.count();
    const answer = await app.api.post("/v1/apps", { name: "Not allowed" });
    expectError(answer, 403, "forbidden");
    expect(await gateway.db.app.count()).toBe(before);
  });

  it("lets an app key read its own app", async () => {
    const answer = await app.api.get(`/v1/apps/${app.appId}`);
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe(app.appId);
  });
});

describe("isolation between apps", () => {
  let appA: StripeApp;
  let appB: StripeApp;
  let subscriptionOfB: string;
  let endpointOfB: string;

  beforeAll(async () => {
    appA = await createStripeApp(gateway);
    appB = await createStripeApp(gateway);
    const tracked = await appB.api.post(`/v1/apps/${appB.appId}/subscriptions`, {
      store: "stripe",
      store_subscription_id: "sub_of_app_b",
      app_user_id: "user-b",
    });
    expect(tracked.status).toBe(201);
    subscriptionOfB = tracked.body.id;
    const endpoint = await appB.api.post(`/v1/apps/${appB.appId}/webhooks`, { url: "https://93.184.216.34/b" });
    expect(endpoint.status).toBe(201);
    endpointOfB = endpoint.body.id;
  });

  it("answers 404 (never 200 or 403) to app A's key on app B's resources, like a nonexistent app", async () => {
    const b = appB.appId;
    const attempts: Array<[string, () => Promise<Answer>]> = [
      ["GET app", () => appA.api.get(`/v1/apps/${b}`)],
      ["PATCH app", () => appA.api.patch(`/v1/apps/${b}`, { name: "hijacked" })],
      ["rotate key", () => appA.api.post(`/v1/apps/${b}/api-keys/rotate`)],
      ["status", () => appA.api.get(`/v1/apps/${b}/notification-status`)],
      ["list subscriptions", () => appA.api.get(`/v1/apps/${b}/subscriptions?app_user_id=user-b`)],
      ["get subscription", () => appA.api.get(`/v1/apps/${b}/subscriptions/${subscriptionOfB}`)],
      ["track subscription", () => appA.api.post(`/v1/apps/${b}/subscriptions`, { store: "stripe", store_subscription_id: "sub_x" })],
      ["list webhooks", () => appA.api.get(`/v1/apps/${b}/webhooks`)],
      ["create webhook", () => appA.api.post(`/v1/apps/${b}/webhooks`, { url: "https://93.184.216.34/a" })],
      ["delete webhook", () => appA.api.delete(`/v1/apps/${b}/webhooks/${endpointOfB}`)],
    ];
    for (const [what, attempt] of attempts) {
      const answer = await attempt();
      expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).toBe(404);
      expectError(answer, 404, "not_found");
    }
    // B's resources named under A's own app are not found either.
    expectError(await appA.api.get(`/v1/apps/${appA.appId}/subscriptions/${subscriptionOfB}`), 404, "not_found");
    expectError(await appA.api.delete(`/v1/apps/${appA.appId}/webhooks/${endpointOfB}`), 404, "not_found");
    expect((await appA.api.get(`/v1/apps/${appA.appId}/subscriptions?app_user_id=user-b`)).body.data).toEqual([]);

    // Exactly what an app id that does not exist answers: the key learns nothing.
    const other = await appA.api.get(`/v1/apps/${b}`);
    const missing = await appA.api.get(`/v1/apps/app_doesnotexist0000000000000000`);
    // Each answer has its own request id; the rest is the same.
    const { request_id: _first, ...otherError } = other.body.error;
    const { request_id: _second, ...missingError } = missing.body.error;
    expect(otherError).toEqual(missingError);

    // Nothing changed on B.
    const stateOfB = await appB.api.get(`/v1/apps/${b}`);
    expect(stateOfB.body.name).toBe("Test App");
    expect(await gateway.db.apiKey.count({ where: { appId: b, revokedAt: null } })).toBe(1);
    expect(await gateway.db.webhookEndpoint.count({ where: { appId: b, deletedAt: null } })).toBe(1);
    expect(await gateway.db.subscription.count({ where: { appId: b } })).toBe(1);
    expect((await appB.api.get(`/v1/apps/${b}`)).status).toBe(200);
  });

  it("lets the admin token read any app", async () => {
    for (const app of [appA, appB]) {
      const got = await admin.get(`/v1/apps/${app.appId}`);
      expect(got.status).toBe(200);
      expect(got.body.id).toBe(app.appId);
      expect((await admin.get(`/v1/apps/${app.appId}/notification-status`)).status).toBe(200);
      expect((await admin.get(`/v1/apps/${app.appId}/webhooks`)).status).toBe(200);
    }
    const subscription = await admin.get(`/v1/apps/${appB.appId}/subscriptions/${subscriptionOfB}`);
    expect(subscription.status).toBe(200);
    expect(subscription.body.app_user_id).toBe("user-b");
  });
});

describe("POST /v1/apps", () => {
  it("creates an app with ingress URLs and returns the API key once", async () => {
    const created = await admin.post("/v1/apps", { name: "Created", stripe: { webhook_secrets: [STRIPE_SECRET] } });
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^app_/);
    expect(created.body.api_key).toMatch(/^sk_/);
    for (const store of ["apple", "google", "stripe"]) {
      expect(created.body.ingress[store].url).toMatch(/^http:\/\/subgate\.test\//);
    }
    const got = await admin.get(`/v1/apps/${created.body.id}`);
    expect(got.body.api_key).toBeUndefined();
    expect(got.body.ingress).toEqual(created.body.ingress);
  });

  it("refuses invalid input with 400, naming the field, and creates nothing", async () => {
    const before = await gateway.db.app.count();

    const missingName = await admin.post("/v1/apps", { stripe: { webhook_secrets: [STRIPE_SECRET] } });
    expectError(missingName, 400);
    expect(missingName.body.error.code).toMatch(/bad_request|validation_failed/);
    expect(missingName.body.error.message).toContain("name");

    const badSecret = await admin.post("/v1/apps", { name: "Bad", stripe: { webhook_secrets: ["not_a_whsec"] } });
    expectError(badSecret, 400);
    expect(badSecret.body.error.message).toContain("webhook_secrets");
    expect(badSecret.body.error.message).not.toContain("not_a_whsec");

    const unknownField = await admin.post("/v1/apps", { name: "Bad", stripe: { webhook_secrets: [STRIPE_SECRET], signing_mode: "loose" } });
    expectError(unknownField, 400);
    expect(unknownField.body.error.message).toContain("signing_mode");

    const noSecrets = await admin.post("/v1/apps", { name: "Bad", stripe: { webhook_secrets: [] } });
    expectError(noSecrets, 400);

    expect(await gateway.db.app.count()).toBe(before);
  });

  // `{"Stripe": {...}}` answered 201/200 and configured nothing: a typo must not pass for success.
  it("refuses an unknown top-level key with 400 naming it, on create and on update, and changes nothing", async () => {
    const before = await gateway.db.app.count();
    const created = await admin.post("/v1/apps", { name: "Typo", Stripe: { webhook_secrets: [STRIPE_SECRET] } });
    expectError(created, 400, "bad_request");
    expect(created.body.error.message).toContain("Stripe");
    expect(await gateway.db.app.count()).toBe(before);

    const app = await createStripeApp(gateway);
    const viewBefore = await app.api.get(`/v1/apps/${app.appId}`);
    for (const body of [
      { Stripe: { webhook_secrets: ["whsec_other"] } },
      { name: "Renamed", apple_store: { bundle_id: "com.example" } },
      { webhooks: [] },
    ]) {
      const updated = await app.api.patch(`/v1/apps/${app.appId}`, body);
      expectError(updated, 400, "bad_request");
      expect(updated.body.error.message).toContain(Object.keys(body).find((key) => key !== "name"));
    }
    expect((await app.api.get(`/v1/apps/${app.appId}`)).body).toEqual(viewBefore.body);
  });

  it("never shows secrets back, only how many are set; stores them encrypted", async () => {
    const apiKey = "rk_test_restricted_key_for_subgate_tests";
    const created = await admin.post("/v1/apps", {
      name: "Secretive",
      stripe: { webhook_secrets: [STRIPE_SECRET, "whsec_second_one"], api_key: apiKey },
    });
    expect(created.status).toBe(201);
    const appKey = created.body.api_key as string;
    const views = [
      await admin.get(`/v1/apps/${created.body.id}`),
      await apiClient(gateway.url as string, appKey).get(`/v1/apps/${created.body.id}`),
      await admin.patch(`/v1/apps/${created.body.id}`, { name: "Secretive 2" }),
    ];
    for (const view of views) {
      expect(view.status).toBe(200);
      const text = JSON.stringify(view.body);
      expect(text).not.toContain("whsec_");
      expect(text).not.toContain(apiKey);
      expect(text).not.toContain(appKey);
      expect(view.body.api_key).toBeUndefined();
      expect(view.body.stores.stripe.webhook_secrets_count).toBe(2);
      expect(view.body.stores.stripe.webhook_secrets).toBeUndefined();
    }
    expect(views[2]?.body.name).toBe("Secretive 2");
    const row = await gateway.db.storeConfig.findUniqueOrThrow({ where: { appId_store: { appId: created.body.id, store: "stripe" } } });
    expect(row.secretsEncrypted).not.toContain("whsec_");
    expect(row.secretsEncrypted).not.toContain(apiKey);
    expect(JSON.stringify(row.settings)).not.toContain("whsec_");
    const keys = await gateway.db.apiKey.findMany({ where: { appId: created.body.id } });
    expect(JSON.stringify(keys)).not.toContain(appKey);
  });
});

describe("API key rotation", () => {
  it("issues a new key (201) that works; the old one stops working (401)", async () => {
    const app = await createStripeApp(gateway);
    const rotated = await app.api.post(`/v1/apps/${app.appId}/api-keys/rotate`);
    expect(rotated.status).toBe(201);
    expect(rotated.body.api_key).toMatch(/^sk_/);
    expect(rotated.body.api_key).not.toBe(app.apiKey);
    const fresh = apiClient(gateway.url as string, rotated.body.api_key);
    expect((await fresh.get(`/v1/apps/${app.appId}`)).status).toBe(200);
    expectError(await app.api.get(`/v1/apps/${app.appId}`), 401, "unauthenticated");
    expectError(await app.api.post(`/v1/apps/${app.appId}/api-keys/rotate`), 401, "unauthenticated");
    expect((await fresh.get(`/v1/apps/${app.appId}`)).status).toBe(200);
  });

  // A rotation whose revocation lost its app filter revoked every app's keys; no test noticed.
  it("leaves every other app's key working when one app's key is rotated", async () => {
    const appA = await createStripeApp(gateway);
    const appB = await createStripeApp(gateway);
    expect((await appA.api.post(`/v1/apps/${appA.appId}/api-keys/rotate`)).status).toBe(201);
    expect((await admin.post(`/v1/apps/${appA.appId}/api-keys/rotate`)).status).toBe(201);
    expect((await appB.api.get(`/v1/apps/${appB.appId}`)).status).toBe(200);
    expect((await appB.api.get(`/v1/apps/${appB.appId}/subscriptions`)).status).toBe(200);
    expect(await gateway.db.apiKey.count({ where: { appId: appB.appId, revokedAt: null } })).toBe(1);
  });

  it("leaves exactly one working key after concurrent rotations (a retried request, two operators)", async () => {
    const app = await createStripeApp(gateway);
    const answers = await Promise.all(Array.from({ length: 8 }, () => admin.post(`/v1/apps/${app.appId}/api-keys/rotate`)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(201));
    const probes = await Promise.all(
      answers.map(({ body }) => apiClient(gateway.url as string, body.api_key).get(`/v1/apps/${app.appId}`)),
    );
    expect(probes.filter((probe) => probe.status === 200)).toHaveLength(1);
    expect(await gateway.db.apiKey.count({ where: { appId: app.appId, revokedAt: null } })).toBe(1);
  });
});

describe("tracked subscriptions", () => {
  let app: StripeApp;
  beforeAll(async () => {
    app = await createStripeApp(gateway);
  });

  it("tracks (201), tracks again (200) with the app_user_id replaced, and shows it", async () => {
    const first = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
      store: "stripe",
      store_subscription_id: "sub_track_1",
      app_user_id: "user-1",
    });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({
      store: "stripe",
      store_subscription_id: "sub_track_1",
      app_user_id: "user-1",
      status: "unknown",
    });
    expect(first.body.id).toMatch(/^sub_/);

    const again = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
      store: "stripe",
      store_subscription_id: "sub_track_1",
      app_user_id: "user-2",
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.app_user_id).toBe("user-2");
    expect(await gateway.db.subscription.count({ where: { appId: app.appId, storeSubscriptionId: "sub_track_1" } })).toBe(1);

    const one = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${first.body.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: first.body.id, app_user_id: "user-2", store_subscription_id: "sub_track_1" });

    expectError(await app.api.get(`/v1/apps/${app.appId}/subscriptions/sub_doesnotexist`), 404, "not_found");
  });

  it("refuses an invalid tracking request (400)", async () => {
    expectError(await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "amazon", store_subscription_id: "x" }), 400);
    expectError(await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe" }), 400);
  });

  it("lists by app_user_id with pagination", async () => {
    const ids = new Set<string>();
    for (const n of [1, 2, 3]) {
      const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
        store: "stripe",
        store_subscription_id: `sub_page_${n}`,
        app_user_id: "user-paged",
      });
      expect(tracked.status).toBe(201);
      ids.add(tracked.body.id);
    }
    await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
      store: "stripe",
      store_subscription_id: "sub_page_other",
      app_user_id: "someone-else",
    });

    const page1 = await app.api.get(`/v1/apps/${app.appId}/subscriptions?app_user_id=user-paged&limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.data).toHaveLength(2);
    expect(page1.body.next_cursor).toEqual(expect.any(String));
    const page2 = await app.api.get(
      `/v1/apps/${app.appId}/subscriptions?app_user_id=user-paged&limit=2&cursor=${encodeURIComponent(page1.body.next_cursor)}`,
    );
    expect(page2.status).toBe(200);
    expect(page2.body.data).toHaveLength(1);
    expect(page2.body.next_cursor).toBeNull();

    const listed = [...page1.body.data, ...page2.body.data];
    expect(listed.every((subscription: any) => subscription.app_user_id === "user-paged")).toBe(true);
    expect(new Set(listed.map((subscription: any) => subscription.id))).toEqual(ids);

    const all = await app.api.get(`/v1/apps/${app.appId}/subscriptions?app_user_id=user-paged`);
    expect(all.body.data).toHaveLength(3);
    expect(all.body.next_cursor).toBeNull();

    expectError(await app.api.get(`/v1/apps/${app.appId}/subscriptions?limit=0`), 400);
  });
});

describe("webhook endpoints", () => {
  it("creates (201, with a whsec_ secret), lists without secrets, deletes (204, then 404)", async () => {
    const app = await createStripeApp(gateway);
    const created = await app.api.post(`/v1/apps/${app.appId}/webhooks`, {
      url: "https://93.184.216.34/hooks",
      event_types: ["RENEWAL"],
      environments: ["production"],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.id).toEqual(expect.any(String));
    expect(created.body.secret).toMatch(/^whsec_/);

    const row = await gateway.db.webhookEndpoint.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(row.secretEncrypted).not.toContain(created.body.secret);

    const listed = await app.api.get(`/v1/apps/${app.appId}/webhooks`);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0]).toMatchObject({
      id: created.body.id,
      url: "https://93.184.216.34/hooks",
      event_types: ["RENEWAL"],
      environments: ["production"],
    });
    expect(listed.body.data[0].secret).toBeUndefined();
    expect(JSON.stringify(listed.body)).not.toContain("whsec_");

    const deleted = await raw(`/v1/apps/${app.appId}/webhooks/${created.body.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${app.apiKey}` },
    });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    expectError(await app.api.delete(`/v1/apps/${app.appId}/webhooks/${created.body.id}`), 404, "not_found");
    expect((await app.api.get(`/v1/apps/${app.appId}/webhooks`)).body.data).toHaveLength(0);
  });

  it("refuses unknown event types and environments (400)", async () => {
    const app = await createStripeApp(gateway);
    expectError(await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: "https://93.184.216.34/x", event_types: ["NOT_A_TYPE"] }), 400);
    expectError(await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: "https://93.184.216.34/x", environments: ["staging"] }), 400);
    expect(await gateway.db.webhookEndpoint.count({ where: { appId: app.appId } })).toBe(0);
  });
});

describe("HTTP basics", () => {
  it("answers 400 malformed_body to a body that is not JSON", async () => {
    const app = await createStripeApp(gateway);
    const answer = await raw(`/v1/apps/${app.appId}/webhooks`, {
      method: "POST",
      headers: { authorization: `Bearer ${app.apiKey}`, "content-type": "application/json" },
      body: '{"url": "https://93.184.216.34/x",',
    });
    expectError(answer, 400, "malformed_body");
  });

  it("answers 400 to a body that is not valid UTF-8, instead of storing U+FFFD in its place", async () => {
    const before = await gateway.db.app.count();
    const answer = await raw("/v1/apps", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
    });
    expectError(answer, 400, "malformed_body");
    expect(answer.body.error.message).toBe("the body is not valid UTF-8");
    expect(await gateway.db.app.count()).toBe(before);
  });

  it("answers 413 payload_too_large to an API body over 100 KB", async () => {
    const app = await createStripeApp(gateway);
    const answer = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
      store: "stripe",
      store_subscription_id: "sub_big",
      app_user_id: "x".repeat(200 * 1024),
    });
    expectError(answer, 413, "payload_too_large");
    expect(await gateway.db.subscription.count({ where: { appId: app.appId } })).toBe(0);
  });

  it("answers 404 JSON to an unknown route", async () => {
    const answer = await raw("/v2/nothing-here");
    expect(answer.headers.get("content-type")).toMatch(/application\/json/);
    expectError(answer, 404, "not_found");
    const authed = await admin.get("/v1/nothing-here");
    expectError(authed, 404, "not_found");
  });

  it("answers /healthz and /readyz with PostgreSQL and Redis ok", async () => {
    const health = await raw("/healthz");
    expect(health.status).toBe(200);
    const ready = await raw("/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toMatchObject({ postgres: "ok", redis: "ok" });
  });
});

describe("without SUBGATE_ADMIN_TOKEN", () => {
  let noAdminEnv: TestEnvironment;
  let noAdmin: Gateway;
  let appKey: string;
  let appId: string;

  beforeAll(async () => {
    noAdminEnv = await createTestEnvironment({ adminToken: null });
    // The operator created an app while a token was set, then restarted without one.
    const before = await startGateway({ ...noAdminEnv.config, adminToken: ADMIN_TOKEN }, "server", silentLogger());
    try {
      const created = await apiClient(before.url as string, ADMIN_TOKEN).post("/v1/apps", { name: "Before" });
      expect(created.status).toBe(201);
      appKey = created.body.api_key;
      appId = created.body.id;
    } finally {
      await before.close();
    }
    noAdmin = await noAdminEnv.start("server");
  });

  afterAll(async () => {
    await noAdminEnv?.close();
  });

  it("refuses POST /v1/apps (403) to an authenticated caller, and the former admin token is refused", async () => {
    const withKey = await apiClient(noAdmin.url as string, appKey).post("/v1/apps", { name: "New" });
    expectError(withKey, 403, "forbidden");
    expect(withKey.body.error.message).toContain("SUBGATE_ADMIN_TOKEN");

    const formerAdmin = await apiClient(noAdmin.url as string, ADMIN_TOKEN).post("/v1/apps", { name: "New" });
    expect([401, 403]).toContain(formerAdmin.status);
    expect(await noAdmin.db.app.count()).toBe(1);

    // App calls still work.
    expect((await apiClient(noAdmin.url as string, appKey).get(`/v1/apps/${appId}`)).status).toBe(200);
  });
});

describe("with WEBHOOK_ALLOW_PRIVATE_TARGETS off", () => {
  let strictEnv: TestEnvironment;
  let strict: Gateway;

  beforeAll(async () => {
    strictEnv = await createTestEnvironment({ allowPrivateTargets: false });
    strict = await strictEnv.start("server");
  });

  afterAll(async () => {
    await strictEnv?.close();
  });

  it("refuses loopback, private, link-local and non-http URLs (400); accepts a public IP literal (201)", async () => {
    const app = await createStripeApp(strict);
    const refused = [
      "http://127.0.0.1/x",
      "http://localhost/x",
      "http://10.0.0.1/x",
      "http://172.16.0.1/x",
      "http://0.0.0.0/x",
      "http://192.168.1.1/x",
      "http://169.254.169.254/x",
      "http://[::1]/x",
      "http://[::ffff:127.0.0.1]/x",
      "http://2130706433/x",
      "ftp://example.com",
      "https://user:pass@93.184.216.34/x",
      "not a url",
    ];
    for (const url of refused) {
      const answer = await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url });
      expect(answer.status, `${url}: ${JSON.stringify(answer.body)}`).toBe(400);
      expectError(answer, 400);
      expect(answer.body.error.message).toMatch(/^url/);
    }
    expect(await strict.db.webhookEndpoint.count({ where: { appId: app.appId } })).toBe(0);

    const accepted = await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: "https://93.184.216.34/x" });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
    expect(accepted.body.secret).toMatch(/^whsec_/);
    expect(await strict.db.webhookEndpoint.count({ where: { appId: app.appId } })).toBe(1);
  });
});
