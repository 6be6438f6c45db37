import { StoreRegistry } from "@subgate/stores";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey, SecretBox, silentLogger } from "@subgate/core";
import { createPrismaClient, type Db } from "@subgate/db";
import { generateWebhookSecret, WebhookSender } from "@subgate/delivery";
import { randomBytes } from "node:crypto";
import { JobProducer } from "@subgate/queue";
import { SubscriptionLedger } from "@subgate/subscriptions";
import { useTestDatabase, WebhookReceiver, type TestDatabase } from "@subgate/testing";
import { processNotification } from "../src/process-notification.ts";
import { RetryLaterError } from "../src/retry-later.ts";
import { sendDelivery } from "../src/send-delivery.ts";

/*
 * What a job does when its row is not ready for it. The retry schedule lives in PostgreSQL
 * (`next_attempt_at`), not in the job's timing: a job that runs early (handed to another worker by
 * BullMQ's stalled-job check after its worker died between recording an attempt and rescheduling
 * the job) must wait for the recorded time, not act at once. And a notification this deployment
 * cannot process is recorded as such once, not retried in a loop.
 */

const HOUR = 3_600_000;
const secretBox = SecretBox.fromString(generateKey());
const receiver = new WebhookReceiver();
let database: TestDatabase;
let db: Db;
let sender: WebhookSender;
let producer: JobProducer;

beforeAll(async () => {
  database = await useTestDatabase();
  db = createPrismaClient({ url: database.url });
  sender = new WebhookSender({ allowPrivateTargets: true });
  producer = new JobProducer({
    redisUrl: process.env.SUBGATE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    prefix: `sgt_${randomBytes(5).toString("hex")}`,
  });
  await receiver.start();
  await db.app.create({ data: { id: "app_not_due", name: "Not due" } });
  await db.notification.create({
    data: {
      id: "ntf_sent",
      appId: "app_not_due",
      store: "stripe",
      storeNotificationId: "evt_sent",
      rawBody: new Uint8Array(Buffer.from("{}")),
      headers: {},
      verification: {},
      state: "processed",
    },
  });
  await db.event.create({
    data: {
      id: "evt_not_due",
      appId: "app_not_due",
      notificationId: "ntf_sent",
      type: "TEST",
      store: "stripe",
      environment: "sandbox",
      sequence: 1n,
      ordinal: 0,
      occurredAt: new Date(),
      payload: { id: "evt_not_due", type: "TEST" },
    },
  });
  await db.webhookEndpoint.create({
    data: {
      id: "ep_not_due",
      appId: "app_not_due",
      url: receiver.url,
      secretEncrypted: secretBox.seal(generateWebhookSecret()),
      eventTypes: [],
      environments: [],
    },
  });
});

afterAll(async () => {
  await sender?.close();
  await producer?.close();
  await receiver.close();
  await db?.$disconnect();
  await database?.drop();
});

/** What a rejection says about when to come back; fails the test if it is not a RetryLaterError. */
async function retryDelay(run: Promise<unknown>): Promise<number> {
  const error = await run.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RetryLaterError);
  return (error as RetryLaterError).delayMs;
}

describe("a delivery job that runs before the delivery's next attempt is due", () => {
  it("sends nothing and hands BullMQ the time left; once due, the attempt is made", async () => {
    await db.delivery.create({
      data: {
        id: "msg_not_due",
        appId: "app_not_due",
        eventId: "evt_not_due",
        endpointId: "ep_not_due",
        attemptCount: 1,
        nextAttemptAt: new Date(Date.now() + HOUR),
      },
    });
    const deps = { db, secretBox, sender, retryScheduleMs: [HOUR, HOUR], leaseMs: 35_000, logger: silentLogger() };

    const delayMs = await retryDelay(sendDelivery(deps, "msg_not_due"));
    expect(delayMs).toBeGreaterThan(HOUR - 60_000);
    expect(delayMs).toBeLessThanOrEqual(HOUR);
    expect(receiver.received).toHaveLength(0);
    expect(await db.delivery.findUniqueOrThrow({ where: { id: "msg_not_due" } })).toMatchObject({
      attemptCount: 1,
      leaseUntil: null,
      status: "pending",
    });

    await db.delivery.update({ where: { id: "msg_not_due" }, data: { nextAttemptAt: new Date(Date.now() - 1_000) } });
    await sendDelivery(deps, "msg_not_due");
    expect(receiver.delivered).toHaveLength(1);
    expect(await db.delivery.findUniqueOrThrow({ where: { id: "msg_not_due" } })).toMatchObject({ attemptCount: 2, status: "succeeded" });
  });
});

/** A notification processor with no store adapters, retrying hourly. */
function notificationDeps() {
  return {
    db,
    secretBox,
    stores: new StoreRegistry([]),
    ledger: new SubscriptionLedger(db),
    producer,
    logger: silentLogger(),
    notificationRetryScheduleMs: [HOUR],
  };
}

describe("a notification job that runs before the notification's next attempt is due", () => {
  it("does not normalize it again early, and does not count an attempt", async () => {
    await db.notification.create({
      data: {
        id: "ntf_backing_off",
        appId: "app_not_due",
        store: "stripe",
        storeNotificationId: "evt_backing_off",
        rawBody: new Uint8Array(Buffer.from("{}")),
        headers: {},
        verification: {},
        attempts: 3,
        nextAttemptAt: new Date(Date.now() + HOUR),
      },
    });
    const deps = notificationDeps();
    const delayMs = await retryDelay(processNotification(deps, "ntf_backing_off"));
    expect(delayMs).toBeGreaterThan(HOUR - 60_000);
    expect(await db.notification.findUniqueOrThrow({ where: { id: "ntf_backing_off" } })).toMatchObject({ state: "pending", attempts: 3 });
  });
});

describe("a notification of a store this deployment has no adapter for, whose app has that store configured", () => {
  it("is recorded unresolved at once, not retried as if its configuration kept changing", async () => {
    await db.storeConfig.create({
      data: { appId: "app_not_due", store: "app_store", settings: { bundle_id: "com.example" }, secretsEncrypted: secretBox.sealJson({}) },
    });
    await db.notification.create({
      data: {
        id: "ntf_no_adapter",
        appId: "app_not_due",
        store: "app_store",
        storeNotificationId: "uuid-no-adapter",
        rawBody: new Uint8Array(Buffer.from("{}")),
        headers: {},
        verification: {},
      },
    });
    const deps = notificationDeps();
    await processNotification(deps, "ntf_no_adapter");
    expect(await db.notification.findUniqueOrThrow({ where: { id: "ntf_no_adapter" } })).toMatchObject({
      state: "unresolved",
      lastError: expect.stringMatching(/no app_store adapter/),
    });
  });
});
