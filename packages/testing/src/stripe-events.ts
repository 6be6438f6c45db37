import { randomBytes } from "node:crypto";
import Stripe from "stripe";

/**
 * Stripe as a store: events shaped like Stripe's (API version 2025-03-31 and later: periods on
 * subscription items) and signed exactly as Stripe signs them, with the official SDK.
 */
const stripe = new Stripe("sk_test_unused_for_signing");

export function signStripePayload(payload: string, secret: string, timestampSeconds = Math.floor(Date.now() / 1000)): string {
  return stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: timestampSeconds });
}

export interface SubscriptionEventOptions {
  subscriptionId: string;
  type?: "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted";
  eventId?: string;
  /** Event creation time in seconds. */
  created?: number;
  livemode?: boolean;
  status?: string;
  productId?: string;
  priceId?: string;
  periodEnd?: number;
  cancelAtPeriodEnd?: boolean;
  previousAttributes?: Record<string, unknown>;
}

export function subscriptionEvent(options: SubscriptionEventOptions): Record<string, unknown> {
  const created = options.created ?? Math.floor(Date.now() / 1000);
  const periodStart = created - 86_400;
  const periodEnd = options.periodEnd ?? created + 29 * 86_400;
  const productId = options.productId ?? "prod_pro_monthly";
  const priceId = options.priceId ?? "price_pro_monthly";
  return {
    id: options.eventId ?? `evt_${randomBytes(12).toString("hex")}`,
    object: "event",
    api_version: "2025-03-31.basil",
    created,
    livemode: options.livemode ?? false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: options.type ?? "customer.subscription.updated",
    data: {
      object: {
        id: options.subscriptionId,
        object: "subscription",
        customer: "cus_test_1",
        status: options.status ?? "active",
        cancel_at_period_end: options.cancelAtPeriodEnd ?? false,
        cancel_at: null,
        canceled_at: null,
        cancellation_details: { comment: null, feedback: null, reason: null },
        start_date: periodStart,
        created: periodStart,
        currency: "usd",
        livemode: options.livemode ?? false,
        latest_invoice: "in_test_1",
        trial_end: null,
        items: {
          object: "list",
          data: [
            {
              id: "si_test_1",
              object: "subscription_item",
              current_period_start: periodStart,
              current_period_end: periodEnd,
              quantity: 1,
              price: {
                id: priceId,
                object: "price",
                product: productId,
                currency: "usd",
                unit_amount: 999,
                recurring: { interval: "month", interval_count: 1 },
              },
            },
          ],
        },
      },
      ...(options.previousAttributes ? { previous_attributes: options.previousAttributes } : {}),
    },
  };
}
