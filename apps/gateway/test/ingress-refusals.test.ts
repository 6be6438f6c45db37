import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signStripePayload, subscriptionEvent } from "@subgate/testing";
import type { Gateway } from "../src/gateway.ts";
import {
  ADMIN_TOKEN,
  STRIPE_SECRET,
  apiClient,
  createStripeApp,
  createTestEnvironment,
  postToIngress,
  sendStripeEvent,
  type Answer,
  type TestEnvironment,
} from "./harness.ts";

/**
 * What a store (or someone pretending to be one) gets from subgate's ingress when a request must be
 * refused, and what the app's owner sees of it: nothing stored, the reason on the notification status.
 */

type StripeApp = Awaited<ReturnType<typeof createStripeApp>>;

interface StripeStatus {
  last_rejected_at: string | null;
  last_rejection_reason: string | null;
  rejection_count: number;
}

const WRONG_SECRET = "whsec_this_is_not_the_configured_one";

let env: TestEnvironment;
let gateway: Gateway;

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await env.start("all");
});

afterAll(async () => {
  await env?.close();
});

/** The error shape of docs/API.md, with nothing a caller should not see. */
function expectRefusal(answer: Answer, status: number, code: string, mustNotContain: string[] = []): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).not.toBeNull();
  expect(Object.keys(answer.body)).toEqual(["error"]);
  expect(answer.body.error).toEqual({ code, message: expect.any(String), request_id: answer.requestId });
  expect(answer.requestId).toMatch(/^req_[0-9a-f]{24}$/);
  expect(answer.body.error.message.length).toBeGreaterThan(0);
  const text = JSON.stringify(answer.body);
  expect(text).not.toMatch(/stack/i);
  expect(text).not.toContain("    at ");
  expect(text).not.toMatch(/\.ts:\d+/);
  for (const secret of [STRIPE_SECRET, ...mustNotContain]) expect(text).not.toContain(secret);
}

/** The two stripe entries (sandbox, production) of the app's notification status; refusals are per store. */
async function stripeStatus(app: StripeApp): Promise<StripeStatus> {
  const answer = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
  expect(answer.status).toBe(200);
  const entries = answer.body.stores.filter((entry: any) => entry.store === "stripe");
  expect(entries.map((entry: any) => entry.environment).sort()).toEqual(["production", "sandbox"]);
  const [first, second] = entries;
  // A refused request's environment is not trusted, so both entries show the same refusal.
  expect(second.last_rejected_at).toBe(first.last_rejected_at);
  expect(second.last_rejection_reason).toBe(first.last_rejection_reason);
  return {
    last_rejected_at: first.last_rejected_at,
    last_rejection_reason: first.last_rejection_reason,
    rejection_count: first.rejection_count,
  };
}

function notificationCount(appId: string): Promise<number> {
  return gateway.db.notification.count({ where: { appId } });
}

function randomToken(): string {
  return randomBytes(32).toString("base64url");
}

describe("stripe ingress refusals", () => {
  let app: StripeApp;
  let previous: StripeStatus;

  beforeAll(async () => {
    app = await createStripeApp(gateway);
    previous = await stripeStatus(app);
    expect(previous).toEqual({ last_rejected_at: null, last_rejection_reason: null, rejection_count: 0 });
  });

  /** After a refusal charged to the app: one more rejection, a newer time, and the expected reason. */
  async function expectRecordedRefusal(reason: RegExp): Promise<void> {
    const now = await stripeStatus(app);
    expect(now.rejection_count).toBe(previous.rejection_count + 1);
    expect(now.last_rejected_at).not.toBeNull();
    if (previous.last_rejected_at !== null) {
      expect(Date.parse(now.last_rejected_at as string)).toBeGreaterThanOrEqual(Date.parse(previous.last_rejected_at));
    }
    expect(now.last_rejection_reason).toMatch(reason);
    expect(now.last_rejection_reason).not.toBe(previous.last_rejection_reason);
    expect(now.last_rejection_reason).not.toContain(STRIPE_SECRET);
    expect(await notificationCount(app.appId)).toBe(0);
    previous = now;
  }

  /** After a refusal nobody can be charged for (unknown URL): the app's status does not move. */
  async function expectStatusUnchanged(): Promise<void> {
    expect(await stripeStatus(app)).toEqual(previous);
    expect(await notificationCount(app.appId)).toBe(0);
  }

  it("refuses a signature made with another secret (401)", async () => {
    const event = subscriptionEvent({ subscriptionId: "sub_refused_1" });
    const answer = await sendStripeEvent(gateway, app.stripeUrl, event, WRONG_SECRET);
    expectRefusal(answer, 401, "unauthenticated", [WRONG_SECRET]);
    await expectRecordedRefusal(/signature does not match/i);
  });

  it("refuses a signature whose timestamp is outside the 300 s tolerance (401)", async () => {
    const body = JSON.stringify(subscriptionEvent({ subscriptionId: "sub_refused_2" }));
    const signature = signStripePayload(body, STRIPE_SECRET, Math.floor(Date.now() / 1000) - 600);
    const answer = await postToIngress(gateway, app.stripeUrl, body, { "stripe-signature": signature });
    expectRefusal(answer, 401, "unauthenticated");
    expect(answer.body.error.message).toMatch(/tolerance|timestamp/i);
    await expectRecordedRefusal(/tolerance/i);
  });

  it("refuses a body other than the one signed (401)", async () => {
    const signed = JSON.stringify(subscriptionEvent({ subscriptionId: "sub_refused_3", status: "active" }));
    const tampered = signed.replace('"status":"active"', '"status":"paused"');
    expect(tampered).not.toBe(signed);
    const answer = await postToIngress(gateway, app.stripeUrl, tampered, { "stripe-signature": signStripePayload(signed, STRIPE_SECRET) });
    expectRefusal(answer, 401, "unauthenticated");
    await expectRecordedRefusal(/signature does not match/i);
  });

  it("refuses a request without Stripe-Signature (401)", async () => {
    const body = JSON.stringify(subscriptionEvent({ subscriptionId: "sub_refused_4" }));
    const answer = await postToIngress(gateway, app.stripeUrl, body);
    expectRefusal(answer, 401, "unauthenticated");
    await expectRecordedRefusal(/missing stripe-signature/i);
  });

  it("answers 404 for a well-formed token that is nobody's", async () => {
    const body = JSON.stringify(subscriptionEvent({ subscriptionId: "sub_refused_5" }));
    const unknown = app.stripeUrl.replace(/[^/]+$/, randomToken());
    expect(unknown).not.toBe(app.stripeUrl);
    const answer = await postToIngress(gateway, unknown, body, { "stripe-signature": signStripePayload(body, STRIPE_SECRET) });
    expectRefusal(answer, 404, "not_found");
    await expectStatusUnchanged();
  });

  it("answers 404 for an unknown store segment, and for a token used under another store's segment", async () => {
    const body = JSON.stringify(subscriptionEvent({ subscriptionId: "sub_refused_6" }));
    const headers = { "stripe-signature": signStripePayload(body, STRIPE_SECRET) };
    const token = new URL(app.stripeUrl).pathname.split("/").at(-1) as string;
    const unknownStore = await postToIngress(gateway, `http://subgate.test/ingress/paypal/${token}`, body, headers);
    expectRefusal(unknownStore, 404, "not_found");
    // The stripe token under the apple segment names no apple ingress.
    const crossed = await postToIngress(gateway, `http://subgate.test/ingress/apple/${token}`, body, headers);
    expectRefusal(crossed, 404, "not_found");
    await expectStatusUnchanged();
  });

  it("refuses a body over 1 MB (413) and charges it to the app", async () => {
    const prefix = '{"padding":"';
    const suffix = '"}';
    const body = prefix + "x".repeat(1_048_577 - prefix.length - suffix.length) + suffix;
    expect(Buffer.byteLength(body)).toBe(1_048_577);
    const answer = await postToIngress(gateway, app.stripeUrl, body, { "stripe-signature": signStripePayload(body, STRIPE_SECRET) });
    expectRefusal(answer, 413, "payload_too_large");
    await expectRecordedRefusal(/limit|large/i);
  });

  it("refuses a correctly signed body that is not JSON (400)", async () => {
    const body = "this is not json, but it is signed";
    const answer = await postToIngress(gateway, app.stripeUrl, body, { "stripe-signature": signStripePayload(body, STRIPE_SECRET) });
    expectRefusal(answer, 400, "malformed_body");
    await expectRecordedRefusal(/not json/i);
  });

  it("refuses a Stripe-Signature header that is not t=...,v1=... (401)", async () => {
    const body = JSON.stringify(subscriptionEvent({ subscriptionId: "sub_refused_7" }));
    const answer = await postToIngress(gateway, app.stripeUrl, body, { "stripe-signature": "garbage" });
    expectRefusal(answer, 401, "unauthenticated");
    await expectRecordedRefusal(/not of the form/i);
  });

  it("refuses an empty body (400)", async () => {
    const answer = await postToIngress(gateway, app.stripeUrl, "", { "stripe-signature": signStripePayload("", STRIPE_SECRET) });
    expectRefusal(answer, 400, "malformed_body");
    await expectRecordedRefusal(/empty body/i);
  });

  it("refuses correctly signed JSON that is not a Stripe event (400)", async () => {
    const body = JSON.stringify({ hello: "world" });
    const answer = await postToIngress(gateway, app.stripeUrl, body, { "stripe-signature": signStripePayload(body, STRIPE_SECRET) });
    expectRefusal(answer, 400, "malformed_body");
    await expectRecordedRefusal(/not a Stripe event/i);
  });

  it("refuses a body over 1 MB sent without Content-Length (chunked) with 413", async () => {
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 1_048_577) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const path = new URL(app.stripeUrl).pathname;
    const response = await fetch(`${gateway.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signStripePayload("x", STRIPE_SECRET) },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expectRefusal(
      { status: response.status, body: await response.json(), requestId: response.headers.get("x-request-id") },
      413,
      "payload_too_large",
    );
    await expectRecordedRefusal(/limit|large/i);
  });

  it("stored nothing for any of the refused requests", async () => {
    expect(await gateway.db.notification.count()).toBe(0);
    const status = await stripeStatus(app);
    expect(status.rejection_count).toBe(10);
  });

  it("lets the admin see the same refusal", async () => {
    const admin = apiClient(gateway.url as string, ADMIN_TOKEN);
    const answer = await admin.get(`/v1/apps/${app.appId}/notification-status`);
    expect(answer.status).toBe(200);
    const stripe = answer.body.stores.find((entry: any) => entry.store === "stripe");
    expect(stripe.last_rejection_reason).toBe(previous.last_rejection_reason);
  });
});

describe("stripe ingress of an app without Stripe configured", () => {
  it("refuses with 401 and shows the refusal on the status", async () => {
    const admin = apiClient(gateway.url as string, ADMIN_TOKEN);
    const created = await admin.post("/v1/apps", { name: "No Stripe" });
    expect(created.status).toBe(201);
    const app = {
      appId: created.body.id as string,
      api: apiClient(gateway.url as string, created.body.api_key as string),
      stripeUrl: created.body.ingress.stripe.url as string,
    };
    const before = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    expect(before.body.stores.filter((entry: any) => entry.store === "stripe")).toEqual([]);

    const answer = await sendStripeEvent(gateway, app.stripeUrl, subscriptionEvent({ subscriptionId: "sub_unconfigured" }));
    expectRefusal(answer, 401, "unauthenticated");
    expect(answer.body.error.message).toMatch(/not configured/);
    expect(await notificationCount(app.appId)).toBe(0);
    const after = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    const stripe = after.body.stores.filter((entry: any) => entry.store === "stripe");
    expect(stripe).toHaveLength(2);
    for (const entry of stripe) {
      expect(entry.last_rejected_at).not.toBeNull();
      expect(entry.last_rejection_reason).toMatch(/not configured/);
    }
  });
});

describe("ingress of a store the app has not configured", () => {
  it("answers 401 at the app's unconfigured Apple and Google URLs, both shown on the status", async () => {
    const app = await createStripeApp(gateway);
    const created = await app.api.get(`/v1/apps/${app.appId}`);
    const body = JSON.stringify({ signedPayload: "x.y.z" });
    for (const [block, store, status, code, reason] of [
      ["apple", "app_store", 401, "unauthenticated", /app_store is not configured for this app/],
      ["google", "play_store", 401, "unauthenticated", /play_store is not configured for this app/],
    ] as const) {
      const answer = await postToIngress(gateway, created.body.ingress[block].url, body, {});
      expectRefusal(answer, status, code);
      expect(answer.body.error.message).toMatch(reason);
      const view = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
      const entries = view.body.stores.filter((entry: any) => entry.store === store);
      expect(entries.length).toBeGreaterThan(0);
      for (const entry of entries) expect(entry.last_rejection_reason).toMatch(reason);
    }
    expect(await notificationCount(app.appId)).toBe(0);
  });
});

describe("stripe ingress acceptance at the edges", () => {
  it("accepts a signed event of exactly 1 MB", async () => {
    const app = await createStripeApp(gateway);
    const event = subscriptionEvent({ subscriptionId: "sub_exactly_one_mb" });
    const withPadding = (padding: string) => JSON.stringify({ ...event, padding });
    const padding = "x".repeat(1_048_576 - Buffer.byteLength(withPadding("")));
    const body = withPadding(padding);
    expect(Buffer.byteLength(body)).toBe(1_048_576);
    const answer = await postToIngress(gateway, app.stripeUrl, body, { "stripe-signature": signStripePayload(body, STRIPE_SECRET) });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await notificationCount(app.appId)).toBe(1);
  });
});

describe("stripe webhook secret rotation", () => {
  const OLD_SECRET = "whsec_rotation_old_secret";
  const SECOND_SECRET = "whsec_rotation_second_secret";
  const NEW_SECRET = "whsec_new";

  it("verifies with the second of two configured secrets", async () => {
    const app = await createStripeApp(gateway, [OLD_SECRET, SECOND_SECRET]);
    const event = subscriptionEvent({ subscriptionId: "sub_rotation_1" });
    const answer = await sendStripeEvent(gateway, app.stripeUrl, event, SECOND_SECRET);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const stored = await gateway.db.notification.findMany({ where: { appId: app.appId } });
    expect(stored).toHaveLength(1);
    expect(stored[0]?.storeNotificationId).toBe(event.id);
    expect(stored[0]?.verification).toMatchObject({ secret_index: 1 });

    // The first one still verifies as well.
    const first = await sendStripeEvent(gateway, app.stripeUrl, subscriptionEvent({ subscriptionId: "sub_rotation_1" }), OLD_SECRET);
    expect(first.status).toBe(200);
    expect(await notificationCount(app.appId)).toBe(2);
  });

  it("after PATCH replaces the secrets, the old one fails (401) and the new one verifies (200)", async () => {
    const app = await createStripeApp(gateway, [OLD_SECRET]);
    const before = await sendStripeEvent(gateway, app.stripeUrl, subscriptionEvent({ subscriptionId: "sub_rotation_2" }), OLD_SECRET);
    expect(before.status).toBe(200);

    const patched = await app.api.patch(`/v1/apps/${app.appId}`, { stripe: { webhook_secrets: [NEW_SECRET] } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.stores.stripe.webhook_secrets_count).toBe(1);
    expect(JSON.stringify(patched.body)).not.toContain("whsec_");

    const old = await sendStripeEvent(gateway, app.stripeUrl, subscriptionEvent({ subscriptionId: "sub_rotation_2" }), OLD_SECRET);
    expectRefusal(old, 401, "unauthenticated", [OLD_SECRET, NEW_SECRET]);
    const status = await stripeStatus(app);
    expect(status.last_rejection_reason).toMatch(/signature does not match/i);
    expect(status.rejection_count).toBe(1);

    const fresh = subscriptionEvent({ subscriptionId: "sub_rotation_2" });
    const now = await sendStripeEvent(gateway, app.stripeUrl, fresh, NEW_SECRET);
    expect(now.status, JSON.stringify(now.body)).toBe(200);
    const ids = (await gateway.db.notification.findMany({ where: { appId: app.appId } })).map((row) => row.storeNotificationId);
    expect(ids).toHaveLength(2);
    expect(ids).toContain(fresh.id);
  });
});
