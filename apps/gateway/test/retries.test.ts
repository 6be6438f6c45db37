import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { eventually, subscriptionEvent } from "@subgate/testing";
import { createStripeApp, sendStripeEvent, useGatewayWithReceiver } from "./harness.ts";

describe("a webhook endpoint that fails before it succeeds", () => {
  const context = useGatewayWithReceiver({ retryScheduleMs: [100, 100, 100] });

  it("gets the same webhook-id on every attempt and every attempt is recorded", async () => {
    const { gateway, receiver } = context;
    const app = await createStripeApp(gateway);
    const endpoint = await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url });
    await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_retry" });
    receiver.respondWith(500, 500);
    expect(
      (
        await sendStripeEvent(
          gateway,
          app.stripeUrl,
          subscriptionEvent({ subscriptionId: "sub_retry", cancelAtPeriodEnd: true, previousAttributes: { cancel_at_period_end: false } }),
        )
      ).status,
    ).toBe(200);

    await receiver.waitFor((r) => r.delivered.length === 1);
    expect(receiver.received.map((request) => request.status)).toEqual([500, 500, 200]);
    const ids = new Set(receiver.received.map((request) => request.headers["webhook-id"]));
    expect(ids.size).toBe(1);
    // Each attempt is signed anew and verifies.
    for (const request of receiver.received) {
      expect(() => new Webhook(endpoint.body.secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
    }

    const delivery = await eventually(async () => {
      const row = await gateway.db.delivery.findFirst({
        where: { appId: app.appId },
        include: { attempts: { orderBy: { number: "asc" } } },
      });
      return row?.status === "succeeded" ? row : undefined;
    });
    expect(delivery.id).toBe([...ids][0]);
    expect(delivery.attemptCount).toBe(3);
    expect(delivery.attempts.map((attempt) => [attempt.number, attempt.statusCode])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    expect(delivery.attempts[0]?.responseBody).toBe("receiver error");
  });

  it("gives up after the last scheduled attempt and records the delivery as failed", async () => {
    const { gateway, receiver } = context;
    const app = await createStripeApp(gateway);
    await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url });
    await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_down" });
    receiver.received.length = 0;
    receiver.defaultStatus = 503;
    await sendStripeEvent(
      gateway,
      app.stripeUrl,
      subscriptionEvent({ subscriptionId: "sub_down", cancelAtPeriodEnd: true, previousAttributes: { cancel_at_period_end: false } }),
    );
    const delivery = await eventually(async () => {
      const row = await gateway.db.delivery.findFirst({ where: { appId: app.appId } });
      return row?.status === "failed" ? row : undefined;
    });
    expect(delivery.attemptCount).toBe(4); // the first attempt plus one per schedule entry
    expect(receiver.received).toHaveLength(4);
    receiver.defaultStatus = 200;
  });
});
