import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOB_CATALOG } from "@subgate/queue";
import { eventually, subscriptionEvent } from "@subgate/testing";
import type { Gateway } from "../src/gateway.ts";
import { createStripeApp, createTestEnvironment, sendStripeEvent, type TestEnvironment } from "./harness.ts";

/*
 * Tracking a subscription applies the notifications stored for it while it was untracked in store
 * order, whatever order they arrived in. The events it records and the deliveries it queues follow
 * that order too: a worker takes them from the queue first in, first out, so a receiver gets the
 * oldest first. (Applying them newest first survived every other test: `sequence` and the final
 * state come out the same either way.)
 */

let env: TestEnvironment;
let server: Gateway;

beforeAll(async () => {
  env = await createTestEnvironment();
  server = await env.start("server");
});

afterAll(async () => {
  await env?.close();
});

describe("tracking a subscription with notifications stored while it was untracked", () => {
  it("records the events and queues the deliveries in store order", async () => {
    const worker = await env.start("worker");
    const app = await createStripeApp(server);
    expect((await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: "http://127.0.0.1:9/hooks" })).status).toBe(201);
    const now = Math.floor(Date.now() / 1000);
    const events = [
      subscriptionEvent({ subscriptionId: "sub_order", type: "customer.subscription.created", created: now - 300, status: "active" }),
      subscriptionEvent({
        subscriptionId: "sub_order",
        created: now - 200,
        cancelAtPeriodEnd: true,
        previousAttributes: { cancel_at_period_end: false },
      }),
      subscriptionEvent({
        subscriptionId: "sub_order",
        created: now - 100,
        cancelAtPeriodEnd: false,
        previousAttributes: { cancel_at_period_end: true },
      }),
    ];
    // Received newest first.
    for (const event of [...events].reverse()) expect((await sendStripeEvent(server, app.stripeUrl, event)).status).toBe(200);
    await eventually(
      async () => {
        const rows = await server.db.notification.findMany({ where: { appId: app.appId } });
        return rows.length === 3 && rows.every((row) => row.state === "untracked");
      },
      15_000,
      "the three notifications untracked",
    );
    // No worker from here on: what tracking queues stays in the queue, in its order.
    await worker.close();

    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_order" });
    expect(tracked.status).toBe(201);

    // Creation times of one transaction may tie (then store order decides); where they differ, they must agree with it.
    const recorded = await server.db.event.findMany({ where: { appId: app.appId }, orderBy: [{ createdAt: "asc" }, { sequence: "asc" }] });
    expect(recorded.map((event) => event.type)).toEqual(["INITIAL_PURCHASE", "CANCELLATION", "UNCANCELLATION"]);
    const storeOrder = [...recorded].sort((a, b) => Number(a.sequence - b.sequence)).map((event) => event.id);
    expect(recorded.map((event) => event.id)).toEqual(storeOrder);

    const redis = new Redis(env.config.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(JOB_CATALOG["delivery.send"].queue, { connection: redis, prefix: env.config.queuePrefix });
    try {
      const jobs = await queue.getJobs(["wait", "delayed", "prioritized"], 0, -1, true);
      const deliveries = await server.db.delivery.findMany({ where: { appId: app.appId }, include: { event: true } });
      const typeOf = new Map(deliveries.map((delivery) => [delivery.id, delivery.event.type]));
      expect(jobs.map((job) => typeOf.get(job.data.deliveryId))).toEqual(["INITIAL_PURCHASE", "CANCELLATION", "UNCANCELLATION"]);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });
});
