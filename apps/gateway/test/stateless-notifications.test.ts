import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalStripeApi, WebhookReceiver } from "@subgate/testing";
import { FEB_1, JAN_1, stripeEvent, subscriptionObject, SUBSCRIPTION_ID, refundEvent } from "@subgate/testing/stripe-objects";
import type { Gateway } from "../src/gateway.ts";
import { createTestEnvironment, createTrackedStripeApp, type TestEnvironment } from "./harness.ts";

/*
 * A notification that carries no state (a refund: "no state change", EVENTS.md) must not make a late,
 * older state change look stale. Invoices, which carry none either: invoices-carry-no-state.test.ts.
 */

const API_KEY = "rk_test_51QmZx4Hq2Lk9TbVstatelessRefund";

const stripeApi = new LocalStripeApi(API_KEY);
const receiver = new WebhookReceiver();
let env: TestEnvironment;
let gateway: Gateway;

beforeAll(async () => {
  await Promise.all([stripeApi.start(), receiver.start()]);
  env = await createTestEnvironment({ stripeApiBaseUrl: stripeApi.url });
  gateway = await env.start("all");
});

afterAll(async () => {
  await env?.close();
  await Promise.all([receiver.close(), stripeApi.close()]);
});

function newApp() {
  return createTrackedStripeApp(gateway, receiver, { subscriptionId: SUBSCRIPTION_ID, apiKey: API_KEY });
}

describe("notifications that carry no state neither change it nor make an older state change stale", () => {
  it("a refund (no state change) does not make an older, late subscription deletion stale", async () => {
    receiver.received.length = 0;
    const app = await newApp();
    await app.send(
      stripeEvent({
        shape: "legacy",
        id: "evt_review_created",
        type: "customer.subscription.created",
        object: subscriptionObject({ shape: "legacy" }),
        created: JAN_1 + 60,
      }),
      1,
    );
    // Stripe dashboard: "cancel immediately" at T, then "refund the last payment" at T + 5 s.
    const canceledAt = FEB_1 + 7_200;
    // The refund is delivered first (Stripe does not deliver in order) ...
    await app.send(refundEvent("legacy", { id: "evt_review_refund", created: canceledAt + 5 }), 2);
    // ... and the deletion, 5 s older in store time, arrives after it.
    await app.send(
      stripeEvent({
        shape: "legacy",
        id: "evt_review_deleted",
        type: "customer.subscription.deleted",
        object: subscriptionObject({
          shape: "legacy",
          status: "canceled",
          canceledAt,
          endedAt: canceledAt,
          cancellationReason: "cancellation_requested",
        }),
        created: canceledAt,
      }),
      3,
    );
    const types = receiver.delivered.map((request) => JSON.parse(request.body).event.type);
    expect(types).toEqual(["INITIAL_PURCHASE", "CANCELLATION", "EXPIRATION"]);

    const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${app.subscriptionId}`);
    // The subscription ended at `canceledAt`; nothing newer said anything about its state.
    expect(subscription.body).toMatchObject({
      status: "expired",
      auto_renew: false,
      expires_at: new Date(canceledAt * 1000).toISOString(),
    });
  });
});
