import type { Environment, EventDraftInput, SubscriptionStatePatch } from "@subgate/schema";
import type { Normalized } from "../adapter.ts";
import { VOIDED_PRODUCT_TYPES, VOIDED_REFUND_TYPES } from "./notification.ts";
import {
  currentLineItem,
  eventMoney,
  givesAccess,
  itemProductId,
  periodCharge,
  periodTypeOf,
  productEnvironment,
  productState,
  statusOf,
  storeUserIdOf,
  subscriptionEnvironment,
  subscriptionState,
  subscriptionStoreUserId,
} from "./purchase-facts.ts";
import { parseProductPurchase, parseSubscriptionPurchase } from "./purchase-schemas.ts";

/*
 * Voided purchases (voidedPurchaseNotification): a refund, a chargeback or a revocation of an order.
 * As RevenueCat reports a refund, and as docs/API.md says: a CANCELLATION with cancel_reason
 * CUSTOMER_SUPPORT and a negative price. A full refund ends access (revoked); a quantity-based partial
 * refund (one-time products bought several at once) leaves the rest owned.
 */

/** The numbers of notification.ts's VOIDED_PRODUCT_TYPES and VOIDED_REFUND_TYPES that the mapping tells apart. */
const VOIDED_PRODUCT_TYPE = { subscription: 1 } as const;
const VOIDED_REFUND_TYPE = { full: 1 } as const;

export interface VoidedPurchaseInput {
  purchaseToken: string;
  /** The order refunded (voidedPurchaseNotification.orderId). */
  orderId: string;
  /** 1 a subscription, 2 a one-time product. */
  productType: number;
  /** 1 a full refund, 2 a quantity-based partial refund. */
  refundType: number;
  eventTimeMillis: number;
  /**
   * Google's answer for the token, when it still gives one: purchases.subscriptionsv2.get for a
   * subscription, purchases.products.get for a one-time product, with the time of the call. Null when
   * there is none (Google answers only until 60 days after a subscription expires).
   */
  answer: { purchase: unknown; calledAt: Date } | null;
  /** The environment without an answer (a voided notification names none). Default: production. */
  environment?: Environment;
  /**
   * Whether the push carried a verified OIDC token. Without an answer, a full refund revokes only
   * then: an unauthenticated push is not proof enough to end a subscription.
   */
  authenticated?: boolean;
}

/** What a voided notification alone says; the answer adds the product, the money and the customer. */
function refundEvent(input: VoidedPurchaseInput, fields: Partial<EventDraftInput> = {}): EventDraftInput {
  return {
    type: "CANCELLATION",
    event_timestamp_ms: input.eventTimeMillis,
    cancel_reason: "CUSTOMER_SUPPORT",
    transaction_id: input.orderId,
    original_transaction_id: input.purchaseToken,
    // A full refund voids an order once; partial refunds of one order may come several times, each its own.
    once_key: input.refundType === VOIDED_REFUND_TYPE.full ? `refund:${input.orderId}` : null,
    ...fields,
  };
}

type Mapped = { event: EventDraftInput; state: SubscriptionStatePatch; environment: Environment };

/**
 * A subscription's order refunded. The money is known only for the current period's order in its base
 * phase (or a free trial, 0): recurringPrice is the plan's price, not what an older or discounted order
 * charged. A full refund revokes unless the answer shows the subscription still gives access (the refund
 * of an earlier period, or one that kept the entitlement), or the token was replaced by a newer purchase:
 * its key names that purchase's subscription now, which this refund does not end.
 */
function subscriptionRefund(input: VoidedPurchaseInput, answer: NonNullable<VoidedPurchaseInput["answer"]>): Mapped {
  const purchase = parseSubscriptionPurchase(answer.purchase);
  const current = currentLineItem(purchase);
  const refunded = purchase.lineItems.find((item) => item.latestSuccessfulOrderId === input.orderId) ?? current;
  const full = input.refundType === VOIDED_REFUND_TYPE.full;
  const charge = full && refunded.latestSuccessfulOrderId === input.orderId ? periodCharge(refunded) : null;
  const event = refundEvent(input, {
    product_id: itemProductId(refunded),
    period_type: periodTypeOf(refunded),
    purchased_at_ms: purchase.startTime,
    expiration_at_ms: refunded.expiryTime,
    country_code: purchase.regionCode,
    store_user_id: subscriptionStoreUserId(purchase),
    ...(charge === null ? {} : eventMoney(charge, -1)),
  });
  const status = statusOf(purchase, current, answer.calledAt.getTime());
  const replaced = purchase.canceledStateContext?.replacementCancellation === true;
  if (!full || replaced || givesAccess(status)) return { event, state: {}, environment: subscriptionEnvironment(purchase) };
  const state = subscriptionState(purchase, current, "revoked");
  if (state.expires_at_ms !== undefined && state.expires_at_ms !== null) {
    state.expires_at_ms = Math.min(state.expires_at_ms, input.eventTimeMillis);
  }
  return { event, state, environment: subscriptionEnvironment(purchase) };
}

/** A one-time product's order refunded; ProductPurchase carries no price, so the amount is not known. */
function productRefund(input: VoidedPurchaseInput, answer: NonNullable<VoidedPurchaseInput["answer"]>): Mapped {
  const purchase = parseProductPurchase(answer.purchase);
  const event = refundEvent(input, {
    product_id: purchase.productId,
    period_type: "NORMAL",
    purchased_at_ms: purchase.purchaseTimeMillis,
    country_code: purchase.regionCode,
    store_user_id: storeUserIdOf(purchase),
  });
  const full = input.refundType === VOIDED_REFUND_TYPE.full;
  const state = full ? productState(purchase, purchase.productId, "revoked") : {};
  return { event, state, environment: productEnvironment(purchase) };
}

function ignoredVoided(input: VoidedPurchaseInput, reason: string): Normalized {
  return { kind: "ignored", reason, warn: true, environment: null, subscriptionKey: input.purchaseToken };
}

/**
 * Maps a voided purchase notification, with Google's answer for the token when there is one. Throws
 * GooglePurchaseResponseError when the answer does not fit; a product or refund type Google adds later
 * is ignored.
 */
export function mapVoidedPurchase(input: VoidedPurchaseInput): Normalized {
  if (!Object.hasOwn(VOIDED_PRODUCT_TYPES, input.productType)) {
    return ignoredVoided(input, `Google voided purchase product type ${input.productType} is not one subgate maps`);
  }
  if (!Object.hasOwn(VOIDED_REFUND_TYPES, input.refundType)) {
    return ignoredVoided(input, `Google voided purchase refund type ${input.refundType} is not one subgate maps`);
  }
  const base = {
    kind: "subscription" as const,
    subscriptionKey: input.purchaseToken,
    storeEventAt: new Date(input.eventTimeMillis),
    stateRank: 0,
  };
  const answer = input.answer;
  if (answer === null) {
    // All the notification says: the order, and whether the refund was whole (which ends access).
    // Ended on its word alone only when the push proved it came from Google: without push
    // authentication anyone with the URL could revoke a subscription Google still serves.
    const revokes = input.refundType === VOIDED_REFUND_TYPE.full && input.authenticated === true;
    const state: SubscriptionStatePatch = revokes ? { status: "revoked" } : {};
    return { ...base, environment: input.environment ?? "production", state, events: [refundEvent(input)], supersedesKey: null };
  }
  const mapped = input.productType === VOIDED_PRODUCT_TYPE.subscription ? subscriptionRefund(input, answer) : productRefund(input, answer);
  return {
    ...base,
    environment: mapped.environment,
    stateAt: answer.calledAt,
    state: mapped.state,
    events: [mapped.event],
    supersedesKey: null,
  };
}
