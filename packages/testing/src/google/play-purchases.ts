import type { androidpublisher_v3 } from "@googleapis/androidpublisher";

export type SubscriptionPurchaseV2 = androidpublisher_v3.Schema$SubscriptionPurchaseV2;
export type SubscriptionPurchaseLineItem = androidpublisher_v3.Schema$SubscriptionPurchaseLineItem;
export type ProductPurchase = androidpublisher_v3.Schema$ProductPurchase;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Google writes times as RFC 3339 in UTC with fractional seconds. */
const rfc3339 = (ms: number): string => new Date(ms).toISOString();

/**
 * One line item of an auto-renewing subscription, as subscriptionsv2.get answers it: a monthly base
 * plan at 9.99 USD that renews, bought at its base price, 27 days before it expires.
 */
export function subscriptionLineItem(overrides: Partial<SubscriptionPurchaseLineItem> = {}): SubscriptionPurchaseLineItem {
  return {
    productId: "premium",
    expiryTime: rfc3339(Date.now() + 27 * DAY_MS),
    autoRenewingPlan: {
      autoRenewEnabled: true,
      // Money: units as a string (int64 in JSON), nanos a billionth of a unit.
      recurringPrice: { currencyCode: "USD", units: "9", nanos: 990_000_000 },
    },
    offerDetails: { basePlanId: "monthly", offerTags: [] },
    latestSuccessfulOrderId: "GPA.1234-5678-9012-34567",
    offerPhase: { basePrice: {} },
    ...overrides,
  };
}

/** An active, acknowledged auto-renewing subscription with one line item (overrides replace whole fields). */
export function subscriptionPurchase(overrides: Partial<SubscriptionPurchaseV2> = {}): SubscriptionPurchaseV2 {
  return {
    kind: "androidpublisher#subscriptionPurchaseV2",
    regionCode: "US",
    startTime: rfc3339(Date.now() - 3 * DAY_MS),
    subscriptionState: "SUBSCRIPTION_STATE_ACTIVE",
    acknowledgementState: "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED",
    lineItems: [subscriptionLineItem()],
    ...overrides,
  };
}

/**
 * A one-time product purchase as products.get answers it: purchased a minute ago, not consumed,
 * acknowledged. Google's enums here are numbers (purchaseState 0 purchased, 1 canceled, 2 pending;
 * consumptionState 0 yet to be consumed; acknowledgementState 1 acknowledged); purchaseType is absent
 * for a real purchase (0 test, 1 promo, 2 rewarded); productId and purchaseToken are usually absent.
 */
export function productPurchase(overrides: Partial<ProductPurchase> = {}): ProductPurchase {
  return {
    kind: "androidpublisher#productPurchase",
    purchaseTimeMillis: String(Date.now() - 60_000),
    purchaseState: 0,
    consumptionState: 0,
    developerPayload: "",
    orderId: "GPA.3312-4567-8901-23456",
    acknowledgementState: 1,
    regionCode: "US",
    ...overrides,
  };
}
