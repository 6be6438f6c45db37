import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "@subgate/core";
import { JOB_CATALOG, QUEUE_NAMES, type JobName, type JobPayload, type QueueName } from "./catalog.ts";
import { createProducerConnection, watchRedis, type QueueConnectionOptions } from "./connection.ts";

export interface EnqueueOptions {
  /** Job id; the row's id, so enqueuing the same row twice is one job. */
  jobId: string;
  delayMs?: number;
}

/** Adds catalog jobs. Completed and failed jobs are removed: the database is the record. */
export class JobProducer {
  private readonly connection: Redis;
  private readonly queues = new Map<QueueName, Queue>();
  private readonly redisState: { lastError: () => string | null };

  constructor(private readonly options: QueueConnectionOptions & { logger?: Logger }) {
    this.connection = createProducerConnection(options.redisUrl);
    // Listening for errors also keeps a Redis error from crashing the process; callers see
    // failures as rejected promises.
    this.redisState = watchRedis(this.connection, options.logger, "producer");
  }

  async enqueue<N extends JobName>(name: N, payload: JobPayload<N>, options: EnqueueOptions): Promise<void> {
    const job = JOB_CATALOG[name];
    const data = job.schema.parse(payload);
    await this.queue(job.queue).add(name, data, {
      ...job.options,
      jobId: options.jobId,
      delay: Math.max(0, Math.round(options.delayMs ?? 0)),
    });
  }

  /**
   * Enqueues deliveries whose transaction has committed, each to run at its `nextAttemptAt`.
   * Returns how many could not be queued; they are committed rows, so the sweeper queues them later.
   */
  async enqueueDeliveries(deliveries: readonly { id: string; nextAttemptAt: Date }[]): Promise<number> {
    const now = Date.now();
    return countRejected(
      deliveries.map((delivery) =>
        this.enqueue("delivery.send", { deliveryId: delivery.id }, { jobId: delivery.id, delayMs: delivery.nextAttemptAt.getTime() - now }),
      ),
    );
  }

  /**
   * Enqueues stored notifications for processing. Returns how many could not be queued; they are
   * pending rows, so the sweeper queues them later.
   */
  async enqueueNotifications(notificationIds: readonly string[]): Promise<number> {
    return countRejected(notificationIds.map((id) => this.enqueue("notification.process", { notificationId: id }, { jobId: id })));
  }

  /**
   * Queues are created on first use once Redis is connected: BullMQ queries the server when a queue
   * is constructed, and with the offline queue disabled that query fails for good if it runs early.
   * While Redis is away this throws at once instead of holding an HTTP request.
   */
  queue(name: QueueName): Queue {
    if (!QUEUE_NAMES.includes(name)) throw new Error(`unknown queue ${name}`);
    let queue = this.queues.get(name);
    if (queue) return queue;
    if (this.connection.status !== "ready") throw new Error(`redis is not connected (${this.connection.status})`);
    queue = new Queue(name, {
      connection: this.connection,
      prefix: this.options.prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
    this.queues.set(name, queue);
    return queue;
  }

  /** Resolves once Redis is connected (commands fail fast before that; see connection.ts). */
  async connected(timeoutMs = 10_000): Promise<void> {
    if (this.connection.status === "ready") return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.connection.off("ready", onReady);
        reject(new Error(`redis did not connect within ${timeoutMs} ms (${this.connection.status})`));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.connection.once("ready", onReady);
    });
  }

  /** Round trip to Redis, for readiness checks; while disconnected, says why. */
  async ping(): Promise<void> {
    if (this.connection.status !== "ready") {
      const cause = this.redisState.lastError();
      throw new Error(`redis is not connected (${this.connection.status}${cause ? `: ${cause}` : ""})`);
    }
    await this.connection.ping();
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.connection.disconnect();
  }
}

async function countRejected(attempts: Promise<unknown>[]): Promise<number> {
  const results = await Promise.allSettled(attempts);
  return results.filter((result) => result.status === "rejected").length;
}
