import type { Logger } from "@subgate/core";
import type { Db } from "@subgate/db";
import type { JobProducer } from "@subgate/queue";
import { INTERRUPTED_BATCH, recordInterruptedAttempts, type InterruptedAttempt } from "./interrupted-attempts.ts";

export interface SweeperDeps {
  db: Db;
  producer: JobProducer;
  logger: Logger;
  intervalMs: number;
  /** Rows younger than this are left to the normal path (their job is being added right now). */
  graceMs: number;
  /** The deliveries' retry schedule: an interrupted attempt counts like a failed one. */
  retryScheduleMs: readonly number[];
  batchSize?: number;
}

/**
 * Redis holds nothing PostgreSQL does not also hold. The sweeper re-creates the jobs of rows that
 * still wait for work: stored notifications never processed (or due again after their store's API
 * was away), deliveries that are due, and history replays still running. Job ids
 * are row ids, so a row whose job still exists is not queued twice; several workers may sweep.
 * First it records, as interrupted, the attempts of deliveries whose worker died mid-attempt.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;

  constructor(private readonly deps: SweeperDeps) {}

  start(): void {
    if (this.timer) return;
    this.stopping = false;
    this.timer = setInterval(() => void this.sweepOnce(), this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
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
    let interrupted = 0;
    try {
      for (;;) {
        const found = await recordInterruptedAttempts(db, this.deps.retryScheduleMs);
        interrupted += found.length;
        for (const attempt of found) await this.queueAfterInterrupted(attempt);
        if (found.length < INTERRUPTED_BATCH || this.stopping) break;
      }
    } catch (error) {
      // The rest of the pass does not depend on it: waiting rows are still queued.
      this.deps.logger.warn({ err: error }, "could not record interrupted webhook attempts; will try again at the next sweep");
    }
    const now = new Date();
    const notifications = await this.everyPage(
      (cursor) =>
        db.notification.findMany({
          where: {
            state: "pending",
            receivedAt: { lt: before },
            OR: [{ nextAttemptAt: null }, { nextAttemptAt: { lt: now } }],
          },
          orderBy: [{ receivedAt: "asc" }, { id: "asc" }],
          take: limit,
          ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
          select: { id: true },
        }),
      ({ id }) => producer.enqueue("notification.process", { notificationId: id }, { jobId: id }),
      limit,
    );
    const deliveries = await this.everyPage(
      (cursor) =>
        db.delivery.findMany({
          where: {
            status: "pending",
            nextAttemptAt: { lt: before },
            OR: [{ leaseUntil: null }, { leaseUntil: { lt: now } }],
          },
          orderBy: [{ nextAttemptAt: "asc" }, { id: "asc" }],
          take: limit,
          ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
          select: { id: true },
        }),
      ({ id }) => producer.enqueue("delivery.send", { deliveryId: id }, { jobId: id }),
      limit,
    );
    // A replay whose worker stopped (or whose job Redis lost) is picked up where its row says it is.
    const replays = await this.everyPage(
      (cursor) =>
        db.historyReplay.findMany({
          where: {
            status: "running",
            updatedAt: { lt: before },
            AND: [
              { OR: [{ leaseUntil: null }, { leaseUntil: { lt: now } }] },
              { OR: [{ nextAttemptAt: null }, { nextAttemptAt: { lt: now } }] },
            ],
          },
          orderBy: { id: "asc" },
          take: limit,
          ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
          select: { id: true, leaseUntil: true },
        }),
      // A lease that ran out was a worker's that died: its job may still be `active` in Redis until
      // BullMQ finds it stalled, and a job under the replay's own id is not added while it exists.
      ({ id, leaseUntil }) =>
        producer.enqueue("history.replay", { replayId: id }, { jobId: leaseUntil ? `${id}-after-lease-${leaseUntil.getTime()}` : id }),
      limit,
    );
    if (interrupted) {
      this.deps.logger.warn({ interrupted }, "recorded webhook attempts cut short by a worker that stopped mid-attempt");
    }
    if (notifications || deliveries || replays) {
      this.deps.logger.info({ notifications, deliveries, replays }, "sweeper enqueued rows waiting for work");
    }
  }

  /**
   * The dead worker's job of the delivery stays `active` in Redis until BullMQ finds it stalled (30 s
   * or more after its lock was last renewed), and a job under the delivery's own id is not added
   * while it exists: the next attempt gets a job of its own, due when the schedule says. The stalled
   * job, when it runs, finds the delivery not due, leased or done, as any duplicate job does.
   */
  private async queueAfterInterrupted(attempt: InterruptedAttempt): Promise<void> {
    if (attempt.nextAttemptAt === null) return;
    await this.deps.producer
      .enqueue(
        "delivery.send",
        { deliveryId: attempt.deliveryId },
        { jobId: `${attempt.deliveryId}-after-interrupted-${attempt.number}`, delayMs: attempt.nextAttemptAt.getTime() - Date.now() },
      )
      .catch((error: unknown) =>
        this.deps.logger.warn(
          { err: (error as Error).message, delivery_id: attempt.deliveryId },
          "could not queue the attempt after an interrupted one; the sweeper will",
        ),
      );
  }

  /**
   * Enqueues every row a query finds, page by page, so one pass reaches all of them: rows whose job
   * still exists (re-adding is a no-op) must not use up a fixed batch and hide the ones Redis lost.
   * Stops between pages when the sweeper is stopping. Returns how many rows were seen.
   */
  private async everyPage<Row extends { id: string }>(
    page: (cursor: string | undefined) => Promise<Row[]>,
    enqueue: (row: Row) => Promise<void>,
    limit: number,
  ): Promise<number> {
    let seen = 0;
    let cursor: string | undefined;
    do {
      const rows = await page(cursor);
      for (const row of rows) await enqueue(row);
      seen += rows.length;
      cursor = rows.length === limit ? rows.at(-1)?.id : undefined;
    } while (cursor !== undefined && !this.stopping);
    return seen;
  }
}
