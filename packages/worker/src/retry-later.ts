import { nextRetryDelayMs } from "@subgate/delivery";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Thrown by a job that must run again later (a failed webhook attempt, a store API that is away).
 * The job has already written its next attempt time to the database; the queue's backoff reads
 * `delayMs` so BullMQ retries at the same moment the sweeper would.
 */
export class RetryLaterError extends Error {
  override readonly name = "RetryLaterError";
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

/**
 * Delays before a notification whose store API was away is normalized again. Unlike webhook
 * deliveries a notification is never given up: the last entry repeats until the store answers.
 */
export const DEFAULT_NOTIFICATION_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  10 * SECOND,
  30 * SECOND,
  1 * MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  1 * HOUR,
]);

/** Delay after `failedAttempts` failed normalizations (1 after the first), jittered like deliveries. */
export function notificationRetryDelayMs(failedAttempts: number, schedule: readonly number[], random: () => number = Math.random): number {
  if (schedule.length === 0) throw new RangeError("the notification retry schedule is empty");
  return nextRetryDelayMs(Math.min(Math.max(1, failedAttempts), schedule.length), schedule, random) as number;
}
