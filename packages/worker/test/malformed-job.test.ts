import { AppStoreApis, StoreRegistry } from "@subgate/stores";
import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey, SecretBox, silentLogger } from "@subgate/core";
import { createPrismaClient, type Db } from "@subgate/db";
import { WebhookSender } from "@subgate/delivery";
import { JOB_CATALOG, JobProducer, QUEUE_NAMES, type JobName } from "@subgate/queue";
import { eventually, useTestDatabase, type TestDatabase } from "@subgate/testing";
import { startWorkers, type RunningWorkers } from "../src/workers.ts";

/*
 * A job whose payload fails the catalog's schema (left in Redis by another version of subgate) can
 * never succeed: the same data is parsed again on every retry. It must fail once, not be
 * retried for the catalog's 1 000 attempts (over half a day of "job failed" lines).
 */

const REDIS_URL = process.env.SUBGATE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `sgt_${randomBytes(5).toString("hex")}`;

let database: TestDatabase;
let db: Db;
let producer: JobProducer;
let sender: WebhookSender;
let workers: RunningWorkers;
const queues = new Map<string, Queue>();

beforeAll(async () => {
  database = await useTestDatabase();
  db = createPrismaClient({ url: database.url });
  producer = new JobProducer({ redisUrl: REDIS_URL, prefix });
  await producer.connected();
  sender = new WebhookSender({ allowPrivateTargets: true });
  workers = await startWorkers({
    db,
    producer,
    redisUrl: REDIS_URL,
    prefix,
    secretBox: SecretBox.fromString(generateKey()),
    stores: new StoreRegistry([]),
    appStoreApis: new AppStoreApis({ productionBaseUrl: "http://127.0.0.1:9", sandboxBaseUrl: "http://127.0.0.1:9" }),
    sender,
    logger: silentLogger(),
    retryScheduleMs: [100],
    sweepIntervalMs: 60_000,
  });
  for (const name of QUEUE_NAMES) queues.set(name, new Queue(name, { connection: { url: REDIS_URL }, prefix }));
});

afterAll(async () => {
  await workers?.close();
  for (const queue of queues.values()) {
    await queue.obliterate({ force: true });
    await queue.close();
  }
  await producer?.close();
  await sender?.close();
  await db?.$disconnect();
  await database?.drop();
});

describe("a job whose payload fails validation", () => {
  it.each([
    ["delivery.send", { delivery_id: "msg_renamed_field" }],
    ["notification.process", { notificationId: 42 }],
  ] as const)("%s fails on its first run, not retried", async (name: JobName, payload) => {
    const job = JOB_CATALOG[name];
    const queue = queues.get(job.queue) as Queue;
    const jobId = `malformed_${name}`;
    await queue.add(name, payload, { ...job.options, jobId });
    // A retried job would go to "delayed" for its backoff (1 s, then 2 s, ...) and only reach
    // "failed" after the catalog's 1 000 attempts. This queue handle keeps failed jobs (subgate's
    // producer removes them), so the failure can be read.
    await eventually(async () => (await queue.getJobState(jobId)) === "failed", 3_000, `${name} job failed`);
    const failed = await queue.getJob(jobId);
    if (!failed) throw new Error("the failed job is gone");
    expect(failed.failedReason).toMatch(/malformed .* job payload/);
  });
});
