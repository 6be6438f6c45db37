/*
 * a cancellation scheduled with `cancel_at` before the end of the current period.
 *
 * Stripe's behaviour: `cancel_at` is "A date in the future at which the subscription will automatically
 * get canceled" (stripe-node 23 types, Subscription.cancel_at); the update parameter documents that a
 * `cancel_at` "before the current period ends ... will cause a proration" (https://docs.stripe.com/api/subscriptions/update#update_subscription-cancel_at).
 * The subscription ends at `cancel_at` (customer.subscription.deleted then), not at current_period_end,
 * which Stripe leaves unchanged on the object.
 *
 * subgate's own contract (docs/API.md): status `canceled` = "will not renew, still active until
 * `expires_at`". The CANCELLATION event already says access ends at cancel_at; the state says the period end.
 */
import { describe, expect, it } from "vitest";
import type { Normalized } from "../src/adapter.ts";
import { createStripeAdapter, type StripeConfig } from "../src/index.ts";
import { FEB_1, JAN_1, SHAPES, stripeEvent, subscriptionObject } from "@subgate/testing/stripe-objects";
import { storedNotification } from "./fixtures/stripe-requests.ts";

const adapter = createStripeAdapter({ apiBaseUrl: "http://127.0.0.1:9" });
const config: StripeConfig = { webhookSecrets: ["whsec_unused"], apiKey: null };

function normalize(event: Record<string, unknown>): Promise<Normalized> {
  return adapter.normalize(storedNotification(event), config);
}

describe.each(SHAPES)("cancel_at before the period end, %s payload shape", (shape) => {
  it("the state's expires_at is when Stripe will end the subscription (cancel_at), as the CANCELLATION says", async () => {
    const cancelAt = JAN_1 + 86_400 * 10; // period runs JAN_1 → FEB_1
    const subscription = subscriptionObject({ shape, cancelAt, canceledAt: JAN_1 + 3_000, cancellationReason: "cancellation_requested" });
    const result = await normalize(
      stripeEvent({ shape, type: "customer.subscription.updated", object: subscription, previous: { cancel_at: null, canceled_at: null } }),
    );
    expect(result).toMatchObject({
      kind: "subscription",
      events: [{ type: "CANCELLATION", expiration_at_ms: cancelAt * 1000 }],
      state: { status: "canceled", auto_renew: false },
    });
    expect(result.kind === "subscription" && result.state.expires_at_ms).toBe(cancelAt * 1000);
    expect(FEB_1).toBeGreaterThan(cancelAt);
  });
});
