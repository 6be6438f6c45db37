import { EventDraftSchema } from "@subgate/schema";
import { describe, expect, it } from "vitest";
import { NormalizedSchema, type Normalized } from "../src/adapter.ts";
import { normalizeAppleV1 } from "../src/apple/v1/mapping.ts";
import { AppleV1BodySchema, type AppleV1Body, v1EventTimeMs, v1SubscriptionKey } from "../src/apple/v1/payload.ts";

const DAY = 86_400_000;
const PURCHASED = Date.UTC(2026, 0, 1);
const EXPIRES = Date.UTC(2026, 1, 1);
const RECEIVED = new Date(Date.UTC(2026, 0, 15, 12));
const CHANGED = Date.UTC(2026, 0, 15, 11);
const ORIGINAL_ID = "1000000812345678";
const TRANSACTION_ID = "1000000898765432";
const TOKEN = "6f1c2b9e-3d4a-4b8c-9e7f-1a2b3c4d5e6f";
const MONTHLY = "com.example.pro.monthly";
const BASIC = "com.example.basic.monthly";

/** A receipt entry as V1 writes it: every value a string. */
function entry(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const value: Record<string, string | undefined> = {
    quantity: "1",
    product_id: MONTHLY,
    transaction_id: TRANSACTION_ID,
    original_transaction_id: ORIGINAL_ID,
    purchase_date_ms: String(PURCHASED),
    original_purchase_date_ms: String(PURCHASED),
    expires_date_ms: String(EXPIRES),
    web_order_line_item_id: "1000000055512345",
    is_trial_period: "false",
    is_in_intro_offer_period: "false",
    in_app_ownership_type: "PURCHASED",
    app_account_token: TOKEN,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

function pendingRenewal(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    auto_renew_product_id: MONTHLY,
    product_id: MONTHLY,
    original_transaction_id: ORIGINAL_ID,
    auto_renew_status: "1",
    ...overrides,
  };
}

interface BodyOptions {
  entries?: Record<string, string>[];
  pending?: Record<string, string>[];
  top?: Record<string, unknown>;
}

function body(type: string, options: BodyOptions = {}): AppleV1Body {
  return AppleV1BodySchema.parse({
    notification_type: type,
    environment: "Sandbox",
    bid: "com.example.app",
    bvrs: "42",
    auto_renew_status: "true",
    auto_renew_product_id: MONTHLY,
    unified_receipt: {
      environment: "Sandbox",
      status: 0,
      latest_receipt: "<base64>",
      latest_receipt_info: options.entries ?? [entry()],
      pending_renewal_info: options.pending ?? [pendingRenewal()],
    },
    ...options.top,
  });
}

function normalize(parsed: AppleV1Body): Normalized {
  const result = normalizeAppleV1(parsed, RECEIVED);
  const checked = NormalizedSchema.safeParse(result);
  expect(checked.success, checked.success ? "" : JSON.stringify(checked.error.issues)).toBe(true);
  return result;
}

function onlyEvent(parsed: AppleV1Body) {
  const result = normalize(parsed);
  if (result.kind !== "subscription") throw new Error(`expected a subscription result, got ${JSON.stringify(result)}`);
  expect(result.events).toHaveLength(1);
  return { result, event: EventDraftSchema.parse(result.events[0]) };
}

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

describe("Apple V1 body", () => {
  it("parses millisecond strings to numbers and flags to booleans", () => {
    const parsed = body("DID_RENEW", { top: { auto_renew_status_change_date_ms: String(CHANGED), expiration_intent: "1" } });
    expect(parsed.auto_renew_status).toBe(true);
    expect(parsed.auto_renew_status_change_date_ms).toBe(CHANGED);
    expect(parsed.expiration_intent).toBe(1);
    expect(parsed.unified_receipt?.latest_receipt_info?.[0]).toMatchObject({ purchase_date_ms: PURCHASED, is_trial_period: false });
    expect(parsed.unified_receipt?.pending_renewal_info?.[0]?.auto_renew_status).toBe(true);
  });

  it.each([
    ["a time that is not digits", { purchase_date_ms: "1767225600000.5" }],
    ["a time with a sign", { expires_date_ms: "-1" }],
    ["a time in seconds as words", { cancellation_date_ms: "soon" }],
    ["a time too large to be exact", { purchase_date_ms: "99999999999999999999" }],
  ])("refuses %s", (_name, field) => {
    const result = AppleV1BodySchema.safeParse({
      notification_type: "DID_RENEW",
      unified_receipt: { latest_receipt_info: [entry(field)] },
    });
    expect(result.success).toBe(false);
  });

  it("requires notification_type and nothing else", () => {
    expect(AppleV1BodySchema.safeParse({ environment: "PROD" }).success).toBe(false);
    expect(AppleV1BodySchema.safeParse({ notification_type: "DID_RENEW" }).success).toBe(true);
    expect(AppleV1BodySchema.safeParse({ notification_type: "DID_RENEW", environment: "Production" }).success).toBe(false);
  });

  it("keeps fields it does not know (loose objects)", () => {
    const parsed = AppleV1BodySchema.parse({
      notification_type: "DID_RENEW",
      deprecation: "2023-06-05",
      unified_receipt: { latest_receipt_info: [{ is_upgraded: "false", subscription_group_identifier: "2100" }] },
    });
    expect(parsed).toMatchObject({ deprecation: "2023-06-05" });
  });

  describe("v1EventTimeMs", () => {
    const older = entry({
      transaction_id: "1000000000000001",
      purchase_date_ms: String(PURCHASED - 31 * DAY),
      expires_date_ms: String(PURCHASED),
    });

    it("is the newest transaction's purchase time for purchases and renewals", () => {
      expect(v1EventTimeMs(body("DID_RENEW", { entries: [older, entry()] }))).toBe(PURCHASED);
    });

    it("is auto_renew_status_change_date_ms for a renewal-status change", () => {
      expect(v1EventTimeMs(body("DID_CHANGE_RENEWAL_STATUS", { top: { auto_renew_status_change_date_ms: String(CHANGED) } }))).toBe(
        CHANGED,
      );
    });

    it.each(["CANCEL", "REFUND", "REVOKE"])("is the cancellation time for %s", (type) => {
      const cancelled = entry({ cancellation_date_ms: String(CHANGED), cancellation_reason: "0" });
      expect(v1EventTimeMs(body(type, { entries: [older, cancelled] }))).toBe(CHANGED);
    });

    it("is null without any transaction", () => {
      expect(v1EventTimeMs(AppleV1BodySchema.parse({ notification_type: "DID_RENEW" }))).toBeNull();
    });
  });

  describe("v1SubscriptionKey", () => {
    it("is the original_transaction_id of the newest transaction of the body's product", () => {
      const otherProduct = entry({
        product_id: "com.example.other",
        original_transaction_id: "1000000099999999",
        purchase_date_ms: String(PURCHASED + DAY),
      });
      expect(v1SubscriptionKey(body("DID_RENEW", { entries: [entry(), otherProduct] }))).toBe(ORIGINAL_ID);
    });

    it("is the newest transaction's when the body names no product (or none of its transactions)", () => {
      const newer = entry({
        product_id: "com.example.other",
        original_transaction_id: "1000000099999999",
        purchase_date_ms: String(PURCHASED + DAY),
      });
      const parsed = body("REFUND", { entries: [entry(), newer], top: { auto_renew_product_id: undefined } });
      expect(v1SubscriptionKey(parsed)).toBe("1000000099999999");
      expect(v1SubscriptionKey(body("DID_RENEW", { entries: [entry(), newer], top: { auto_renew_product_id: "com.example.gone" } }))).toBe(
        "1000000099999999",
      );
    });

    it("is the refunded transaction's for a refund, even when a later purchase is newer", () => {
      const refundedCoins = entry({
        product_id: "com.example.coins",
        original_transaction_id: "1000000011110000",
        cancellation_date_ms: String(CHANGED),
        cancellation_reason: "1",
      });
      const later = entry({ purchase_date_ms: String(PURCHASED + DAY) });
      expect(v1SubscriptionKey(body("REFUND", { entries: [refundedCoins, later], top: { auto_renew_product_id: undefined } }))).toBe(
        "1000000011110000",
      );
    });
  });
});

describe("Apple V1 mapping", () => {
  it("INITIAL_BUY → INITIAL_PURCHASE with the transaction's fields and no price (V1 has none); active", () => {
    const { result, event } = onlyEvent(body("INITIAL_BUY"));
    expect(result).toMatchObject({
      kind: "subscription",
      subscriptionKey: ORIGINAL_ID,
      environment: "sandbox",
      storeEventAt: new Date(PURCHASED),
      stateRank: 0,
    });
    expect(event).toEqual({
      ...EventDraftSchema.parse({ type: "INITIAL_PURCHASE", event_timestamp_ms: PURCHASED }),
      product_id: MONTHLY,
      period_type: "NORMAL",
      purchased_at_ms: PURCHASED,
      expiration_at_ms: EXPIRES,
      transaction_id: TRANSACTION_ID,
      original_transaction_id: ORIGINAL_ID,
      is_family_share: false,
      store_user_id: TOKEN,
    });
    expect(result.kind === "subscription" && result.state).toEqual(fullState("active"));
  });

  it("INITIAL_BUY of a free trial → period_type TRIAL; trialing", () => {
    const { result, event } = onlyEvent(body("INITIAL_BUY", { entries: [entry({ is_trial_period: "true" })] }));
    expect(event.period_type).toBe("TRIAL");
    expect(result.kind === "subscription" && result.state).toEqual(fullState("trialing", { period_type: "TRIAL" }));
  });

  it.each(["DID_RENEW", "DID_RECOVER", "INTERACTIVE_RENEWAL"])("%s → RENEWAL; active", (type) => {
    const { result, event } = onlyEvent(body(type));
    expect(event).toMatchObject({ type: "RENEWAL", product_id: MONTHLY, price: null, transaction_id: TRANSACTION_ID });
    expect(result.kind === "subscription" && result.state).toEqual(fullState("active"));
  });

  describe("DID_CHANGE_RENEWAL_STATUS", () => {
    const at = { auto_renew_status_change_date_ms: String(CHANGED) };

    it("auto-renew off → CANCELLATION, UNSUBSCRIBE, at the change time; canceled", () => {
      const parsed = body("DID_CHANGE_RENEWAL_STATUS", {
        top: { ...at, auto_renew_status: "false" },
        pending: [pendingRenewal({ auto_renew_status: "0" })],
      });
      const { result, event } = onlyEvent(parsed);
      expect(event).toMatchObject({
        type: "CANCELLATION",
        cancel_reason: "UNSUBSCRIBE",
        event_timestamp_ms: CHANGED,
        expiration_at_ms: EXPIRES,
      });
      expect(result.kind === "subscription" && result.state).toEqual(fullState("canceled", { auto_renew: false }));
    });

    it("auto-renew off with a refunded transaction (sent with CANCEL) → CANCELLATION, CUSTOMER_SUPPORT; revoked", () => {
      const refunded = entry({ cancellation_date_ms: String(CHANGED - 1000), cancellation_reason: "0" });
      const parsed = body("DID_CHANGE_RENEWAL_STATUS", { entries: [refunded], top: { ...at, auto_renew_status: "false" } });
      const { result, event } = onlyEvent(parsed);
      expect(event).toMatchObject({ type: "CANCELLATION", cancel_reason: "CUSTOMER_SUPPORT" });
      expect(result.kind === "subscription" && result.state).toMatchObject({
        status: "revoked",
        auto_renew: false,
        expires_at_ms: CHANGED - 1000,
      });
    });

    it("auto-renew on → UNCANCELLATION; active", () => {
      const { result, event } = onlyEvent(body("DID_CHANGE_RENEWAL_STATUS", { top: { ...at, auto_renew_status: "true" } }));
      expect(event).toMatchObject({ type: "UNCANCELLATION", event_timestamp_ms: CHANGED });
      expect(result.kind === "subscription" && result.state).toEqual(fullState("active"));
    });
  });

  it("DID_CHANGE_RENEWAL_PREF → PRODUCT_CHANGE to the renewal product, at the next renewal; state unchanged", () => {
    const parsed = body("DID_CHANGE_RENEWAL_PREF", {
      top: { auto_renew_product_id: BASIC },
      pending: [pendingRenewal({ auto_renew_product_id: BASIC })],
    });
    const { result, event } = onlyEvent(parsed);
    expect(event).toMatchObject({ type: "PRODUCT_CHANGE", product_id: MONTHLY, new_product_id: BASIC });
    expect(result.kind === "subscription" && result.state).toEqual({});
  });

  describe("DID_FAIL_TO_RENEW", () => {
    const lapsed = entry({ expires_date_ms: String(RECEIVED.getTime() - DAY) });

    it("in a grace period → BILLING_ISSUE with its end; in_grace_period", () => {
      const graceEnds = RECEIVED.getTime() + 5 * DAY;
      const pending = pendingRenewal({
        is_in_billing_retry_period: "1",
        grace_period_expires_date_ms: String(graceEnds),
        expiration_intent: "2",
      });
      const { result, event } = onlyEvent(body("DID_FAIL_TO_RENEW", { entries: [lapsed], pending: [pending] }));
      expect(event).toMatchObject({ type: "BILLING_ISSUE", grace_period_expiration_at_ms: graceEnds });
      expect(result).toMatchObject({ stateRank: 1, state: { status: "in_grace_period" } });
    });

    it("without one → BILLING_ISSUE; in_billing_retry", () => {
      const pending = pendingRenewal({ is_in_billing_retry_period: "1", expiration_intent: "2" });
      const { result, event } = onlyEvent(body("DID_FAIL_TO_RENEW", { entries: [lapsed], pending: [pending] }));
      expect(event).toMatchObject({ type: "BILLING_ISSUE", grace_period_expiration_at_ms: null });
      expect(result.kind === "subscription" && result.state.status).toBe("in_billing_retry");
    });
  });

  describe("refunds", () => {
    const refundedAt = CHANGED;
    const refunded = entry({ cancellation_date_ms: String(refundedAt), cancellation_reason: "1" });

    it("CANCEL with cancellation_reason → CANCELLATION, CUSTOMER_SUPPORT, at the cancellation; revoked", () => {
      const { result, event } = onlyEvent(body("CANCEL", { entries: [refunded], top: { auto_renew_status: "false" } }));
      expect(event).toMatchObject({
        type: "CANCELLATION",
        cancel_reason: "CUSTOMER_SUPPORT",
        event_timestamp_ms: refundedAt,
        expiration_at_ms: refundedAt,
        price: null,
      });
      expect(result.kind === "subscription" && result.state).toMatchObject({ status: "revoked", expires_at_ms: refundedAt });
    });

    it("CANCEL without cancellation_reason (an upgrade, in older V1) is ignored", () => {
      const upgraded = entry({ cancellation_date_ms: String(refundedAt), is_upgraded: "true" });
      const result = normalize(body("CANCEL", { entries: [upgraded] }));
      expect(result).toMatchObject({ kind: "ignored", subscriptionKey: ORIGINAL_ID });
    });

    it("REFUND → CANCELLATION, CUSTOMER_SUPPORT; revoked", () => {
      const { result, event } = onlyEvent(body("REFUND", { entries: [refunded] }));
      expect(event).toMatchObject({ type: "CANCELLATION", cancel_reason: "CUSTOMER_SUPPORT", event_timestamp_ms: refundedAt });
      expect(result.kind === "subscription" && result.state.status).toBe("revoked");
    });
  });

  it("REVOKE (Family Sharing access removed) → EXPIRATION, UNKNOWN, is_family_share; revoked", () => {
    const shared = entry({ in_app_ownership_type: "FAMILY_SHARED", cancellation_date_ms: String(CHANGED) });
    const { result, event } = onlyEvent(body("REVOKE", { entries: [shared] }));
    expect(event).toMatchObject({ type: "EXPIRATION", expiration_reason: "UNKNOWN", is_family_share: true, expiration_at_ms: CHANGED });
    expect(result.kind === "subscription" && result.state.status).toBe("revoked");
  });

  it("CONSUMPTION_REQUEST → CONSUMPTION_REQUEST (V1 gives no reason); state unchanged", () => {
    const { result, event } = onlyEvent(body("CONSUMPTION_REQUEST"));
    expect(event).toMatchObject({ type: "CONSUMPTION_REQUEST", consumption_request_reason: null });
    expect(result.kind === "subscription" && result.state).toEqual({});
  });

  it("PRICE_INCREASE_CONSENT → PRICE_INCREASE; state unchanged", () => {
    const { result, event } = onlyEvent(body("PRICE_INCREASE_CONSENT"));
    expect(event).toMatchObject({ type: "PRICE_INCREASE", product_id: MONTHLY });
    expect(result.kind === "subscription" && result.state).toEqual({});
  });

  it("an unknown type is ignored with a reason naming it, never thrown", () => {
    const result = normalize(body("RENEWAL"));
    expect(result).toMatchObject({ kind: "ignored", environment: "sandbox", subscriptionKey: ORIGINAL_ID });
    expect(result.kind === "ignored" && result.reason).toContain("RENEWAL");
  });

  it("a body without transactions is ignored, without a subscription key", () => {
    const result = normalize(AppleV1BodySchema.parse({ notification_type: "DID_RENEW", environment: "PROD" }));
    expect(result).toMatchObject({ kind: "ignored", environment: "production", subscriptionKey: null });
  });

  describe("fields", () => {
    it("environment PROD → production", () => {
      const result = normalize(body("DID_RENEW", { top: { environment: "PROD" } }));
      expect(result.kind === "subscription" && result.environment).toBe("production");
    });

    it.each([
      ["a free trial", { is_trial_period: "true" }, "TRIAL", null],
      ["an introductory price", { is_in_intro_offer_period: "true" }, "INTRO", null],
      ["a promotional offer", { promotional_offer_id: "loyal-50" }, "PROMOTIONAL", null],
      ["an offer code", { offer_code_ref_name: "SPRING2026" }, "PROMOTIONAL", "SPRING2026"],
      ["no offer", {}, "NORMAL", null],
    ])("%s → period_type %s", (_name, flags, periodType, offerCode) => {
      const { event } = onlyEvent(body("INITIAL_BUY", { entries: [entry(flags)] }));
      expect(event).toMatchObject({ period_type: periodType, offer_code: offerCode });
    });

    it("app_account_token → store_user_id on the event and the state", () => {
      const { result, event } = onlyEvent(body("DID_RENEW"));
      expect(event.store_user_id).toBe(TOKEN);
      expect(result.kind === "subscription" && result.state.store_user_id).toBe(TOKEN);
      const none = onlyEvent(body("DID_RENEW", { entries: [entry({ app_account_token: undefined })] }));
      expect(none.event.store_user_id).toBeNull();
      expect(none.result.kind === "subscription" && "store_user_id" in none.result.state).toBe(false);
    });

    it("reads the subscription's own pending renewal info among several", () => {
      const other = pendingRenewal({ original_transaction_id: "1000000099999999", auto_renew_status: "1" });
      const own = pendingRenewal({ auto_renew_status: "0" });
      const { result } = onlyEvent(body("DID_RENEW", { pending: [other, own] }));
      expect(result.kind === "subscription" && result.state.auto_renew).toBe(false);
    });
  });
});
