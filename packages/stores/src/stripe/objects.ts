import { z } from "zod";

/*
 * The parts of Stripe's objects subgate reads, in both payload shapes it receives:
 * - before API version 2025-03-31 ("older"): periods on the subscription (`current_period_end`),
 *   `subscription.plan`, `invoice.subscription`, `charge.invoice`, invoice line `price.product`;
 * - from 2025-03-31 ("basil" and later): periods on each subscription item, the invoice's subscription under
 *   `invoice.parent.subscription_details.subscription`, invoice line `pricing.price_details`, no `charge.invoice`.
 * A webhook carries the shape of the endpoint's API version, so one app may send either.
 * The schemas are loose: Stripe adds fields at will, and a field subgate does not read is no reason to refuse.
 */

/** An id Stripe sends as a plain string, or as the whole object when it was expanded. */
const expandableId = z
  .union([z.string(), z.looseObject({ id: z.string() })])
  .transform((value) => (typeof value === "string" ? value : value.id));

const unixSeconds = z.number().int().nonnegative();

const PriceSchema = z.looseObject({ id: z.string(), product: expandableId.nullish() });
/** The legacy Plan object; same id and product as the Price it mirrors. */
const PlanSchema = z.looseObject({ id: z.string(), product: expandableId.nullish() });

const SubscriptionItemSchema = z.looseObject({
  price: PriceSchema.nullish(),
  plan: PlanSchema.nullish(),
  /** 2025-03-31+: each item has its own period. */
  current_period_start: unixSeconds.nullish(),
  current_period_end: unixSeconds.nullish(),
});
type SubscriptionItem = z.infer<typeof SubscriptionItemSchema>;

export const SubscriptionItemListSchema = z.looseObject({ data: z.array(SubscriptionItemSchema) });

export const SubscriptionSchema = z.looseObject({
  id: z.string(),
  object: z.literal("subscription"),
  status: z.string(),
  currency: z.string().nullish(),
  start_date: unixSeconds.nullish(),
  cancel_at_period_end: z.boolean().nullish(),
  cancel_at: unixSeconds.nullish(),
  ended_at: unixSeconds.nullish(),
  cancellation_details: z.looseObject({ reason: z.string().nullish() }).nullish(),
  /** Before 2025-03-31 only. */
  current_period_start: unixSeconds.nullish(),
  current_period_end: unixSeconds.nullish(),
  plan: PlanSchema.nullish(),
  items: SubscriptionItemListSchema.nullish(),
  latest_invoice: expandableId.nullish(),
  pause_collection: z.looseObject({ resumes_at: unixSeconds.nullish() }).nullish(),
  trial_end: unixSeconds.nullish(),
  /** 2026-09-30+: why a subscription is `paused` (trial ended without a card, requested, payment failure). */
  status_details: z
    .looseObject({
      paused: z
        .looseObject({ transitioned_at: unixSeconds.nullish(), subscription: z.looseObject({ type: z.string().nullish() }).nullish() })
        .nullish(),
    })
    .nullish(),
});
export type StripeSubscription = z.infer<typeof SubscriptionSchema>;

const InvoiceLineSchema = z.looseObject({
  /** Before 2025-03-31: `subscription` or `invoiceitem`. */
  type: z.string().nullish(),
  period: z.looseObject({ start: unixSeconds, end: unixSeconds }).nullish(),
  proration: z.boolean().nullish(),
  subscription: expandableId.nullish(),
  price: PriceSchema.nullish(),
  plan: PlanSchema.nullish(),
  /** 2025-03-31+. */
  parent: z
    .looseObject({
      type: z.string().nullish(),
      subscription_item_details: z.looseObject({ subscription: expandableId.nullish(), proration: z.boolean().nullish() }).nullish(),
    })
    .nullish(),
  pricing: z
    .looseObject({
      price_details: z.looseObject({ price: expandableId.nullish(), product: expandableId.nullish() }).nullish(),
    })
    .nullish(),
});
type InvoiceLine = z.infer<typeof InvoiceLineSchema>;

export const InvoiceSchema = z.looseObject({
  id: z.string(),
  object: z.literal("invoice"),
  billing_reason: z.string().nullish(),
  currency: z.string(),
  amount_paid: z.number().int().nullish(),
  /** Before 2025-03-31. */
  subscription: expandableId.nullish(),
  /** 2025-03-31+. */
  parent: z
    .looseObject({
      subscription_details: z.looseObject({ subscription: expandableId.nullish() }).nullish(),
    })
    .nullish(),
  lines: z.looseObject({ data: z.array(InvoiceLineSchema) }).nullish(),
  status_transitions: z.looseObject({ paid_at: unixSeconds.nullish() }).nullish(),
});
export type StripeInvoice = z.infer<typeof InvoiceSchema>;

export const ChargeSchema = z.looseObject({
  id: z.string(),
  object: z.literal("charge"),
  amount: z.number().int(),
  amount_refunded: z.number().int(),
  currency: z.string(),
  /** Before 2025-03-31 only. */
  invoice: expandableId.nullish(),
  payment_intent: expandableId.nullish(),
});
export type StripeCharge = z.infer<typeof ChargeSchema>;

/** A snapshot ("v1") event, as `stripe.webhooks.constructEvent` returns it. */
export const StripeEventSchema = z.looseObject({
  id: z.string().min(1),
  object: z.literal("event"),
  type: z.string().min(1),
  created: unixSeconds,
  livemode: z.boolean(),
  api_version: z.string().nullish(),
  data: z.looseObject({
    object: z.record(z.string(), z.unknown()),
    previous_attributes: z.record(z.string(), z.unknown()).nullish(),
  }),
});
export type StripeEvent = z.infer<typeof StripeEventSchema>;

// ---- readers that hide the two payload shapes ----

const firstItem = (subscription: StripeSubscription): SubscriptionItem | undefined => subscription.items?.data[0];

/** The product (`prod_...`) of a subscription: its first item's, the one subgate reports as `product_id`. */
export function subscriptionProductId(subscription: StripeSubscription): string | null {
  const item = firstItem(subscription);
  return item?.price?.product ?? item?.plan?.product ?? subscription.plan?.product ?? null;
}

/** The price (`price_...`, or legacy plan id) of a subscription's first item. */
export function subscriptionPriceId(subscription: StripeSubscription): string | null {
  const item = firstItem(subscription);
  return item?.price?.id ?? item?.plan?.id ?? subscription.plan?.id ?? null;
}

/** Product and price of the first item of a `previous_attributes.items` list, or of `previous_attributes.plan`. */
export function previousProductAndPrice(previous: Record<string, unknown>): {
  productId: string | null;
  priceId: string | null;
} | null {
  const items = SubscriptionItemListSchema.safeParse(previous.items);
  const item = items.success ? items.data.data[0] : undefined;
  const plan = PlanSchema.safeParse(previous.plan);
  const legacyPlan = plan.success ? plan.data : undefined;
  const priceId = item?.price?.id ?? item?.plan?.id ?? legacyPlan?.id ?? null;
  const productId = item?.price?.product ?? item?.plan?.product ?? legacyPlan?.product ?? null;
  return priceId === null && productId === null ? null : { productId, priceId };
}

/**
 * End of the current period, in seconds. 2025-03-31+ puts periods on the items, which may differ
 * (mixed intervals): the subscription lasts until the latest of them.
 */
export function subscriptionPeriodEnd(subscription: StripeSubscription): number | null {
  const itemEnds = (subscription.items?.data ?? [])
    .map((item) => item.current_period_end)
    .filter((end): end is number => typeof end === "number");
  if (itemEnds.length > 0) return Math.max(...itemEnds);
  return subscription.current_period_end ?? null;
}

/** The subscription an invoice bills, in either shape; null for invoices outside subscriptions. */
export function invoiceSubscriptionId(invoice: StripeInvoice): string | null {
  return invoice.parent?.subscription_details?.subscription ?? invoice.subscription ?? null;
}

function isSubscriptionLine(line: InvoiceLine): boolean {
  return line.parent?.subscription_item_details != null || line.type === "subscription";
}

function isProration(line: InvoiceLine): boolean {
  return line.parent?.subscription_item_details?.proration === true || line.proration === true;
}

/**
 * The lines that bill the subscription's period (not prorations, not one-off invoice items).
 * Falls back to prorations when an invoice has nothing else (a mid-period upgrade invoice).
 */
function subscriptionLines(invoice: StripeInvoice): InvoiceLine[] {
  const lines = (invoice.lines?.data ?? []).filter(isSubscriptionLine);
  const regular = lines.filter((line) => !isProration(line));
  return regular.length > 0 ? regular : lines;
}

/** Whether the invoice bills a subscription period in full (a line that is not a proration). */
export function invoiceBillsAPeriod(invoice: StripeInvoice): boolean {
  return (invoice.lines?.data ?? []).some((line) => isSubscriptionLine(line) && !isProration(line));
}

/** Product of the invoice's first subscription line. */
export function invoiceProductId(invoice: StripeInvoice): string | null {
  const line = subscriptionLines(invoice)[0];
  if (line === undefined) return null;
  return line.pricing?.price_details?.product ?? line.price?.product ?? line.plan?.product ?? null;
}

/** The end, in seconds, of the period the invoice's subscription lines pay for. */
export function invoicePeriodEnd(invoice: StripeInvoice): number | null {
  const ends = subscriptionLines(invoice)
    .map((line) => line.period?.end)
    .filter((end): end is number => typeof end === "number");
  return ends.length > 0 ? Math.max(...ends) : null;
}

/** The start, in seconds, of the period the invoice's subscription lines pay for. */
export function invoicePeriodStart(invoice: StripeInvoice): number | null {
  const starts = subscriptionLines(invoice)
    .map((line) => line.period?.start)
    .filter((start): start is number => typeof start === "number");
  return starts.length > 0 ? Math.min(...starts) : null;
}

/**
 * The subscription an event's object names, without any API call: a subscription's own id, an invoice's
 * subscription. Other objects (a charge) do not name one.
 */
export function subscriptionKeyOf(object: Record<string, unknown>): string | null {
  if (object.object === "subscription" && typeof object.id === "string") return object.id;
  if (object.object === "invoice") {
    const invoice = InvoiceSchema.safeParse(object);
    return invoice.success ? invoiceSubscriptionId(invoice.data) : null;
  }
  return null;
}
