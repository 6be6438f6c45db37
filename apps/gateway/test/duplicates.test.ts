import { describe, expect, it } from "vitest";
import { eventually, signStripePayload, subscriptionEvent } from "@subgate/testing";
import { createStripeApp, postToIngress, STRIPE_SECRET, useGatewayWithReceiver } from "./harness.ts";

describe("the same store notification posted many times", () => {
  const context = useGatewayWithReceiver();

  it("is stored and processed once: one event, one delivery, every post answered 200", async () => {
    const { gateway, receiver } = context;
    const app = await createStripeApp(gateway);
    await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url });
    await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_dup" });
    const body = JSON.stringify(
      subscriptionEvent({ subscriptionId: "sub_dup", cancelAtPeriodEnd: true, previousAttributes: { cancel_at_period_end: false } }),
    );
    const post = () => postToIngress(gateway, app.stripeUrl, body, { "stripe-signature": signStripePayload(body, STRIPE_SECRET) });

    const concurrent = await Promise.all(Array.from({ length: 10 }, post));
    const sequential = [];
    for (let i = 0; i < 10; i++) sequential.push(await post());
    const answers = [...concurrent, ...sequential];
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(answers.filter((answer) => answer.body.status === "stored")).toHaveLength(1);

    await receiver.waitFor((r) => r.delivered.length >= 1);
    await eventually(async () => (await gateway.db.notification.findFirst({ where: { appId: app.appId } }))?.state === "processed");
    await new Promise((resolve) => setTimeout(resolve, 800)); // room for a wrong second delivery to show up
    expect(await gateway.db.notification.count({ where: { appId: app.appId } })).toBe(1);
    expect(await gateway.db.event.count({ where: { appId: app.appId } })).toBe(1);
    expect(await gateway.db.delivery.count({ where: { appId: app.appId } })).toBe(1);
    expect(receiver.received).toHaveLength(1);
  });
});
