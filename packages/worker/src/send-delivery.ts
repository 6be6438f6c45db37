import { newId, type Logger, type SecretBox } from "@subgate/core";
import type { Db } from "@subgate/db";
import { nextRetryDelayMs, type WebhookSender } from "@subgate/delivery";
import { WEBHOOK_API_VERSION } from "@subgate/schema";
import { RetryLaterError } from "./retry-later.ts";

export interface DeliverySenderDeps {
  db: Db;
  secretBox: SecretBox;
  sender: WebhookSender;
  /** Delay before retry n (Svix's schedule by default); attempts = length + 1. */
  retryScheduleMs: readonly number[];
  /** How long a worker holds a delivery it is sending; longer than the request timeout. */
  leaseMs: number;
  logger: Logger;
}

/**
 * Makes one attempt at a delivery. The attempt number comes from the database, so the schedule
 * survives Redis losing the job; the lease keeps a re-enqueued copy of the job from sending twice.
 */
export async function sendDelivery(deps: DeliverySenderDeps, deliveryId: string): Promise<void> {
  const { db } = deps;
  // Only a due delivery is claimed: the schedule is the row's next_attempt_at, not the job's timing
  // (a job handed on after its worker died mid-attempt would otherwise retry at once).
  const claimed = await db.$queryRaw<{ attempt_count: number }[]>`
    UPDATE deliveries SET lease_until = now() + make_interval(secs => ${deps.leaseMs / 1000})
    WHERE id = ${deliveryId} AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())
      AND (next_attempt_at IS NULL OR next_attempt_at <= now())
    RETURNING attempt_count`;
  if (claimed.length === 0) {
    const waiting = await notDueFor(db, deliveryId);
    if (waiting !== null) throw new RetryLaterError(`delivery ${deliveryId} is not due for ${waiting} ms`, waiting);
    return; // done, canceled, or another worker holds it
  }

  const delivery = await db.delivery.findUniqueOrThrow({
    where: { id: deliveryId },
    include: { event: { select: { payload: true, type: true } }, endpoint: true },
  });
  const log = deps.logger.child({ delivery_id: delivery.id, endpoint_id: delivery.endpointId, app_id: delivery.appId });
  if (delivery.endpoint.deletedAt) {
    await db.delivery.update({
      where: { id: delivery.id },
      data: { status: "canceled", leaseUntil: null, nextAttemptAt: null, completedAt: new Date() },
    });
    return;
  }

  const body = JSON.stringify({ api_version: WEBHOOK_API_VERSION, event: delivery.event.payload });
  const startedAt = new Date();
  const result = await deps.sender.send({
    url: delivery.endpoint.url,
    msgId: delivery.id,
    body,
    secrets: [deps.secretBox.open(delivery.endpoint.secretEncrypted)],
    timestamp: startedAt,
  });
  const number = delivery.attemptCount + 1;
  const delayMs = result.ok ? null : nextRetryDelayMs(number, deps.retryScheduleMs, Math.random, result.retryAfterMs);
  const finished = new Date();
  await db.$transaction([
    db.deliveryAttempt.create({
      data: {
        id: newId("attempt"),
        deliveryId: delivery.id,
        number,
        startedAt,
        durationMs: result.durationMs,
        statusCode: result.statusCode,
        responseBody: result.responseBody,
        error: result.error,
      },
    }),
    db.delivery.update({
      where: { id: delivery.id },
      data: {
        attemptCount: number,
        leaseUntil: null,
        ...(result.ok
          ? { status: "succeeded", nextAttemptAt: null, completedAt: finished }
          : delayMs === null
            ? { status: "failed", nextAttemptAt: null, completedAt: finished }
            : { nextAttemptAt: new Date(finished.getTime() + delayMs) }),
      },
    }),
  ]);

  const outcome = { attempt: number, status_code: result.statusCode, error: result.error, duration_ms: result.durationMs };
  if (result.ok) {
    log.info(outcome, "webhook delivered");
  } else if (delayMs === null) {
    log.warn(outcome, "webhook delivery failed for good: every scheduled attempt failed");
  } else {
    log.info({ ...outcome, retry_in_ms: delayMs }, "webhook attempt failed; will retry");
    throw new RetryLaterError(`delivery attempt ${number} failed; next attempt in ${delayMs} ms`, delayMs);
  }
}

/** How long until a pending, unleased delivery is due; null when it is not waiting for its time. */
async function notDueFor(db: Db, deliveryId: string): Promise<number | null> {
  const rows = await db.$queryRaw<{ wait_ms: number }[]>`
    SELECT ceil(extract(epoch FROM next_attempt_at - now()) * 1000)::int AS wait_ms FROM deliveries
    WHERE id = ${deliveryId} AND status = 'pending' AND (lease_until IS NULL OR lease_until < now()) AND next_attempt_at > now()`;
  return rows[0]?.wait_ms ?? null;
}
