/*
 * a trial ended early (`trial_end: "now"` on an update, the Dashboard's "end trial", or a plan change
 * during a trial with `trial_end: "now"`), which converts the trial and charges a new, full period at once.
 *
 * Stripe's behaviour:
 * - "Updating a subscription generates a new invoice when: The subscription requires payment for the first
 *   time, such as the end of a trial period." (https://docs.stripe.com/billing/subscriptions/pending-updates);
 *   an invoice an update generates has `billing_reason` `subscription_update` ("A subscription was updated",
 *   stripe-node 23 types, Invoice.billing_reason), not `subscription_cycle`. Public integrations handle trial
 *   conversions on either reason for this reason (elie222/inbox-zero
 *   apps/web/app/api/stripe/webhook/trial-conversion.ts accepts `subscription_cycle` or `subscription_update`).
 * - The subscription's own update is trialing → active with no other change subgate maps.
 *
 * subgate: RENEWAL is "A new period was paid" (docs/EVENTS.md), and EVENTS.md says "trialing → active (trial
 * converted) ... [is] reported by the RENEWAL of the invoice.paid that comes with them". With the invoice's
 * reason `subscription_update` the adapter sends nothing: the conversion and its payment are never reported
 * (RevenueCat sends RENEWAL for a trial conversion: RevenueCat/docs docs/integrations/webhooks/event-flows.md).
 */
import { describe, expect, it } from "vitest";
import type { Normalized } from "../src/adapter.ts";
import { createStripeAdapter, type StripeConfig } from "../src/index.ts";
import { JAN_1, SHAPES, invoiceObject, stripeEvent, subscriptionObject } from "@subgate/testing/stripe-objects";
import { storedNotification } from "./fixtures/stripe-requests.ts";

const adapter = createStripeAdapter({ apiBaseUrl: "http://127.0.0.1:9" });
const config: StripeConfig = { webhookSecrets: ["whsec_unused"], apiKey: null };

function normalize(event: Record<string, unknown>): Promise<Normalized> {
  return adapter.normalize(storedNotification(event), config);
}

const ENDED = JAN_1 + 86_400 * 3; // trial (JAN_1 → +14 d) ended early on day 3
const NEXT = ENDED + 86_400 * 31;

describe.each(SHAPES)("trial ended early (trial_end=now), %s payload shape", (shape) => {
  it("the paid conversion invoice (billing_reason subscription_update, a full new period) gives a RENEWAL", async () => {
    const update = await normalize(
      stripeEvent({
        shape,
        type: "customer.subscription.updated",
        object: subscriptionObject({
          shape,
          status: "active",
          trialStart: JAN_1,
          trialEnd: ENDED,
          periodStart: ENDED,
          periodEnd: NEXT,
          latestInvoice: "in_conversion",
        }),
        previous: { status: "trialing", trial_end: JAN_1 + 86_400 * 14, latest_invoice: "in_trial_start" },
        created: ENDED,
      }),
    );
    const invoice = await normalize(
      stripeEvent({
        shape,
        type: "invoice.paid",
        object: invoiceObject({
          shape,
          id: "in_conversion",
          billingReason: "subscription_update",
          periodStart: ENDED,
          periodEnd: NEXT,
          paidAt: ENDED,
        }),
        created: ENDED,
      }),
    );
    const events = [update, invoice].flatMap((result) => (result.kind === "subscription" ? result.events : []));
    expect(events).toContainEqual(
      expect.objectContaining({ type: "RENEWAL", transaction_id: "in_conversion", expiration_at_ms: NEXT * 1000, price: 9.99 }),
    );
  });
});
