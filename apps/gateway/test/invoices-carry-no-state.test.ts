import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, WebhookReceiver } from "@subgate/testing";
import { FEB_1, invoiceObject, JAN_1, MAR_1, stripeEvent, subscriptionObject, SUBSCRIPTION_ID } from "@subgate/testing/stripe-objects";
import type { Gateway } from "../src/gateway.ts";
import { createTestEnvironment, createTrackedStripeApp, sendStripeEvent, type TestEnvironment } from "./harness.ts";

/*
 * invoice.paid knows the period end and that the invoice is paid, not whether the subscription
 * will renew. EVENTS.md: Stripe `active` is subgate `canceled` while a cancellation is scheduled.
 */

const receiver = new WebhookReceiver();
let env: TestEnvironment;
let gateway: Gateway;

beforeAll(async () => {
  await receiver.start();
  env = await createTestEnvironment();
  gateway = await env.start("all");
});

afterAll(async () => {
  await env?.close();
  await receiver.close();
});

function newApp() {
  return createTrackedStripeApp(gateway, receiver, { subscriptionId: SUBSCRIPTION_ID });
}

describe("invoices carry no subscription state: the subscription's own events decide it", () => {
  // FEB_1 + 10 min: the customer cancels at period end (Stripe: active + cancel_at_period_end).
  // FEB_1 + 1 h: Stripe finalizes and collects the period's invoice (drafts wait ~1 h; ACH/SEPA take days).
  it.each([
    ["in store order", ["cancel", "paid"]],
    ["with the invoice delivered first (a Stripe retry of the cancellation, say)", ["paid", "cancel"]],
  ] as const)(
    "a cancellation scheduled before the period's invoice was paid leaves the subscription canceling, %s",
    async (_order, order) => {
      receiver.received.length = 0;
      const app = await newApp();
      await app.send(
        stripeEvent({
          shape: "legacy",
          id: `evt_created_${order[0]}`,
          type: "customer.subscription.created",
          object: subscriptionObject({ shape: "legacy" }),
          created: JAN_1 + 60,
        }),
        1,
      );
      const events = {
        cancel: stripeEvent({
          shape: "legacy",
          id: `evt_cancel_${order[0]}`,
          type: "customer.subscription.updated",
          object: subscriptionObject({
            shape: "legacy",
            periodStart: FEB_1,
            periodEnd: MAR_1,
            cancelAtPeriodEnd: true,
            canceledAt: FEB_1 + 600,
          }),
          previous: { cancel_at_period_end: false, canceled_at: null },
          created: FEB_1 + 600,
        }),
        paid: stripeEvent({
          shape: "legacy",
          id: `evt_paid_${order[0]}`,
          type: "invoice.paid",
          object: invoiceObject({
            shape: "legacy",
            billingReason: "subscription_cycle",
            periodStart: FEB_1,
            periodEnd: MAR_1,
            paidAt: FEB_1 + 3_600,
          }),
          created: FEB_1 + 3_600,
        }),
      };
      for (const [n, name] of order.entries()) await app.send(events[name], n + 2);
      const types = receiver.delivered.map((request) => JSON.parse(request.body).event.type);
      expect(types).toEqual(["INITIAL_PURCHASE", ...order.map((name) => (name === "cancel" ? "CANCELLATION" : "RENEWAL"))]);

      const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${app.subscriptionId}`);
      // EVENTS.md, subscription state: Stripe `active` is `canceled` while cancel_at_period_end is set.
      // The invoice says nothing about renewal; the only notification that does says it is off.
      expect(subscription.body).toMatchObject({ status: "canceled", auto_renew: false });
    },
  );
  it("an open invoice paid after Stripe ended the subscription does not bring it back to active", async () => {
    receiver.received.length = 0;
    const app = await newApp();
    await app.send(
      stripeEvent({
        shape: "basil",
        id: "evt_review3_created",
        type: "customer.subscription.created",
        object: subscriptionObject({ shape: "basil" }),
        created: JAN_1 + 60,
      }),
      1,
    );
    // The renewal payment fails; Stripe retries.
    await app.send(
      stripeEvent({
        shape: "basil",
        id: "evt_review3_past_due",
        type: "customer.subscription.updated",
        object: subscriptionObject({ shape: "basil", status: "past_due", periodStart: FEB_1, periodEnd: MAR_1 }),
        previous: { status: "active" },
        created: FEB_1 + 3_600,
      }),
      2,
    );
    // Retries exhausted: the account's setting "cancel the subscription" ends it (the invoice stays open).
    const endedAt = FEB_1 + 20 * 86_400;
    await app.send(
      stripeEvent({
        shape: "basil",
        id: "evt_review3_deleted",
        type: "customer.subscription.deleted",
        object: subscriptionObject({
          shape: "basil",
          status: "canceled",
          periodStart: FEB_1,
          periodEnd: MAR_1,
          canceledAt: endedAt,
          endedAt,
          cancellationReason: "payment_failed",
        }),
        created: endedAt,
      }),
      3,
    );
    // Days later the customer pays the open invoice on its hosted page. A canceled Stripe subscription
    // cannot be reactivated.
    await app.send(
      stripeEvent({
        shape: "basil",
        id: "evt_review3_paid",
        type: "invoice.paid",
        object: invoiceObject({
          shape: "basil",
          billingReason: "subscription_cycle",
          periodStart: FEB_1,
          periodEnd: MAR_1,
          paidAt: endedAt + 5 * 86_400,
        }),
        created: endedAt + 5 * 86_400,
      }),
      4,
    );
    const types = receiver.delivered.map((request) => JSON.parse(request.body).event.type);
    expect(types).toEqual(["INITIAL_PURCHASE", "BILLING_ISSUE", "EXPIRATION", "RENEWAL"]);

    const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${app.subscriptionId}`);
    expect(subscription.body).toMatchObject({ status: "expired", expires_at: new Date(endedAt * 1000).toISOString() });
  });
  it("the first invoice of a trial that charges a one-time setup fee keeps the subscription trialing", async () => {
    receiver.received.length = 0;
    const app = await newApp();
    const trialEnd = JAN_1 + 14 * 86_400;
    // Created with a 14-day trial and a one-time setup fee (add_invoice_items): Stripe status trialing.
    await app.send(
      stripeEvent({
        shape: "basil",
        id: "evt_review5_created",
        type: "customer.subscription.created",
        object: subscriptionObject({
          shape: "basil",
          status: "trialing",
          trialStart: JAN_1,
          trialEnd,
          periodStart: JAN_1,
          periodEnd: trialEnd,
        }),
        created: JAN_1,
      }),
      1,
    );
    // Its first invoice charges the fee a moment later.
    const paid = stripeEvent({
      shape: "basil",
      id: "evt_review5_paid",
      type: "invoice.paid",
      object: invoiceObject({
        shape: "basil",
        billingReason: "subscription_create",
        amountPaid: 1_500,
        periodStart: JAN_1,
        periodEnd: trialEnd,
        paidAt: JAN_1 + 1,
      }),
      created: JAN_1 + 1,
    });
    expect((await sendStripeEvent(gateway, app.stripeUrl, paid)).status).toBe(200);
    await eventually(
      async () => {
        const row = await gateway.db.notification.findFirst({ where: { appId: app.appId, storeNotificationId: "evt_review5_paid" } });
        return row?.state === "processed" || undefined;
      },
      10_000,
      "invoice.paid processed",
    );

    const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${app.subscriptionId}`);
    expect(subscription.body).toMatchObject({ status: "trialing", period_type: "TRIAL" });
  });
});
