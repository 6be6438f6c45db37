import type { Normalized } from "../adapter.ts";
import { ONE_TIME_PRODUCT_NOTIFICATION_TYPES } from "./notification.ts";
import { productEnvironment, productState, productStatus, purchaseOnceKey, storeUserIdOf } from "./purchase-facts.ts";
import { PRODUCT_PURCHASE_STATE, ProductPurchaseSchema, parseProductPurchase } from "./purchase-schemas.ts";

/*
 * One-time products (oneTimeProductNotification) with Google's purchases.products.get answer. A purchase
 * token of a one-time product is tracked like a subscription key, if the app tracks it. ProductPurchase
 * carries no price, so these events carry no money.
 */

export interface OneTimeProductNotificationInput {
  /** oneTimeProductNotification.notificationType: 1 purchased, 2 canceled (a pending purchase). */
  notificationType: number;
  purchaseToken: string;
  /** The notification's product id, for an answer that leaves productId out ("may not be present"). */
  sku: string;
  eventTimeMillis: number;
  /** The answer of purchases.products.get for the token, as received (untrusted). */
  purchase: unknown;
  /** When the worker called the API: the time the answer's state held. */
  calledAt: Date;
}

/**
 * 1 ONE_TIME_PRODUCT_PURCHASED → NON_RENEWING_PURCHASE once the answer says purchased; nothing while it
 * is pending (Google sends the notification again when the payment completes) or once it is canceled.
 * 2 ONE_TIME_PRODUCT_CANCELED → no event: either a pending purchase that was never paid (nothing was
 * bought, nothing to cancel) or a revoked one, whose refund the voided purchase notification reports
 * (CANCELLATION with the money); the state says access ended. Throws GooglePurchaseResponseError when
 * the answer does not fit; a type Google adds later is ignored.
 */
export function mapOneTimeProductNotification(input: OneTimeProductNotificationInput): Normalized {
  const { notificationType: type, purchaseToken: token } = input;
  if (!Object.hasOwn(ONE_TIME_PRODUCT_NOTIFICATION_TYPES, type)) {
    const readable = ProductPurchaseSchema.safeParse(input.purchase);
    return {
      kind: "ignored",
      reason: `Google one-time product notification type ${type} is not one subgate maps`,
      warn: true,
      environment: readable.success ? productEnvironment(readable.data) : null,
      subscriptionKey: token,
    };
  }
  const purchase = parseProductPurchase(input.purchase);
  const productId = purchase.productId ?? input.sku;
  const status = productStatus(purchase);
  const bought = type === 1 && purchase.purchaseState === PRODUCT_PURCHASE_STATE.purchased;
  const events = bought
    ? [
        {
          type: "NON_RENEWING_PURCHASE" as const,
          event_timestamp_ms: input.eventTimeMillis,
          product_id: productId,
          period_type: "NORMAL" as const,
          purchased_at_ms: purchase.purchaseTimeMillis,
          transaction_id: purchase.orderId,
          original_transaction_id: token,
          country_code: purchase.regionCode,
          store_user_id: storeUserIdOf(purchase),
          once_key: purchaseOnceKey(token),
        },
      ]
    : [];
  return {
    kind: "subscription",
    subscriptionKey: token,
    environment: productEnvironment(purchase),
    storeEventAt: new Date(input.eventTimeMillis),
    stateAt: input.calledAt,
    state: productState(purchase, productId, status),
    stateRank: 0,
    events,
    supersedesKey: null,
  };
}
