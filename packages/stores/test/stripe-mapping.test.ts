import { describe, expect, it } from "vitest";
import type { Normalized } from "../src/adapter.ts";
import { createStripeAdapter, type StripeConfig } from "../src/index.ts";
import { eventContext, mapChargeRefunded, reasonFromCancellationDetails } from "../src/stripe/mapping.ts";
import { ChargeSchema, StripeEventSchema } from "../src/stripe/objects.ts";
import {
  FEB_1,
  JAN_1,
  MAR_1,
  PRO_MONTHLY,
  PRO_YEARLY,
  SHAPES,
  SUBSCRIPTION_ID,
  TEAM_MONTHLY,
  chargeObject,
  invoiceObject,
  stripeEvent,
  subscriptionItem,
  subscriptionObject,
  type PayloadShape,
} from "@subgate/testing/stripe-objects";
import { storedNotification } from "./fixtures/stripe-requests.ts";

const adapter = createStripeAdapter({ apiBaseUrl: "http://127.0.0.1:9" });
const config: StripeConfig = { webhookSecrets: ["whsec_unused"], apiKey: null };

const CREATED = JAN_1 + 60;
const at = (seconds: number) => seconds * 1000;
const FIRST_INVOICE = "in_1QmZy82Hq2Lk9TbVfirst";

function normalize(event: Record<string, unknown>): Promise<Normalized> {
  return adapter.normalize(storedNotification(event), config);
}

/** The `previous_attributes` a renewal or a plan change puts on a subscription update, per shape. */
function previousPeriodAndItems(shape: PayloadShape, price = PRO_MONTHLY) {
  const previousItem = subscriptionItem({ shape, price, periodStart: JAN_1 - 86_400 * 31, periodEnd: JAN_1 });
  const items = { object: "list", data: [previousItem], has_more: false, total_count: 1 };
  return shape === "legacy"
    ? { current_period_start: JAN_1 - 86_400 * 31, current_period_end: JAN_1, latest_invoice: "in_old", items }
    : { items, latest_invoice: "in_old" };
}

describe.each(SHAPES)("Stripe mapping, %s payload shape", (shape) => {
  describe("customer.subscription.created", () => {
    it("trialing → INITIAL_PURCHASE with period_type TRIAL and a zero price", async () => {
      const subscription = subscriptionObject({
        shape,
        status: "trialing",
        trialStart: JAN_1,
        trialEnd: FEB_1,
        latestInvoice: FIRST_INVOICE,
      });
      const result = await normalize(stripeEvent({ shape, type: "customer.subscription.created", object: subscription, created: CREATED }));
      expect(result).toEqual({
        kind: "subscription",
        subscriptionKey: SUBSCRIPTION_ID,
        environment: "sandbox",
        storeEventAt: new Date(at(CREATED)),
        stateRank: 0,
        state: {
          status: "trialing",
          product_id: PRO_MONTHLY.productId,
          expires_at_ms: at(FEB_1),
          auto_renew: true,
          period_type: "TRIAL",
          purchased_at_ms: at(JAN_1),
        },
        events: [
          {
            type: "INITIAL_PURCHASE",
            event_timestamp_ms: at(CREATED),
            product_id: PRO_MONTHLY.productId,
            period_type: "TRIAL",
            purchased_at_ms: at(JAN_1),
            expiration_at_ms: at(FEB_1),
            original_transaction_id: SUBSCRIPTION_ID,
            transaction_id: FIRST_INVOICE,
            price: 0,
            price_in_purchased_currency: 0,
            currency: "USD",
          },
        ],
      });
    });

    it("active → INITIAL_PURCHASE with period_type NORMAL; livemode → production; expanded product", async () => {
      const subscription = subscriptionObject({
        shape,
        status: "active",
        livemode: true,
        expandProduct: true,
        latestInvoice: FIRST_INVOICE,
      });
      const result = await normalize(
        stripeEvent({ shape, type: "customer.subscription.created", object: subscription, created: CREATED, livemode: true }),
      );
      expect(result).toEqual({
        kind: "subscription",
        subscriptionKey: SUBSCRIPTION_ID,
        environment: "production",
        storeEventAt: new Date(at(CREATED)),
        stateRank: 0,
        state: {
          status: "active",
          product_id: PRO_MONTHLY.productId,
          expires_at_ms: at(FEB_1),
          auto_renew: true,
          period_type: "NORMAL",
          purchased_at_ms: at(JAN_1),
        },
        events: [
          {
            type: "INITIAL_PURCHASE",
            event_timestamp_ms: at(CREATED),
            product_id: PRO_MONTHLY.productId,
            period_type: "NORMAL",
            purchased_at_ms: at(JAN_1),
            expiration_at_ms: at(FEB_1),
            original_transaction_id: SUBSCRIPTION_ID,
            transaction_id: FIRST_INVOICE,
          },
        ],
      });
    });

    it("incomplete → no event, state unknown", async () => {
      const subscription = subscriptionObject({ shape, status: "incomplete" });
      const result = await normalize(stripeEvent({ shape, type: "customer.subscription.created", object: subscription }));
      expect(result).toMatchObject({ kind: "subscription", events: [], state: { status: "unknown", auto_renew: true } });
    });
  });

  describe("customer.subscription.updated", () => {
    it("incomplete → active (first payment went through) → INITIAL_PURCHASE", async () => {
      const subscription = subscriptionObject({ shape, status: "active" });
      const result = await normalize(
        stripeEvent({ shape, type: "customer.subscription.updated", object: subscription, previous: { status: "incomplete" } }),
      );
      expect(result).toMatchObject({ kind: "subscription", state: { status: "active" } });
      expect(result.kind === "subscription" && result.events.map((e) => [e.type, e.period_type])).toEqual([["INITIAL_PURCHASE", "NORMAL"]]);
    });

    it("cancel_at_period_end false → true → one CANCELLATION (UNSUBSCRIBE), state canceled", async () => {
      // Stripe sets cancel_at to the period end along with cancel_at_period_end: still one cancellation.
      const subscription = subscriptionObject({
        shape,
        cancelAtPeriodEnd: true,
        cancelAt: FEB_1,
        canceledAt: JAN_1 + 3_000,
        cancellationReason: "cancellation_requested",
        latestInvoice: FIRST_INVOICE,
      });
      const result = await normalize(
        stripeEvent({
          shape,
          type: "customer.subscription.updated",
          object: subscription,
          previous: {
            cancel_at: null,
            cancel_at_period_end: false,
            canceled_at: null,
            cancellation_details: { comment: null, feedback: null, reason: null },
          },
          created: CREATED,
        }),
      );
      expect(result).toEqual({
        kind: "subscription",
        subscriptionKey: SUBSCRIPTION_ID,
        environment: "sandbox",
        storeEventAt: new Date(at(CREATED)),
        stateRank: 1,
        state: {
          status: "canceled",
          product_id: PRO_MONTHLY.productId,
          expires_at_ms: at(FEB_1),
          auto_renew: false,
          period_type: "NORMAL",
          purchased_at_ms: at(JAN_1),
        },
        events: [
          {
            type: "CANCELLATION",
            event_timestamp_ms: at(CREATED),
            cancel_reason: "UNSUBSCRIBE",
            product_id: PRO_MONTHLY.productId,
            period_type: "NORMAL",
            purchased_at_ms: at(JAN_1),
            expiration_at_ms: at(FEB_1),
            original_transaction_id: SUBSCRIPTION_ID,
            transaction_id: FIRST_INVOICE,
          },
        ],
      });
    });

    it("cancel_at set to a date before the period end → CANCELLATION expiring then, reason from cancellation_details", async () => {
      const cancelAt = JAN_1 + 86_400 * 10;
      const subscription = subscriptionObject({ shape, cancelAt, cancellationReason: "payment_disputed" });
      const result = await normalize(
        stripeEvent({ shape, type: "customer.subscription.updated", object: subscription, previous: { cancel_at: null } }),
      );
      expect(result).toMatchObject({
        state: { status: "canceled", auto_renew: false },
        events: [{ type: "CANCELLATION", cancel_reason: "CUSTOMER_SUPPORT", expiration_at_ms: at(cancelAt) }],
      });
      expect(result.kind === "subscription" && result.events).toHaveLength(1);
    });

    it("cancel_at_period_end true → false → UNCANCELLATION, state active again", async () => {
      const subscription = subscriptionObject({ shape });
      const result = await normalize(
        stripeEvent({
          shape,
          type: "customer.subscription.updated",
          object: subscription,
          previous: {
            cancel_at: FEB_1,
            cancel_at_period_end: true,
            canceled_at: JAN_1 + 3_000,
            cancellation_details: { comment: null, feedback: null, reason: "cancellation_requested" },
          },
          created: CREATED,
        }),
      );
      expect(result).toEqual({
        kind: "subscription",
        subscriptionKey: SUBSCRIPTION_ID,
        environment: "sandbox",
        storeEventAt: new Date(at(CREATED)),
        stateRank: 1,
        state: {
          status: "active",
          product_id: PRO_MONTHLY.productId,
          expires_at_ms: at(FEB_1),
          auto_renew: true,
          period_type: "NORMAL",
          purchased_at_ms: at(JAN_1),
        },
        events: [
          {
            type: "UNCANCELLATION",
            event_timestamp_ms: at(CREATED),
            product_id: PRO_MONTHLY.productId,
            period_type: "NORMAL",
            purchased_at_ms: at(JAN_1),
            expiration_at_ms: at(FEB_1),
            original_transaction_id: SUBSCRIPTION_ID,
            transaction_id: "in_1QmZy82Hq2Lk9TbVfirst",
          },
        ],
      });
    });

    it("price change to another product → PRODUCT_CHANGE from the old product to the new one", async () => {
      const subscription = subscriptionObject({ shape, price: TEAM_MONTHLY });
      const previous =
        shape === "legacy"
          ? { ...previousPeriodAndItems(shape), plan: subscriptionItem({ shape, price: PRO_MONTHLY }).plan }
          : previousPeriodAndItems(shape);
      const result = await normalize(
        stripeEvent({ shape, type: "customer.subscription.updated", object: subscription, previous, created: CREATED }),
      );
      expect(result).toMatchObject({
        kind: "subscription",
        state: { status: "active", product_id: TEAM_MONTHLY.productId, expires_at_ms: at(FEB_1) },
        events: [
          {
            type: "PRODUCT_CHANGE",
            event_timestamp_ms: at(CREATED),
            product_id: PRO_MONTHLY.productId,
            new_product_id: TEAM_MONTHLY.productId,
            expiration_at_ms: at(FEB_1),
            original_transaction_id: SUBSCRIPTION_ID,
          },
        ],
      });
      expect(result.kind === "subscription" && result.events).toHaveLength(1);
    });

    it("price change within one product (monthly → yearly) is a PRODUCT_CHANGE too", async () => {
      const subscription = subscriptionObject({ shape, price: PRO_YEARLY });
      const result = await normalize(
        stripeEvent({ shape, type: "customer.subscription.updated", object: subscription, previous: previousPeriodAndItems(shape) }),
      );
      expect(result).toMatchObject({
        events: [{ type: "PRODUCT_CHANGE", product_id: PRO_YEARLY.productId, new_product_id: PRO_YEARLY.productId }],
      });
    });

    it("renewal moving the period (previous items with the same price) → no event, state with the new period end", async () => {
      const subscription = subscriptionObject({ shape, periodStart: FEB_1, periodEnd: MAR_1, latestInvoice: "in_1QmZy82Hq2Lk9TbVrenew" });
      const result = await normalize(
        stripeEvent({ shape, type: "customer.subscription.updated", object: subscription, previous: previousPeriodAndItems(shape) }),
      );
      expect(result).toMatchObject({ kind: "subscription", events: [], state: { status: "active", expires_at_ms: at(MAR_1) } });
    });

    it("active → past_due → one BILLING_ISSUE (not one per failed retry), state in_billing_retry", async () => {
      const subscription = subscriptionObject({ shape, status: "past_due", periodStart: FEB_1, periodEnd: MAR_1 });
      const result = await normalize(
        stripeEvent({ shape, type: "customer.subscription.updated", object: subscription, previous: { status: "active" } }),
      );
      expect(result).toEqual({
        kind: "subscription",
        subscriptionKey: SUBSCRIPTION_ID,
        environment: "sandbox",
        storeEventAt: new Date(at(JAN_1 + 60)),
        stateRank: 1,
        state: {
          status: "in_billing_retry",
          product_id: PRO_MONTHLY.productId,
          expires_at_ms: at(MAR_1),
          auto_renew: true,
          period_type: "NORMAL",
          purchased_at_ms: at(JAN_1),
        },
        events: [
          {
            type: "BILLING_ISSUE",
            event_timestamp_ms: at(JAN_1 + 60),
            product_id: PRO_MONTHLY.productId,
            period_type: "NORMAL",
            purchased_at_ms: at(JAN_1),
            expiration_at_ms: at(MAR_1),
            original_transaction_id: SUBSCRIPTION_ID,
            transaction_id: "in_1QmZy82Hq2Lk9TbVfirst", // the subscription's latest_invoice
          },
        ],
      });
    });

    it("past_due → unpaid (retries exhausted, no more invoices) → EXPIRATION, BILLING_ERROR, state expired", async () => {
      const subscription = subscriptionObject({ shape, status: "unpaid", periodStart: FEB_1, periodEnd: MAR_1 });
      const result = await normalize(
        stripeEvent({
          shape,
          type: "customer.subscription.updated",
          object: subscription,
          previous: { status: "past_due" },
          created: FEB_1 + 86_400 * 15,
        }),
      );
      expect(result).toMatchObject({
        kind: "subscription",
        events: [{ type: "EXPIRATION", expiration_reason: "BILLING_ERROR", expiration_at_ms: at(FEB_1 + 86_400 * 15) }],
        // Access ended with this update, not at the (future) period end; it no longer renews.
        state: { status: "expired", auto_renew: false, expires_at_ms: at(FEB_1 + 86_400 * 15) },
      });
      // A later update while still unpaid does not know when access ended: it keeps the stored time.
      const later = await normalize(
        stripeEvent({ shape, type: "customer.subscription.updated", object: subscription, previous: { metadata: {} } }),
      );
      expect(later.kind === "subscription" && later.state).not.toHaveProperty("expires_at_ms");
    });

    it("a change to paused is state only (customer.subscription.paused reports it)", async () => {
      const subscription = subscriptionObject({ shape, status: "paused" });
      const result = await normalize(
        stripeEvent({ shape, type: "customer.subscription.updated", object: subscription, previous: { status: "trialing" } }),
      );
      expect(result).toMatchObject({ kind: "subscription", events: [], state: { status: "paused" } });
    });

    it("several changes in one update → several events in a fixed order", async () => {
      const subscription = subscriptionObject({ shape, price: TEAM_MONTHLY, cancelAtPeriodEnd: true, cancelAt: FEB_1 });
      const result = await normalize(
        stripeEvent({
          shape,
          type: "customer.subscription.updated",
          object: subscription,
          previous: { ...previousPeriodAndItems(shape), cancel_at_period_end: false, cancel_at: null, status: "incomplete" },
        }),
      );
      expect(result.kind === "subscription" && result.events.map((event) => event.type)).toEqual([
        "INITIAL_PURCHASE",
        "PRODUCT_CHANGE",
        "CANCELLATION",
      ]);
    });
  });

  it("customer.subscription.deleted → EXPIRATION at ended_at, state expired", async () => {
    const endedAt = JAN_1 + 86_400 * 5;
    const subscription = subscriptionObject({
      shape,
      status: "canceled",
      canceledAt: endedAt,
      endedAt,
      cancellationReason: "cancellation_requested",
    });
    const result = await normalize(stripeEvent({ shape, type: "customer.subscription.deleted", object: subscription, created: endedAt }));
    expect(result).toEqual({
      kind: "subscription",
      subscriptionKey: SUBSCRIPTION_ID,
      environment: "sandbox",
      storeEventAt: new Date(at(endedAt)),
      stateRank: 2,
      state: {
        status: "expired",
        product_id: PRO_MONTHLY.productId,
        expires_at_ms: at(endedAt),
        auto_renew: false,
        period_type: "NORMAL",
        purchased_at_ms: at(JAN_1),
      },
      events: [
        {
          type: "EXPIRATION",
          event_timestamp_ms: at(endedAt),
          expiration_reason: "UNSUBSCRIBE",
          product_id: PRO_MONTHLY.productId,
          period_type: "NORMAL",
          purchased_at_ms: at(JAN_1),
          expiration_at_ms: at(endedAt),
          original_transaction_id: SUBSCRIPTION_ID,
          transaction_id: "in_1QmZy82Hq2Lk9TbVfirst",
        },
      ],
    });
  });

  it("customer.subscription.deleted after failed payments → EXPIRATION with BILLING_ERROR", async () => {
    const subscription = subscriptionObject({
      shape,
      status: "canceled",
      endedAt: FEB_1 + 86_400 * 14,
      cancellationReason: "payment_failed",
    });
    const result = await normalize(stripeEvent({ shape, type: "customer.subscription.deleted", object: subscription }));
    expect(result).toMatchObject({
      state: { status: "expired" },
      events: [{ type: "EXPIRATION", expiration_reason: "BILLING_ERROR", expiration_at_ms: at(FEB_1 + 86_400 * 14) }],
    });
  });

  it("customer.subscription.paused → SUBSCRIPTION_PAUSED and, as access ends, EXPIRATION (SUBSCRIPTION_PAUSED); state paused", async () => {
    const subscription = subscriptionObject({ shape, status: "paused", trialStart: JAN_1 - 86_400 * 14, trialEnd: JAN_1 });
    const result = await normalize(stripeEvent({ shape, type: "customer.subscription.paused", object: subscription, created: CREATED }));
    expect(result).toMatchObject({
      kind: "subscription",
      subscriptionKey: SUBSCRIPTION_ID,
      state: { status: "paused", product_id: PRO_MONTHLY.productId },
      events: [
        {
          type: "SUBSCRIPTION_PAUSED",
          event_timestamp_ms: at(CREATED),
          product_id: PRO_MONTHLY.productId,
          original_transaction_id: SUBSCRIPTION_ID,
          auto_resume_at_ms: null,
        },
        { type: "EXPIRATION", expiration_reason: "SUBSCRIPTION_PAUSED", expiration_at_ms: at(CREATED) },
      ],
    });
  });

  it("customer.subscription.resumed → SUBSCRIPTION_RESUMED, state from the object", async () => {
    const subscription = subscriptionObject({ shape, status: "active", periodStart: FEB_1, periodEnd: MAR_1 });
    const result = await normalize(stripeEvent({ shape, type: "customer.subscription.resumed", object: subscription }));
    expect(result).toMatchObject({
      state: { status: "active", expires_at_ms: at(MAR_1), auto_renew: true },
      events: [{ type: "SUBSCRIPTION_RESUMED", expiration_at_ms: at(MAR_1), product_id: PRO_MONTHLY.productId }],
    });
  });

  describe("invoice.paid", () => {
    it("subscription_cycle → RENEWAL with the amount paid and the line's period end", async () => {
      const invoice = invoiceObject({
        shape,
        billingReason: "subscription_cycle",
        periodStart: FEB_1,
        periodEnd: MAR_1,
        paidAt: FEB_1 + 3_600,
      });
      const result = await normalize(stripeEvent({ shape, type: "invoice.paid", object: invoice, created: FEB_1 + 3_601 }));
      expect(result).toEqual({
        kind: "subscription",
        subscriptionKey: SUBSCRIPTION_ID,
        environment: "sandbox",
        storeEventAt: new Date(at(FEB_1 + 3_601)),
        stateRank: 1,
        state: {},
        events: [
          {
            type: "RENEWAL",
            event_timestamp_ms: at(FEB_1 + 3_601),
            product_id: PRO_MONTHLY.productId,
            period_type: "NORMAL",
            purchased_at_ms: at(FEB_1 + 3_600),
            expiration_at_ms: at(MAR_1),
            original_transaction_id: SUBSCRIPTION_ID,
            transaction_id: "in_1QmZy82Hq2Lk9TbVrenew",
            price: 9.99,
            price_in_purchased_currency: 9.99,
            currency: "USD",
          },
        ],
      });
    });

    it("a renewal in a zero-decimal currency keeps the amount whole and has no USD price", async () => {
      const invoice = invoiceObject({ shape, currency: "jpy", amountPaid: 1_200, price: { ...PRO_MONTHLY, unitAmount: 1_200 } });
      const result = await normalize(stripeEvent({ shape, type: "invoice.paid", object: invoice }));
      expect(result).toMatchObject({
        events: [{ type: "RENEWAL", price: null, price_in_purchased_currency: 1_200, currency: "JPY" }],
      });
    });

    it("subscription_update with prorations only (an upgrade within the period) → no event and no state", async () => {
      const invoice = invoiceObject({ shape, billingReason: "subscription_update", prorationsOnly: true, amountPaid: 2_000 });
      const result = await normalize(stripeEvent({ shape, type: "invoice.paid", object: invoice }));
      expect(result).toMatchObject({ kind: "subscription", subscriptionKey: SUBSCRIPTION_ID, events: [], state: {} });
    });

    it.each([
      ["a trial start ($0)", 0],
      ["a trial with a setup fee", 500],
    ])(
      "subscription_create for %s → no event and no state: an invoice cannot tell a trial from a paid start",
      async (_what, amountPaid) => {
        const invoice = invoiceObject({ shape, billingReason: "subscription_create", amountPaid, periodStart: JAN_1, periodEnd: FEB_1 });
        const result = await normalize(stripeEvent({ shape, type: "invoice.paid", object: invoice }));
        expect(result).toMatchObject({ kind: "subscription", events: [], state: {} });
      },
    );

    it("an invoice outside subscriptions is ignored", async () => {
      const invoice = invoiceObject({ shape, billingReason: "manual", subscriptionId: null });
      const result = await normalize(stripeEvent({ shape, type: "invoice.paid", object: invoice }));
      expect(result).toMatchObject({ kind: "ignored", subscriptionKey: null, environment: "sandbox" });
    });
  });

  it.each(["subscription_cycle", "subscription_create"])(
    "invoice.payment_failed (%s) is ignored: every retry fails again, and the move to past_due reports the issue once",
    async (billingReason) => {
      const invoice = invoiceObject({ shape, billingReason, amountPaid: 0, amountDue: 999, status: "open", paidAt: null });
      const result = await normalize(stripeEvent({ shape, type: "invoice.payment_failed", object: invoice }));
      expect(result).toMatchObject({ kind: "ignored", reason: expect.stringContaining("past_due"), subscriptionKey: SUBSCRIPTION_ID });
    },
  );

  it("invoice.payment_succeeded is ignored (invoice.paid reports the payment), naming the subscription", async () => {
    const invoice = invoiceObject({ shape });
    const result = await normalize(stripeEvent({ shape, type: "invoice.payment_succeeded", object: invoice }));
    expect(result).toEqual({
      kind: "ignored",
      reason: expect.stringContaining("invoice.paid"),
      environment: "sandbox",
      subscriptionKey: SUBSCRIPTION_ID,
    });
  });

  describe("charge.refunded (after the subscription was found)", () => {
    const found = { subscriptionId: SUBSCRIPTION_ID, invoiceId: "in_1QmZy82Hq2Lk9TbVrenew", productId: PRO_MONTHLY.productId };

    function refundEvent(charge: Record<string, unknown>, previous?: Record<string, unknown>) {
      const event = StripeEventSchema.parse(
        stripeEvent({ shape, type: "charge.refunded", object: charge, created: FEB_1 + 86_400, ...(previous && { previous }) }),
      );
      return { context: eventContext(event), charge: ChargeSchema.parse(charge), previous: event.data.previous_attributes ?? null };
    }

    it("full refund → CANCELLATION, CUSTOMER_SUPPORT, negative price, no state change", () => {
      const { context, charge, previous } = refundEvent(chargeObject({ shape, amount: 999, amountRefunded: 999 }));
      expect(mapChargeRefunded(context, charge, previous, found)).toEqual({
        kind: "subscription",
        subscriptionKey: SUBSCRIPTION_ID,
        environment: "sandbox",
        storeEventAt: new Date(at(FEB_1 + 86_400)),
        stateRank: 1,
        state: {},
        events: [
          {
            type: "CANCELLATION",
            event_timestamp_ms: at(FEB_1 + 86_400),
            cancel_reason: "CUSTOMER_SUPPORT",
            product_id: PRO_MONTHLY.productId,
            original_transaction_id: SUBSCRIPTION_ID,
            transaction_id: "ch_3QmZyC2Hq2Lk9TbV0renew",
            price: -9.99,
            price_in_purchased_currency: -9.99,
            currency: "USD",
          },
        ],
      });
    });

    it("a second partial refund reports only its own amount (amount_refunded is cumulative)", () => {
      const { context, charge, previous } = refundEvent(chargeObject({ shape, currency: "eur", amount: 2_000, amountRefunded: 1_500 }), {
        amount_refunded: 500,
        refunded: false,
      });
      expect(mapChargeRefunded(context, charge, previous, found)).toMatchObject({
        events: [{ type: "CANCELLATION", price: null, price_in_purchased_currency: -10, currency: "EUR" }],
      });
    });
  });

  it("an event type subgate does not map is ignored, naming the subscription when the object does", async () => {
    const subscription = subscriptionObject({ shape, status: "trialing", trialEnd: FEB_1 });
    const result = await normalize(stripeEvent({ shape, type: "customer.subscription.trial_will_end", object: subscription }));
    expect(result).toMatchObject({ kind: "ignored", subscriptionKey: SUBSCRIPTION_ID });
    const other = await normalize(stripeEvent({ shape, type: "customer.updated", object: { id: "cus_1", object: "customer" } }));
    expect(other).toMatchObject({ kind: "ignored", subscriptionKey: null });
  });
});

describe("subscription period end with several items (2025-03-31+ shape)", () => {
  it("is the latest item's period end", async () => {
    const subscription = subscriptionObject({ shape: "basil" });
    const items = subscription.items as { data: Record<string, unknown>[] };
    items.data.push({ ...subscriptionItem({ shape: "basil", price: TEAM_MONTHLY, periodEnd: MAR_1 }), id: "si_second" });
    const result = await normalize(stripeEvent({ shape: "basil", type: "customer.subscription.created", object: subscription }));
    expect(result).toMatchObject({ state: { expires_at_ms: at(MAR_1), product_id: PRO_MONTHLY.productId } });
  });
});

describe("cancellation_details.reason → cancel_reason", () => {
  it.each([
    ["cancellation_requested", "UNSUBSCRIBE"],
    ["payment_failed", "BILLING_ERROR"],
    ["payment_disputed", "CUSTOMER_SUPPORT"],
    [null, "UNSUBSCRIBE"],
    ["some_future_reason", "UNSUBSCRIBE"],
  ] as const)("%s → %s", (reason, expected) => {
    expect(reasonFromCancellationDetails(reason)).toBe(expected);
  });
});

describe("a stored notification that cannot be read", () => {
  it("fails permanently (not retryable)", async () => {
    const event = stripeEvent({ shape: "basil", type: "customer.subscription.updated", object: { id: "sub_x", object: "subscription" } });
    await expect(normalize(event)).rejects.toThrow(/unreadable object/);
    await expect(normalize(event)).rejects.not.toHaveProperty("name", "RetryableNormalizationError");
  });
});
