import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "@subgate/core";
import { createPrismaClient, type Db } from "@subgate/db";
import { JobProducer } from "@subgate/queue";
import { useTestDatabase, type TestDatabase } from "@subgate/testing";
import { Sweeper } from "../src/sweeper.ts";

/*
 * The sweeper against the real PostgreSQL and Redis: which stored rows it queues again. Jobs are only
 * observed in the queue (no worker runs), so what the sweeper chose is exactly what is there.
 */

const REDIS_URL = process.env.SUBGATE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const HOUR = 3_600_000;

let database: TestDatabase;
let db: Db;
let producer: JobProducer;
let sweeper: Sweeper;

beforeAll(async () => {
  database = await useTestDatabase();
  db = createPrismaClient({ url: database.url });
  producer = new JobProducer({ redisUrl: REDIS_URL, prefix: `sgt_${randomBytes(5).toString("hex")}` });
  await producer.connected();
  sweeper = new Sweeper({ db, producer, logger: silentLogger(), intervalMs: 60_000, graceMs: 1_000, retryScheduleMs: [1_000] });
  await db.app.create({ data: { id: "app_sweeper", name: "Sweeper" } });
});

afterAll(async () => {
  const queue = producer?.queue("notifications");
  await queue?.obliterate({ force: true });
  await producer?.close();
  await db?.$disconnect();
  await database?.drop();
});

function notification(id: string, fields: { state?: "pending" | "processed"; receivedAgoMs: number; nextAttemptInMs?: number }) {
  return db.notification.create({
    data: {
      id,
      appId: "app_sweeper",
      store: "stripe",
      storeNotificationId: id,
      rawBody: new Uint8Array(Buffer.from("{}")),
      headers: {},
      verification: {},
      state: fields.state ?? "pending",
      receivedAt: new Date(Date.now() - fields.receivedAgoMs),
      nextAttemptAt: fields.nextAttemptInMs === undefined ? null : new Date(Date.now() + fields.nextAttemptInMs),
    },
  });
}

describe("the sweeper's choice of notifications", () => {
  it("queues pending rows past the grace period whose next attempt is due, and no others", async () => {
    await notification("ntf_never_queued", { receivedAgoMs: HOUR });
    await notification("ntf_due_again", { receivedAgoMs: HOUR, nextAttemptInMs: -1_000 });
    await notification("ntf_store_api_away", { receivedAgoMs: HOUR, nextAttemptInMs: HOUR });
    await notification("ntf_just_stored", { receivedAgoMs: 0 });
    await notification("ntf_done", { receivedAgoMs: HOUR, state: "processed" });

    await sweeper.sweepOnce();

    const jobs = await producer.queue("notifications").getJobs(["waiting", "delayed", "active"]);
    expect(jobs.map((job) => job.id).sort()).toEqual(["ntf_due_again", "ntf_never_queued"]);
  });
});

describe("a sweep over more rows than one batch", () => {
  it("reaches every row, even when the oldest rows still have their jobs", async () => {
    const paged = new Sweeper({
      db,
      producer,
      logger: silentLogger(),
      intervalMs: 60_000,
      graceMs: 1_000,
      retryScheduleMs: [1_000],
      batchSize: 3,
    });
    const queue = producer.queue("notifications");
    await queue.obliterate({ force: true });
    // Seven rows waiting; the four oldest still have their jobs (a backlog Redis kept), the three
    // newest lost theirs. A single batch of three would only re-add jobs that already exist.
    const ids = Array.from({ length: 7 }, (_, n) => `ntf_paged_${n}`);
    for (const [n, id] of ids.entries()) await notification(id, { receivedAgoMs: HOUR - n * 1_000 });
    for (const id of ids.slice(0, 4)) await producer.enqueue("notification.process", { notificationId: id }, { jobId: id });

    await paged.sweepOnce();

    const jobs = await queue.getJobs(["waiting", "delayed", "active"]);
    expect(
      jobs
        .map((job) => job.id)
        .filter((id) => id?.startsWith("ntf_paged_"))
        .sort(),
    ).toEqual([...ids].sort());
  });
});
