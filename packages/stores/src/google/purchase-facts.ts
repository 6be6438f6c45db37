import { createHash } from "node:crypto";
import type { Environment, PeriodType, SubscriptionStatePatch, SubscriptionStatus } from "@subgate/schema";
import type { GoogleMoney, ProductPurchase, SubscriptionLineItem, SubscriptionPurchaseV2 } from "./purchase-schemas.ts";
import { PRODUCT_PURCHASE_STATE, PRODUCT_PURCHASE_TYPE_TEST } from "./purchase-schemas.ts";

/*
 * What a subscriptionsv2 answer says, in subgate's terms: the line item that stands for the
 * subscription, its product in RevenueCat's form, its period type, status, money and the state as a
 * whole. The table with the reasons is docs/GOOGLE-MAPPING.md.
 */

/**
 * The once_key of a token's purchase event: a token is bought once, so a repeated notification must not
 * report a second purchase. The token is digested because a key holds 512 characters and a token may be
 * as long on its own.
 */
export function purchaseOnceKey(token: string): string {
  return `purchase:${createHash("sha256").update(token).digest("base64url")}`;
}

/** A test purchase (a license tester's) is sandbox; Google names no other environment. */
export function subscriptionEnvironment(purchase: SubscriptionPurchaseV2): Environment {
  return purchase.testPurchase ? "sandbox" : "production";
}

export function productEnvironment(purchase: ProductPurchase): Environment {
  return purchase.purchaseType === PRODUCT_PURCHASE_TYPE_TEST ? "sandbox" : "production";
}

/**
 * The item that stands for the subscription: the one whose access lasts longest (the latest
 * expiryTime), among the items the customer owns. An item without latestSuccessfulOrderId is not owned
 * yet (Google's example: the item a deferred replacement switches to at the next renewal), so it counts
 * only when no item is owned (a pending purchase). Ties go to the first listed.
 */
export function currentLineItem(purchase: SubscriptionPurchaseV2): SubscriptionLineItem {
  const owned = purchase.lineItems.filter((item) => item.latestSuccessfulOrderId !== null);
  const candidates = owned.length > 0 ? owned : purchase.lineItems;
  let current = candidates[0] as SubscriptionLineItem;
  for (const item of candidates) {
    if ((item.expiryTime ?? -1) > (current.expiryTime ?? -1)) current = item;
  }
  return current;
}

/** RevenueCat's product id for a Play base plan: `subscriptionId:basePlanId`; the bare id when Google names no base plan. */
export function rcProductId(productId: string, basePlanId: string | null): string {
  return basePlanId === null ? productId : `${productId}:${basePlanId}`;
}

export function itemProductId(item: SubscriptionLineItem): string {
  return rcProductId(item.productId, item.offerDetails?.basePlanId ?? null);
}

/**
 * RevenueCat's period_type. A prepaid plan is PREPAID; otherwise the item's offer phase says it: a free
 * trial is TRIAL, an introductory price INTRO, the base price NORMAL, and a proration period (time
 * credited by a plan change, charged at no offer's price) NORMAL too. Without offerPhase, a base plan
 * with no offer is NORMAL; an offer whose phase Google does not say is unknown (null), not guessed.
 */
export function periodTypeOf(item: SubscriptionLineItem): PeriodType | null {
  if (item.prepaidPlan) return "PREPAID";
  switch (item.offerPhase) {
    case "free_trial":
      return "TRIAL";
    case "introductory":
      return "INTRO";
    case "base":
    case "proration":
      return "NORMAL";
    default:
      return item.offerDetails?.offerId ? null : "NORMAL";
  }
}

/** subscriptionState values (SubscriptionPurchaseV2). */
export const SUBSCRIPTION_STATE = {
  unspecified: "SUBSCRIPTION_STATE_UNSPECIFIED",
  pending: "SUBSCRIPTION_STATE_PENDING",
  active: "SUBSCRIPTION_STATE_ACTIVE",
  paused: "SUBSCRIPTION_STATE_PAUSED",
  inGracePeriod: "SUBSCRIPTION_STATE_IN_GRACE_PERIOD",
  onHold: "SUBSCRIPTION_STATE_ON_HOLD",
  canceled: "SUBSCRIPTION_STATE_CANCELED",
  expired: "SUBSCRIPTION_STATE_EXPIRED",
  pendingPurchaseCanceled: "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED",
} as const;

/** A pending purchase awaits its first payment: it neither gives access nor replaces anything yet. */
export function isPending(purchase: SubscriptionPurchaseV2): boolean {
  return (
    purchase.subscriptionState === SUBSCRIPTION_STATE.pending || purchase.subscriptionState === SUBSCRIPTION_STATE.pendingPurchaseCanceled
  );
}

/**
 * subgate's status from Google's state at the time of the call (`atMs`). ON_HOLD is Google's account
 * hold: the payment failed, the grace period (if any) is over, access is off and Google keeps retrying,
 * which is subgate's in_billing_retry. CANCELED still gives access until the expiry, so it is expired
 * once that has passed. PENDING (awaiting the first payment) is unknown, as Stripe's `incomplete`; a
 * canceled pending purchase never started, so it is expired. Any state Google adds later is unknown.
 */
export function statusOf(purchase: SubscriptionPurchaseV2, item: SubscriptionLineItem, atMs: number): SubscriptionStatus {
  switch (purchase.subscriptionState) {
    case SUBSCRIPTION_STATE.active:
      return item.offerPhase === "free_trial" ? "trialing" : "active";
    case SUBSCRIPTION_STATE.inGracePeriod:
      return "in_grace_period";
    case SUBSCRIPTION_STATE.onHold:
      return "in_billing_retry";
    case SUBSCRIPTION_STATE.paused:
      return "paused";
    case SUBSCRIPTION_STATE.canceled:
      return item.expiryTime !== null && item.expiryTime <= atMs ? "expired" : "canceled";
    case SUBSCRIPTION_STATE.expired:
    case SUBSCRIPTION_STATE.pendingPurchaseCanceled:
      return "expired";
    default:
      return "unknown";
  }
}

/** Statuses in which the customer still has the subscription's access. */
const WITH_ACCESS: ReadonlySet<SubscriptionStatus> = new Set(["trialing", "active", "in_grace_period", "canceled"]);

export function givesAccess(status: SubscriptionStatus): boolean {
  return WITH_ACCESS.has(status);
}

/** The app's user link: the obfuscated account id the app set at purchase, else the profile id. */
export function storeUserIdOf(identifiers: {
  obfuscatedExternalAccountId: string | null;
  obfuscatedExternalProfileId: string | null;
}): string | null {
  return identifiers.obfuscatedExternalAccountId ?? identifiers.obfuscatedExternalProfileId;
}

export function subscriptionStoreUserId(purchase: SubscriptionPurchaseV2): string | null {
  return purchase.externalAccountIdentifiers === null ? null : storeUserIdOf(purchase.externalAccountIdentifiers);
}

/** Whether auto-renew is on: the auto-renewing plan's flag (absent is false, proto3's default); a prepaid plan never renews. */
export function autoRenewOf(item: SubscriptionLineItem): boolean | null {
  if (item.autoRenewingPlan !== null) return item.autoRenewingPlan.autoRenewEnabled;
  return item.prepaidPlan ? false : null;
}

export interface EventMoney {
  price: number | null;
  price_in_purchased_currency: number;
  currency: string;
}

/** `price` is the USD amount: known when Google charged in USD (or nothing at all); subgate converts no currency. */
export function eventMoney(money: GoogleMoney, sign: 1 | -1 = 1): EventMoney {
  const amount = sign * money.amount + 0;
  return { price: money.currency === "USD" || amount === 0 ? amount : null, price_in_purchased_currency: amount, currency: money.currency };
}

/**
 * What the item's current period cost, when the answer says: recurringPrice is the plan's price
 * without discounts, so it is the charge only in the base phase (or with no offer); a free trial cost 0;
 * an introductory price, a proration period or a prepaid plan cost what the answer does not say (the
 * Orders API would), so nothing.
 */
export function periodCharge(item: SubscriptionLineItem): GoogleMoney | null {
  const recurring = item.autoRenewingPlan?.recurringPrice ?? null;
  if (recurring === null) return null;
  const period = periodTypeOf(item);
  if (period === "TRIAL") return { currency: recurring.currency, amount: 0 };
  return period === "NORMAL" && item.offerPhase !== "proration" ? recurring : null;
}

/**
 * The subscription's state as a whole, from the answer. A field the answer does not carry is left out,
 * so it keeps its stored value (a pending purchase has no expiry yet; no account id leaves a stored link).
 */
export function subscriptionState(
  purchase: SubscriptionPurchaseV2,
  item: SubscriptionLineItem,
  status: SubscriptionStatus,
): SubscriptionStatePatch {
  const patch: SubscriptionStatePatch = { status, product_id: itemProductId(item) };
  if (item.expiryTime !== null) patch.expires_at_ms = item.expiryTime;
  const autoRenew = autoRenewOf(item);
  if (autoRenew !== null) patch.auto_renew = autoRenew;
  const period = periodTypeOf(item);
  if (period !== null) patch.period_type = period;
  if (purchase.startTime !== null) patch.purchased_at_ms = purchase.startTime;
  const storeUserId = subscriptionStoreUserId(purchase);
  if (storeUserId !== null) patch.store_user_id = storeUserId;
  return patch;
}

/** A one-time product's status: owned once purchased, not owned once canceled, unknown while pending. */
export function productStatus(purchase: ProductPurchase): SubscriptionStatus {
  if (purchase.purchaseState === PRODUCT_PURCHASE_STATE.purchased) return "active";
  return purchase.purchaseState === PRODUCT_PURCHASE_STATE.canceled ? "expired" : "unknown";
}

/** A one-time product's state: it never expires and never renews. */
export function productState(purchase: ProductPurchase, productId: string | null, status: SubscriptionStatus): SubscriptionStatePatch {
  const patch: SubscriptionStatePatch = { status, auto_renew: false, period_type: "NORMAL" };
  if (productId !== null) patch.product_id = productId;
  if (purchase.purchaseTimeMillis !== null) patch.purchased_at_ms = purchase.purchaseTimeMillis;
  const storeUserId = storeUserIdOf(purchase);
  if (storeUserId !== null) patch.store_user_id = storeUserId;
  return patch;
}
