import { describe, expect, it } from "vitest";
import { checkNormalized, mapVoidedPurchase, type CheckedNormalized, type Normalized } from "@subgate/stores";
import { useLedgerApp } from "./ledger-fixture.ts";

/*
 * Replaced keys (Google's linkedPurchaseToken) at their edges: a refund of a replaced key's order,
 * tracking an old key late, and two replacements of one subscription meeting.
 */
describe("replaced keys at their edges", () => {
  const f = useLedgerApp("app_r");

  function check(value: Normalized, at: number): CheckedNormalized {
    const checked = checkNormalized(value, new Date(at));
    if (!checked.ok) throw new Error(checked.problem);
    return checked.normalized;
  }

  it("delivers the refund of an order of the replaced token (GOOGLE-MAPPING.md: 'full, of a token whose answer says it was replaced | the same event | unchanged')", async () => {
    const t0 = Date.parse("2026-03-01T00:00:00Z");
    const { subscription } = await f.ledger.track({ appId: "app_r", store: "play_store", storeSubscriptionId: "refund-1" });
    await f.record("refund-1", t0, { type: "INITIAL_PURCHASE" });
    await f.record("refund-2", t0 + 1_000, { type: "PRODUCT_CHANGE", supersedesKey: "refund-1" });

    // Google then refunds refund-1's order (a chargeback, or a refund from Play Console): the old token's answer says it was replaced.
    const refundAt = t0 + 5_000;
    const voided = mapVoidedPurchase({
      purchaseToken: "refund-1",
      orderId: "GPA.1111-2222-3333-44444",
      productType: 1,
      refundType: 1,
      eventTimeMillis: refundAt,
      answer: {
        calledAt: new Date(refundAt + 1_000),
        purchase: {
          subscriptionState: "SUBSCRIPTION_STATE_EXPIRED",
          canceledStateContext: { replacementCancellation: {} },
          lineItems: [
            {
              productId: "pro",
              latestSuccessfulOrderId: "GPA.1111-2222-3333-44444",
              expiryTime: new Date(t0 + 1_000).toISOString(),
              autoRenewingPlan: { recurringPrice: { currencyCode: "USD", units: "9", nanos: 990_000_000 } },
              offerDetails: { basePlanId: "monthly" },
              offerPhase: { basePrice: {} },
            },
          ],
        },
      },
    });
    expect(voided).toMatchObject({ kind: "subscription", state: {}, events: [{ type: "CANCELLATION", price: -9.99 }] });
    const id = await f.storePending("refund-1", refundAt);
    await f.ledger.recordNotification(id, check(voided, refundAt));

    const row = await f.db.notification.findUniqueOrThrow({ where: { id } });
    const events = await f.db.event.findMany({ where: { subscriptionId: subscription.id }, orderBy: { sequence: "asc" } });
    expect({ state: row.state, events: events.map((event) => event.type) }).toEqual({
      state: "processed",
      events: ["INITIAL_PURCHASE", "PRODUCT_CHANGE", "CANCELLATION"],
    });
  });

  it("tracking an old key late ends as tracking it early would: the replaced token's later news is not applied", async () => {
    const t0 = Date.parse("2026-04-01T00:00:00Z");
    // Live: tracked before anything arrives.
    const { subscription: live } = await f.ledger.track({ appId: "app_r", store: "play_store", storeSubscriptionId: "live-1" });
    // Late: the same notifications arrive while nothing is tracked yet.
    const script = async (prefix: string) => {
      await f.record(`${prefix}-1`, t0, { type: "INITIAL_PURCHASE", stateAt: new Date(t0 + 100) });
      // A re-signup of the canceled, not yet lapsed subscription: the new token replaces the old one.
      await f.record(`${prefix}-2`, t0 + 1_000, { type: "RENEWAL", supersedesKey: `${prefix}-1`, stateAt: new Date(t0 + 1_100) });
      // Later Google reports the old token's own expiry, read after the new token's state.
      await f.record(`${prefix}-1`, t0 + 2_000, {
        type: "EXPIRATION",
        state: { status: "expired", product_id: "pro:monthly" },
        stateAt: new Date(t0 + 2_100),
      });
    };
    await script("live");
    await script("late");
    const { subscription: late } = await f.ledger.track({ appId: "app_r", store: "play_store", storeSubscriptionId: "late-1" });

    const view = async (id: string) => {
      const row = await f.db.subscription.findUniqueOrThrow({ where: { id } });
      const events = await f.db.event.findMany({ where: { subscriptionId: id }, orderBy: { sequence: "asc" } });
      return { key: row.storeSubscriptionId.replace(/^(live|late)/, "x"), status: row.status, events: events.map((event) => event.type) };
    };
    const liveView = await view(live.id);
    expect(liveView).toEqual({ key: "x-2", status: "active", events: ["INITIAL_PURCHASE", "RENEWAL"] });
    expect(await view(late.id)).toEqual(liveView);
  });

  it("never creates one alias twice when two replacements of one subscription meet (one through an alias, one through its key)", async () => {
    const t0 = Date.parse("2026-05-01T00:00:00Z");
    const { subscription } = await f.ledger.track({ appId: "app_r", store: "play_store", storeSubscriptionId: "branch-a" });
    // branch-b replaced branch-a: the subscription is now on branch-b, branch-a an alias.
    await f.record("branch-b", t0, { type: "PRODUCT_CHANGE", supersedesKey: "branch-a" });
    expect((await f.db.subscription.findUniqueOrThrow({ where: { id: subscription.id } })).storeSubscriptionId).toBe("branch-b");

    // Hold the subscription's lock so that both notifications below find it (on branch-b) and then wait for it.
    const holder = f.holdSubscriptionLock(subscription.id);
    await holder.held;
    // C replaces branch-b (the key: locks branch-b, branch-c); D names branch-a (the alias: locks branch-a, branch-d).
    const c = await f.storePending("branch-c", t0 + 1_000);
    const d = await f.storePending("branch-d", t0 + 1_000);
    const results = Promise.allSettled([
      f.ledger.recordNotification(c, f.result("branch-c", t0 + 1_000, { type: "PRODUCT_CHANGE", supersedesKey: "branch-b" })),
      f.ledger.recordNotification(d, f.result("branch-d", t0 + 1_000, { type: "PRODUCT_CHANGE", supersedesKey: "branch-a" })),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    holder.release();
    await holder.done;
    const settled = await results;
    const failures = settled.flatMap((result) =>
      result.status === "rejected"
        ? [
            String((result.reason as Error).message)
              .split("\n")
              .at(-1),
          ]
        : [],
    );
    expect(failures).toEqual([]);
  });
});
