import { describe, expect, it } from "vitest";
import { useLedgerApp } from "./ledger-fixture.ts";

/*
 * Google makes a new purchase token for an upgrade, a downgrade or a re-signup and names the old one
 * (`linkedPurchaseToken`). A subscription tracked under the old token follows the new one: same id
 * and app user, the newest token as its key, every older token still naming it, and the replaced
 * token's own cancellation or expiry no news of it.
 */
describe("a subscription whose key is replaced", () => {
  const f = useLedgerApp("app_g");

  it("moves the tracked subscription to the new token, keeps it reachable by every old one, and drops the old token's news", async () => {
    const t0 = Date.parse("2026-03-01T00:00:00Z");
    const { subscription } = await f.ledger.track({
      appId: "app_g",
      store: "play_store",
      storeSubscriptionId: "token-1",
      appUserId: "user-1",
    });
    await f.record("token-1", t0, { type: "INITIAL_PURCHASE" });

    const upgrade = await f.record("token-2", t0 + 1_000, {
      type: "PRODUCT_CHANGE",
      supersedesKey: "token-1",
      state: { status: "active", product_id: "pro:yearly" },
    });
    expect(upgrade.row.state).toBe("processed");
    const moved = await f.db.subscription.findUniqueOrThrow({ where: { id: subscription.id } });
    expect(moved).toMatchObject({ storeSubscriptionId: "token-2", appUserId: "user-1", productId: "pro:yearly" });

    // Google then reports the replaced token's end: recorded, but nothing reaches the app.
    const oldEnd = await f.record("token-1", t0 + 2_000, { type: "EXPIRATION", state: { status: "expired" } });
    expect(oldEnd.row.state).toBe("ignored");
    expect(oldEnd.deliveries).toEqual([]);
    expect((await f.db.subscription.findUniqueOrThrow({ where: { id: subscription.id } })).status).toBe("active");

    // A second replacement: both older tokens still name the one subscription.
    await f.record("token-3", t0 + 3_000, { type: "PRODUCT_CHANGE", supersedesKey: "token-2" });
    for (const token of ["token-1", "token-2", "token-3"]) {
      const tracked = await f.ledger.track({ appId: "app_g", store: "play_store", storeSubscriptionId: token });
      expect(tracked).toMatchObject({ created: false, subscription: { id: subscription.id, storeSubscriptionId: "token-3" } });
    }
    expect(await f.db.subscription.count({ where: { appId: "app_g" } })).toBe(1);

    // One subscription, one sequence: the events of every token are in store order.
    const events = await f.db.event.findMany({ where: { subscriptionId: subscription.id }, orderBy: { sequence: "asc" } });
    expect(events.map((event) => event.type)).toEqual(["INITIAL_PURCHASE", "PRODUCT_CHANGE", "PRODUCT_CHANGE"]);
  });

  it("leaves an untracked replacement untracked, and a new token that is tracked itself alone", async () => {
    const t0 = Date.parse("2026-04-01T00:00:00Z");
    const untracked = await f.record("lone-2", t0, { type: "PRODUCT_CHANGE", supersedesKey: "lone-1" });
    expect(untracked.row.state).toBe("untracked");

    const { subscription: a } = await f.ledger.track({ appId: "app_g", store: "play_store", storeSubscriptionId: "both-1" });
    const { subscription: b } = await f.ledger.track({ appId: "app_g", store: "play_store", storeSubscriptionId: "both-2" });
    await f.record("both-2", t0, { type: "PRODUCT_CHANGE", supersedesKey: "both-1" });
    expect((await f.db.subscription.findUniqueOrThrow({ where: { id: a.id } })).storeSubscriptionId).toBe("both-1");
    expect((await f.db.subscription.findUniqueOrThrow({ where: { id: b.id } })).storeSubscriptionId).toBe("both-2");
  });

  it("follows a replacement that arrived while the old key was untracked, once the old key is tracked", async () => {
    const t0 = Date.parse("2026-05-01T00:00:00Z");
    await f.record("late-1", t0, { type: "INITIAL_PURCHASE" });
    const upgrade = await f.record("late-2", t0 + 1_000, {
      type: "PRODUCT_CHANGE",
      supersedesKey: "late-1",
      state: { status: "active", product_id: "pro:yearly" },
    });
    const renewal = await f.record("late-3", t0 + 2_000, { type: "PRODUCT_CHANGE", supersedesKey: "late-2" });
    expect([upgrade.row.state, renewal.row.state]).toEqual(["untracked", "untracked"]);

    const { subscription, deliveries } = await f.ledger.track({ appId: "app_g", store: "play_store", storeSubscriptionId: "late-1" });
    expect(subscription.storeSubscriptionId).toBe("late-3");
    expect(deliveries).toHaveLength(0); // no endpoints in this app: the events are recorded all the same
    const states = await f.db.notification.findMany({ where: { id: { in: [upgrade.id, renewal.id] } }, select: { state: true } });
    expect(states.map((row) => row.state)).toEqual(["processed", "processed"]);
    const events = await f.db.event.findMany({ where: { subscriptionId: subscription.id }, orderBy: { sequence: "asc" } });
    expect(events.map((event) => event.type)).toEqual(["INITIAL_PURCHASE", "PRODUCT_CHANGE", "PRODUCT_CHANGE"]);
  });
});
