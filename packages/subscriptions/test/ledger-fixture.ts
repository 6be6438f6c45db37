import { afterAll, beforeAll } from "vitest";
import { createPrismaClient, type Db, type Tx } from "@subgate/db";
import { checkNormalized, type CheckedNormalized, type Normalized } from "@subgate/stores";
import { useTestDatabase, type TestDatabase } from "@subgate/testing";
import { SubscriptionLedger } from "../src/index.ts";
import { lockSubscription } from "../src/keys.ts";

export type SubscriptionFields = Partial<Extract<Normalized, { kind: "subscription" }>> & { type: string };

/**
 * A database of this test file's own with one app, the ledger on it, and a second client for a
 * transaction that must run beside the ledger's. Read the fields inside tests, not at import time.
 */
export function useLedgerApp(appId: string) {
  let database: TestDatabase;
  let serial = 0;
  const fixture = {
    db: null as unknown as Db,
    other: null as unknown as Db,
    ledger: null as unknown as SubscriptionLedger,

    /** A pending Google notification for `key` at store time `at`; returns its id. */
    async storePending(key: string, at: number): Promise<string> {
      serial += 1;
      const id = `ntf_${appId}_${serial}`;
      await fixture.db.notification.create({
        data: {
          id,
          appId,
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
    },

    /** A checked subscription result: an active monthly state and one event of `type`, with `fields` over it. */
    result(key: string, at: number, fields: SubscriptionFields): CheckedNormalized {
      const { type, ...rest } = fields;
      const checked = checkNormalized(
        {
          kind: "subscription",
          subscriptionKey: key,
          environment: "production",
          storeEventAt: new Date(at),
          state: { status: "active", product_id: "pro:monthly" },
          events: [{ type: type as "RENEWAL", event_timestamp_ms: at }],
          ...rest,
        },
        new Date(at),
      );
      if (!checked.ok) throw new Error(checked.problem);
      return checked.normalized;
    },

    /**
     * Another transaction holds the subscription's own lock (as a ledger transaction would) until
     * `release()`, then does `then` under it. `held` resolves once the lock is taken; `done` once it commits.
     */
    holdSubscriptionLock(subscriptionId: string, then: (tx: Tx) => Promise<unknown> = async () => {}) {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let taken!: () => void;
      const held = new Promise<void>((resolve) => (taken = resolve));
      const done = fixture.other.$transaction(
        async (tx) => {
          await lockSubscription(tx, subscriptionId);
          taken();
          await released;
          await then(tx);
        },
        { timeout: 20_000 },
      );
      return { held, release, done };
    },

    /** Stores a pending notification and records `fields` for it, as the worker would. */
    async record(key: string, at: number, fields: SubscriptionFields) {
      const id = await fixture.storePending(key, at);
      const deliveries = await fixture.ledger.recordNotification(id, fixture.result(key, at, fields));
      return { id, deliveries, row: await fixture.db.notification.findUniqueOrThrow({ where: { id } }) };
    },
  };
  beforeAll(async () => {
    database = await useTestDatabase();
    fixture.db = createPrismaClient({ url: database.url, poolSize: 6 });
    fixture.other = createPrismaClient({ url: database.url, poolSize: 2 });
    fixture.ledger = new SubscriptionLedger(fixture.db);
    await fixture.db.app.create({ data: { id: appId, name: appId } });
  });
  afterAll(async () => {
    await fixture.db?.$disconnect();
    await fixture.other?.$disconnect();
    await database?.drop();
  });
  return fixture;
}
