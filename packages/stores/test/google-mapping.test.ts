import { createHash } from "node:crypto";
import { EventDraftSchema, type EventDraft } from "@subgate/schema";
import { describe, expect, it } from "vitest";
import type { Normalized } from "../src/adapter.ts";
import { checkNormalized } from "../src/checks.ts";
import {
  mapOneTimeProductNotification,
  mapSubscriptionNotification,
  mapTestNotification,
  mapVoidedPurchase,
  type VoidedPurchaseInput,
} from "../src/google/mapping.ts";
import { GooglePurchaseResponseError } from "../src/google/purchase-schemas.ts";

const DAY = 86_400_000;
const START = Date.UTC(2026, 4, 1);
const EXPIRY = Date.UTC(2026, 5, 1);
const EVENT = Date.UTC(2026, 4, 15, 12);
const CALLED = EVENT + 4_000;
const RECEIVED = EVENT + 1_000;
const TOKEN = "kdpkbmgnnjhkmgfnmaicfbkj.AO-J1OwqYwsWc0xEHZa1o2mP6ZQ7D3g5jk";
const OLD_TOKEN = "oldoldoldoldoldoldoldold.AO-J1OzOldTokenOfThePreviousPurchase";
const ORDER = "GPA.3345-1234-5678-90123..2";
const USER = "user-4711-obfuscated";

const iso = (ms: number) => new Date(ms).toISOString();
/** A purchase's once_key: the token's SHA-256 (a key holds 512 characters; a token may be as long). */
const purchaseKey = (token: string) => `purchase:${createHash("sha256").update(token).digest("base64url")}`;

function lineItem(overrides: Record<string, unknown> = {}) {
  return {
    productId: "pro",
    expiryTime: iso(EXPIRY),
    latestSuccessfulOrderId: ORDER,
    autoRenewingPlan: { autoRenewEnabled: true, recurringPrice: { currencyCode: "USD", units: "9", nanos: 990_000_000 } },
    offerDetails: { basePlanId: "monthly", offerTags: ["launch"] },
    offerPhase: { basePrice: {} },
    ...overrides,
  };
}

/** A purchases.subscriptionsv2.get answer, with fields subgate does not read (etag, acknowledgementState). */
function answer(overrides: Record<string, unknown> = {}) {
  return {
    kind: "androidpublisher#subscriptionPurchaseV2",
    regionCode: "US",
    startTime: iso(START),
    subscriptionState: "SUBSCRIPTION_STATE_ACTIVE",
    acknowledgementState: "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED",
    etag: "etag-1",
    externalAccountIdentifiers: { obfuscatedExternalAccountId: USER },
    lineItems: [lineItem()],
    ...overrides,
  };
}

const canceledBy = (field: string) => ({
  subscriptionState: "SUBSCRIPTION_STATE_CANCELED",
  canceledStateContext: { [field]: field === "userInitiatedCancellation" ? { cancelTime: iso(EVENT) } : {} },
  lineItems: [
    lineItem({ autoRenewingPlan: { autoRenewEnabled: false, recurringPrice: { currencyCode: "USD", units: "9", nanos: 990_000_000 } } }),
  ],
});

/** Maps, and checks the result passes the checks every adapter's result passes (checks.ts). */
function checked(result: Normalized): Normalized {
  const check = checkNormalized(result, new Date(RECEIVED));
  expect(check.ok, check.ok ? "" : check.problem).toBe(true);
  return result;
}

function mapType(type: number, purchase: unknown = answer(), calledAt = CALLED): Normalized {
  return checked(
    mapSubscriptionNotification({
      notificationType: type,
      purchaseToken: TOKEN,
      eventTimeMillis: EVENT,
      purchase,
      calledAt: new Date(calledAt),
    }),
  );
}

type SubscriptionResult = Extract<Normalized, { kind: "subscription" }>;

function subscription(result: Normalized): SubscriptionResult {
  if (result.kind !== "subscription") throw new Error(`expected a subscription result, got ${JSON.stringify(result)}`);
  return result;
}

/** The events of a notification, with the draft's defaults filled in. */
function eventsOf(type: number, purchase: unknown = answer(), calledAt = CALLED): { result: SubscriptionResult; events: EventDraft[] } {
  const result = subscription(mapType(type, purchase, calledAt));
  return { result, events: result.events.map((draft) => EventDraftSchema.parse(draft)) };
}

function onlyEvent(type: number, purchase: unknown = answer(), calledAt = CALLED) {
  const { result, events } = eventsOf(type, purchase, calledAt);
  expect(events).toHaveLength(1);
  return { result, event: events[0] as EventDraft };
}

/** The state of the plain active monthly subscription of `answer()`, with `status`. */
function fullState(status: string, overrides: Record<string, unknown> = {}) {
  return {
    status,
    product_id: "pro:monthly",
    expires_at_ms: EXPIRY,
    auto_renew: true,
    period_type: "NORMAL",
    purchased_at_ms: START,
    store_user_id: USER,
    ...overrides,
  };
}

const USD_9_99 = { price: 9.99, price_in_purchased_currency: 9.99, currency: "USD" };
const NO_MONEY = { price: null, price_in_purchased_currency: null, currency: null };

describe("Google subscription notifications: one per type", () => {
  it("1 SUBSCRIPTION_RECOVERED → RENEWAL with every field from the answer; active", () => {
    const { result, event } = onlyEvent(1);
    expect(result).toMatchObject({
      kind: "subscription",
      subscriptionKey: TOKEN,
      environment: "production",
      storeEventAt: new Date(EVENT),
      stateAt: new Date(CALLED),
      supersedesKey: null,
    });
    expect(event).toEqual(
      EventDraftSchema.parse({
        type: "RENEWAL",
        event_timestamp_ms: EVENT,
        product_id: "pro:monthly",
        period_type: "NORMAL",
        purchased_at_ms: START,
        expiration_at_ms: EXPIRY,
        transaction_id: ORDER,
        original_transaction_id: TOKEN,
        country_code: "US",
        store_user_id: USER,
        ...USD_9_99,
      }),
    );
    expect(result.state).toEqual(fullState("active"));
  });

  it("2 SUBSCRIPTION_RENEWED → RENEWAL with the price; active with the new expiry", () => {
    const renewed = answer({
      lineItems: [lineItem({ expiryTime: iso(EXPIRY + 30 * DAY), latestSuccessfulOrderId: "GPA.3345-1234-5678-90123..3" })],
    });
    const { result, event } = onlyEvent(2, renewed);
    expect(event).toMatchObject({
      type: "RENEWAL",
      transaction_id: "GPA.3345-1234-5678-90123..3",
      expiration_at_ms: EXPIRY + 30 * DAY,
      ...USD_9_99,
    });
    expect(result.state).toEqual(fullState("active", { expires_at_ms: EXPIRY + 30 * DAY }));
  });

  describe("3 SUBSCRIPTION_CANCELED", () => {
    it("by the user → CANCELLATION UNSUBSCRIBE, no money; canceled, auto_renew off", () => {
      const { result, event } = onlyEvent(3, answer(canceledBy("userInitiatedCancellation")));
      expect(event).toMatchObject({ type: "CANCELLATION", cancel_reason: "UNSUBSCRIBE", expiration_at_ms: EXPIRY, ...NO_MONEY });
      expect(result.state).toEqual(fullState("canceled", { auto_renew: false }));
    });

    it.each([
      ["systemInitiatedCancellation", "BILLING_ERROR"],
      ["developerInitiatedCancellation", "DEVELOPER_INITIATED"],
    ])("%s → cancel_reason %s", (field, reason) => {
      expect(onlyEvent(3, answer(canceledBy(field))).event.cancel_reason).toBe(reason);
    });

    it("without canceledStateContext (renewal already back on when read) → UNKNOWN; the answer's state", () => {
      const { result, event } = onlyEvent(3);
      expect(event.cancel_reason).toBe("UNKNOWN");
      expect(result.state.status).toBe("active");
    });

    it("read after the expiry → expired, and still only the CANCELLATION (SUBSCRIPTION_EXPIRED reports the end)", () => {
      const { result, event } = onlyEvent(3, answer(canceledBy("userInitiatedCancellation")), EXPIRY + 1);
      expect(event.type).toBe("CANCELLATION");
      expect(result.state.status).toBe("expired");
    });
  });

  describe("4 SUBSCRIPTION_PURCHASED", () => {
    it("a new token → INITIAL_PURCHASE with the price, once per token; active; supersedes nothing", () => {
      const { result, event } = onlyEvent(4);
      expect(event).toMatchObject({ type: "INITIAL_PURCHASE", period_type: "NORMAL", once_key: purchaseKey(TOKEN), ...USD_9_99 });
      expect(result.state).toEqual(fullState("active"));
      expect(result.supersedesKey).toBeNull();
    });

    it("in a free trial → INITIAL_PURCHASE TRIAL at 0 (recurringPrice is the price after the trial); trialing", () => {
      const trial = answer({
        lineItems: [lineItem({ offerPhase: { freeTrial: {} }, offerDetails: { basePlanId: "monthly", offerId: "trial-7d" } })],
      });
      const { result, event } = onlyEvent(4, trial);
      expect(event).toMatchObject({
        type: "INITIAL_PURCHASE",
        period_type: "TRIAL",
        price: 0,
        price_in_purchased_currency: 0,
        currency: "USD",
      });
      expect(result.state).toEqual(fullState("trialing", { period_type: "TRIAL" }));
    });

    it("at an introductory price → INTRO, and no amount (the answer does not say the discounted price)", () => {
      const intro = answer({
        lineItems: [lineItem({ offerPhase: { introductoryPrice: {} }, offerDetails: { basePlanId: "monthly", offerId: "intro" } })],
      });
      const { result, event } = onlyEvent(4, intro);
      expect(event).toMatchObject({ type: "INITIAL_PURCHASE", period_type: "INTRO", ...NO_MONEY });
      expect(result.state).toMatchObject({ status: "active", period_type: "INTRO" });
    });

    it("with linkedPurchaseToken and the item replaced named → PRODUCT_CHANGE old → new, no money; supersedes the old token", () => {
      const upgraded = answer({
        linkedPurchaseToken: OLD_TOKEN,
        lineItems: [
          lineItem({
            productId: "premium",
            offerDetails: { basePlanId: "yearly" },
            itemReplacement: { productId: "pro", basePlanId: "monthly", replacementMode: "WITH_TIME_PRORATION" },
          }),
        ],
      });
      const { result, event } = onlyEvent(4, upgraded);
      expect(event).toMatchObject({ type: "PRODUCT_CHANGE", product_id: "pro:monthly", new_product_id: "premium:yearly", ...NO_MONEY });
      expect(result.supersedesKey).toBe(OLD_TOKEN);
      expect(result.state).toEqual(fullState("active", { product_id: "premium:yearly" }));
    });

    it("with linkedPurchaseToken replacing the same plan (a re-signup) → RENEWAL with the price", () => {
      const again = answer({
        linkedPurchaseToken: OLD_TOKEN,
        lineItems: [lineItem({ itemReplacement: { productId: "pro", basePlanId: "monthly" } })],
      });
      const { result, event } = onlyEvent(4, again);
      expect(event).toMatchObject({ type: "RENEWAL", product_id: "pro:monthly", ...USD_9_99 });
      expect(result.supersedesKey).toBe(OLD_TOKEN);
    });

    it("with linkedPurchaseToken and no item named → PRODUCT_CHANGE from an unknown product (null) to the new one", () => {
      const { event } = onlyEvent(4, answer({ linkedPurchaseToken: OLD_TOKEN }));
      expect(event).toMatchObject({ type: "PRODUCT_CHANGE", product_id: null, new_product_id: "pro:monthly" });
    });

    it("a prepaid top-up (linked, prepaid, no item named) → RENEWAL, PREPAID, no amount; auto_renew off", () => {
      const topUp = answer({
        linkedPurchaseToken: OLD_TOKEN,
        lineItems: [
          lineItem({ autoRenewingPlan: undefined, prepaidPlan: { allowExtendAfterTime: iso(EXPIRY - DAY) }, offerPhase: undefined }),
        ],
      });
      const { result, event } = onlyEvent(4, topUp);
      expect(event).toMatchObject({ type: "RENEWAL", period_type: "PREPAID", ...NO_MONEY });
      expect(result.state).toEqual(fullState("active", { auto_renew: false, period_type: "PREPAID" }));
    });

    it("a resubscription in the Play Store after expiry (outOfAppPurchaseContext) → RENEWAL; supersedes the expired token", () => {
      const back = answer({ outOfAppPurchaseContext: { expiredPurchaseToken: OLD_TOKEN, expiredExternalAccountIdentifiers: {} } });
      const { result, event } = onlyEvent(4, back);
      expect(event).toMatchObject({ type: "RENEWAL", ...USD_9_99 });
      expect(result.supersedesKey).toBe(OLD_TOKEN);
    });

    it("still awaiting its first payment → no event, unknown, and it replaces nothing yet", () => {
      const pending = answer({ subscriptionState: "SUBSCRIPTION_STATE_PENDING", linkedPurchaseToken: OLD_TOKEN, startTime: undefined });
      const { result, events } = eventsOf(4, pending);
      expect(events).toEqual([]);
      expect(result.state.status).toBe("unknown");
      expect(result.supersedesKey).toBeNull();
    });
  });

  it("5 SUBSCRIPTION_ON_HOLD → BILLING_ISSUE and EXPIRATION (BILLING_ERROR): access ends; in_billing_retry", () => {
    const hold = answer({ subscriptionState: "SUBSCRIPTION_STATE_ON_HOLD", lineItems: [lineItem({ expiryTime: iso(EVENT - DAY) })] });
    const { result, events } = eventsOf(5, hold);
    expect(events.map((event) => event.type)).toEqual(["BILLING_ISSUE", "EXPIRATION"]);
    expect(events[0]).toMatchObject({ once_key: `billing_issue:${ORDER}`, grace_period_expiration_at_ms: null });
    expect(events[1]).toMatchObject({
      expiration_reason: "BILLING_ERROR",
      expiration_at_ms: EVENT - DAY,
      once_key: `expiration:${ORDER}`,
    });
    expect(result.state).toEqual(fullState("in_billing_retry", { expires_at_ms: EVENT - DAY }));
  });

  it("6 SUBSCRIPTION_IN_GRACE_PERIOD → BILLING_ISSUE with the grace period's end; in_grace_period", () => {
    const grace = answer({
      subscriptionState: "SUBSCRIPTION_STATE_IN_GRACE_PERIOD",
      lineItems: [lineItem({ expiryTime: iso(EVENT + 3 * DAY) })],
    });
    const { result, event } = onlyEvent(6, grace);
    expect(event).toMatchObject({
      type: "BILLING_ISSUE",
      grace_period_expiration_at_ms: EVENT + 3 * DAY,
      once_key: `billing_issue:${ORDER}`,
    });
    expect(result.state).toEqual(fullState("in_grace_period", { expires_at_ms: EVENT + 3 * DAY }));
  });

  it("6 then 5 report one issue (same once_key); after a recovered payment the next issue has its own", () => {
    const grace = onlyEvent(6, answer({ subscriptionState: "SUBSCRIPTION_STATE_IN_GRACE_PERIOD" })).event;
    const hold = eventsOf(5, answer({ subscriptionState: "SUBSCRIPTION_STATE_ON_HOLD" })).events[0];
    expect(hold?.once_key).toBe(grace.once_key);
    const later = answer({
      subscriptionState: "SUBSCRIPTION_STATE_IN_GRACE_PERIOD",
      lineItems: [lineItem({ latestSuccessfulOrderId: "GPA.3345-1234-5678-90123..3" })],
    });
    expect(onlyEvent(6, later).event.once_key).not.toBe(grace.once_key);
  });

  it("7 SUBSCRIPTION_RESTARTED → UNCANCELLATION; active, auto_renew on", () => {
    const { result, event } = onlyEvent(7);
    expect(event).toMatchObject({ type: "UNCANCELLATION", ...NO_MONEY });
    expect(result.state).toEqual(fullState("active"));
  });

  it("8 SUBSCRIPTION_PRICE_CHANGE_CONFIRMED (deprecated) → PRICE_INCREASE; the answer's state", () => {
    const { result, event } = onlyEvent(8);
    expect(event).toMatchObject({ type: "PRICE_INCREASE", product_id: "pro:monthly" });
    expect(result.state).toEqual(fullState("active"));
  });

  it("9 SUBSCRIPTION_DEFERRED → SUBSCRIPTION_EXTENDED with the later expiry, event and state", () => {
    const deferred = answer({ lineItems: [lineItem({ expiryTime: iso(EXPIRY + 7 * DAY) })] });
    const { result, event } = onlyEvent(9, deferred);
    expect(event).toMatchObject({ type: "SUBSCRIPTION_EXTENDED", expiration_at_ms: EXPIRY + 7 * DAY, ...NO_MONEY });
    expect(result.state).toEqual(fullState("active", { expires_at_ms: EXPIRY + 7 * DAY }));
  });

  it("10 SUBSCRIPTION_PAUSED → SUBSCRIPTION_PAUSED (auto_resume_at_ms) and EXPIRATION (SUBSCRIPTION_PAUSED); paused", () => {
    const resumeAt = EVENT + 30 * DAY;
    const paused = answer({ subscriptionState: "SUBSCRIPTION_STATE_PAUSED", pausedStateContext: { autoResumeTime: iso(resumeAt) } });
    const { result, events } = eventsOf(10, paused);
    expect(events.map((event) => event.type)).toEqual(["SUBSCRIPTION_PAUSED", "EXPIRATION"]);
    expect(events[0]).toMatchObject({ auto_resume_at_ms: resumeAt, once_key: null });
    expect(events[1]).toMatchObject({
      expiration_reason: "SUBSCRIPTION_PAUSED",
      auto_resume_at_ms: null,
      once_key: `expiration:${ORDER}`,
    });
    expect(result.state).toEqual(fullState("paused"));
  });

  it("11 SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED → no event; the answer's state", () => {
    const { result, events } = eventsOf(11);
    expect(events).toEqual([]);
    expect(result.state).toEqual(fullState("active"));
  });

  describe("12 SUBSCRIPTION_REVOKED", () => {
    it("→ EXPIRATION (CUSTOMER_SUPPORT) ending at the revocation, no money; revoked", () => {
      const gone = answer({
        subscriptionState: "SUBSCRIPTION_STATE_EXPIRED",
        canceledStateContext: { developerInitiatedCancellation: {} },
      });
      const { result, event } = onlyEvent(12, gone);
      expect(event).toMatchObject({ type: "EXPIRATION", expiration_reason: "CUSTOMER_SUPPORT", expiration_at_ms: EVENT, ...NO_MONEY });
      expect(result.state).toEqual(fullState("revoked", { expires_at_ms: EVENT }));
    });

    it("an answer read later that gives access again keeps its own status, and the EXPIRATION it contradicts is not sent", () => {
      const { result, events } = eventsOf(12);
      expect(result.state.status).toBe("active");
      expect(events).toEqual([]);
    });
  });

  describe("events Google's answer contradicts", () => {
    it("an EXPIRATION while the answer still gives access, and a BILLING_ISSUE while it shows no payment trouble, are not sent", () => {
      expect(eventsOf(13).events).toEqual([]);
      expect(eventsOf(5).events.map((event) => event.type)).toEqual([]);
      expect(eventsOf(6).events.map((event) => event.type)).toEqual([]);
      // The rest of a notification still counts: a RENEWAL is news whatever the state.
      expect(eventsOf(2).events.map((event) => event.type)).toEqual(["RENEWAL"]);
    });
  });

  describe("13 SUBSCRIPTION_EXPIRED", () => {
    const ended = (field: string) =>
      answer({
        ...canceledBy(field),
        subscriptionState: "SUBSCRIPTION_STATE_EXPIRED",
        lineItems: [lineItem({ expiryTime: iso(EVENT - 1) })],
      });

    it.each([
      ["userInitiatedCancellation", "UNSUBSCRIBE"],
      ["systemInitiatedCancellation", "BILLING_ERROR"],
      ["developerInitiatedCancellation", "DEVELOPER_INITIATED"],
    ])("after %s → EXPIRATION %s; expired", (field, reason) => {
      const { result, event } = onlyEvent(13, ended(field));
      expect(event).toMatchObject({ type: "EXPIRATION", expiration_reason: reason, expiration_at_ms: EVENT - 1 });
      expect(result.state).toEqual(fullState("expired", { expires_at_ms: EVENT - 1 }));
    });

    it("shares its once_key with the ON_HOLD or PAUSED that already ended the period", () => {
      const expiration = onlyEvent(13, ended("systemInitiatedCancellation")).event;
      const onHold = eventsOf(5, answer({ subscriptionState: "SUBSCRIPTION_STATE_ON_HOLD" })).events[1];
      const paused = eventsOf(10, answer({ subscriptionState: "SUBSCRIPTION_STATE_PAUSED" })).events[1];
      expect(expiration.once_key).toBe(`expiration:${ORDER}`);
      expect(onHold?.once_key).toBe(expiration.once_key);
      expect(paused?.once_key).toBe(expiration.once_key);
    });

    it("without canceledStateContext (a prepaid plan running out) → UNKNOWN", () => {
      expect(onlyEvent(13, answer({ subscriptionState: "SUBSCRIPTION_STATE_EXPIRED" })).event.expiration_reason).toBe("UNKNOWN");
    });

    it("without an order id there is no key to tell periods apart: none", () => {
      const noOrder = answer({
        subscriptionState: "SUBSCRIPTION_STATE_EXPIRED",
        lineItems: [lineItem({ latestSuccessfulOrderId: undefined })],
      });
      expect(onlyEvent(13, noOrder).event.once_key).toBeNull();
    });
  });

  describe("17 SUBSCRIPTION_ITEMS_CHANGED", () => {
    it("→ PRODUCT_CHANGE from the item replaced to the current one", () => {
      const changed = answer({
        lineItems: [lineItem({ productId: "plus", itemReplacement: { productId: "pro", basePlanId: "monthly" } })],
      });
      const { result, event } = onlyEvent(17, changed);
      expect(event).toMatchObject({ type: "PRODUCT_CHANGE", product_id: "pro:monthly", new_product_id: "plus:monthly" });
      expect(result.state.product_id).toBe("plus:monthly");
    });

    it("a deferred replacement → PRODUCT_CHANGE from the current plan to the listed, not yet owned item; the product stays", () => {
      const deferred = answer({
        lineItems: [
          lineItem({ deferredItemReplacement: { productId: "basic" } }),
          lineItem({
            productId: "basic",
            offerDetails: { basePlanId: "monthly-lite" },
            latestSuccessfulOrderId: undefined,
            expiryTime: iso(EXPIRY + 30 * DAY),
          }),
        ],
      });
      const { result, event } = onlyEvent(17, deferred);
      expect(event).toMatchObject({ type: "PRODUCT_CHANGE", product_id: "pro:monthly", new_product_id: "basic:monthly-lite" });
      expect(result.state).toMatchObject({ product_id: "pro:monthly", expires_at_ms: EXPIRY });
    });
  });

  it("18 SUBSCRIPTION_CANCELLATION_SCHEDULED → CANCELLATION (UNSUBSCRIBE); still active while installments run", () => {
    const { result, event } = onlyEvent(18);
    expect(event).toMatchObject({ type: "CANCELLATION", cancel_reason: "UNSUBSCRIBE" });
    expect(result.state.status).toBe("active");
  });

  describe("19 SUBSCRIPTION_PRICE_CHANGE_UPDATED", () => {
    const withMode = (mode: string) =>
      answer({
        lineItems: [
          lineItem({
            autoRenewingPlan: {
              autoRenewEnabled: true,
              recurringPrice: { currencyCode: "USD", units: "9", nanos: 990_000_000 },
              priceChangeDetails: {
                priceChangeMode: mode,
                priceChangeState: "OUTSTANDING",
                newPrice: { currencyCode: "USD", units: "12" },
              },
            },
          }),
        ],
      });

    it.each(["PRICE_INCREASE", "OPT_OUT_PRICE_INCREASE"])("an increase (%s) → PRICE_INCREASE; the answer's state", (mode) => {
      const { result, event } = onlyEvent(19, withMode(mode));
      expect(event.type).toBe("PRICE_INCREASE");
      expect(result.state).toEqual(fullState("active"));
    });

    it("a decrease → no event (subgate has none for it)", () => {
      expect(eventsOf(19, withMode("PRICE_DECREASE")).events).toEqual([]);
    });
  });

  describe("20 SUBSCRIPTION_PENDING_PURCHASE_CANCELED", () => {
    it("a new subscription never paid → no event; expired", () => {
      const { result, events } = eventsOf(
        20,
        answer({ subscriptionState: "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED", startTime: undefined }),
      );
      expect(events).toEqual([]);
      expect(result.state.status).toBe("expired");
      expect(result.supersedesKey).toBeNull();
    });

    it("a pending change of a linked purchase → ignored: the linked purchase is unchanged", () => {
      const result = mapType(
        20,
        answer({ subscriptionState: "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED", linkedPurchaseToken: OLD_TOKEN }),
      );
      expect(result).toMatchObject({ kind: "ignored", warn: false, subscriptionKey: TOKEN, environment: "production" });
    });
  });

  it("22 SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED → PRICE_INCREASE", () => {
    expect(onlyEvent(22).event).toMatchObject({ type: "PRICE_INCREASE", product_id: "pro:monthly" });
  });

  it.each([14, 15, 16, 21, 99])("type %i (unused or unknown) → ignored with a warning, the environment read when it can be", (type) => {
    const result = mapType(type, answer({ testPurchase: {} }));
    expect(result).toEqual({
      kind: "ignored",
      reason: `Google subscription notification type ${type} is not one subgate maps`,
      warn: true,
      environment: "sandbox",
      subscriptionKey: TOKEN,
    });
    expect(mapType(type, "not an answer")).toMatchObject({ kind: "ignored", environment: null });
  });

  it.each([3, 13])("type %i of a purchase replaced by a new one (replacementCancellation) → ignored, no state for the old key", (type) => {
    const replaced = answer({ subscriptionState: "SUBSCRIPTION_STATE_EXPIRED", canceledStateContext: { replacementCancellation: {} } });
    const result = mapType(type, replaced);
    expect(result).toMatchObject({ kind: "ignored", warn: false, subscriptionKey: TOKEN });
    expect(result.kind === "ignored" && result.reason).toContain("replaced by a new one");
  });
});

describe("Google field mapping", () => {
  it("product_id is RevenueCat's subscriptionId:basePlanId, or the bare id without a base plan", () => {
    expect(onlyEvent(2).event.product_id).toBe("pro:monthly");
    expect(onlyEvent(2, answer({ lineItems: [lineItem({ offerDetails: undefined })] })).event.product_id).toBe("pro");
  });

  it.each([
    [
      { currencyCode: "USD", units: "12", nanos: 500_000_000 },
      { price: 12.5, price_in_purchased_currency: 12.5, currency: "USD" },
    ],
    [
      { currencyCode: "USD", nanos: 990_000_000 },
      { price: 0.99, price_in_purchased_currency: 0.99, currency: "USD" },
    ],
    [
      { currencyCode: "usd", units: 4 },
      { price: 4, price_in_purchased_currency: 4, currency: "USD" },
    ],
    [
      { currencyCode: "EUR", units: "8", nanos: 490_000_000 },
      { price: null, price_in_purchased_currency: 8.49, currency: "EUR" },
    ],
    [
      { currencyCode: "JPY", units: "1200" },
      { price: null, price_in_purchased_currency: 1200, currency: "JPY" },
    ],
    [
      { currencyCode: "USD", units: "0", nanos: 1 },
      { price: 1e-9, price_in_purchased_currency: 1e-9, currency: "USD" },
    ],
    // 1 + 0.14 in floating point is 1.1400000000000001: the decimal is read from text.
    [
      { currencyCode: "USD", units: "1", nanos: 140_000_000 },
      { price: 1.14, price_in_purchased_currency: 1.14, currency: "USD" },
    ],
  ])("recurringPrice %j → %j (units + nanos / 1e9; price only in USD)", (recurringPrice, money) => {
    const priced = answer({ lineItems: [lineItem({ autoRenewingPlan: { autoRenewEnabled: true, recurringPrice } })] });
    expect(onlyEvent(2, priced).event).toMatchObject(money);
  });

  it("country_code is regionCode, upper case", () => {
    expect(onlyEvent(2, answer({ regionCode: "gb" })).event.country_code).toBe("GB");
    expect(onlyEvent(2, answer({ regionCode: undefined })).event.country_code).toBeNull();
  });

  it.each([
    [{ basePrice: {} }, undefined, "NORMAL", "active"],
    [{ freeTrial: {} }, "trial", "TRIAL", "trialing"],
    [{ introductoryPrice: {} }, "intro", "INTRO", "active"],
    [{ prorationPeriod: { originalOfferPhaseType: "BASE" } }, undefined, "NORMAL", "active"],
    [undefined, undefined, "NORMAL", "active"],
  ])("offerPhase %j (offerId %s) → period_type %s; %s", (offerPhase, offerId, periodType, status) => {
    const item = lineItem({ offerPhase, offerDetails: { basePlanId: "monthly", offerId } });
    const { result, event } = onlyEvent(2, answer({ lineItems: [item] }));
    expect(event.period_type).toBe(periodType);
    expect(result.state).toMatchObject({ period_type: periodType, status });
  });

  it("an offer without offerPhase has an unknown period type: null on the event, left out of the state", () => {
    const item = lineItem({ offerPhase: undefined, offerDetails: { basePlanId: "monthly", offerId: "winback" } });
    const { result, event } = onlyEvent(2, answer({ lineItems: [item] }));
    expect(event).toMatchObject({ period_type: null, ...NO_MONEY });
    expect(result.state).not.toHaveProperty("period_type");
  });

  it("a proration period carries no amount (what was charged is not in the answer)", () => {
    const item = lineItem({ offerPhase: { prorationPeriod: {} } });
    expect(onlyEvent(2, answer({ lineItems: [item] })).event).toMatchObject(NO_MONEY);
  });

  it("environment: testPurchase present → sandbox, absent → production", () => {
    expect(mapType(2, answer({ testPurchase: {} }))).toMatchObject({ environment: "sandbox" });
    expect(mapType(2, answer())).toMatchObject({ environment: "production" });
  });

  it("store_user_id: obfuscatedExternalAccountId, else obfuscatedExternalProfileId, else none (the state keeps its link)", () => {
    const both = answer({ externalAccountIdentifiers: { obfuscatedExternalAccountId: "acct", obfuscatedExternalProfileId: "prof" } });
    expect(onlyEvent(2, both).event.store_user_id).toBe("acct");
    const profile = answer({ externalAccountIdentifiers: { obfuscatedExternalProfileId: "prof" } });
    expect(onlyEvent(2, profile).result.state.store_user_id).toBe("prof");
    const none = onlyEvent(2, answer({ externalAccountIdentifiers: undefined }));
    expect(none.event.store_user_id).toBeNull();
    expect(none.result.state).not.toHaveProperty("store_user_id");
  });

  it("transaction_id is the line item's latestSuccessfulOrderId; original_transaction_id the token", () => {
    const { event } = onlyEvent(2, answer({ latestOrderId: "GPA.deprecated-top-level" }));
    expect(event).toMatchObject({ transaction_id: ORDER, original_transaction_id: TOKEN });
  });

  it("supersedesKey is linkedPurchaseToken on any notification of the new token", () => {
    expect(subscription(mapType(2, answer({ linkedPurchaseToken: OLD_TOKEN }))).supersedesKey).toBe(OLD_TOKEN);
    expect(subscription(mapType(2, answer({ linkedPurchaseToken: TOKEN }))).supersedesKey).toBeNull();
  });

  it("several line items: the one whose access lasts longest stands for the subscription", () => {
    const items = [
      lineItem({ productId: "addon", expiryTime: iso(EXPIRY - 5 * DAY), latestSuccessfulOrderId: "GPA.1111-1111-1111-11111" }),
      lineItem({ productId: "pro", expiryTime: iso(EXPIRY + 5 * DAY), latestSuccessfulOrderId: "GPA.2222-2222-2222-22222" }),
      lineItem({ productId: "extra", expiryTime: iso(EXPIRY), latestSuccessfulOrderId: "GPA.3333-3333-3333-33333" }),
    ];
    const { result, event } = onlyEvent(2, answer({ lineItems: items }));
    expect(event).toMatchObject({
      product_id: "pro:monthly",
      transaction_id: "GPA.2222-2222-2222-22222",
      expiration_at_ms: EXPIRY + 5 * DAY,
    });
    expect(result.state).toMatchObject({ product_id: "pro:monthly", expires_at_ms: EXPIRY + 5 * DAY });
  });

  it("an item not owned yet (no order) does not stand for the subscription, however late its expiry", () => {
    const items = [lineItem(), lineItem({ productId: "next", latestSuccessfulOrderId: undefined, expiryTime: iso(EXPIRY + 60 * DAY) })];
    expect(onlyEvent(2, answer({ lineItems: items })).event.product_id).toBe("pro:monthly");
  });

  it("offer_code is a promotion code the customer typed, not the offer's id", () => {
    const coded = lineItem({
      offerDetails: { basePlanId: "monthly", offerId: "spring" },
      signupPromotion: { vanityCode: { promotionCode: "SPRING26" } },
    });
    expect(onlyEvent(2, answer({ lineItems: [coded] })).event.offer_code).toBe("SPRING26");
    const offerOnly = lineItem({ offerDetails: { basePlanId: "monthly", offerId: "spring" }, signupPromotion: { oneTimeCode: {} } });
    expect(onlyEvent(2, answer({ lineItems: [offerOnly] })).event.offer_code).toBeNull();
  });

  it("an auto-renewing plan without autoRenewEnabled does not renew (proto3 leaves false out)", () => {
    const item = lineItem({ autoRenewingPlan: { recurringPrice: { currencyCode: "USD", units: "9" } } });
    expect(onlyEvent(2, answer({ lineItems: [item] })).result.state.auto_renew).toBe(false);
  });

  it("times with nanoseconds or an offset are read to the millisecond", () => {
    const item = lineItem({ expiryTime: "2026-06-01T02:00:00.123456789+02:00" });
    expect(onlyEvent(2, answer({ lineItems: [item], startTime: "2026-05-01T00:00:00Z" })).event).toMatchObject({
      expiration_at_ms: EXPIRY + 123,
      purchased_at_ms: START,
    });
  });

  it("a token as long as a key may be still gives once_keys the ledger can store", () => {
    const long = "t".repeat(510);
    const result = subscription(
      checked(
        mapSubscriptionNotification({
          notificationType: 4,
          purchaseToken: long,
          eventTimeMillis: EVENT,
          purchase: answer(),
          calledAt: new Date(CALLED),
        }),
      ),
    );
    expect(result.events[0]?.once_key).toBe(purchaseKey(long));
  });

  it("an unknown subscriptionState → unknown, and unknown fields are ignored", () => {
    const future = answer({
      subscriptionState: "SUBSCRIPTION_STATE_SOMETHING_NEW",
      brandNewField: { a: 1 },
      lineItems: [lineItem({ newThing: true })],
    });
    expect(onlyEvent(2, future).result.state.status).toBe("unknown");
  });
});

/** The error a mapping throws for an answer that does not fit: the call it answered, then the first wrong field. */
function expectRefused(map: () => unknown, call: string, message: string) {
  expect(map).toThrow(GooglePurchaseResponseError);
  expect(map).toThrow(`Google's ${call} answer does not fit: `);
  expect(map).toThrow(message);
}

describe("Google answers that do not fit are refused with the field", () => {
  it.each([
    ["no object", null, "the answer: "],
    ["a string", "SUBSCRIPTION_STATE_ACTIVE", "the answer: "],
    ["a subscriptionState that is not text", answer({ subscriptionState: 7 as unknown as string }), "subscriptionState: "],
    ["no lineItems", answer({ lineItems: undefined }), "lineItems: "],
    ["empty lineItems", answer({ lineItems: [] }), "lineItems: must list at least one item"],
    ["an item without productId", answer({ lineItems: [lineItem({ productId: undefined })] }), "lineItems.0.productId: "],
    [
      "a time that is not one",
      answer({ lineItems: [lineItem({ expiryTime: "tomorrow" })] }),
      "lineItems.0.expiryTime: must be an RFC 3339 time",
    ],
    ["February 30", answer({ startTime: "2026-02-30T00:00:00Z" }), "startTime: must be an RFC 3339 time"],
    ["a time past 2255", answer({ startTime: "2300-01-01T00:00:00Z" }), "startTime: must be a time no later than 2255-06-05"],
    [
      "units with a decimal point",
      answer({ lineItems: [lineItem({ autoRenewingPlan: { recurringPrice: { currencyCode: "USD", units: "9.99" } } })] }),
      "lineItems.0.autoRenewingPlan.recurringPrice.units: ",
    ],
    [
      "units and nanos of opposite signs",
      answer({ lineItems: [lineItem({ autoRenewingPlan: { recurringPrice: { currencyCode: "USD", units: "1", nanos: -5 } } })] }),
      "units and nanos must have the same sign",
    ],
    [
      "a currency that is not a code",
      answer({ lineItems: [lineItem({ autoRenewingPlan: { recurringPrice: { currencyCode: "dollars", units: "1" } } })] }),
      "lineItems.0.autoRenewingPlan.recurringPrice.currencyCode: must be an ISO 4217 code",
    ],
    [
      "autoRenewEnabled as a string",
      answer({ lineItems: [lineItem({ autoRenewingPlan: { autoRenewEnabled: "yes" } })] }),
      "autoRenewEnabled",
    ],
    ["both plans", answer({ lineItems: [lineItem({ prepaidPlan: {} })] }), "has both autoRenewingPlan and prepaidPlan"],
    [
      "two offer phases",
      answer({ lineItems: [lineItem({ offerPhase: { basePrice: {}, freeTrial: {} } })] }),
      "lineItems.0.offerPhase: sets more than one",
    ],
    ["a three-letter regionCode", answer({ regionCode: "USA" }), "regionCode: must be an ISO 3166-1 alpha-2 code"],
    ["testPurchase as a boolean", answer({ testPurchase: true }), "testPurchase: "],
    [
      "another resource's kind",
      answer({ kind: "androidpublisher#productPurchase" }),
      "kind: must be androidpublisher#subscriptionPurchaseV2",
    ],
  ])("%s", (_what, purchase, message) => {
    const input = { notificationType: 2, purchaseToken: TOKEN, eventTimeMillis: EVENT, purchase, calledAt: new Date(CALLED) };
    expectRefused(() => mapSubscriptionNotification(input), "purchases.subscriptionsv2.get", message);
  });
});

const PRODUCT_TOKEN = "productproductproduct.AO-J1OxOneTimeProductToken";
const PURCHASE_TIME = Date.UTC(2026, 4, 15, 11, 59);

function productAnswer(overrides: Record<string, unknown> = {}) {
  return {
    kind: "androidpublisher#productPurchase",
    purchaseTimeMillis: String(PURCHASE_TIME),
    purchaseState: 0,
    consumptionState: 0,
    orderId: "GPA.9999-8888-7777-66666",
    productId: "coins_100",
    regionCode: "DE",
    acknowledgementState: 1,
    obfuscatedExternalAccountId: USER,
    quantity: 1,
    ...overrides,
  };
}

function mapProduct(type: number, purchase: unknown = productAnswer()): Normalized {
  return checked(
    mapOneTimeProductNotification({
      notificationType: type,
      purchaseToken: PRODUCT_TOKEN,
      sku: "coins_100",
      eventTimeMillis: EVENT,
      purchase,
      calledAt: new Date(CALLED),
    }),
  );
}

describe("Google one-time products", () => {
  it("1 ONE_TIME_PRODUCT_PURCHASED, purchased → NON_RENEWING_PURCHASE, once per token, no money; active, never renews", () => {
    const result = subscription(mapProduct(1));
    expect(result).toMatchObject({
      subscriptionKey: PRODUCT_TOKEN,
      environment: "production",
      stateAt: new Date(CALLED),
      supersedesKey: null,
    });
    expect(result.events.map((draft) => EventDraftSchema.parse(draft))).toEqual([
      EventDraftSchema.parse({
        type: "NON_RENEWING_PURCHASE",
        event_timestamp_ms: EVENT,
        product_id: "coins_100",
        period_type: "NORMAL",
        purchased_at_ms: PURCHASE_TIME,
        transaction_id: "GPA.9999-8888-7777-66666",
        original_transaction_id: PRODUCT_TOKEN,
        country_code: "DE",
        store_user_id: USER,
        once_key: purchaseKey(PRODUCT_TOKEN),
      }),
    ]);
    expect(result.state).toEqual({
      status: "active",
      product_id: "coins_100",
      auto_renew: false,
      period_type: "NORMAL",
      purchased_at_ms: PURCHASE_TIME,
      store_user_id: USER,
    });
  });

  it("a license tester's purchase (purchaseType 0) is sandbox; the notification's sku stands in for a missing productId", () => {
    const result = subscription(mapProduct(1, productAnswer({ purchaseType: 0, productId: undefined, purchaseState: undefined })));
    expect(result.environment).toBe("sandbox");
    expect(result.events[0]).toMatchObject({ type: "NON_RENEWING_PURCHASE", product_id: "coins_100" });
    expect(subscription(mapProduct(1, productAnswer({ purchaseType: 1 }))).environment).toBe("production");
  });

  it("1 while the payment is pending → no event; unknown", () => {
    const result = subscription(mapProduct(1, productAnswer({ purchaseState: 2 })));
    expect(result.events).toEqual([]);
    expect(result.state.status).toBe("unknown");
  });

  it("1 read once already canceled → no event; expired", () => {
    const result = subscription(mapProduct(1, productAnswer({ purchaseState: 1 })));
    expect(result.events).toEqual([]);
    expect(result.state.status).toBe("expired");
  });

  it("2 ONE_TIME_PRODUCT_CANCELED → no event (nothing paid, or the voided notification reports the refund); expired", () => {
    const result = subscription(mapProduct(2, productAnswer({ purchaseState: 1 })));
    expect(result.events).toEqual([]);
    expect(result.state).toMatchObject({ status: "expired", product_id: "coins_100", auto_renew: false });
  });

  it("2 never reports a purchase, even when the answer reads purchased", () => {
    const result = subscription(mapProduct(2));
    expect(result.events).toEqual([]);
    expect(result.state.status).toBe("active");
  });

  it("an unknown type → ignored with a warning", () => {
    expect(mapProduct(3)).toMatchObject({ kind: "ignored", warn: true, environment: "production", subscriptionKey: PRODUCT_TOKEN });
  });

  it.each([
    [
      "purchaseTimeMillis not digits",
      productAnswer({ purchaseTimeMillis: "yesterday" }),
      "purchaseTimeMillis: must be a whole number of milliseconds",
    ],
    ["purchaseState out of range", productAnswer({ purchaseState: 7 }), "purchaseState: "],
    [
      "a subscription's kind",
      productAnswer({ kind: "androidpublisher#subscriptionPurchaseV2" }),
      "kind: must be androidpublisher#productPurchase",
    ],
  ])("junk is refused: %s", (_what, purchase, message) => {
    const input = {
      notificationType: 1,
      purchaseToken: PRODUCT_TOKEN,
      sku: "coins_100",
      eventTimeMillis: EVENT,
      purchase,
      calledAt: new Date(CALLED),
    };
    expectRefused(() => mapOneTimeProductNotification(input), "purchases.products.get", message);
  });
});

/** A full refund of the subscription's current order, pushed with a verified token, without Google's answer unless `overrides` gives one. */
function voidedInput(overrides: Partial<VoidedPurchaseInput> = {}): VoidedPurchaseInput {
  return {
    purchaseToken: TOKEN,
    orderId: ORDER,
    productType: 1,
    refundType: 1,
    eventTimeMillis: EVENT,
    answer: null,
    authenticated: true,
    ...overrides,
  };
}

function voided(overrides: Partial<VoidedPurchaseInput> = {}): SubscriptionResult {
  return subscription(checked(mapVoidedPurchase(voidedInput(overrides))));
}

const refunded = (purchase: unknown) => ({ answer: { purchase, calledAt: new Date(CALLED) } });

describe("Google voided purchases (refunds)", () => {
  it("a full refund of the current period → CANCELLATION, CUSTOMER_SUPPORT, the negative price, once per order; revoked", () => {
    const gone = answer({ subscriptionState: "SUBSCRIPTION_STATE_EXPIRED", lineItems: [lineItem({ expiryTime: iso(EVENT + 2 * DAY) })] });
    const result = voided(refunded(gone));
    expect(result.events.map((draft) => EventDraftSchema.parse(draft))).toEqual([
      EventDraftSchema.parse({
        type: "CANCELLATION",
        event_timestamp_ms: EVENT,
        cancel_reason: "CUSTOMER_SUPPORT",
        product_id: "pro:monthly",
        period_type: "NORMAL",
        purchased_at_ms: START,
        expiration_at_ms: EVENT + 2 * DAY,
        transaction_id: ORDER,
        original_transaction_id: TOKEN,
        country_code: "US",
        store_user_id: USER,
        price: -9.99,
        price_in_purchased_currency: -9.99,
        currency: "USD",
        once_key: `refund:${ORDER}`,
      }),
    ]);
    expect(result.state).toEqual(fullState("revoked", { expires_at_ms: EVENT }));
    expect(result).toMatchObject({ environment: "production", stateAt: new Date(CALLED) });
  });

  it("a full refund while the answer still gives access (an earlier period) → the event, no money for an older order; state unchanged", () => {
    const result = voided({ orderId: "GPA.3345-1234-5678-90123..0", ...refunded(answer()) });
    expect(result.events[0]).toMatchObject({
      type: "CANCELLATION",
      cancel_reason: "CUSTOMER_SUPPORT",
      transaction_id: "GPA.3345-1234-5678-90123..0",
    });
    expect(EventDraftSchema.parse(result.events[0])).toMatchObject(NO_MONEY);
    expect(result.state).toEqual({});
  });

  it("a full refund of a purchase since replaced by a new token → the event; no state for the old key", () => {
    const replaced = answer({ subscriptionState: "SUBSCRIPTION_STATE_EXPIRED", canceledStateContext: { replacementCancellation: {} } });
    expect(voided(refunded(replaced)).state).toEqual({});
  });

  it("a full refund without Google's answer → the notification's facts only; revoked; production unless the caller says", () => {
    const result = voided();
    expect(EventDraftSchema.parse(result.events[0])).toMatchObject({
      type: "CANCELLATION",
      cancel_reason: "CUSTOMER_SUPPORT",
      transaction_id: ORDER,
      original_transaction_id: TOKEN,
      product_id: null,
      ...NO_MONEY,
    });
    expect(result.state).toEqual({ status: "revoked" });
    expect(result).toMatchObject({ environment: "production" });
    expect(result).not.toHaveProperty("stateAt");
    expect(voided({ environment: "sandbox" }).environment).toBe("sandbox");
  });

  it("a full refund without Google's answer, pushed without a verified token → the event, but no revocation on its word alone", () => {
    const result = voided({ authenticated: false });
    expect(result.events.map((event) => event.type)).toEqual(["CANCELLATION"]);
    expect(result.state).toEqual({});
  });

  it("a quantity-based partial refund of a one-time product → CANCELLATION without an amount, each its own; state unchanged", () => {
    const result = voided({
      purchaseToken: PRODUCT_TOKEN,
      orderId: "GPA.9999-8888-7777-66666",
      productType: 2,
      refundType: 2,
      ...refunded(productAnswer({ quantity: 3, refundableQuantity: 2, purchaseType: 0 })),
    });
    expect(EventDraftSchema.parse(result.events[0])).toMatchObject({
      type: "CANCELLATION",
      cancel_reason: "CUSTOMER_SUPPORT",
      product_id: "coins_100",
      once_key: null,
      ...NO_MONEY,
    });
    expect(result.state).toEqual({});
    expect(result.environment).toBe("sandbox");
    expect(voided({ refundType: 2 }).state).toEqual({});
  });

  it("a full refund of a one-time product → revoked", () => {
    const result = voided({
      purchaseToken: PRODUCT_TOKEN,
      orderId: "GPA.9999-8888-7777-66666",
      productType: 2,
      ...refunded(productAnswer()),
    });
    expect(result.state).toMatchObject({ status: "revoked", product_id: "coins_100", auto_renew: false });
    expect(result.events[0]).toMatchObject({ once_key: "refund:GPA.9999-8888-7777-66666" });
  });

  it.each([
    [{ productType: 3 }, "product type 3"],
    [{ refundType: 9 }, "refund type 9"],
  ])("%j → ignored with a warning", (overrides, words) => {
    const result = checked(mapVoidedPurchase(voidedInput(overrides)));
    expect(result).toMatchObject({ kind: "ignored", warn: true, subscriptionKey: TOKEN });
    expect(result.kind === "ignored" && result.reason).toContain(words);
  });

  it("an answer that does not fit is refused", () => {
    expect(() => voided(refunded({ subscriptionState: 3 }))).toThrow(GooglePurchaseResponseError);
  });
});

describe("Google test notification", () => {
  it("→ kind test in the given environment, at the event time", () => {
    expect(checked(mapTestNotification({ environment: "sandbox", eventTimeMillis: EVENT }))).toEqual({
      kind: "test",
      environment: "sandbox",
      storeEventAt: new Date(EVENT),
    });
  });
});
