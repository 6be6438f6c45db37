/*
 * Stripe event → subgate events and state. Pure: everything comes from the event (and, for refunds, from
 * what lookup.ts found), so the same notification always maps to the same result.
 *
 * | Stripe event                   | condition                                              | subgate event(s)                     |
 * | ------------------------------ | ------------------------------------------------------ | ------------------------------------ |
 * | customer.subscription.created  | status trialing                                        | INITIAL_PURCHASE (TRIAL, price 0)    |
 * |                                | status active                                          | INITIAL_PURCHASE (NORMAL)            |
 * |                                | any other status (incomplete, ...)                     | none, state only                     |
 * | customer.subscription.updated  | status incomplete → active / trialing                  | INITIAL_PURCHASE                     |
 * |  (from previous_attributes;    | first item's price or product changed                  | PRODUCT_CHANGE (product_id = old,    |
 * |   several changes give several |                                                        |   new_product_id = new)              |
 * |   events, in this order)       | cancel_at_period_end false → true, or cancel_at set    | CANCELLATION (cancel_reason below)   |
 * |                                | cancel_at_period_end true → false, or cancel_at unset  | UNCANCELLATION                       |
 * |                                | status → past_due (a payment failed; once per issue)   | BILLING_ISSUE                        |
 * |                                | status → unpaid (retries exhausted, no more invoices)  | EXPIRATION (BILLING_ERROR)           |
 * |                                | anything else, incl. → paused                          | none, state only (*)                 |
 * | customer.subscription.deleted  | status canceled                                        | EXPIRATION (expiration_reason below) |
 * |                                | status incomplete_expired (never started)              | none, state only                     |
 * | customer.subscription.paused   | (service stops until resumed)                          | SUBSCRIPTION_PAUSED, then EXPIRATION |
 * |                                |                                                        |   (SUBSCRIPTION_PAUSED; BILLING_ERROR|
 * |                                |                                                        |   when paused by a failed payment)   |
 * | customer.subscription.resumed  |                                                        | SUBSCRIPTION_RESUMED                 |
 * | invoice.paid                   | billing_reason subscription_cycle, or subscription_    | RENEWAL (amount_paid)                |
 * |                                |   update paying a full new period (trial ended early,  |                                      |
 * |                                |   billing cycle reset)                                 |                                      |
 * |                                | other billing reasons, prorations only                 | none                                 |
 * | invoice.payment_failed         |                                                        | ignored: fires on every retry; the   |
 * |                                |                                                        |   move to past_due reports it once   |
 * | invoice.payment_succeeded      |                                                        | ignored: invoice.paid reports it     |
 * | charge.refunded                | its subscription found (lookup.ts)                     | CANCELLATION, CUSTOMER_SUPPORT,      |
 * |                                |                                                        |   negative price; no state change    |
 * |                                | no API key, or the key cannot find the invoice         | unresolved                           |
 * |                                | the charge paid no subscription (one-off payment)      | ignored                              |
 * | invoice.* without subscription, any other type                                          | ignored                              |
 *
 * (*) customer.subscription.paused reports a pause; an event here too would duplicate it. trialing → active
 *     (trial converted) and past_due → active (a retry succeeded) are reported by the RENEWAL of the
 *     invoice.paid that comes with them. RevenueCat's rule, followed here: revoke access on EXPIRATION only.
 * (**) invoices and charges carry no state: an invoice does not know whether its subscription has been
 *     canceled, ended or is trialing meanwhile, and Stripe reports every change of the subscription
 *     itself (status, period, price) in a customer.subscription.* event, whose object is the whole state.
 *
 * cancel_reason / expiration_reason from `cancellation_details.reason`: payment_failed → BILLING_ERROR,
 * payment_disputed → CUSTOMER_SUPPORT, cancellation_requested or anything else → UNSUBSCRIBE.
 *
 * State only from the object of customer.subscription.* events (**) (subscription-state.ts): status trialing →
 * trialing; active → active, or canceled while cancel_at_period_end / cancel_at is set; past_due →
 * in_billing_retry; unpaid → expired; paused → paused; canceled, incomplete_expired → expired; incomplete →
 * unknown. Events of one second are ranked created < updated, paused, resumed < deleted, so a `created`
 * (incomplete) that arrives after the `updated` (active) of the same second does not take the subscription
 * back. product_id = the first item's product; expires_at_ms = the period end (the latest item's in
 * 2025-03-31+ payloads), or `cancel_at` when that is earlier, or ended_at once ended; auto_renew = neither
 * canceling nor ended; period_type TRIAL while trialing or when it ended before its trial did, else NORMAL;
 * purchased_at_ms = start_date.
 *
 * Every event carries event_timestamp_ms = event.created, original_transaction_id = the subscription id, and
 * transaction_id = the invoice id (the subscription's latest_invoice; the charge id for refunds). Money:
 * price_in_purchased_currency is the decimal amount (zero- and three-decimal currencies honoured, money.ts),
 * currency is upper-case, price is the USD amount when the currency is USD, else null.
 */
import type { CancelReason, Environment, EventDraftInput, ExpirationReason, SubscriptionStatePatch } from "@subgate/schema";
import type { Normalized } from "../adapter.ts";
import { eventMoney } from "./money.ts";
import {
  invoiceBillsAPeriod,
  invoicePeriodEnd,
  invoicePeriodStart,
  invoiceProductId,
  invoiceSubscriptionId,
  previousProductAndPrice,
  subscriptionPeriodEnd,
  subscriptionPriceId,
  subscriptionProductId,
  type StripeCharge,
  type StripeEvent,
  type StripeInvoice,
  type StripeSubscription,
} from "./objects.ts";
import { expiresAtMs, isCanceling, periodTypeOf, purchasedAtMs, statePatchFromSubscription } from "./subscription-state.ts";

/** What every mapping needs to know about the event itself. */
export interface EventContext {
  type: string;
  createdMs: number;
  environment: Environment;
  storeEventAt: Date;
}

export function environmentOf(livemode: boolean): Environment {
  return livemode ? "production" : "sandbox";
}

export function eventContext(event: StripeEvent): EventContext {
  const createdMs = event.created * 1000;
  return {
    type: event.type,
    createdMs,
    environment: environmentOf(event.livemode),
    storeEventAt: new Date(createdMs),
  };
}

export function reasonFromCancellationDetails(reason: string | null | undefined): CancelReason {
  switch (reason) {
    case "payment_failed":
      return "BILLING_ERROR";
    case "payment_disputed":
      return "CUSTOMER_SUPPORT";
    default:
      return "UNSUBSCRIBE";
  }
}

/** Where a subscription event falls in the subscription's life, for events of the same second. */
const SUBSCRIPTION_EVENT_RANK: Readonly<Record<string, number>> = {
  "customer.subscription.created": 0,
  "customer.subscription.deleted": 2,
};

function subscriptionResult(
  context: EventContext,
  subscriptionKey: string,
  state: SubscriptionStatePatch,
  events: EventDraftInput[],
): Normalized {
  return {
    kind: "subscription",
    subscriptionKey,
    environment: context.environment,
    storeEventAt: context.storeEventAt,
    state,
    stateRank: SUBSCRIPTION_EVENT_RANK[context.type] ?? 1,
    events,
  };
}

/** An invoice's or a charge's events: they carry no state (**). */
function eventsOnly(context: EventContext, subscriptionKey: string, events: EventDraftInput[]): Normalized {
  return subscriptionResult(context, subscriptionKey, {}, events);
}

export function ignored(context: EventContext, reason: string, subscriptionKey: string | null): Normalized {
  return { kind: "ignored", reason, environment: context.environment, subscriptionKey };
}

// ---- customer.subscription.* ----

/** Fields every event about a subscription object shares. */
function subscriptionEventBase(context: EventContext, subscription: StripeSubscription) {
  return {
    event_timestamp_ms: context.createdMs,
    product_id: subscriptionProductId(subscription),
    period_type: periodTypeOf(subscription),
    purchased_at_ms: purchasedAtMs(subscription),
    expiration_at_ms: expiresAtMs(subscription),
    original_transaction_id: subscription.id,
    transaction_id: subscription.latest_invoice ?? null,
  } satisfies Partial<EventDraftInput>;
}

function initialPurchase(context: EventContext, subscription: StripeSubscription): EventDraftInput {
  const base = subscriptionEventBase(context, subscription);
  // A trial charges nothing; what a paid start charged is on its invoice, which this object does not carry.
  const money = subscription.status === "trialing" && subscription.currency != null ? eventMoney(0, subscription.currency) : {};
  return { ...base, type: "INITIAL_PURCHASE", ...money };
}

function productChange(context: EventContext, subscription: StripeSubscription, previous: Record<string, unknown>): EventDraftInput | null {
  if (!("items" in previous) && !("plan" in previous)) return null;
  const before = previousProductAndPrice(previous);
  if (before === null) return null;
  const newProductId = subscriptionProductId(subscription);
  const newPriceId = subscriptionPriceId(subscription);
  // previous `items` also appears when only a period or a quantity changed: compare what was bought.
  const priceChanged = before.priceId !== null && before.priceId !== newPriceId;
  const productChanged = before.productId !== null && before.productId !== newProductId;
  if (!priceChanged && !productChanged) return null;
  return {
    ...subscriptionEventBase(context, subscription),
    type: "PRODUCT_CHANGE",
    product_id: before.productId,
    new_product_id: newProductId,
  };
}

/** Whether the update scheduled or withdrew a cancellation; null when it did neither. */
function cancellationChange(subscription: StripeSubscription, previous: Record<string, unknown>): "scheduled" | "withdrawn" | null {
  const hasPeriodEnd = "cancel_at_period_end" in previous;
  const hasCancelAt = "cancel_at" in previous;
  if (!hasPeriodEnd && !hasCancelAt) return null;
  // Stripe sets cancel_at along with cancel_at_period_end: read both as one "will not renew" flag, so
  // one cancellation gives one event.
  const wasCanceling =
    (hasPeriodEnd ? previous.cancel_at_period_end === true : subscription.cancel_at_period_end === true) ||
    (hasCancelAt ? previous.cancel_at != null : subscription.cancel_at != null);
  const nowCanceling = isCanceling(subscription);
  if (!wasCanceling && nowCanceling) return "scheduled";
  if (wasCanceling && !nowCanceling) return "withdrawn";
  return null;
}

function cancellation(context: EventContext, subscription: StripeSubscription): EventDraftInput {
  const periodEnd = subscriptionPeriodEnd(subscription);
  const endsAt = subscription.cancel_at ?? periodEnd;
  return {
    ...subscriptionEventBase(context, subscription),
    type: "CANCELLATION",
    cancel_reason: reasonFromCancellationDetails(subscription.cancellation_details?.reason),
    expiration_at_ms: endsAt == null ? null : endsAt * 1000,
  };
}

function subscriptionUpdatedEvents(
  context: EventContext,
  subscription: StripeSubscription,
  previous: Record<string, unknown>,
): EventDraftInput[] {
  const events: EventDraftInput[] = [];
  const startedNow = previous.status === "incomplete" && (subscription.status === "active" || subscription.status === "trialing");
  if (startedNow) events.push(initialPurchase(context, subscription));

  const changed = productChange(context, subscription, previous);
  if (changed !== null) events.push(changed);

  const cancel = cancellationChange(subscription, previous);
  if (cancel === "scheduled") events.push(cancellation(context, subscription));
  if (cancel === "withdrawn") {
    events.push({ ...subscriptionEventBase(context, subscription), type: "UNCANCELLATION" });
  }

  // A status change reported once, however many payment retries fail along the way.
  const before = typeof previous.status === "string" ? previous.status : null;
  const entered = (status: string) => before !== null && before !== status && subscription.status === status;
  if (entered("past_due") && before !== "unpaid") {
    events.push({ ...subscriptionEventBase(context, subscription), type: "BILLING_ISSUE" });
  }
  if (entered("unpaid")) {
    // Retries exhausted and Stripe tries no more invoices: access ends now.
    events.push(expiration(context, subscription, "BILLING_ERROR", context.createdMs));
  }
  return events;
}

function expiration(context: EventContext, subscription: StripeSubscription, reason: ExpirationReason, atMs: number): EventDraftInput {
  return { ...subscriptionEventBase(context, subscription), type: "EXPIRATION", expiration_reason: reason, expiration_at_ms: atMs };
}

/** Stripe's pause types that come from a failed payment rather than a request or a trial. */
const PAUSED_BY_PAYMENT_FAILURE = new Set(["first_payment_failure", "final_payment_failure"]);

function subscriptionEvents(
  context: EventContext,
  subscription: StripeSubscription,
  previous: Record<string, unknown> | null,
): EventDraftInput[] | null {
  const base = () => subscriptionEventBase(context, subscription);
  switch (context.type) {
    case "customer.subscription.created":
      return subscription.status === "trialing" || subscription.status === "active" ? [initialPurchase(context, subscription)] : [];
    case "customer.subscription.updated":
      return subscriptionUpdatedEvents(context, subscription, previous ?? {});
    case "customer.subscription.deleted":
      if (subscription.status === "incomplete_expired") return [];
      return [
        expiration(
          context,
          subscription,
          reasonFromCancellationDetails(subscription.cancellation_details?.reason),
          (subscription.ended_at ?? context.createdMs / 1000) * 1000,
        ),
      ];
    case "customer.subscription.paused": {
      // A paused subscription gives no service until it resumes (RevenueCat: revoke access on the
      // EXPIRATION, not on SUBSCRIPTION_PAUSED), so both are sent.
      const paused = subscription.status_details?.paused;
      const resumesAt = subscription.pause_collection?.resumes_at;
      const pausedAt = paused?.transitioned_at ?? context.createdMs / 1000;
      const reason = PAUSED_BY_PAYMENT_FAILURE.has(paused?.subscription?.type ?? "") ? "BILLING_ERROR" : "SUBSCRIPTION_PAUSED";
      return [
        { ...base(), type: "SUBSCRIPTION_PAUSED", auto_resume_at_ms: resumesAt == null ? null : resumesAt * 1000 },
        expiration(context, subscription, reason, pausedAt * 1000),
      ];
    }
    case "customer.subscription.resumed":
      return [{ ...base(), type: "SUBSCRIPTION_RESUMED" }];
    default:
      return null;
  }
}

/** customer.subscription.{created,updated,deleted,paused,resumed}; other subscription events are ignored. */
export function mapSubscriptionEvent(
  context: EventContext,
  subscription: StripeSubscription,
  previous: Record<string, unknown> | null,
): Normalized {
  const events = subscriptionEvents(context, subscription, previous);
  if (events === null) {
    return ignored(context, `${context.type} is not a subscription change subgate reports`, subscription.id);
  }
  const state = statePatchFromSubscription(subscription);
  // An object that does not say when access ended (`unpaid`): the EXPIRATION of this update does.
  const expiration = events.find((event) => event.type === "EXPIRATION");
  if (state.expires_at_ms === undefined && expiration?.expiration_at_ms != null) state.expires_at_ms = expiration.expiration_at_ms;
  return subscriptionResult(context, subscription.id, state, events);
}

// ---- invoice.* ----

function invoicePaid(context: EventContext, invoice: StripeInvoice, subscriptionId: string): Normalized {
  // A new period paid: the cycle, or an update that starts one (a trial ended early with
  // `trial_end=now`, a plan change that resets the billing cycle). Prorations alone are no renewal.
  const newPeriod =
    invoice.billing_reason === "subscription_cycle" ||
    (invoice.billing_reason === "subscription_update" && (invoice.amount_paid ?? 0) > 0 && invoiceBillsAPeriod(invoice));
  if (!newPeriod) return eventsOnly(context, subscriptionId, []);
  const periodEnd = invoicePeriodEnd(invoice);
  const expiresAtMsValue = periodEnd === null ? null : periodEnd * 1000;
  const productId = invoiceProductId(invoice);
  const amountPaid = invoice.amount_paid ?? 0;
  const paidAt = invoice.status_transitions?.paid_at ?? invoicePeriodStart(invoice);
  const renewal: EventDraftInput = {
    type: "RENEWAL",
    event_timestamp_ms: context.createdMs,
    product_id: productId,
    period_type: "NORMAL",
    purchased_at_ms: paidAt == null ? null : paidAt * 1000,
    expiration_at_ms: expiresAtMsValue,
    original_transaction_id: subscriptionId,
    transaction_id: invoice.id,
    ...eventMoney(amountPaid, invoice.currency),
  };
  return eventsOnly(context, subscriptionId, [renewal]);
}

/** invoice.paid; invoice.payment_failed, invoice.payment_succeeded and other invoice events are ignored. */
export function mapInvoiceEvent(context: EventContext, invoice: StripeInvoice): Normalized {
  const subscriptionId = invoiceSubscriptionId(invoice);
  if (subscriptionId === null) {
    return ignored(context, `invoice ${invoice.id} does not bill a subscription`, null);
  }
  switch (context.type) {
    case "invoice.paid":
      return invoicePaid(context, invoice, subscriptionId);
    case "invoice.payment_failed":
      // Each retry fails again; the subscription's move to past_due reports the issue once.
      return ignored(
        context,
        "invoice.payment_failed: customer.subscription.updated (to past_due) reports the billing issue once",
        subscriptionId,
      );
    case "invoice.payment_succeeded":
      return ignored(context, "invoice.payment_succeeded duplicates invoice.paid, which subgate maps", subscriptionId);
    default:
      return ignored(context, `${context.type} is not an invoice event subgate reports`, subscriptionId);
  }
}

// ---- charge.refunded ----

/** What lookup.ts found out about a refunded charge's subscription. */
export interface ChargeSubscription {
  subscriptionId: string;
  invoiceId: string;
  productId: string | null;
}

/**
 * A refund is a CANCELLATION with cancel_reason CUSTOMER_SUPPORT and a negative price (RevenueCat's
 * convention). charge.refunded fires for each (partial) refund and `amount_refunded` is cumulative, so the
 * amount of this refund is the growth of `amount_refunded` over `previous_attributes` when Stripe sends it.
 * No state change: a refund alone does not end a Stripe subscription; its own events say if it ends.
 */
export function mapChargeRefunded(
  context: EventContext,
  charge: StripeCharge,
  previous: Record<string, unknown> | null,
  found: ChargeSubscription,
): Normalized {
  const refundedBefore = previous?.amount_refunded;
  const refunded = typeof refundedBefore === "number" ? charge.amount_refunded - refundedBefore : charge.amount_refunded;
  const refund: EventDraftInput = {
    type: "CANCELLATION",
    event_timestamp_ms: context.createdMs,
    cancel_reason: "CUSTOMER_SUPPORT",
    product_id: found.productId,
    original_transaction_id: found.subscriptionId,
    transaction_id: charge.id,
    ...eventMoney(-refunded, charge.currency),
  };
  return eventsOnly(context, found.subscriptionId, [refund]);
}
