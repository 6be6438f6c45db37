import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type Db } from "@subgate/db";
import { checkNormalized, mapVoidedPurchase, type CheckedNormalized, type Normalized } from "@subgate/stores";
import { useTestDatabase, type TestDatabase } from "@subgate/testing";
import { SubscriptionLedger } from "../src/index.ts";

/*
 * Replaced keys (Google's linkedPurchaseToken) at their edges: a refund of a replaced key's order,
 * tracking an old key late, and two replacements of one subscription meeting.
 */
describe("replaced keys at their edges", () => {
  let database: TestDatabase;
  let db: Db;
  let other: Db;
  let ledger: SubscriptionLedger;
  let serial = 0;
  beforeAll(async () => {
    database = await useTestDatabase();
    db = createPrismaClient({ url: database.url, poolSize: 6 });
    other = createPrismaClient({ url: database.url, poolSize: 2 });
    ledger = new SubscriptionLedger(db);
    await db.app.create({ data: { id: "app_r", name: "r" } });
  });
  afterAll(async () => {
    await db.$disconnect();
    await other.$disconnect();
    await database.drop();
  });

  async function stored(key: string, at: number): Promise<string> {
    serial += 1;
    const id = `ntf_r${serial}`;
    await db.notification.create({
      data: {
        id,
        appId: "app_r",
        store: "play_store",
        storeNotificationId: `message-${serial}`,
        subscriptionKey: key,
        storeEventAt: new Date(at),
        rawBody: new Uint8Array(Buffer.from("{}")),
        headers: {},
        verification: {},
      },
    });
    return id;
  }

  function check(value: Normalized, at: number): CheckedNormalized {
    const checked = checkNormalized(value, new Date(at));
    if (!checked.ok) throw new Error(checked.problem);
    return checked.normalized;
  }

  function normalized(
    key: string,
    at: number,
    fields: Partial<Extract<Normalized, { kind: "subscription" }>> & { type: string },
  ): CheckedNormalized {
    const { type, ...rest } = fields;
    return check(
      {
        kind: "subscription",
        subscriptionKey: key,
        environment: "production",
        storeEventAt: new Date(at),
        state: { status: "active", product_id: "pro:monthly" },
        events: [{ type: type as "RENEWAL", event_timestamp_ms: at }],
        ...rest,
      },
      at,
    );
  }

  async function record(key: string, at: number, fields: Partial<Extract<Normalized, { kind: "subscription" }>> & { type: string }) {
    const id = await stored(key, at);
    const deliveries = await ledger.recordNotification(id, normalized(key, at, fields));
    return { id, deliveries, row: await db.notification.findUniqueOrThrow({ where: { id } }) };
  }

  it("delivers the refund of an order of the replaced token (GOOGLE-MAPPING.md: 'full, of a token whose answer says it was replaced | the same event | unchanged')", async () => {
    const t0 = Date.parse("2026-03-01T00:00:00Z");
    const { subscription } = await ledger.track({ appId: "app_r", store: "play_store", storeSubscriptionId: "refund-1" });
    await record("refund-1", t0, { type: "INITIAL_PURCHASE" });
    await record("refund-2", t0 + 1_000, { type: "PRODUCT_CHANGE", supersedesKey: "refund-1" });

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
    const id = await stored("refund-1", refundAt);
    await ledger.recordNotification(id, check(voided, refundAt));

    const row = await db.notification.findUniqueOrThrow({ where: { id } });
    const events = await db.event.findMany({ where: { subscriptionId: subscription.id }, orderBy: { sequence: "asc" } });
    expect({ state: row.state, events: events.map((event) => event.type) }).toEqual({
      state: "processed",
      events: ["INITIAL_PURCHASE", "PRODUCT_CHANGE", "CANCELLATION"],
    });
  });

  it("tracking an old key late ends as tracking it early would: the replaced token's later news is not applied", async () => {
    const t0 = Date.parse("2026-04-01T00:00:00Z");
    // Live: tracked before anything arrives.
    const { subscription: live } = await ledger.track({ appId: "app_r", store: "play_store", storeSubscriptionId: "live-1" });
    // Late: the same notifications arrive while nothing is tracked yet.
    const script = async (prefix: string) => {
      await record(`${prefix}-1`, t0, { type: "INITIAL_PURCHASE", stateAt: new Date(t0 + 100) });
      // A re-signup of the canceled, not yet lapsed subscription: the new token replaces the old one.
      await record(`${prefix}-2`, t0 + 1_000, { type: "RENEWAL", supersedesKey: `${prefix}-1`, stateAt: new Date(t0 + 1_100) });
      // Later Google reports the old token's own expiry, read after the new token's state.
      await record(`${prefix}-1`, t0 + 2_000, {
        type: "EXPIRATION",
        state: { status: "expired", product_id: "pro:monthly" },
        stateAt: new Date(t0 + 2_100),
      });
    };
    await script("live");
    await script("late");
    const { subscription: late } = await ledger.track({ appId: "app_r", store: "play_store", storeSubscriptionId: "late-1" });

    const view = async (id: string) => {
      const row = await db.subscription.findUniqueOrThrow({ where: { id } });
      const events = await db.event.findMany({ where: { subscriptionId: id }, orderBy: { sequence: "asc" } });
      return { key: row.storeSubscriptionId.replace(/^(live|late)/, "x"), status: row.status, events: events.map((event) => event.type) };
    };
    const liveView = await view(live.id);
    expect(liveView).toEqual({ key: "x-2", status: "active", events: ["INITIAL_PURCHASE", "RENEWAL"] });
    expect(await view(late.id)).toEqual(liveView);
  });

  it("never creates one alias twice when two replacements of one subscription meet (one through an alias, one through its key)", async () => {
    const t0 = Date.parse("2026-05-01T00:00:00Z");
    const { subscription } = await ledger.track({ appId: "app_r", store: "play_store", storeSubscriptionId: "branch-a" });
    // branch-b replaced branch-a: the subscription is now on branch-b, branch-a an alias.
    await record("branch-b", t0, { type: "PRODUCT_CHANGE", supersedesKey: "branch-a" });
    expect((await db.subscription.findUniqueOrThrow({ where: { id: subscription.id } })).storeSubscriptionId).toBe("branch-b");

    // Hold the subscription's lock so that both notifications below find it (on branch-b) and then wait for it.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = other.$transaction(
      async (tx) => {
        const name = `subscription-id:${subscription.id}`;
        await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${name}, 0))`;
        locked();
        await released;
      },
      { timeout: 20_000 },
    );
    await isLocked;
    // C replaces branch-b (the key: locks branch-b, branch-c); D names branch-a (the alias: locks branch-a, branch-d).
    const c = await stored("branch-c", t0 + 1_000);
    const d = await stored("branch-d", t0 + 1_000);
    const results = Promise.allSettled([
      ledger.recordNotification(c, normalized("branch-c", t0 + 1_000, { type: "PRODUCT_CHANGE", supersedesKey: "branch-b" })),
      ledger.recordNotification(d, normalized("branch-d", t0 + 1_000, { type: "PRODUCT_CHANGE", supersedesKey: "branch-a" })),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    release();
    await holder;
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
