import { describe, expect, it } from "vitest";
import { subscriptionEvent } from "@subgate/testing";
import { createStripeApp, sendStripeEvent, useGatewayWithReceiver } from "./harness.ts";

describe("notifications arriving out of store order", () => {
  const context = useGatewayWithReceiver();

  it("never move the subscription backwards, and the older event's sequence marks it stale", async () => {
    const { gateway, receiver } = context;
    const app = await createStripeApp(gateway);
    await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url });
    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_order" });
    const now = Math.floor(Date.now() / 1000);
    const send = async (event: Record<string, unknown>) => {
      const answer = await sendStripeEvent(gateway, app.stripeUrl, event);
      expect(answer.status).toBe(200);
    };

    // Newer: the customer canceled (auto-renew off) and moved to a yearly product.
    await send(
      subscriptionEvent({
        subscriptionId: "sub_order",
        created: now - 10,
        productId: "prod_yearly",
        priceId: "price_yearly",
        periodEnd: now + 365 * 86_400,
        cancelAtPeriodEnd: true,
        previousAttributes: { cancel_at_period_end: false },
      }),
    );
    await receiver.waitFor((r) => r.delivered.length === 1);
    // Older, arriving later: still monthly, auto-renewing, an earlier uncancel.
    await send(
      subscriptionEvent({
        subscriptionId: "sub_order",
        created: now - 100,
        productId: "prod_monthly",
        periodEnd: now + 20 * 86_400,
        cancelAtPeriodEnd: false,
        previousAttributes: { cancel_at_period_end: true },
      }),
    );
    await receiver.waitFor((r) => r.delivered.length === 2);

    const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(subscription.body).toMatchObject({
      status: "canceled",
      auto_renew: false,
      product_id: "prod_yearly",
      expires_at: new Date((now + 365 * 86_400) * 1000).toISOString(),
      last_event_type: "CANCELLATION",
    });
    const [newer, older] = receiver.delivered.map((request) => JSON.parse(request.body).event);
    expect(newer.type).toBe("CANCELLATION");
    expect(older.type).toBe("UNCANCELLATION");
    expect(older.sequence).toBeLessThan(newer.sequence);
  });
});
