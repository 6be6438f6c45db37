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
export async function recordInterruptedAttempts(
  db: Db,
  retryScheduleMs: readonly number[],
  deliveryId?: string,
): Promise<InterruptedAttempt[]> {
  // A few statements per batch, whatever its size: a batch after a fleet-wide kill must fit the
  // transaction's time, or it would roll back at every sweep.
  return db.$transaction(
    async (tx) => {
      const onlyThis = deliveryId === undefined ? Prisma.empty : Prisma.sql`AND id = ${deliveryId}`;
      const expired = await tx.$queryRaw<{ id: string; attempt_count: number; leased_at: Date | null; lease_until: Date }[]>`
        SELECT id, attempt_count, leased_at, lease_until FROM deliveries
        WHERE status = 'pending' AND lease_until < now() ${onlyThis}
        ORDER BY lease_until LIMIT ${INTERRUPTED_BATCH} FOR UPDATE SKIP LOCKED`;
      if (expired.length === 0) return [];
      const now = new Date();
      const recorded = expired.map((row): InterruptedAttempt => {
        const number = row.attempt_count + 1;
        const delayMs = nextRetryDelayMs(number, retryScheduleMs);
        return { deliveryId: row.id, number, nextAttemptAt: delayMs === null ? null : new Date(now.getTime() + delayMs) };
      });
      await tx.deliveryAttempt.createMany({
        data: expired.map((row, index) => ({
          id: newId("attempt"),
          deliveryId: row.id,
          number: (recorded[index] as InterruptedAttempt).number,
          outcome: "interrupted" as const,
          // Leases taken before leased_at existed only know their end.
          startedAt: row.leased_at ?? row.lease_until,
          durationMs: null,
          error: INTERRUPTED_ATTEMPT_ERROR,
        })),
      });
      // Due again per the schedule, or failed when its attempts are used up.
      await tx.$executeRaw`
        UPDATE deliveries AS d SET attempt_count = v.number, lease_until = NULL, leased_at = NULL, next_attempt_at = v.next_attempt_at,
          status = CASE WHEN v.next_attempt_at IS NULL THEN 'failed'::"DeliveryStatus" ELSE d.status END,
          completed_at = CASE WHEN v.next_attempt_at IS NULL THEN ${now} ELSE d.completed_at END
        FROM unnest(${recorded.map((attempt) => attempt.deliveryId)}::text[], ${recorded.map((attempt) => attempt.number)}::int[],
                    ${recorded.map((attempt) => attempt.nextAttemptAt?.toISOString() ?? null)}::timestamptz[]) AS v(id, number, next_attempt_at)
        WHERE d.id = v.id`;
      return recorded;
    },
    { timeout: 30_000 },
  );
}
