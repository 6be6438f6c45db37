import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, subscriptionEvent, WebhookReceiver } from "@subgate/testing";
import { createStripeApp, createTestEnvironment, type TestEnvironment, sendStripeEvent } from "./harness.ts";

/**
 * Redis here keeps nothing on disk. "Flushing" deletes every key of this test's queue prefix (the
 * whole of what this test's gateway keeps in Redis) rather than FLUSHALL, which would also wipe the
 * queues of test files running beside this one.
 */
describe("Redis losing its data while work is pending", () => {
  let env: TestEnvironment;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    env = await createTestEnvironment({ retryScheduleMs: [1_500, 1_500] });
    await receiver.start();
  });
  afterAll(async () => {
    await env.close();
    await receiver.close();
  });

  it("the sweeper re-enqueues stored notifications and due deliveries, and all of them finish", { timeout: 90_000 }, async () => {
    // Phase 1: only the HTTP server runs; notifications are stored and their jobs wait in Redis.
    const server = await env.start("server");
    const app = await createStripeApp(server);
    await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url });
    const subscriptions = ["sub_loss_1", "sub_loss_2", "sub_loss_3"];
    for (const id of subscriptions) {
      await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: id });
      const event = subscriptionEvent({ subscriptionId: id, cancelAtPeriodEnd: true, previousAttributes: { cancel_at_period_end: false } });
      const answer = await sendStripeEvent(server, app.stripeUrl, event);
      expect(answer.status).toBe(200);
    }
    expect(await server.producer.queue("notifications").getWaitingCount()).toBe(3);
    expect(await env.flushQueues()).toBeGreaterThan(0);
    expect(await server.producer.queue("notifications").getWaitingCount()).toBe(0);

    // Phase 2: a worker starts; only the sweeper can know about those notifications. The receiver
    // fails every first attempt, so each delivery ends up waiting for its retry in Redis...
    receiver.defaultStatus = 500;
    const worker = await env.start("worker");
    await receiver.waitFor((r) => new Set(r.received.map((request) => request.headers["webhook-id"])).size === 3);
    const processed = await worker.db.notification.count({ where: { appId: app.appId, state: "processed" } });
    expect(processed).toBe(3);

    // ...and then Redis loses those retries too.
    await env.flushQueues();
    receiver.defaultStatus = 200;

    // Up to a lease and a sweep: a retry in flight when Redis lost it holds its delivery until its
    // lease (the 5 s timeout plus 10 s) runs out, then is recorded interrupted and sent again.
    await receiver.waitFor((r) => new Set(r.delivered.map((request) => request.headers["webhook-id"])).size === 3, 45_000);
    const deliveries = await eventually(async () => {
      const rows = await worker.db.delivery.findMany({ where: { appId: app.appId } });
      return rows.length === 3 && rows.every((row) => row.status === "succeeded") ? rows : undefined;
    });
    expect(deliveries.every((row) => row.attemptCount >= 2)).toBe(true);
    expect(await worker.db.event.count({ where: { appId: app.appId } })).toBe(3);
  });
});

describe("Redis unreachable when a notification arrives", () => {
  let env: TestEnvironment;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    env = await createTestEnvironment();
    await receiver.start();
  });
  afterAll(async () => {
    await env.close();
    await receiver.close();
  });

  it("the ingress still stores it and answers 200; a worker on a working Redis processes it through the sweeper", async () => {
    // The server process sees no Redis at all (nothing listens on port 9); PostgreSQL is fine.
    const realRedis = env.config.redisUrl;
    env.config.redisUrl = "redis://127.0.0.1:9";
    const server = await env.start("server");
    env.config.redisUrl = realRedis;

    const app = await createStripeApp(server);
    await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url });
    await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_no_redis" });
    const answer = await sendStripeEvent(
      server,
      app.stripeUrl,
      subscriptionEvent({ subscriptionId: "sub_no_redis", cancelAtPeriodEnd: true, previousAttributes: { cancel_at_period_end: false } }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe("stored");

    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks).toMatchObject({
      postgres: "ok",
      redis: expect.stringMatching(/^unavailable/),
    });
    const stored = await server.db.notification.findFirstOrThrow({ where: { appId: app.appId } });
    expect(stored.state).toBe("pending");

    const worker = await env.start("worker");
    await receiver.waitFor((r) => r.delivered.length === 1);
    expect(JSON.parse(receiver.delivered[0]?.body ?? "{}").event.type).toBe("CANCELLATION");
    const processed = await worker.db.notification.findUniqueOrThrow({ where: { id: stored.id } });
    expect(processed.state).toBe("processed");
  });
});
