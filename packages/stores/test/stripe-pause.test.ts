/*
 * Stripe's `paused` status (trial ended without a payment method, the pause endpoint, or a pause
 * after payment failure).
 *
 * Stripe's behaviour (stripe-node 23 types, Subscription.status, API 2026-10-28.endive): "A subscription can
 * enter a `paused` status in several ways, including when a trial ends without a payment method or when you
 * pause it using the pause endpoint. A `paused` subscription doesn't advance to a new billing period or
 * generate invoices until it resumes." `status_details.paused.subscription.type` is one of
 * `trial_end_without_payment_method`, `pause_requested`, `first_payment_failure`, `final_payment_failure`,
 * `system`. The pause takes effect at once: https://docs.stripe.com/changelog/endive/2026-09-30/pause-subscription
 * ("suspend both service delivery and invoice generation until you resume it"),
 * https://docs.stripe.com/billing/revenue-recovery/smart-retries/pause-on-payment-failure ("stop service delivery").
 *
 * RevenueCat's contract, which subgate's events follow (RevenueCat/docs
 * docs/integrations/webhooks/event-types-and-fields.mdx, SUBSCRIPTION_PAUSED): "You should not revoke access
 * when receiving a SUBSCRIPTION_PAUSED event, but only when receiving an EXPIRATION event (which will have
 * the expiration reason SUBSCRIPTION_PAUSED)". Without that EXPIRATION a RevenueCat-style consumer would keep
 * granting access to a paused Stripe subscription (e.g. a trial that ended without a card) indefinitely. A
 * pause after a failed payment expires with BILLING_ERROR, as an unpaid subscription does.
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

describe.each(SHAPES)("customer.subscription.paused, %s payload shape", (shape) => {
  it.each([
    ["trial_end_without_payment_method", "SUBSCRIPTION_PAUSED"],
    ["pause_requested", "SUBSCRIPTION_PAUSED"],
    ["final_payment_failure", "BILLING_ERROR"],
  ])("paused (%s) → access ends now: EXPIRATION with expiration_reason %s", async (pauseType, expirationReason) => {
    const subscription = {
      ...subscriptionObject({
        shape,
        status: "paused",
        trialStart: JAN_1 - 86_400 * 14,
        trialEnd: JAN_1,
        periodStart: JAN_1 - 86_400 * 14,
        periodEnd: JAN_1,
      }),
      trial_settings: { end_behavior: { missing_payment_method: "pause" } },
      status_details: { paused: { subscription: { type: pauseType }, transitioned_at: JAN_1, type: "subscription" } },
    };
    const result = await normalize(stripeEvent({ shape, type: "customer.subscription.paused", object: subscription, created: JAN_1 }));
    expect(result).toMatchObject({ kind: "subscription", state: { status: "paused" } });
    expect(result.kind === "subscription" && result.events).toContainEqual(
      expect.objectContaining({ type: "EXPIRATION", expiration_reason: expirationReason, expiration_at_ms: JAN_1 * 1000 }),
    );
  });
});
