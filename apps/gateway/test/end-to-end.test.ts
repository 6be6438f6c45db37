import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { subscriptionEvent } from "@subgate/testing";
import { createStripeApp, sendStripeEvent, useGatewayWithReceiver } from "./harness.ts";

describe("Stripe notification to signed webhook, end to end", () => {
  const context = useGatewayWithReceiver();

  it("updates the tracked subscription, moves last_received_at and delivers one verifiable webhook", async () => {
    const { gateway, receiver } = context;
    const app = await createStripeApp(gateway);
    const webhook = await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url });
    expect(webhook.status).toBe(201);
    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
      store: "stripe",
      store_subscription_id: "sub_e2e_1",
      app_user_id: "user-42",
    });
    expect(tracked.status).toBe(201);
    expect(tracked.body.status).toBe("unknown");

    const before = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    expect(before.body.stores.find((s: any) => s.environment === "sandbox").last_received_at).toBeNull();

    const created = Math.floor(Date.now() / 1000);
    const periodEnd = created + 30 * 86_400;
    const event = subscriptionEvent({
      subscriptionId: "sub_e2e_1",
      created,
      periodEnd,
      productId: "prod_pro",
      cancelAtPeriodEnd: true,
      previousAttributes: { cancel_at_period_end: false },
    });
    const answer = await sendStripeEvent(gateway, app.stripeUrl, event);
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe("stored");

    await receiver.waitFor((r) => r.delivered.length === 1);
    const [delivery] = receiver.delivered;
    const verified = new Webhook(webhook.body.secret).verify(delivery!.body, delivery!.headers as Record<string, string>) as any;
    expect(verified.api_version).toBe("1.0");
    expect(verified.event).toMatchObject({
      type: "CANCELLATION",
      store: "STRIPE",
      environment: "SANDBOX",
      app_id: app.appId,
      app_user_id: "user-42",
      product_id: "prod_pro",
      expiration_at_ms: periodEnd * 1000,
      original_transaction_id: "sub_e2e_1",
      cancel_reason: "UNSUBSCRIBE",
      store_notification_type: "customer.subscription.updated",
    });
    expect(verified.event.sequence).toBeGreaterThan(0);

    const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(subscription.body).toMatchObject({
      status: "canceled",
      auto_renew: false,
      product_id: "prod_pro",
      environment: "sandbox",
      expires_at: new Date(periodEnd * 1000).toISOString(),
      last_event_type: "CANCELLATION",
    });

    const after = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    const sandbox = after.body.stores.find((s: any) => s.store === "stripe" && s.environment === "sandbox");
    expect(sandbox.last_received_at).not.toBeNull();
    expect(after.body.stores.find((s: any) => s.environment === "production").last_received_at).toBeNull();

    // No second webhook arrives later (one event, one delivery).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received).toHaveLength(1);
  });
});
