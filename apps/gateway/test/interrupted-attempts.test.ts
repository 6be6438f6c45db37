import { describe, it, type TestContext } from "vitest";
import { createPrismaClient } from "@subgate/db";
import { eventually, HoldingReceiver, subscriptionEvent } from "@subgate/testing";
import { GatewayProcess } from "./gateway-process.ts";
import { ADMIN_TOKEN, createStripeApp, createTestEnvironment, sendStripeEvent } from "./harness.ts";

/*
 * A worker killed (SIGKILL, OOM, a lost machine) while its webhook POST is unanswered never records
 * that attempt. Its lease on the delivery (WEBHOOK_TIMEOUT_MS + 10 s) runs out, and another worker's
 * sweeper records the attempt as `interrupted`: it may have reached the receiver. It counts like a
 * failed attempt, so the next one follows the retry schedule (with the same webhook-id), and with
 * no retries left the delivery fails.
 *
 * Each case kills a real `all` process (tsx src/main.ts) and then runs an in-process worker on the
 * same database and queue prefix. The cases run concurrently: most of their time is the lease.
 */

const WEBHOOK_TIMEOUT_MS = 1_000;
/** The spawned process's lease: WEBHOOK_TIMEOUT_MS plus the gateway's 10 s margin. */
const LEASE_MS = WEBHOOK_TIMEOUT_MS + 10_000;

interface AttemptRow {
  number: number;
  outcome: string | null;
  statusCode: number | null;
  durationMs: number | null;
  responseBody: string | null;
  error: string | null;
  startedAt: Date;
}

/**
 * A real `all` process whose one webhook POST has reached the receiver, which holds its answer; the
 * process is SIGKILLed there, and an in-process worker with `retryScheduleMs` replaces it. Everything
 * is closed when the test finishes.
 */
async function killedMidAttempt({ expect, onTestFinished }: TestContext, retryScheduleMs: number[], subscriptionId: string) {
  const env = await createTestEnvironment({ retryScheduleMs });
  const db = createPrismaClient({ url: env.config.databaseUrl });
  const receiver = new HoldingReceiver();
  let gateway: GatewayProcess | null = null;
  onTestFinished(async () => {
    await gateway?.kill();
    await receiver.close();
    await db.$disconnect();
    await env.close();
  });
  await receiver.start();

  gateway = await GatewayProcess.start("all", {
    DATABASE_URL: env.config.databaseUrl,
    REDIS_URL: env.config.redisUrl,
    PORT: "0",
    SUBGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    SUBGATE_ENCRYPTION_KEY: env.config.encryptionKey,
    WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
    WEBHOOK_TIMEOUT_MS: String(WEBHOOK_TIMEOUT_MS),
    QUEUE_PREFIX: env.config.queuePrefix,
    SWEEP_INTERVAL_MS: "200",
  });
  await gateway.waitForLog("worker started", 30_000);
  const app = await createStripeApp(gateway);
  expect((await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url })).status).toBe(201);
  expect(
    (await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: subscriptionId })).status,
  ).toBe(201);
  const event = subscriptionEvent({ subscriptionId, cancelAtPeriodEnd: true, previousAttributes: { cancel_at_period_end: false } });
  expect((await sendStripeEvent(gateway, app.stripeUrl, event)).status).toBe(200);
  await receiver.firstArrived;

  gateway.signal("SIGKILL");
  const killedAt = Date.now();
  expect(await gateway.exited).toEqual({ code: null, signal: "SIGKILL" });
  // It never got to record anything: the delivery is still leased to the dead process.
  const leftBehind = await db.delivery.findFirstOrThrow({ where: { appId: app.appId }, include: { attempts: true } });
  expect(leftBehind).toMatchObject({ status: "pending", attemptCount: 0, attempts: [] });
  const leasedAt = leftBehind.leasedAt!;
  const leaseUntil = leftBehind.leaseUntil!;
  expect(leasedAt).toBeInstanceOf(Date);
  expect(leaseUntil.getTime() - leasedAt.getTime()).toBe(LEASE_MS);
  const deliveryId = leftBehind.id;

  await env.start("worker");
  receiver.answerFromNow();

  /** The delivery with its attempts in order. */
  const read = () => db.delivery.findUniqueOrThrow({ where: { id: deliveryId }, include: { attempts: { orderBy: { number: "asc" } } } });

  /** Waits for the interrupted attempt; returns the delivery as it was then and when it was seen. */
  async function interruptedAttemptRecorded() {
    const seenAt = await eventually(
      async () => ((await db.deliveryAttempt.count({ where: { deliveryId } })) > 0 ? Date.now() : undefined),
      LEASE_MS + 10_000,
      "the interrupted attempt recorded",
    );
    // Read after the attempt was seen: the attempt and its delivery's update commit together.
    const delivery = await read();
    // Not before the dead process's lease ran out (the sweeper runs every 300 ms).
    expect(seenAt).toBeGreaterThanOrEqual(leaseUntil.getTime());
    expect(delivery.attemptCount).toBeGreaterThanOrEqual(1);
    expectInterrupted(delivery.attempts[0]!);
    return { delivery, seenAt };
  }

  function expectInterrupted(attempt: AttemptRow) {
    expect(attempt).toMatchObject({ number: 1, outcome: "interrupted", statusCode: null, durationMs: null, responseBody: null });
    expect(attempt.error).toMatch(/^interrupted/);
    // It started when the dead process took its lease: within the seconds before the kill, and
    // before its POST reached the receiver.
    expect(attempt.startedAt.getTime()).toBe(leasedAt.getTime());
    expect(attempt.startedAt.getTime()).toBeLessThanOrEqual(killedAt);
    expect(attempt.startedAt.getTime()).toBeGreaterThan(killedAt - 10_000);
    expect(attempt.startedAt.getTime()).toBeLessThanOrEqual(receiver.received[0]!.at + 5);
  }

  return { app, db, receiver, deliveryId, leaseUntil, read, interruptedAttemptRecorded, expectInterrupted };
}

describe.concurrent("a webhook attempt cut short by a killed worker", () => {
  it("is recorded as interrupted once the dead worker's lease runs out, and counts as the first failed attempt", async (context) => {
    const { expect } = context;
    const { deliveryId, leaseUntil, receiver, read, interruptedAttemptRecorded } = await killedMidAttempt(
      context,
      [100, 200],
      "sub_interrupted",
    );

    const { delivery, seenAt } = await interruptedAttemptRecorded();
    expect(delivery.attempts[0]!.number).toBe(1);
    if (delivery.status === "pending") {
      // Due again after the schedule's first delay (100 ms, +-20 %), counted from when the sweeper
      // recorded the attempt: after the lease ended, before it was seen.
      expect(delivery.nextAttemptAt!.getTime()).toBeGreaterThanOrEqual(leaseUntil.getTime() + 80);
      expect(delivery.nextAttemptAt!.getTime()).toBeLessThanOrEqual(seenAt + 120);
    }
    // The attempt is in the delivery log for the app to see, and nothing else was sent meanwhile.
    expect(receiver.received.map((request) => request.webhookId)).toEqual([deliveryId]);
    const later = await read();
    expect(later.attempts[0]).toEqual(delivery.attempts[0]);
  }, 35_000);

  /*
   * The retry is due 100 ms after the interrupted attempt is recorded. The dead worker's BullMQ job
   * (job id = delivery id) stays `active` in Redis until BullMQ finds it stalled, about 60 s after
   * the kill (a 30 s lock, then stall checks every 30 s); the sweeper gives the next attempt a job
   * of its own, so it does not wait for that. The bounds below are far from both.
   */
  it("then makes the next attempt when the schedule says, with the same webhook-id, without waiting for BullMQ to find the dead job", async (context) => {
    const { expect } = context;
    const { app, db, deliveryId, leaseUntil, receiver, read, interruptedAttemptRecorded } = await killedMidAttempt(
      context,
      [100, 200],
      "sub_interrupted_retry",
    );

    const { delivery: afterInterruption, seenAt } = await interruptedAttemptRecorded();
    const delivered = await eventually(
      async () => {
        const delivery = await read();
        return delivery.status === "pending" ? undefined : delivery;
      },
      // The schedule's 100 ms, the sweeper's 300 ms interval and its 200 ms grace, with room to spare.
      25_000,
      "the retry delivered",
    );
    expect(delivered).toMatchObject({ status: "succeeded", attemptCount: 2, leaseUntil: null, leasedAt: null, nextAttemptAt: null });
    expect(delivered.attempts.map((attempt) => [attempt.number, attempt.outcome, attempt.statusCode])).toEqual([
      [1, "interrupted", null],
      [2, "succeeded", 200],
    ]);
    expect(delivered.attempts[0]).toEqual(afterInterruption.attempts[0]);
    const second = delivered.attempts[1]!;
    expect(second.error).toBeNull();
    expect(second.durationMs).not.toBeNull();
    // It waited for the schedule's first delay after the interrupted attempt.
    expect(second.startedAt.getTime()).toBeGreaterThanOrEqual(leaseUntil.getTime() + 80);
    if (afterInterruption.status === "pending" && afterInterruption.nextAttemptAt) {
      expect(second.startedAt.getTime()).toBeGreaterThanOrEqual(afterInterruption.nextAttemptAt.getTime() - 5);
    }
    expect(second.startedAt.getTime()).toBeLessThan(seenAt + 25_000);
    // The receiver saw the same message twice: it can tell the retry from a new event.
    expect(receiver.received.map((request) => request.webhookId)).toEqual([deliveryId, deliveryId]);
    expect(await db.delivery.count({ where: { appId: app.appId } })).toBe(1);
  }, 60_000);

  it("uses up the delivery's only attempt when the schedule has no retries: the delivery fails", async (context) => {
    const { expect } = context;
    const { db, deliveryId, leaseUntil, receiver, read, interruptedAttemptRecorded } = await killedMidAttempt(
      context,
      [],
      "sub_interrupted_once",
    );

    const { delivery } = await interruptedAttemptRecorded();
    expect(delivery).toMatchObject({ status: "failed", attemptCount: 1, leaseUntil: null, leasedAt: null, nextAttemptAt: null });
    expect(delivery.completedAt!.getTime()).toBeGreaterThanOrEqual(leaseUntil.getTime());
    expect(delivery.attempts).toHaveLength(1);

    // Nothing is sent again, however long the sweeper keeps running.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(receiver.received.map((request) => request.webhookId)).toEqual([deliveryId]);
    expect(await db.deliveryAttempt.count({ where: { deliveryId } })).toBe(1);
    expect((await read()).status).toBe("failed");
  }, 35_000);
});
