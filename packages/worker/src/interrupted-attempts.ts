import { newId } from "@subgate/core";
import { Prisma, type Db } from "@subgate/db";
import { nextRetryDelayMs } from "@subgate/delivery";

/** Deliveries handled per call (the sweeper calls again while a call finds this many). */
export const INTERRUPTED_BATCH = 500;

export const INTERRUPTED_ATTEMPT_ERROR =
  "interrupted: the worker stopped before this attempt's outcome was recorded (its lease ran out); the request may have reached the receiver";

/** An attempt recorded as interrupted, and when its delivery is due again (null: it failed for good). */
export interface InterruptedAttempt {
  deliveryId: string;
  number: number;
  nextAttemptAt: Date | null;
}

/**
 * A delivery whose lease ran out while still held was being sent by a worker that died mid-attempt
 * (a graceful stop waits for attempts in flight; a kill does not). That attempt may have reached
 * the receiver, so the delivery log records it, as `interrupted`, and it counts like a failed
 * attempt: the next one follows the retry schedule, and a delivery whose attempts are used up fails.
 * Called by the sweeper for every such delivery, and before a delivery is claimed for its own.
 */
export async function recordInterruptedAttempts(db: Db, retryScheduleMs: readonly number[], deliveryId?: string): Promise<InterruptedAttempt[]> {
  return db.$transaction(async (tx) => {
    const onlyThis = deliveryId === undefined ? Prisma.empty : Prisma.sql`AND id = ${deliveryId}`;
    const expired = await tx.$queryRaw<{ id: string; attempt_count: number; leased_at: Date | null; lease_until: Date }[]>`
      SELECT id, attempt_count, leased_at, lease_until FROM deliveries
      WHERE status = 'pending' AND lease_until < now() ${onlyThis}
      ORDER BY lease_until LIMIT ${INTERRUPTED_BATCH} FOR UPDATE SKIP LOCKED`;
    const now = new Date();
    const recorded: InterruptedAttempt[] = [];
    for (const row of expired) {
      const number = row.attempt_count + 1;
      const delayMs = nextRetryDelayMs(number, retryScheduleMs);
      const nextAttemptAt = delayMs === null ? null : new Date(now.getTime() + delayMs);
      await tx.deliveryAttempt.create({
        data: {
          id: newId("attempt"),
          deliveryId: row.id,
          number,
          outcome: "interrupted",
          // Leases taken before leased_at existed only know their end.
          startedAt: row.leased_at ?? row.lease_until,
          durationMs: null,
          error: INTERRUPTED_ATTEMPT_ERROR,
        },
      });
      await tx.delivery.update({
        where: { id: row.id },
        data: {
          attemptCount: number,
          leaseUntil: null,
          leasedAt: null,
          ...(nextAttemptAt === null ? { status: "failed", nextAttemptAt: null, completedAt: now } : { nextAttemptAt }),
        },
      });
      recorded.push({ deliveryId: row.id, number, nextAttemptAt });
    }
    return recorded;
  });
}
