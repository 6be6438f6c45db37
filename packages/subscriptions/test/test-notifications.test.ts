import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey, SecretBox } from "@subgate/core";
import { createPrismaClient, type Db } from "@subgate/db";
import { useTestDatabase, type TestDatabase } from "@subgate/testing";
import { SubscriptionLedger } from "../src/index.ts";

// A store TEST notification (Apple's TEST, Google's testNotification) concerns no subscription:
// it sets last_test_received_at, leaves last_received_at alone, and fans out as a TEST event.
describe("recording a TEST notification", () => {
  let database: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    database = await useTestDatabase();
    db = createPrismaClient({ url: database.url, poolSize: 3 });
  });
  afterAll(async () => {
    await db.$disconnect();
    await database.drop();
  });

  it("creates one TEST delivery per endpoint whose filters allow it", async () => {
    const box = new SecretBox(Buffer.from(generateKey(), "base64url"));
    await db.app.create({ data: { id: "app_t", name: "t" } });
    const endpoint = (id: string, eventTypes: string[], environments: ("sandbox" | "production")[]) =>
      db.webhookEndpoint.create({
        data: { id, appId: "app_t", url: "https://example.com", secretEncrypted: box.seal("whsec_x"), eventTypes, environments },
      });
    await endpoint("ep_all", [], []);
    await endpoint("ep_test_sandbox", ["TEST"], ["sandbox"]);
    await endpoint("ep_renewals", ["RENEWAL"], []);
    await endpoint("ep_production", [], ["production"]);
    const receivedAt = new Date("2026-03-01T10:00:00Z");
    await db.notification.create({
      data: {
        id: "ntf_t",
        appId: "app_t",
        store: "app_store",
        storeNotificationId: "uuid-1",
        notificationType: "TEST",
        receivedAt,
        rawBody: new Uint8Array(Buffer.from("{}")),
        headers: {},
        verification: {},
      },
    });

    const ledger = new SubscriptionLedger(db);
    const deliveries = await ledger.recordNotification("ntf_t", { kind: "test", environment: "sandbox", storeEventAt: receivedAt });
    expect(deliveries).toHaveLength(2);
    const rows = await db.delivery.findMany({ select: { endpointId: true } });
    expect(rows.map((row) => row.endpointId).sort()).toEqual(["ep_all", "ep_test_sandbox"]);
    const event = await db.event.findFirstOrThrow();
    expect(event.type).toBe("TEST");
    expect(event.payload).toMatchObject({ type: "TEST", store: "APP_STORE", environment: "SANDBOX", subscription_id: null });

    const status = await db.notificationStatus.findUniqueOrThrow({
      where: { appId_store_environment: { appId: "app_t", store: "app_store", environment: "sandbox" } },
    });
    expect(status.lastTestReceivedAt).toEqual(receivedAt);
    expect(status.lastReceivedAt).toBeNull();

    // A second run of the same job finds the notification processed and does nothing.
    expect(await ledger.recordNotification("ntf_t", { kind: "test", environment: "sandbox", storeEventAt: receivedAt })).toEqual([]);
    expect(await db.delivery.count()).toBe(2);
  });
});
