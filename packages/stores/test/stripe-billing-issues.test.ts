/*
 * failed renewals and Smart Retries.
 *
 * Stripe's behaviour (sources):
 * - `invoice.payment_failed` "Occurs whenever an invoice payment attempt fails" (Stripe event type
 *   description, e.g. https://pub.dev/documentation/client_stripe/latest/models/InvoicePaymentFailedEvent-class.html,
 *   generated from Stripe's OpenAPI spec). Smart Retries make up to 8 attempts within 2 weeks by default
 *   (https://docs.stripe.com/payments/off-session-payments/smart-retries), each with a higher
 *   `invoice.attempt_count` ("Any payment attempt counts as the first attempt, and subsequently only
 *   automatic retries increment the attempt count", stripe-node 23 types, Invoice.attempt_count).
 * - RevenueCat's Stripe integration: "we will only generate the billing issue event once and we do not
 *   generate new ones when subsequent retries fail"; when all retries fail and the subscription is
 *   marked unpaid, "RevenueCat will revoke access"
 *   (RevenueCat/docs docs/web/integrations/stripe.mdx, "Billing Issues").
 * - Stripe: "when a subscription has a status of `unpaid`, no subsequent invoices will be attempted"
 *   (stripe-node 23 types, Subscription.status).
 */
import { describe, expect, it } from "vitest";
import type { Normalized } from "../src/adapter.ts";
import { createStripeAdapter, type StripeConfig } from "../src/index.ts";
import { FEB_1, MAR_1, SHAPES, invoiceObject, stripeEvent, subscriptionObject } from "@subgate/testing/stripe-objects";
import { storedNotification } from "./fixtures/stripe-requests.ts";

const adapter = createStripeAdapter({ apiBaseUrl: "http://127.0.0.1:9" });
const config: StripeConfig = { webhookSecrets: ["whsec_unused"], apiKey: null };

function normalize(event: Record<string, unknown>): Promise<Normalized> {
  return adapter.normalize(storedNotification(event), config);
}

const eventTypes = (result: Normalized) => (result.kind === "subscription" ? result.events.map((e) => e.type) : []);

describe.each(SHAPES)("failed renewal with Smart Retries, %s payload shape", (shape) => {
  /** The renewal invoice as Stripe sends it with invoice.payment_failed after attempt `attempt`. */
  function failedAttempt(attempt: number) {
    const invoice = {
      ...invoiceObject({ shape, billingReason: "subscription_cycle", amountPaid: 0, amountDue: 999, status: "open", paidAt: null }),
      attempt_count: attempt,
      next_payment_attempt: FEB_1 + 86_400 * (attempt * 2),
    };
    return stripeEvent({
      shape,
      type: "invoice.payment_failed",
      object: invoice,
      id: `evt_retry_${attempt}`,
      created: FEB_1 + 3_600 + 86_400 * 2 * (attempt - 1),
    });
  }

  it("one billing issue gives one BILLING_ISSUE, not one per retry attempt", async () => {
    // What Stripe sends: the subscription moves to past_due with the first failure, then each retry fails.
    const pastDue = stripeEvent({
      shape,
      type: "customer.subscription.updated",
      object: subscriptionObject({ shape, status: "past_due", periodStart: FEB_1, periodEnd: MAR_1 }),
      previous: { status: "active" },
      created: FEB_1 + 3_600,
    });
    const types = eventTypes(await normalize(pastDue));
    for (const attempt of [1, 2, 3, 4]) types.push(...eventTypes(await normalize(failedAttempt(attempt))));
    expect(types.filter((type) => type === "BILLING_ISSUE")).toHaveLength(1);
  });

  it("a retry (attempt_count 2) that fails again reports no new BILLING_ISSUE", async () => {
    expect(eventTypes(await normalize(failedAttempt(2)))).not.toContain("BILLING_ISSUE");
  });

  it("retries exhausted, subscription marked unpaid → access is revoked (EXPIRATION, BILLING_ERROR), not 'in billing retry'", async () => {
    // Stripe's customer.subscription.updated when retries are exhausted and the setting is "mark as unpaid".
    const subscription = subscriptionObject({ shape, status: "unpaid", periodStart: FEB_1, periodEnd: MAR_1 });
    const result = await normalize(
      stripeEvent({
        shape,
        type: "customer.subscription.updated",
        object: subscription,
        previous: { status: "past_due" },
        created: FEB_1 + 86_400 * 15,
      }),
    );
    expect(result).toMatchObject({ kind: "subscription" });
    expect(result.kind === "subscription" && result.events).toEqual([
      expect.objectContaining({ type: "EXPIRATION", expiration_reason: "BILLING_ERROR" }),
    ]);
    expect(result.kind === "subscription" && result.state.status).not.toBe("in_billing_retry");
  });
});
