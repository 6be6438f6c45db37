/*
 * a trial that ends without converting (canceled during the trial, or
 * `trial_settings.end_behavior.missing_payment_method: "cancel"`).
 *
 * Stripe's behaviour: the subscription is canceled at trial end and customer.subscription.deleted carries
 * status `canceled`, `trial_start`/`trial_end`, and `ended_at` = the trial end (stripe-node 23 types:
 * Subscription.trial_end "If the subscription has a trial, the end of that trial"; ended_at "If the
 * subscription has ended, the date the subscription ended"; TrialSettings.EndBehavior.MissingPaymentMethod
 * 'cancel' | 'create_invoice' | 'pause').
 *
 * RevenueCat: the trial's INITIAL_PURCHASE and CANCELLATION have period_type TRIAL and "Once the trial
 * duration elapses, an EXPIRATION event will be sent" for that trial (RevenueCat/docs
 * docs/integrations/webhooks/event-flows.md, "Trial Flow (Unsuccessful Conversion)"); period_type is the
 * "Period type of the transaction" (event-types-and-fields.mdx). subgate reads period_type from the
 * status at deletion (`canceled` → NORMAL), so the expired trial is reported as a paid period.
 */
import { describe, expect, it } from "vitest";
import type { Normalized } from "../src/adapter.ts";
import { createStripeAdapter, type StripeConfig } from "../src/index.ts";
import { JAN_1, SHAPES, stripeEvent, subscriptionObject } from "@subgate/testing/stripe-objects";
import { storedNotification } from "./fixtures/stripe-requests.ts";

const adapter = createStripeAdapter({ apiBaseUrl: "http://127.0.0.1:9" });
const config: StripeConfig = { webhookSecrets: ["whsec_unused"], apiKey: null };

function normalize(event: Record<string, unknown>): Promise<Normalized> {
  return adapter.normalize(storedNotification(event), config);
}

const TRIAL_END = JAN_1 + 86_400 * 14;

describe.each(SHAPES)("trial ending without conversion, %s payload shape", (shape) => {
  it("customer.subscription.deleted at trial end → EXPIRATION with period_type TRIAL", async () => {
    const subscription = subscriptionObject({
      shape,
      status: "canceled",
      trialStart: JAN_1,
      trialEnd: TRIAL_END,
      periodStart: JAN_1,
      periodEnd: TRIAL_END,
      cancelAtPeriodEnd: true,
      cancelAt: TRIAL_END,
      canceledAt: JAN_1 + 86_400 * 2,
      endedAt: TRIAL_END,
      cancellationReason: "cancellation_requested",
    });
    const result = await normalize(stripeEvent({ shape, type: "customer.subscription.deleted", object: subscription, created: TRIAL_END }));
    expect(result).toMatchObject({
      kind: "subscription",
      events: [{ type: "EXPIRATION", expiration_at_ms: TRIAL_END * 1000, period_type: "TRIAL" }],
    });
  });
});
