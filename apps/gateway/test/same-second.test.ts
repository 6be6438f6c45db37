import { describe, expect, it } from "vitest";
import { JAN_1, stripeEvent, subscriptionObject, SUBSCRIPTION_ID } from "@subgate/testing/stripe-objects";
import { createStripeApp, sendStripeEvent, useGatewayWithReceiver } from "./harness.ts";

/*
 * Stripe's event times are whole seconds, and a Checkout subscription typically reports
 * `customer.subscription.created` (status incomplete) and `customer.subscription.updated`
 * (incomplete → active) within the same second. Stripe does not deliver in order.
 */
describe("two notifications of one subscription in the same Stripe second, delivered in reverse", () => {
  const context = useGatewayWithReceiver();

  it("the subscription does not fall back to `unknown` after its INITIAL_PURCHASE", async () => {
    const { gateway, receiver } = context;
    const app = await createStripeApp(gateway);
    await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url });
    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: SUBSCRIPTION_ID });
    const second = JAN_1 + 60;

    // The update (incomplete → active) arrives first ...
    const updated = stripeEvent({
      shape: "basil",
      id: "evt_review_same_second_updated",
      type: "customer.subscription.updated",
      object: subscriptionObject({ shape: "basil", status: "active" }),
      previous: { status: "incomplete" },
      created: second,
    });
    expect((await sendStripeEvent(gateway, app.stripeUrl, updated)).status).toBe(200);
    await receiver.waitFor((r) => r.delivered.length === 1);
    expect(JSON.parse(receiver.delivered[0]?.body ?? "{}").event.type).toBe("INITIAL_PURCHASE");

    // ... then the creation (status incomplete), same Stripe second.
    const created = stripeEvent({
      shape: "basil",
      id: "evt_review_same_second_created",
      type: "customer.subscription.created",
      object: subscriptionObject({ shape: "basil", status: "incomplete" }),
      created: second,
    });
    expect((await sendStripeEvent(gateway, app.stripeUrl, created)).status).toBe(200);
    await gateway.workers?.sweeper.sweepOnce();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const rows = await gateway.db.notification.findMany({ where: { appId: app.appId } });
    expect(rows.map((row) => row.state)).toEqual(["processed", "processed"]);

    const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    // docs/API.md: `unknown` is "tracked, nothing received yet"; Stripe says the subscription is active.
    expect(subscription.body.status).toBe("active");
  });
});
