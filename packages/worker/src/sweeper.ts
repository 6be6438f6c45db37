import type { Logger } from "@subgate/core";
import type { Db } from "@subgate/db";
import type { JobProducer } from "@subgate/queue";

export interface SweeperDeps {
  db: Db;
  producer: JobProducer;
  logger: Logger;
  intervalMs: number;
  /** Rows younger than this are left to the normal path (their job is being added right now). */
  graceMs: number;
  batchSize?: number;
}

/**
 * Redis holds nothing PostgreSQL does not also hold. The sweeper re-creates the jobs of rows that
 * still wait for work: stored notifications never processed (or due again after their store's API
 * was away) and deliveries that are due. Job ids
 * are row ids, so a row whose job still exists is not queued twice; several workers may sweep.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly deps: SweeperDeps) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweepOnce(), this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; overlapping calls share the pass in progress. */
  sweepOnce(): Promise<void> {
    this.running ??= this.sweep()
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, "sweep failed; will try again"))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async sweep(): Promise<void> {
    const { db, producer, graceMs } = this.deps;
    const limit = this.deps.batchSize ?? 500;
    const before = new Date(Date.now() - graceMs);
    const now = new Date();
    const notifications = await db.notification.findMany({
      where: {
        state: "pending",
        receivedAt: { lt: before },
        OR: [{ nextAttemptAt: null }, { nextAttemptAt: { lt: now } }],
      },
      orderBy: { receivedAt: "asc" },
      take: limit,
      select: { id: true },
    });
    for (const { id } of notifications) {
      await producer.enqueue("notification.process", { notificationId: id }, { jobId: id });
    }
    const deliveries = await db.delivery.findMany({
      where: {
        status: "pending",
        nextAttemptAt: { lt: before },
        OR: [{ leaseUntil: null }, { leaseUntil: { lt: now } }],
      },
      orderBy: { nextAttemptAt: "asc" },
      take: limit,
      select: { id: true },
    });
    for (const { id } of deliveries) {
      await producer.enqueue("delivery.send", { deliveryId: id }, { jobId: id });
    }
    if (notifications.length || deliveries.length) {
      this.deps.logger.info(
        { notifications: notifications.length, deliveries: deliveries.length },
        "sweeper enqueued rows waiting for work",
      );
    }
  }
}
