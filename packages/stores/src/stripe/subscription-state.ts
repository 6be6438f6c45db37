import type { PeriodType, SubscriptionStatePatch, SubscriptionStatus } from "@subgate/schema";
import { subscriptionPeriodEnd, subscriptionProductId, type StripeSubscription } from "./objects.ts";

/**
 * Stripe subscription status → subgate status. `active` becomes `canceled` while a cancellation is
 * scheduled (see `isCanceling`); Stripe's own `canceled` means it has ended, which subgate calls `expired`.
 * A status Stripe adds later maps to nothing, and the patch then leaves the stored status alone.
 */
const STATUS_MAP: Readonly<Record<string, SubscriptionStatus>> = {
  trialing: "trialing",
  active: "active",
  past_due: "in_billing_retry",
  // Retries are exhausted and Stripe attempts no more invoices: access ends (RevenueCat revokes it).
  unpaid: "expired",
  paused: "paused",
  canceled: "expired",
  incomplete: "unknown",
  incomplete_expired: "expired",
};

/** Will not renew: cancellation at period end, or at a set date (`cancel_at`). */
export function isCanceling(subscription: StripeSubscription): boolean {
  return subscription.cancel_at_period_end === true || subscription.cancel_at != null;
}

/** Access is over: ended by Stripe, or `unpaid` (retries exhausted; Stripe attempts no more invoices). */
export function isEnded(subscription: StripeSubscription): boolean {
  return subscription.status === "canceled" || subscription.status === "incomplete_expired" || subscription.status === "unpaid";
}

export function subgateStatus(subscription: StripeSubscription): SubscriptionStatus | undefined {
  const status = STATUS_MAP[subscription.status];
  return status === "active" && isCanceling(subscription) ? "canceled" : status;
}

/** TRIAL while trialing, and for a subscription that ended before its trial did (never converted). */
export function periodTypeOf(subscription: StripeSubscription): PeriodType {
  if (subscription.status === "trialing") return "TRIAL";
  const { trial_end: trialEnd, ended_at: endedAt } = subscription;
  return isEnded(subscription) && trialEnd != null && endedAt != null && endedAt <= trialEnd ? "TRIAL" : "NORMAL";
}

/**
 * When access ends, in ms. An ended subscription ended at `ended_at`: a subscription canceled immediately
 * keeps its (future) period end in the payload, which is no longer when it expires.
 */
export function expiresAtMs(subscription: StripeSubscription): number | null {
  // Ended: at `ended_at`; `unpaid` has none, and its period end is not when access ended (unknown here).
  if (isEnded(subscription)) return subscription.ended_at != null ? subscription.ended_at * 1000 : null;
  const periodEnd = subscriptionPeriodEnd(subscription);
  // A cancellation at a date before the period ends (`cancel_at`, prorated) ends it then.
  const cancelAt = subscription.cancel_at ?? null;
  const seconds = periodEnd !== null && cancelAt !== null ? Math.min(periodEnd, cancelAt) : (periodEnd ?? cancelAt);
  return seconds === null ? null : seconds * 1000;
}

export function purchasedAtMs(subscription: StripeSubscription): number | null {
  return subscription.start_date != null ? subscription.start_date * 1000 : null;
}

/**
 * What a subscription object says about the subscription. Facts the payload does not carry are left out
 * (not set to null), so they do not overwrite what subgate already knows.
 */
export function statePatchFromSubscription(subscription: StripeSubscription): SubscriptionStatePatch {
  const patch: SubscriptionStatePatch = {
    auto_renew: !isCanceling(subscription) && !isEnded(subscription),
    period_type: periodTypeOf(subscription),
  };
  const status = subgateStatus(subscription);
  if (status !== undefined) patch.status = status;
  const productId = subscriptionProductId(subscription);
  if (productId !== null) patch.product_id = productId;
  const expiresAt = expiresAtMs(subscription);
  if (expiresAt !== null) patch.expires_at_ms = expiresAt;
  const purchasedAt = purchasedAtMs(subscription);
  if (purchasedAt !== null) patch.purchased_at_ms = purchasedAt;
  return patch;
}
