import { EventDraftSchema } from "@subgate/schema";
import { describe, expect, it } from "vitest";
import { NormalizedSchema, type Normalized } from "../src/adapter.ts";
import { normalizeAppleV2 } from "../src/apple/v2/mapping.ts";
import {
  AppleNotificationPayloadSchema,
  AppleRenewalInfoSchema,
  AppleTransactionSchema,
  type AppleRenewalInfo,
  type AppleTransaction,
  type DecodedAppleNotification,
} from "../src/apple/v2/payloads.ts";

const DAY = 86_400_000;
const PURCHASED = Date.UTC(2026, 0, 1);
const EXPIRES = Date.UTC(2026, 1, 1);
const SIGNED = Date.UTC(2026, 0, 15, 12);
const ORIGINAL_ID = "2000000812345678";
const TRANSACTION_ID = "2000000898765432";
const TOKEN = "6f1c2b9e-3d4a-4b8c-9e7f-1a2b3c4d5e6f";
const MONTHLY = "com.example.pro.monthly";
const YEARLY = "com.example.pro.yearly";
const BASIC = "com.example.basic.monthly";

function transaction(overrides: Record<string, unknown> = {}): AppleTransaction {
  return AppleTransactionSchema.parse({
    originalTransactionId: ORIGINAL_ID,
    transactionId: TRANSACTION_ID,
    webOrderLineItemId: "2000000055512345",
    bundleId: "com.example.app",
    productId: MONTHLY,
    subscriptionGroupIdentifier: "21000000",
    purchaseDate: PURCHASED,
    originalPurchaseDate: PURCHASED,
    expiresDate: EXPIRES,
    quantity: 1,
    type: "Auto-Renewable Subscription",
    appAccountToken: TOKEN,
    inAppOwnershipType: "PURCHASED",
    signedDate: SIGNED,
    environment: "Sandbox",
    storefront: "USA",
    storefrontId: "143441",
    transactionReason: "PURCHASE",
    currency: "USD",
    price: 9990,
    ...overrides,
  });
}

function renewalInfo(overrides: Record<string, unknown> = {}): AppleRenewalInfo {
  return AppleRenewalInfoSchema.parse({
    originalTransactionId: ORIGINAL_ID,
    autoRenewProductId: MONTHLY,
    productId: MONTHLY,
    autoRenewStatus: 1,
    signedDate: SIGNED,
    environment: "Sandbox",
    recentSubscriptionStartDate: PURCHASED,
    renewalDate: EXPIRES,
    ...overrides,
  });
}

interface NotificationOptions {
  subtype?: string;
  transaction?: AppleTransaction | null;
  renewal?: AppleRenewalInfo | null;
  data?: Record<string, unknown>;
  environment?: string;
}

function notification(type: string, options: NotificationOptions = {}): DecodedAppleNotification {
  const payload = AppleNotificationPayloadSchema.parse({
    notificationType: type,
    ...(options.subtype === undefined ? {} : { subtype: options.subtype }),
    notificationUUID: "b4f1e8a2-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
    version: "2.0",
    signedDate: SIGNED,
    data: {
      bundleId: "com.example.app",
      bundleVersion: "42",
      environment: options.environment ?? "Sandbox",
      signedTransactionInfo: "<verified>",
      signedRenewalInfo: "<verified>",
      status: 1,
      ...options.data,
    },
  });
  return {
    payload,
    transaction: options.transaction === undefined ? transaction() : options.transaction,
    renewal: options.renewal === undefined ? renewalInfo() : options.renewal,
  };
}

/** Maps, and checks the result is one subgate can store (the shared checks' schema). */
function normalize(decoded: DecodedAppleNotification): Normalized {
  const result = normalizeAppleV2(decoded);
  const checked = NormalizedSchema.safeParse(result);
  expect(checked.success, checked.success ? "" : JSON.stringify(checked.error.issues)).toBe(true);
  return result;
}

type SubscriptionResult = Extract<Normalized, { kind: "subscription" }>;

function subscription(decoded: DecodedAppleNotification): SubscriptionResult {
  const result = normalize(decoded);
  if (result.kind !== "subscription") throw new Error(`expected a subscription result, got ${JSON.stringify(result)}`);
  return result;
}

/** The one event of a notification, with the draft's defaults filled in (null for what it does not say). */
function onlyEvent(decoded: DecodedAppleNotification) {
  const result = subscription(decoded);
  expect(result.events).toHaveLength(1);
  return { result, event: EventDraftSchema.parse(result.events[0]) };
}

/** The state a plain active monthly subscription has, with `status`. */
function fullState(status: string, overrides: Record<string, unknown> = {}) {
  return {
    status,
    product_id: MONTHLY,
    period_type: "NORMAL",
    expires_at_ms: EXPIRES,
    purchased_at_ms: PURCHASED,
    auto_renew: true,
    store_user_id: TOKEN,
    ...overrides,
  };
}

describe("Apple V2 mapping", () => {
  describe("SUBSCRIBED", () => {
    it("INITIAL_BUY → INITIAL_PURCHASE with the transaction's fields and price; active", () => {
      const { result, event } = onlyEvent(notification("SUBSCRIBED", { subtype: "INITIAL_BUY" }));
      expect(result).toMatchObject({
        kind: "subscription",
        subscriptionKey: ORIGINAL_ID,
        environment: "sandbox",
        storeEventAt: new Date(SIGNED),
        stateRank: 0,
      });
      expect(event).toEqual({
        ...EventDraftSchema.parse({ type: "INITIAL_PURCHASE", event_timestamp_ms: SIGNED }),
        type: "INITIAL_PURCHASE",
        event_timestamp_ms: SIGNED,
        product_id: MONTHLY,
        period_type: "NORMAL",
        purchased_at_ms: PURCHASED,
        expiration_at_ms: EXPIRES,
        transaction_id: TRANSACTION_ID,
        original_transaction_id: ORIGINAL_ID,
        is_family_share: false,
        country_code: "US",
        offer_code: null,
        store_user_id: TOKEN,
        price: 9.99,
        price_in_purchased_currency: 9.99,
        currency: "USD",
      });
      expect(result.state).toEqual(fullState("active"));
    });

    it("INITIAL_BUY with a free trial → INITIAL_PURCHASE, period_type TRIAL, price 0; trialing", () => {
      const trial = transaction({ offerType: 1, offerDiscountType: "FREE_TRIAL", offerPeriod: "P1W", price: 0 });
      const { result, event } = onlyEvent(notification("SUBSCRIBED", { subtype: "INITIAL_BUY", transaction: trial }));
      expect(event).toMatchObject({
        type: "INITIAL_PURCHASE",
        period_type: "TRIAL",
        price: 0,
        price_in_purchased_currency: 0,
        currency: "USD",
      });
      expect(result.state).toEqual(fullState("trialing", { period_type: "TRIAL" }));
    });

    it("INITIAL_BUY with an introductory price → INITIAL_PURCHASE, period_type INTRO; active", () => {
      const intro = transaction({ offerType: 1, offerDiscountType: "PAY_AS_YOU_GO", price: 1990 });
      const { result, event } = onlyEvent(notification("SUBSCRIBED", { subtype: "INITIAL_BUY", transaction: intro }));
      expect(event).toMatchObject({ type: "INITIAL_PURCHASE", period_type: "INTRO", price: 1.99 });
      expect(result.state).toMatchObject({ status: "active", period_type: "INTRO" });
    });

    it("RESUBSCRIBE → RENEWAL (RevenueCat's event for a lapsed subscriber's return); active", () => {
      const { result, event } = onlyEvent(notification("SUBSCRIBED", { subtype: "RESUBSCRIBE" }));
      expect(event).toMatchObject({ type: "RENEWAL", product_id: MONTHLY, price: 9.99, currency: "USD", transaction_id: TRANSACTION_ID });
      expect(result.state).toEqual(fullState("active"));
    });
  });

  describe("DID_RENEW", () => {
    const renewed = transaction({ transactionReason: "RENEWAL", purchaseDate: EXPIRES - 31 * DAY });

    it("without a subtype → RENEWAL with the price; active", () => {
      const { result, event } = onlyEvent(notification("DID_RENEW", { transaction: renewed }));
      expect(event).toMatchObject({
        type: "RENEWAL",
        period_type: "NORMAL",
        purchased_at_ms: EXPIRES - 31 * DAY,
        expiration_at_ms: EXPIRES,
        price: 9.99,
        price_in_purchased_currency: 9.99,
      });
      expect(result.state).toEqual(fullState("active", { purchased_at_ms: EXPIRES - 31 * DAY }));
    });

    it("BILLING_RECOVERY → RENEWAL; active", () => {
      const { result, event } = onlyEvent(notification("DID_RENEW", { subtype: "BILLING_RECOVERY", transaction: renewed }));
      expect(event.type).toBe("RENEWAL");
      expect(result.state).toMatchObject({ status: "active", auto_renew: true });
    });
  });

  describe("DID_CHANGE_RENEWAL_STATUS", () => {
    it("AUTO_RENEW_DISABLED → CANCELLATION, UNSUBSCRIBE, ending at the period end; canceled", () => {
      const { result, event } = onlyEvent(
        notification("DID_CHANGE_RENEWAL_STATUS", { subtype: "AUTO_RENEW_DISABLED", renewal: renewalInfo({ autoRenewStatus: 0 }) }),
      );
      expect(event).toMatchObject({ type: "CANCELLATION", cancel_reason: "UNSUBSCRIBE", expiration_at_ms: EXPIRES, price: null });
      expect(result.state).toEqual(fullState("canceled", { auto_renew: false }));
    });

    it("AUTO_RENEW_DISABLED after a refund (the transaction is revoked) → CANCELLATION, CUSTOMER_SUPPORT; revoked", () => {
      const revokedAt = SIGNED - 60_000;
      const refunded = transaction({ revocationDate: revokedAt, revocationReason: 0, revocationType: "REFUND_FULL" });
      const { result, event } = onlyEvent(
        notification("DID_CHANGE_RENEWAL_STATUS", {
          subtype: "AUTO_RENEW_DISABLED",
          transaction: refunded,
          renewal: renewalInfo({ autoRenewStatus: 0 }),
        }),
      );
      expect(event).toMatchObject({ type: "CANCELLATION", cancel_reason: "CUSTOMER_SUPPORT", expiration_at_ms: revokedAt });
      expect(result.state).toMatchObject({ status: "revoked", auto_renew: false, expires_at_ms: revokedAt });
    });

    it("AUTO_RENEW_DISABLED during a billing retry keeps in_billing_retry (access is already off)", () => {
      const lapsed = transaction({ expiresDate: SIGNED - DAY });
      const retrying = renewalInfo({ autoRenewStatus: 0, isInBillingRetryPeriod: true, expirationIntent: 2 });
      const { result, event } = onlyEvent(
        notification("DID_CHANGE_RENEWAL_STATUS", { subtype: "AUTO_RENEW_DISABLED", transaction: lapsed, renewal: retrying }),
      );
      expect(event).toMatchObject({ type: "CANCELLATION", cancel_reason: "UNSUBSCRIBE" });
      expect(result.state).toMatchObject({ status: "in_billing_retry", auto_renew: false });
    });

    it("AUTO_RENEW_ENABLED → UNCANCELLATION; active", () => {
      const { result, event } = onlyEvent(notification("DID_CHANGE_RENEWAL_STATUS", { subtype: "AUTO_RENEW_ENABLED" }));
      expect(event).toMatchObject({ type: "UNCANCELLATION", product_id: MONTHLY, expiration_at_ms: EXPIRES });
      expect(result.state).toEqual(fullState("active"));
    });

    it("AUTO_RENEW_ENABLED during a free trial → trialing", () => {
      const trial = transaction({ offerType: 1, offerDiscountType: "FREE_TRIAL", price: 0 });
      const { result } = onlyEvent(notification("DID_CHANGE_RENEWAL_STATUS", { subtype: "AUTO_RENEW_ENABLED", transaction: trial }));
      expect(result.state).toMatchObject({ status: "trialing", period_type: "TRIAL" });
    });
  });

  describe.each(["DID_CHANGE_RENEWAL_PREF", "OFFER_REDEEMED"])("%s", (type) => {
    it("UPGRADE → PRODUCT_CHANGE taking effect now: the state is the new transaction's", () => {
      const upgraded = transaction({
        productId: YEARLY,
        transactionId: "2000000811112222",
        expiresDate: SIGNED + 365 * DAY,
        purchaseDate: SIGNED,
        price: 99990,
      });
      const renewal = renewalInfo({ autoRenewProductId: YEARLY, productId: YEARLY });
      const { result, event } = onlyEvent(notification(type, { subtype: "UPGRADE", transaction: upgraded, renewal }));
      expect(event).toMatchObject({
        type: "PRODUCT_CHANGE",
        product_id: null,
        new_product_id: YEARLY,
        transaction_id: "2000000811112222",
        expiration_at_ms: SIGNED + 365 * DAY,
      });
      expect(result.state).toEqual(fullState("active", { product_id: YEARLY, expires_at_ms: SIGNED + 365 * DAY, purchased_at_ms: SIGNED }));
    });

    it("UPGRADE reported on the old transaction (isUpgraded) → PRODUCT_CHANGE from it; only the product changes", () => {
      const old = transaction({ isUpgraded: true });
      const renewal = renewalInfo({ autoRenewProductId: YEARLY, productId: YEARLY });
      const { result, event } = onlyEvent(notification(type, { subtype: "UPGRADE", transaction: old, renewal }));
      expect(event).toMatchObject({ type: "PRODUCT_CHANGE", product_id: MONTHLY, new_product_id: YEARLY });
      expect(result.state).toEqual({ product_id: YEARLY });
    });

    it("DOWNGRADE → PRODUCT_CHANGE to the renewal's product, at the next renewal: state unchanged", () => {
      const renewal = renewalInfo({ autoRenewProductId: BASIC });
      const { result, event } = onlyEvent(notification(type, { subtype: "DOWNGRADE", renewal }));
      expect(event).toMatchObject({ type: "PRODUCT_CHANGE", product_id: MONTHLY, new_product_id: BASIC, expiration_at_ms: EXPIRES });
      expect(result.state).toEqual({});
    });
  });

  it("DID_CHANGE_RENEWAL_PREF without a subtype (a downgrade withdrawn) → PRODUCT_CHANGE back to the current product; unchanged", () => {
    const { result, event } = onlyEvent(notification("DID_CHANGE_RENEWAL_PREF"));
    expect(event).toMatchObject({ type: "PRODUCT_CHANGE", product_id: MONTHLY, new_product_id: MONTHLY });
    expect(result.state).toEqual({});
  });

  it("OFFER_REDEEMED without a subtype (an offer for the current product) is ignored with its reason", () => {
    const result = normalize(notification("OFFER_REDEEMED"));
    expect(result).toMatchObject({ kind: "ignored", subscriptionKey: ORIGINAL_ID, environment: "sandbox" });
    expect(result.kind === "ignored" && result.reason).toContain("OFFER_REDEEMED without a subtype");
  });

  it("OFFER_REDEEMED/INITIAL_BUY (Apple's pre-2024 form) → INITIAL_PURCHASE like SUBSCRIBED", () => {
    const promo = transaction({ offerType: 2, offerIdentifier: "winter-promo", offerDiscountType: "PAY_UP_FRONT" });
    const { event } = onlyEvent(notification("OFFER_REDEEMED", { subtype: "INITIAL_BUY", transaction: promo }));
    expect(event).toMatchObject({ type: "INITIAL_PURCHASE", period_type: "PROMOTIONAL", offer_code: null });
  });

  describe("DID_FAIL_TO_RENEW", () => {
    const lapsed = transaction({ expiresDate: SIGNED - DAY });

    it("GRACE_PERIOD → BILLING_ISSUE with the grace period's end; in_grace_period", () => {
      const graceEnds = SIGNED + 5 * DAY;
      const renewal = renewalInfo({ isInBillingRetryPeriod: true, gracePeriodExpiresDate: graceEnds, expirationIntent: 2 });
      const { result, event } = onlyEvent(notification("DID_FAIL_TO_RENEW", { subtype: "GRACE_PERIOD", transaction: lapsed, renewal }));
      expect(event).toMatchObject({ type: "BILLING_ISSUE", grace_period_expiration_at_ms: graceEnds, expiration_at_ms: SIGNED - DAY });
      expect(result.state).toEqual(fullState("in_grace_period", { expires_at_ms: SIGNED - DAY }));
    });

    it("without a subtype → BILLING_ISSUE; in_billing_retry", () => {
      const renewal = renewalInfo({ isInBillingRetryPeriod: true, expirationIntent: 2 });
      const { result, event } = onlyEvent(notification("DID_FAIL_TO_RENEW", { transaction: lapsed, renewal }));
      expect(event).toMatchObject({ type: "BILLING_ISSUE", grace_period_expiration_at_ms: null });
      expect(result.state).toMatchObject({ status: "in_billing_retry" });
    });
  });

  const lapsed = transaction({ expiresDate: SIGNED - 6 * DAY });
  const onceKey = `expiration:${ORIGINAL_ID}:${TRANSACTION_ID}`;

  it("GRACE_PERIOD_EXPIRED → EXPIRATION, BILLING_ERROR, at the grace period's end, with the period's once_key; in_billing_retry", () => {
    const graceEnded = SIGNED - DAY;
    const renewal = renewalInfo({ isInBillingRetryPeriod: true, gracePeriodExpiresDate: graceEnded, expirationIntent: 2 });
    const { result, event } = onlyEvent(notification("GRACE_PERIOD_EXPIRED", { transaction: lapsed, renewal }));
    expect(event).toMatchObject({
      type: "EXPIRATION",
      expiration_reason: "BILLING_ERROR",
      expiration_at_ms: graceEnded,
      once_key: onceKey,
    });
    expect(result.state).toMatchObject({ status: "in_billing_retry", expires_at_ms: SIGNED - 6 * DAY });
  });

  describe("EXPIRED", () => {
    it.each([
      ["VOLUNTARY", "UNSUBSCRIBE"],
      ["BILLING_RETRY", "BILLING_ERROR"],
      ["PRICE_INCREASE", "PRICE_INCREASE"],
      ["PRODUCT_NOT_FOR_SALE", "UNKNOWN"],
    ])("%s → EXPIRATION, %s; expired", (subtype, reason) => {
      const renewal = renewalInfo({ autoRenewStatus: 0 });
      const { result, event } = onlyEvent(notification("EXPIRED", { subtype, transaction: lapsed, renewal }));
      expect(event).toMatchObject({ type: "EXPIRATION", expiration_reason: reason, expiration_at_ms: SIGNED - 6 * DAY, once_key: onceKey });
      expect(result.state).toEqual(fullState("expired", { expires_at_ms: SIGNED - 6 * DAY, auto_renew: false }));
    });

    it("without a subtype → EXPIRATION, UNKNOWN; expired", () => {
      const { result, event } = onlyEvent(notification("EXPIRED", { transaction: lapsed, renewal: renewalInfo({ autoRenewStatus: 0 }) }));
      expect(event).toMatchObject({ type: "EXPIRATION", expiration_reason: "UNKNOWN", once_key: onceKey });
      expect(result.state).toMatchObject({ status: "expired" });
    });

    it("shares its once_key with the GRACE_PERIOD_EXPIRED of the same period, so the ledger sends one EXPIRATION", () => {
      const grace = subscription(notification("GRACE_PERIOD_EXPIRED", { transaction: lapsed }));
      const retriesEnded = subscription(notification("EXPIRED", { subtype: "BILLING_RETRY", transaction: lapsed }));
      expect(grace.events[0]!.once_key).toBe(retriesEnded.events[0]!.once_key);
      // Another period's expiration is another event.
      const next = subscription(
        notification("EXPIRED", { subtype: "VOLUNTARY", transaction: transaction({ transactionId: "2000000833334444" }) }),
      );
      expect(next.events[0]!.once_key).not.toBe(grace.events[0]!.once_key);
    });
  });

  describe("REFUND", () => {
    const revokedAt = SIGNED - 3_600_000;

    it("→ CANCELLATION, CUSTOMER_SUPPORT, the negative price, at the revocation time; revoked", () => {
      const refunded = transaction({
        revocationDate: revokedAt,
        revocationReason: 1,
        revocationType: "REFUND_FULL",
        revocationPercentage: 100000,
      });
      const { result, event } = onlyEvent(notification("REFUND", { transaction: refunded, data: { status: 5 } }));
      expect(event).toMatchObject({
        type: "CANCELLATION",
        cancel_reason: "CUSTOMER_SUPPORT",
        event_timestamp_ms: revokedAt,
        expiration_at_ms: revokedAt,
        price: -9.99,
        price_in_purchased_currency: -9.99,
        currency: "USD",
      });
      expect(result.storeEventAt).toEqual(new Date(SIGNED));
      expect(result.state).toEqual(fullState("revoked", { expires_at_ms: revokedAt }));
    });

    it("a prorated refund gives back revocationPercentage (milliunits of a percent) of the price", () => {
      const prorated = transaction({ revocationDate: revokedAt, revocationType: "REFUND_PRORATED", revocationPercentage: 40000 });
      const { event } = onlyEvent(notification("REFUND", { transaction: prorated, data: { status: 5 } }));
      // 40 % of 9.99: 3.996.
      expect(event).toMatchObject({ price: -3.996, price_in_purchased_currency: -3.996 });
      const odd = transaction({
        revocationDate: revokedAt,
        revocationType: "REFUND_PRORATED",
        revocationPercentage: 67932,
        price: 4990,
        currency: "EUR",
      });
      const { event: euro } = onlyEvent(notification("REFUND", { transaction: odd, data: { status: 5 } }));
      // 67.932 % of 4.99 € = 3.3898..., rounded to Apple's milliunit: -3.39. No USD amount for euros.
      expect(euro).toMatchObject({ price: null, price_in_purchased_currency: -3.39, currency: "EUR" });
    });

    it("of an earlier period (Apple's status says the subscription is still active): the refund is reported, the state unchanged", () => {
      const earlier = transaction({
        transactionId: "2000000800001111",
        expiresDate: PURCHASED,
        purchaseDate: PURCHASED - 31 * DAY,
        revocationDate: revokedAt,
      });
      const { result, event } = onlyEvent(notification("REFUND", { transaction: earlier, data: { status: 1 } }));
      expect(event).toMatchObject({
        type: "CANCELLATION",
        cancel_reason: "CUSTOMER_SUPPORT",
        price: -9.99,
        transaction_id: "2000000800001111",
      });
      expect(result.state).toEqual({});
    });
  });

  describe("REFUND_REVERSED", () => {
    it("→ REFUND_REVERSED; the state is as before the refund: active while the period runs", () => {
      const { result, event } = onlyEvent(notification("REFUND_REVERSED"));
      expect(event).toMatchObject({ type: "REFUND_REVERSED", product_id: MONTHLY, price: null });
      expect(result.state).toEqual(fullState("active"));
    });

    it("expired when the period ended meanwhile", () => {
      const ended = transaction({ expiresDate: SIGNED - DAY });
      const { result } = onlyEvent(notification("REFUND_REVERSED", { transaction: ended, renewal: renewalInfo({ autoRenewStatus: 0 }) }));
      expect(result.state).toMatchObject({ status: "expired", expires_at_ms: SIGNED - DAY, auto_renew: false });
    });

    it("canceled when auto-renew is off and the period runs", () => {
      const { result } = onlyEvent(notification("REFUND_REVERSED", { renewal: renewalInfo({ autoRenewStatus: 0 }) }));
      expect(result.state).toMatchObject({ status: "canceled" });
    });
  });

  it("REFUND_DECLINED → REFUND_DECLINED; state unchanged (empty)", () => {
    const { result, event } = onlyEvent(notification("REFUND_DECLINED"));
    expect(event).toMatchObject({ type: "REFUND_DECLINED", transaction_id: TRANSACTION_ID });
    expect(result.state).toEqual({});
  });

  it("CONSUMPTION_REQUEST → CONSUMPTION_REQUEST with Apple's consumptionRequestReason; state unchanged", () => {
    const { result, event } = onlyEvent(notification("CONSUMPTION_REQUEST", { data: { consumptionRequestReason: "UNINTENDED_PURCHASE" } }));
    expect(event).toMatchObject({ type: "CONSUMPTION_REQUEST", consumption_request_reason: "UNINTENDED_PURCHASE" });
    expect(result.state).toEqual({});
  });

  it("REVOKE (Family Sharing access removed) → EXPIRATION, UNKNOWN, is_family_share; revoked", () => {
    const revokedAt = SIGNED - 60_000;
    const shared = transaction({ inAppOwnershipType: "FAMILY_SHARED", revocationDate: revokedAt, revocationType: "FAMILY_REVOKE" });
    const { result, event } = onlyEvent(notification("REVOKE", { transaction: shared }));
    expect(event).toMatchObject({ type: "EXPIRATION", expiration_reason: "UNKNOWN", is_family_share: true, expiration_at_ms: revokedAt });
    expect(result.state).toEqual(fullState("revoked", { expires_at_ms: revokedAt }));
  });

  it("RENEWAL_EXTENDED → SUBSCRIPTION_EXTENDED with the new expiry", () => {
    const extended = transaction({ expiresDate: EXPIRES + 7 * DAY });
    const { result, event } = onlyEvent(notification("RENEWAL_EXTENDED", { transaction: extended }));
    expect(event).toMatchObject({ type: "SUBSCRIPTION_EXTENDED", expiration_at_ms: EXPIRES + 7 * DAY });
    expect(result.state).toEqual(fullState("active", { expires_at_ms: EXPIRES + 7 * DAY }));
  });

  describe("RENEWAL_EXTENSION", () => {
    it("SUMMARY (a summary, no data) is ignored without a subscription key", () => {
      const payload = AppleNotificationPayloadSchema.parse({
        notificationType: "RENEWAL_EXTENSION",
        subtype: "SUMMARY",
        notificationUUID: "c0ffee00-1111-2222-3333-444455556666",
        signedDate: SIGNED,
        summary: { bundleId: "com.example.app", environment: "Production", requestIdentifier: "req-1", succeededCount: 10, failedCount: 0 },
      });
      const result = normalize({ payload, transaction: null, renewal: null });
      expect(result).toMatchObject({ kind: "ignored", environment: "production", subscriptionKey: null, warn: false });
      expect(result.kind === "ignored" && result.reason).toContain("RENEWAL_EXTENSION/SUMMARY");
    });

    it("FAILURE (carries data) is ignored, keyed by its subscription", () => {
      const result = normalize(notification("RENEWAL_EXTENSION", { subtype: "FAILURE" }));
      // Logged at warn: Apple failed to extend this subscription, which an operator should see.
      expect(result).toMatchObject({ kind: "ignored", subscriptionKey: ORIGINAL_ID, environment: "sandbox", warn: true });
      expect(result.kind === "ignored" && result.reason).toContain("RENEWAL_EXTENSION/FAILURE");
    });
  });

  it.each(["PENDING", "ACCEPTED"])("PRICE_INCREASE/%s → PRICE_INCREASE; state unchanged", (subtype) => {
    const renewal = renewalInfo({ priceIncreaseStatus: subtype === "ACCEPTED" ? 1 : 0, renewalPrice: 12990, currency: "USD" });
    const { result, event } = onlyEvent(notification("PRICE_INCREASE", { subtype, renewal }));
    expect(event).toMatchObject({ type: "PRICE_INCREASE", product_id: MONTHLY, price: null });
    expect(result.state).toEqual({});
  });

  it("ONE_TIME_CHARGE → NON_RENEWING_PURCHASE, tracked by its originalTransactionId; active, never renews", () => {
    const coins = transaction({
      originalTransactionId: "2000000877778888",
      transactionId: "2000000877778888",
      productId: "com.example.coins.100",
      type: "Consumable",
      expiresDate: undefined,
      price: 1990,
    });
    const { result, event } = onlyEvent(notification("ONE_TIME_CHARGE", { transaction: coins, renewal: null }));
    expect(result.subscriptionKey).toBe("2000000877778888");
    expect(event).toMatchObject({
      type: "NON_RENEWING_PURCHASE",
      product_id: "com.example.coins.100",
      price: 1.99,
      expiration_at_ms: null,
    });
    expect(result.state).toEqual({
      status: "active",
      product_id: "com.example.coins.100",
      period_type: "NORMAL",
      purchased_at_ms: PURCHASED,
      auto_renew: false,
      store_user_id: TOKEN,
    });
  });

  it("TEST → kind test in its environment", () => {
    const decoded = notification("TEST", { environment: "Production", transaction: null, renewal: null });
    expect(normalize(decoded)).toEqual({ kind: "test", environment: "production", storeEventAt: new Date(SIGNED) });
  });

  it("EXTERNAL_PURCHASE_TOKEN (no data) is ignored without a key, its environment read from the token id", () => {
    const payload = AppleNotificationPayloadSchema.parse({
      notificationType: "EXTERNAL_PURCHASE_TOKEN",
      subtype: "UNREPORTED",
      notificationUUID: "0a0b0c0d-1111-2222-3333-444455556666",
      signedDate: SIGNED,
      externalPurchaseToken: {
        externalPurchaseId: "SANDBOX_b2c3d4",
        tokenCreationDate: SIGNED - DAY,
        appAppleId: 55555,
        bundleId: "com.example.app",
      },
    });
    const result = normalize({ payload, transaction: null, renewal: null });
    expect(result).toMatchObject({ kind: "ignored", environment: "sandbox", subscriptionKey: null });
    expect(result.kind === "ignored" && result.reason).toContain("EXTERNAL_PURCHASE_TOKEN");
  });

  it("RESCIND_CONSENT (appData) is ignored without a key", () => {
    const payload = AppleNotificationPayloadSchema.parse({
      notificationType: "RESCIND_CONSENT",
      notificationUUID: "0a0b0c0d-aaaa-2222-3333-444455556666",
      signedDate: SIGNED,
      appData: { bundleId: "com.example.app", environment: "Production", signedAppTransactionInfo: "<jws>" },
    });
    const result = normalize({ payload, transaction: null, renewal: null });
    expect(result).toMatchObject({ kind: "ignored", environment: "production", subscriptionKey: null });
    expect(result.kind === "ignored" && result.reason).toContain("RESCIND_CONSENT");
  });

  it.each(["METADATA_UPDATE", "MIGRATION", "MIGRATE", "PRICE_CHANGE"])(
    "%s (Advanced Commerce) is ignored with a reason naming it",
    (type) => {
      const result = normalize(notification(type));
      expect(result).toMatchObject({ kind: "ignored", subscriptionKey: ORIGINAL_ID, warn: false });
      expect(result.kind === "ignored" && result.reason).toContain(type);
    },
  );

  it("an unknown type is ignored with a reason naming it, never thrown", () => {
    const result = normalize(notification("SUBSCRIPTION_TELEPORTED", { subtype: "SOMEWHERE" }));
    // Logged at warn: Apple added something subgate does not know yet.
    expect(result).toMatchObject({ kind: "ignored", environment: "sandbox", subscriptionKey: ORIGINAL_ID, warn: true });
    expect(result.kind === "ignored" && result.reason).toContain("SUBSCRIPTION_TELEPORTED");
  });

  it.each([
    ["DID_RENEW", "SOMETHING_NEW", "DID_RENEW/SOMETHING_NEW"],
    ["SUBSCRIBED", undefined, "SUBSCRIBED without a subtype"],
    ["REFUND", "PARTIAL", "REFUND/PARTIAL"],
    ["PRICE_INCREASE", undefined, "PRICE_INCREASE without a subtype"],
  ])("%s with subtype %s (not one Apple documents for it) is ignored, naming both", (type, subtype, named) => {
    const result = normalize(notification(type, subtype === undefined ? {} : { subtype }));
    expect(result).toMatchObject({ kind: "ignored", subscriptionKey: ORIGINAL_ID, warn: true });
    expect(result.kind === "ignored" && result.reason).toContain(named);
  });

  it("a known type without a transaction is ignored, not thrown", () => {
    const result = normalize(notification("DID_RENEW", { transaction: null }));
    expect(result).toMatchObject({ kind: "ignored", subscriptionKey: null });
  });

  describe("fields", () => {
    it("price milliunits → decimal in the purchased currency; price (USD) only for USD", () => {
      const cases: [number, string, number, number | null][] = [
        [9990, "USD", 9.99, 9.99],
        [4990, "EUR", 4.99, null],
        [1200000, "JPY", 1200, null],
        [1234, "KWD", 1.234, null],
      ];
      for (const [milliunits, currency, amount, usd] of cases) {
        const { event } = onlyEvent(notification("DID_RENEW", { transaction: transaction({ price: milliunits, currency }) }));
        expect(event).toMatchObject({ price_in_purchased_currency: amount, price: usd, currency });
      }
    });

    it("a transaction without a price carries no money", () => {
      const { event } = onlyEvent(notification("DID_RENEW", { transaction: transaction({ price: undefined, currency: undefined }) }));
      expect(event).toMatchObject({ type: "RENEWAL" });
      expect(event).toMatchObject({ price: null, price_in_purchased_currency: null, currency: null });
    });

    it("storefront alpha-3 → country_code alpha-2; an unknown or missing storefront → null", () => {
      const countryOf = (storefront: string | undefined) =>
        onlyEvent(notification("DID_RENEW", { transaction: transaction({ storefront }) })).event.country_code;
      expect(countryOf("DEU")).toBe("DE");
      expect(countryOf("JPN")).toBe("JP");
      expect(countryOf("ZZZ")).toBeNull();
      expect(countryOf(undefined)).toBeNull();
    });

    it("appAccountToken → store_user_id on the event and the state; the renewal info's when the transaction has none", () => {
      const { result, event } = onlyEvent(notification("DID_RENEW"));
      expect(event.store_user_id).toBe(TOKEN);
      expect(result.state.store_user_id).toBe(TOKEN);

      const fromRenewal = onlyEvent(
        notification("DID_RENEW", {
          transaction: transaction({ appAccountToken: undefined }),
          renewal: renewalInfo({ appAccountToken: "e1e2e3e4-0000-4000-8000-000000000001" }),
        }),
      );
      expect(fromRenewal.event.store_user_id).toBe("e1e2e3e4-0000-4000-8000-000000000001");

      // No token: the event says null, the state leaves a stored link alone.
      const none = onlyEvent(notification("DID_RENEW", { transaction: transaction({ appAccountToken: undefined }) }));
      expect(none.event.store_user_id).toBeNull();
      expect("store_user_id" in none.result.state).toBe(false);
    });

    it.each([
      ["a free trial", { offerType: 1, offerDiscountType: "FREE_TRIAL" }, "TRIAL", null],
      ["an introductory pay-as-you-go price", { offerType: 1, offerDiscountType: "PAY_AS_YOU_GO" }, "INTRO", null],
      ["an introductory pay-up-front price", { offerType: 1, offerDiscountType: "PAY_UP_FRONT" }, "INTRO", null],
      ["a promotional offer", { offerType: 2, offerIdentifier: "loyal-50", offerDiscountType: "PAY_AS_YOU_GO" }, "PROMOTIONAL", null],
      ["an offer code", { offerType: 3, offerIdentifier: "SPRING2026", offerDiscountType: "PAY_UP_FRONT" }, "PROMOTIONAL", "SPRING2026"],
      ["a free offer code", { offerType: 3, offerIdentifier: "FREEMONTH", offerDiscountType: "FREE_TRIAL" }, "TRIAL", "FREEMONTH"],
      ["a win-back offer", { offerType: 4, offerIdentifier: "come-back", offerDiscountType: "PAY_AS_YOU_GO" }, "PROMOTIONAL", null],
      ["no offer", {}, "NORMAL", null],
    ])("%s → period_type %s", (_name, offer, periodType, offerCode) => {
      const { result, event } = onlyEvent(notification("SUBSCRIBED", { subtype: "INITIAL_BUY", transaction: transaction(offer) }));
      expect(event).toMatchObject({ period_type: periodType, offer_code: offerCode });
      expect(result.state.period_type).toBe(periodType);
    });

    it("inAppOwnershipType FAMILY_SHARED → is_family_share true", () => {
      const { event } = onlyEvent(
        notification("SUBSCRIBED", { subtype: "INITIAL_BUY", transaction: transaction({ inAppOwnershipType: "FAMILY_SHARED" }) }),
      );
      expect(event.is_family_share).toBe(true);
    });

    it.each([
      ["Sandbox", "sandbox"],
      ["Production", "production"],
      ["Xcode", "sandbox"],
      ["LocalTesting", "sandbox"],
    ])("environment %s → %s", (apple, subgate) => {
      expect(subscription(notification("DID_RENEW", { environment: apple })).environment).toBe(subgate);
    });
  });
});
