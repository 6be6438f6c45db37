import { Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { isUnavailableError, type Logger, type SecretBox } from "@subgate/core";
import type { Db } from "@subgate/db";
import type { WebhookSender } from "@subgate/delivery";
import { createWorkerConnection, JOB_CATALOG, parseJobPayload, watchRedis, type JobProducer } from "@subgate/queue";
import type { AppStoreApis, StoreRegistry } from "@subgate/stores";
import { SubscriptionLedger } from "@subgate/subscriptions";
import { runHistoryReplay } from "./history-replay.ts";
import { processNotification } from "./process-notification.ts";
import { DEFAULT_NOTIFICATION_RETRY_SCHEDULE_MS, RetryLaterError } from "./retry-later.ts";
import { sendDelivery } from "./send-delivery.ts";
import { Sweeper } from "./sweeper.ts";

export interface WorkerOptions {
  db: Db;
  producer: JobProducer;
  redisUrl: string;
  prefix: string;
  secretBox: SecretBox;
  stores: StoreRegistry;
  /** Apple's App Store Server API, for history replays. */
  appStoreApis: AppStoreApis;
  sender: WebhookSender;
  logger: Logger;
  retryScheduleMs: readonly number[];
  /** Delays before normalizing again while a store's API is away (default: 10 s up to 1 h). */
  notificationRetryScheduleMs?: readonly number[];
  notificationConcurrency?: number;
  deliveryConcurrency?: number;
  sweepIntervalMs?: number;
  sweepGraceMs?: number;
  /** Request timeout of the sender plus a margin. */
  deliveryLeaseMs?: number;
}

export interface RunningWorkers {
  sweeper: Sweeper;
  /** Stops taking jobs, waits for the ones in progress, then releases connections. */
  close(): Promise<void>;
}

/** Starts the notification and delivery workers and the sweeper. */
export async function startWorkers(options: WorkerOptions): Promise<RunningWorkers> {
  const { logger } = options;
  const ledger = new SubscriptionLedger(options.db);
  // Aborted first on close: a history replay lets go between pages instead of holding the stop.
  const stopping = new AbortController();
  const notificationRetryScheduleMs = options.notificationRetryScheduleMs ?? DEFAULT_NOTIFICATION_RETRY_SCHEDULE_MS;
  const connections: Redis[] = [];
  const connection = (): Redis => {
    const redis = createWorkerConnection(options.redisUrl);
    watchRedis(redis, logger, "worker");
    connections.push(redis);
    return redis;
  };

  const notificationJob = JOB_CATALOG["notification.process"];
  const notifications = new Worker(
    notificationJob.queue,
    async (job: Job) => {
      const { notificationId } = parseJobPayload("notification.process", job.data);
      await processNotification({ ...options, ledger, notificationRetryScheduleMs }, notificationId);
    },
    {
      connection: connection(),
      prefix: options.prefix,
      concurrency: options.notificationConcurrency ?? 8,
      settings: { backoffStrategy: retryLaterBackoff },
    },
  );

  const deliveryJob = JOB_CATALOG["delivery.send"];
  const deliveries = new Worker(
    deliveryJob.queue,
    async (job: Job) => {
      const { deliveryId } = parseJobPayload("delivery.send", job.data);
      await sendDelivery(
        {
          ...options,
          leaseMs: options.deliveryLeaseMs ?? 60_000,
        },
        deliveryId,
      );
    },
    {
      connection: connection(),
      prefix: options.prefix,
      concurrency: options.deliveryConcurrency ?? 16,
      settings: { backoffStrategy: retryLaterBackoff },
    },
  );

  const replayJob = JOB_CATALOG["history.replay"];
  const replays = new Worker(
    replayJob.queue,
    async (job: Job) => {
      const { replayId } = parseJobPayload("history.replay", job.data);
      await runHistoryReplay({ ...options, notificationRetryScheduleMs, signal: stopping.signal }, replayId);
    },
    {
      connection: connection(),
      prefix: options.prefix,
      // Few at a time: a replay is a long run of calls to Apple, which rate-limits per key.
      concurrency: 2,
      settings: { backoffStrategy: retryLaterBackoff },
    },
  );

  const all = [notifications, deliveries, replays];
  for (const worker of all) {
    worker.on("failed", (job, error) => {
      if (error instanceof RetryLaterError) return; // already logged with its outcome
      logger.warn({ queue: worker.name, job_id: job?.id, err: error.message }, "job failed");
    });
    worker.on("error", (error) => {
      // A lost connection is reported once per outage by watchRedis, not at every retry.
      if (!isUnavailableError(error)) logger.warn({ queue: worker.name, err: error.message }, "worker error");
    });
  }
  await Promise.all(all.map((worker) => worker.waitUntilReady()));

  const sweeper = new Sweeper({
    db: options.db,
    producer: options.producer,
    logger,
    intervalMs: options.sweepIntervalMs ?? 30_000,
    graceMs: options.sweepGraceMs ?? 10_000,
    retryScheduleMs: options.retryScheduleMs,
  });
  sweeper.start();
  logger.info("worker started");

  return {
    sweeper,
    async close() {
      stopping.abort();
      await sweeper.stop();
      await Promise.all(all.map((worker) => worker.close()));
      for (const redis of connections) redis.disconnect();
    },
  };
}

/**
 * BullMQ's custom backoff for both queues. A RetryLaterError carries the delay its job computed from
 * the database's attempt count (and wrote down for the sweeper); anything else (the database away
 * mid-job, say) backs off exponentially from 1 s up to a minute.
 */
function retryLaterBackoff(attemptsMade: number, _type?: string, error?: Error): number {
  if (error instanceof RetryLaterError) return error.delayMs;
  return Math.min(60_000, 1_000 * 2 ** Math.max(0, attemptsMade - 1));
}
