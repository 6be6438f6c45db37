import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, LocalStripeApi, WebhookReceiver } from "@subgate/testing";
import { PRO_MONTHLY, refundEvent, SUBSCRIPTION_ID } from "@subgate/testing/stripe-objects";
import type { Gateway } from "../src/gateway.ts";
import { createStripeApp, createTestEnvironment, sendStripeEvent, STRIPE_SECRET, type TestEnvironment } from "./harness.ts";

/*
 * A refund names no subscription; subgate finds it through the Stripe API with the app's key. This
 * file follows one refund from "no key yet" (stored, unresolved, nothing sent) through "key added
 * while Stripe's API is failing" (retried with backoff, never dropped) to its CANCELLATION webhook.
 */

const API_KEY = "rk_test_51QmZx4Hq2Lk9TbVsubgateRefunds";

const stripeApi = new LocalStripeApi(API_KEY);
const receiver = new WebhookReceiver();
let env: TestEnvironment;
let gateway: Gateway;

beforeAll(async () => {
  await Promise.all([stripeApi.start(), receiver.start()]);
  env = await createTestEnvironment({ stripeApiBaseUrl: stripeApi.url, notificationRetryScheduleMs: [200, 400] });
  gateway = await env.start("all");
});

afterAll(async () => {
  await env?.close();
  await Promise.all([stripeApi.close(), receiver.close()]);
});

describe("a refund that arrives before the app has a Stripe API key", () => {
  it("is stored as unresolved, then applied once the key is added, through Stripe API failures", async () => {
    const app = await createStripeApp(gateway);
    expect((await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url })).status).toBe(201);
    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: SUBSCRIPTION_ID });
    expect(tracked.status).toBe(201);

    const refund = refundEvent("legacy");
    expect((await sendStripeEvent(gateway, app.stripeUrl, refund)).status).toBe(200);

    const unresolved = await eventually(
      async () => {
        const row = await gateway.db.notification.findFirst({ where: { appId: app.appId } });
        return row?.state === "unresolved" ? row : undefined;
      },
      15_000,
      "the refund marked unresolved",
    );
    expect(unresolved.lastError).toMatch(/no Stripe API key/);
    expect(stripeApi.requests).toHaveLength(0);
    expect(await gateway.db.event.count({ where: { appId: app.appId } })).toBe(0);

    // Stripe's API fails three times: the worker backs off (the schedule's last entry repeats).
    stripeApi.failuresLeft = 3;
    const patched = await app.api.patch(`/v1/apps/${app.appId}`, { stripe: { api_key: API_KEY } });
    expect(patched.status).toBe(200);
    expect(patched.body.stores.stripe).toMatchObject({ api_key_set: true, webhook_secrets_count: 1 });

    const waiting = await eventually(
      async () => {
        const row = await gateway.db.notification.findUniqueOrThrow({ where: { id: unresolved.id } });
        return row.state === "pending" && row.nextAttemptAt !== null ? row : undefined;
      },
      15_000,
      "the reopened refund waiting for its next attempt",
    );
    expect(waiting.lastError).toMatch(/Stripe API unavailable/);
    expect(waiting.nextAttemptAt?.getTime()).toBeGreaterThan(waiting.receivedAt.getTime());

    await receiver.waitFor((r) => r.delivered.length === 1, 20_000);
    const { event } = JSON.parse(receiver.delivered[0]?.body ?? "{}");
    expect(event).toMatchObject({
      type: "CANCELLATION",
      cancel_reason: "CUSTOMER_SUPPORT",
      app_id: app.appId,
      store: "STRIPE",
      environment: "SANDBOX",
      product_id: PRO_MONTHLY.productId,
      price_in_purchased_currency: -9.99,
    });

    const done = await gateway.db.notification.findUniqueOrThrow({ where: { id: unresolved.id } });
    expect(done).toMatchObject({ state: "processed", lastError: null, nextAttemptAt: null });
    // The first (keyless) try, three failed lookups, and the one that worked.
    expect(done.attempts).toBe(5);
    expect(stripeApi.requests.map((request) => request.status)).toEqual([500, 500, 500, 200]);
    const status = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    expect(status.body.stores.find((entry: any) => entry.environment === "sandbox").last_received_at).not.toBeNull();
  });

  it("changing another store's configuration reopens nothing", async () => {
    const app = await createStripeApp(gateway);
    const refund = refundEvent("legacy", { id: "evt_1QmZzK2Hq2Lk9TbVotherStore" });
    expect((await sendStripeEvent(gateway, app.stripeUrl, refund, STRIPE_SECRET)).status).toBe(200);
    const row = await eventually(
      async () => {
        const found = await gateway.db.notification.findFirst({ where: { appId: app.appId } });
        return found?.state === "unresolved" ? found : undefined;
      },
      15_000,
      "the refund marked unresolved",
    );

    const patched = await app.api.patch(`/v1/apps/${app.appId}`, { apple: { bundle_id: "com.example.app" } });
    expect(patched.status).toBe(200);
    const after = await gateway.db.notification.findUniqueOrThrow({ where: { id: row.id } });
    expect(after).toMatchObject({ state: "unresolved", attempts: row.attempts });
  });
});
