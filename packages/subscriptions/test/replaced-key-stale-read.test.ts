import { describe, expect, it } from "vitest";
import { checkNormalized } from "@subgate/stores";
import { useLedgerApp } from "./ledger-fixture.ts";

/*
 * A transaction that moves a subscription to a new key while holding only other keys' locks (one
 * that follows a replacement through an alias) can commit between the moment a notification finds
 * the subscription and the moment it takes the subscription's lock. The ledger reads it again under
 * that lock, so the "moved on from this key?" check and the staleness check see what is true then.
 * The holder below does what followReplacement does, under the same lock.
 */
describe("a subscription moved while a notification waited for its lock", () => {
  const f = useLedgerApp("app_s");

  it("does not apply a notification of a key the subscription moved on from while it waited", async () => {
    const t0 = Date.parse("2026-03-01T00:00:00Z");
    const { subscription } = await f.ledger.track({ appId: "app_s", store: "play_store", storeSubscriptionId: "tok-2" });
    await f.db.notification.create({
      data: {
        id: "ntf_s1",
        appId: "app_s",
        store: "play_store",
        storeNotificationId: "m1",
        subscriptionKey: "tok-2",
        storeEventAt: new Date(t0),
        rawBody: new Uint8Array(Buffer.from("{}")),
        headers: {},
        verification: {},
      },
    });
    const checked = checkNormalized(
      {
        kind: "subscription",
        subscriptionKey: "tok-2",
        environment: "production",
        storeEventAt: new Date(t0),
        state: { status: "expired", product_id: "pro:monthly" },
        events: [{ type: "EXPIRATION", event_timestamp_ms: t0 }],
      },
      new Date(t0),
    );
    if (!checked.ok) throw new Error(checked.problem);

    // T2: holds the subscription's lock and moves it to tok-3 (tok-2 becomes an alias), as followReplacement does.
    const holder = f.holdSubscriptionLock(subscription.id, async (tx) => {
      await tx.subscriptionAlias.create({ data: { appId: "app_s", store: "play_store", key: "tok-2", subscriptionId: subscription.id } });
      await tx.subscription.update({ where: { id: subscription.id }, data: { storeSubscriptionId: "tok-3" } });
    });
    await holder.held;
    // T1: tok-2's notification; it reads the subscription (still on tok-2), then waits for the lock.
    const recording = f.ledger.recordNotification("ntf_s1", checked.normalized);
    await new Promise((resolve) => setTimeout(resolve, 500));
    holder.release();
    await holder.done;
    await recording;

    const row = await f.db.notification.findUniqueOrThrow({ where: { id: "ntf_s1" } });
    const after = await f.db.subscription.findUniqueOrThrow({ where: { id: subscription.id } });
    expect({ state: row.state, key: after.storeSubscriptionId, status: after.status }).toEqual({
      state: "ignored",
      key: "tok-3",
      status: "unknown",
    });
  });
});
