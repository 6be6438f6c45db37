import { newId, UnknownEncryptionKeyError, type Logger, type SecretBox } from "@subgate/core";
import type { Db } from "@subgate/db";
import { nextRetryDelayMs, type AttemptResult, type WebhookSender } from "@subgate/delivery";
import { WEBHOOK_API_VERSION } from "@subgate/schema";
import { recordInterruptedAttempts } from "./interrupted-attempts.ts";
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
  let leasedAt = await claim(deps, deliveryId);
  // A lease that ran out belongs to a worker that died mid-attempt: that attempt is recorded first
  // (it then sets when the delivery is due again).
  if (leasedAt === undefined && (await recordInterruptedAttempts(db, deps.retryScheduleMs, deliveryId)).length > 0) {
    leasedAt = await claim(deps, deliveryId);
  }
  if (leasedAt === undefined) {
    const waiting = await notDueFor(db, deliveryId);
    if (waiting !== null) throw new RetryLaterError(`delivery ${deliveryId} is not due for ${waiting} ms`, waiting);
    return; // done, canceled, or another worker holds it
  }

  let attempt: Awaited<ReturnType<typeof attemptOnce>>;
  try {
    attempt = await attemptOnce(deps, deliveryId);
  } catch (error) {
    // Nothing was sent (send() throws only before its request, see WebhookSender): give the lease
    // back, or its running out would be recorded as an interrupted attempt that never happened.
    await db.$executeRaw`UPDATE deliveries SET lease_until = NULL, leased_at = NULL WHERE id = ${deliveryId} AND leased_at = ${leasedAt}`.catch(
      () => undefined,
    );
    if (error instanceof UnknownEncryptionKeyError) {
      // The operator gives this process the key; until then the delivery waits, its attempts untouched.
      deps.logger.error(
        { delivery_id: deliveryId, err: error.message },
        "cannot open the webhook endpoint's secret: SUBGATE_ENCRYPTION_KEY lacks its key",
      );
      throw new RetryLaterError(error.message, MISSING_KEY_RETRY_MS);
    }
    throw error;
  }
  if (attempt === null) return; // the endpoint was deleted: canceled
  const { delivery, startedAt, result } = attempt;
  const log = deps.logger.child({ delivery_id: delivery.id, endpoint_id: delivery.endpointId, app_id: delivery.appId });
  const recorded = await recordAttempt(deps, delivery.id, leasedAt, startedAt, result);

  const outcome = { attempt: recorded.number, status_code: result.statusCode, error: result.error, duration_ms: result.durationMs };
  switch (recorded.next) {
    case "done":
      log.info(outcome, "webhook delivered");
      return;
    case "given_up":
      log.warn(outcome, "webhook delivery failed for good: every scheduled attempt failed");
      return;
    case "settled":
      log.info(outcome, "webhook attempt finished after its delivery was settled (its endpoint deleted, or delivered by another attempt)");
      return;
    case "lease_lost":
      log.warn(outcome, "webhook attempt failed after this worker's lease ran out; the delivery's next attempt is scheduled already");
      return;
    case "retry":
      // The private-address guard refused the endpoint's address: only an operator can change that.
      if (result.blocked)
        log.warn({ ...outcome, retry_in_ms: recorded.delayMs }, "webhook blocked: the endpoint's address is private; will retry");
      else log.info({ ...outcome, retry_in_ms: recorded.delayMs }, "webhook attempt failed; will retry");
      throw new RetryLaterError(`delivery attempt ${recorded.number} failed; next attempt in ${recorded.delayMs} ms`, recorded.delayMs);
  }
}

/** A delivery whose endpoint secret this process cannot open is tried again after this. */
const MISSING_KEY_RETRY_MS = 60_000;

/** Sends the leased delivery once; null when its endpoint was deleted meanwhile (it is canceled). */
async function attemptOnce(deps: DeliverySenderDeps, deliveryId: string) {
  const delivery = await deps.db.delivery.findUniqueOrThrow({
    where: { id: deliveryId },
    include: { event: { select: { payload: true, type: true } }, endpoint: true },
  });
  if (delivery.endpoint.deletedAt) {
    await deps.db.delivery.update({
      where: { id: delivery.id },
      data: { status: "canceled", leaseUntil: null, leasedAt: null, nextAttemptAt: null, completedAt: new Date() },
    });
    return null;
  }
  const secret = deps.secretBox.open(delivery.endpoint.secretEncrypted);
  const body = JSON.stringify({ api_version: WEBHOOK_API_VERSION, event: delivery.event.payload });
  const startedAt = new Date();
  const result = await deps.sender.send({ url: delivery.endpoint.url, msgId: delivery.id, body, secrets: [secret], timestamp: startedAt });
  return { delivery, startedAt, result };
}

/** What follows a recorded attempt. */
type Recorded =
  | { number: number; next: "done" | "given_up" | "lease_lost" | "settled" }
  | { number: number; next: "retry"; delayMs: number };

/**
 * Records the attempt and what follows it, under the delivery's row lock. Normally the lease is
 * still this worker's. If it ran out meanwhile (the database stalled past the lease), the attempt
 * was already recorded as interrupted and the delivery may be another worker's: this attempt is
 * still logged, under the next number, and a success still completes the delivery, but a failure
 * leaves the scheduling to whoever holds it now.
 */
async function recordAttempt(
  deps: DeliverySenderDeps,
  deliveryId: string,
  leasedAt: Date,
  startedAt: Date,
  result: AttemptResult,
): Promise<Recorded> {
  return deps.db.$transaction(async (tx) => {
    const [current] = await tx.$queryRaw<{ attempt_count: number; leased_at: Date | null; status: string }[]>`
      SELECT attempt_count, leased_at, status FROM deliveries WHERE id = ${deliveryId} FOR UPDATE`;
    if (!current) throw new Error(`delivery ${deliveryId} disappeared while it was sent`);
    const number = current.attempt_count + 1;
    const delayMs = result.ok ? null : nextRetryDelayMs(number, deps.retryScheduleMs, Math.random, result.retryAfterMs);
    const finished = new Date();
    await tx.deliveryAttempt.create({
      data: {
        id: newId("attempt"),
        deliveryId,
        number,
        outcome: result.ok ? "succeeded" : "failed",
        startedAt,
        durationMs: result.durationMs,
        statusCode: result.statusCode,
        responseBody: result.responseBody,
        error: result.error,
      },
    });
    const stillOurs = current.leased_at?.getTime() === leasedAt.getTime();
    // Settled while it was sent (canceled by its endpoint's deletion, or delivered by a worker whose
    // lease had run out): the attempt is logged, the status stays.
    if (stillOurs && current.status !== "pending") {
      await tx.delivery.update({ where: { id: deliveryId }, data: { attemptCount: number, leaseUntil: null, leasedAt: null } });
      return { number, next: "settled" };
    }
    if (stillOurs) {
      await tx.delivery.update({
        where: { id: deliveryId },
        data: {
          attemptCount: number,
          leaseUntil: null,
          leasedAt: null,
          ...(result.ok
            ? { status: "succeeded", nextAttemptAt: null, completedAt: finished }
            : delayMs === null
              ? { status: "failed", nextAttemptAt: null, completedAt: finished }
              : { nextAttemptAt: new Date(finished.getTime() + delayMs) }),
        },
      });
      if (result.ok) return { number, next: "done" };
      return delayMs === null ? { number, next: "given_up" } : { number, next: "retry", delayMs };
    }
    // A late success completes the delivery, also one its interrupted record had given up on.
    const delivered = result.ok && (current.status === "pending" || current.status === "failed");
    await tx.delivery.update({
      where: { id: deliveryId },
      data: { attemptCount: number, ...(delivered ? { status: "succeeded", nextAttemptAt: null, completedAt: finished } : {}) },
    });
    return { number, next: result.ok ? "done" : "lease_lost" };
  });
}

/**
 * Takes the delivery's lease, if it is pending, unleased and due; the lease's start identifies it.
 * Only a due delivery is claimed: the schedule is the row's next_attempt_at, not the job's timing
 * (a job handed on after its worker died mid-attempt would otherwise retry at once).
 */
async function claim(deps: DeliverySenderDeps, deliveryId: string): Promise<Date | undefined> {
  const claimed = await deps.db.$queryRaw<{ leased_at: Date }[]>`
    UPDATE deliveries SET lease_until = now() + make_interval(secs => ${deps.leaseMs / 1000}), leased_at = now()
    WHERE id = ${deliveryId} AND status = 'pending' AND lease_until IS NULL
      AND (next_attempt_at IS NULL OR next_attempt_at <= now())
    RETURNING leased_at`;
  return claimed[0]?.leased_at;
}

/** How long until a pending, unleased delivery is due; null when it is not waiting for its time. */
async function notDueFor(db: Db, deliveryId: string): Promise<number | null> {
  const rows = await db.$queryRaw<{ wait_ms: number }[]>`
    SELECT ceil(extract(epoch FROM next_attempt_at - now()) * 1000)::int AS wait_ms FROM deliveries
    WHERE id = ${deliveryId} AND status = 'pending' AND lease_until IS NULL AND next_attempt_at > now()`;
  return rows[0]?.wait_ms ?? null;
}
