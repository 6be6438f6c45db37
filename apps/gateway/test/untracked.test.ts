import { describe, expect, it } from "vitest";
import { eventually, subscriptionEvent } from "@subgate/testing";
import { createStripeApp, sendStripeEvent, useGatewayWithReceiver } from "./harness.ts";

describe("notifications for an untracked subscription", () => {
  const context = useGatewayWithReceiver();

  it("are acknowledged and stored without events; tracking later applies them in store order", async () => {
    const { gateway, receiver } = context;
    const app = await createStripeApp(gateway);
    await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url });
    const now = Math.floor(Date.now() / 1000);
    const created = subscriptionEvent({
      subscriptionId: "sub_later",
      type: "customer.subscription.created",
      created: now - 60,
      status: "active",
    });
    const canceled = subscriptionEvent({
      subscriptionId: "sub_later",
      created: now - 30,
      cancelAtPeriodEnd: true,
      previousAttributes: { cancel_at_period_end: false },
    });
    // Sent newest first: tracking must still apply them in store order.
    for (const event of [canceled, created]) {
      const answer = await sendStripeEvent(gateway, app.stripeUrl, event);
      expect(answer.status).toBe(200);
    }
    const rows = await eventually(
      async () => {
        const found = await gateway.db.notification.findMany({ where: { appId: app.appId } });
        return found.every((row) => row.state === "untracked") && found.length === 2 ? found : undefined;
      },
      15_000,
      "both notifications marked untracked",
    );
    expect(rows.map((row) => row.subscriptionKey)).toEqual(["sub_later", "sub_later"]);
    expect(await gateway.db.event.count({ where: { appId: app.appId } })).toBe(0);
    const status = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    expect(status.body.stores.every((entry: any) => entry.last_received_at === null)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received).toHaveLength(0);

    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
      store: "stripe",
      store_subscription_id: "sub_later",
      app_user_id: "user-7",
    });
    expect(tracked.status).toBe(201);
    expect(tracked.body).toMatchObject({ status: "canceled", auto_renew: false, last_event_type: "CANCELLATION" });

    await receiver.waitFor((r) => r.delivered.length === 2);
    const events = receiver.delivered.map((request) => JSON.parse(request.body).event);
    const byType = Object.fromEntries(events.map((event) => [event.type, event]));
    expect(Object.keys(byType).sort()).toEqual(["CANCELLATION", "INITIAL_PURCHASE"]);
    expect(byType.INITIAL_PURCHASE.sequence).toBeLessThan(byType.CANCELLATION.sequence);
    expect(events.every((event) => event.app_user_id === "user-7")).toBe(true);

    const after = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    expect(after.body.stores.find((s: any) => s.environment === "sandbox").last_received_at).not.toBeNull();
    const states = await gateway.db.notification.findMany({ where: { appId: app.appId }, select: { state: true } });
    expect(states.every((row) => row.state === "processed")).toBe(true);
  });
});
