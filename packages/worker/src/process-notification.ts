import {
  describeError,
  isUnavailableError,
  isUnstorableDataError,
  UnknownEncryptionKeyError,
  type Logger,
  type SecretBox,
} from "@subgate/core";
import type { Db, Notification } from "@subgate/db";
import type { JobProducer } from "@subgate/queue";
import type { Environment } from "@subgate/schema";
import {
  checkNormalized,
  loadStoreConfig,
  RetryableNormalizationError,
  StoreConfigError,
  type CheckedNormalized,
  type LoadedStoreConfig,
  type Normalized,
  type StoreRegistry,
  type StoredNotification,
} from "@subgate/stores";
import { StoreConfigChangedError, type DueDelivery, type SubscriptionLedger } from "@subgate/subscriptions";
import { notificationRetryDelayMs, RetryLaterError } from "./retry-later.ts";

/** A notification normalized with a configuration that changed meanwhile runs again after this. */
const CONFIG_CHANGED_RETRY_MS = 100;

/**
 * An error subgate does not expect (neither the store's API nor PostgreSQL being away) may still be
 * passing: it is retried on the notification schedule until the notification has met this many of
 * them (counted apart from a store API's outages), then failed with the error, so none stays pending.
 */
export const UNEXPECTED_ERROR_LIMIT = 8;

export interface NotificationProcessorDeps {
  db: Db;
  secretBox: SecretBox;
  stores: StoreRegistry;
  ledger: SubscriptionLedger;
  producer: JobProducer;
  logger: Logger;
  /** Delays before normalizing again while a store's API is away; the last entry repeats. */
  notificationRetryScheduleMs: readonly number[];
}

/**
 * Normalizes one stored notification with its store's adapter and records the outcome. Safe to run
 * twice for one notification: the ledger only acts on a notification that is still pending.
 * Every stored notification ends processed (or untracked, ignored, unresolved) or failed with its
 * reason; while it waits for another attempt, `last_error` says why.
 */
export async function processNotification(deps: NotificationProcessorDeps, notificationId: string): Promise<void> {
  const { db, logger } = deps;
  const row = await db.notification.findUnique({ where: { id: notificationId } });
  if (row?.state !== "pending") return;
  // A job handed on after its worker died mid-attempt keeps the backoff the row recorded.
  const waitMs = (row.nextAttemptAt?.getTime() ?? 0) - Date.now();
  if (waitMs > 0) throw new RetryLaterError(`notification ${row.id} is not due for ${waitMs} ms`, waitMs);
  const log = logger.child({ notification_id: row.id, app_id: row.appId, store: row.store });
  const { attempts } = await db.notification.update({
    where: { id: row.id },
    data: { attempts: { increment: 1 } },
    select: { attempts: true },
  });

  try {
    await normalizeAndRecord(deps, row, attempts, log);
  } catch (error) {
    // Scheduled already, or PostgreSQL or Redis is away (nothing can be written now): the queue retries.
    if (error instanceof RetryLaterError || isUnavailableError(error)) throw error;
    const reason = describeError(error);
    if (isUnstorableDataError(error)) {
      await markFailed(db, row.id, `the outcome cannot be stored: ${reason}`);
      log.error({ reason }, "notification failed: PostgreSQL refused its outcome");
      return;
    }
    const { unexpectedErrors } = await db.notification.update({
      where: { id: row.id },
      data: { unexpectedErrors: { increment: 1 } },
      select: { unexpectedErrors: true },
    });
    if (unexpectedErrors >= UNEXPECTED_ERROR_LIMIT) {
      await markFailed(db, row.id, `unexpected error (${unexpectedErrors} of ${UNEXPECTED_ERROR_LIMIT}, the last): ${reason}`);
      log.error({ err: error, unexpected_errors: unexpectedErrors }, "notification failed: an unexpected error, again and again");
      return;
    }
    log.error({ err: error, unexpected_errors: unexpectedErrors }, "unexpected error processing a notification; will retry");
    await retryLater(deps, row.id, unexpectedErrors, `unexpected error (${unexpectedErrors} of ${UNEXPECTED_ERROR_LIMIT}): ${reason}`);
  }
}

async function normalizeAndRecord(deps: NotificationProcessorDeps, row: Notification, attempts: number, log: Logger): Promise<void> {
  const { db } = deps;
  const environment = row.environment as Environment | null;
  if (!deps.stores.get(row.store)?.verifies) {
    // Stored while this deployment had the store's adapter. Kept: a deployment with it can reopen it.
    await deps.ledger.recordNotification(row.id, { kind: "unresolved", reason: `this subgate has no ${row.store} adapter`, environment });
    log.warn("notification unresolved: this deployment has no adapter for its store");
    return;
  }
  let loaded: LoadedStoreConfig | null;
  try {
    loaded = await loadStoreConfig(db, deps.secretBox, deps.stores, row.appId, row.store);
  } catch (error) {
    // Kept, not failed: fixing the configuration (PATCH) puts unresolved notifications back to work.
    if (error instanceof StoreConfigError) {
      await recordAgainstConfig(deps, row.id, { kind: "unresolved", reason: error.message, environment }, null);
      log.warn({ reason: error.message }, "notification unresolved: the app's store configuration is not valid");
      return;
    }
    // Waits, never fails: the operator gives this process the key, and the notification goes on.
    if (error instanceof UnknownEncryptionKeyError) {
      log.error({ reason: error.message }, "cannot open the app's store configuration: SUBGATE_ENCRYPTION_KEY lacks its key");
      return retryLater(deps, row.id, attempts, `cannot open the app's ${row.store} configuration: ${error.message}`);
    }
    throw error;
  }
  if (!loaded?.adapter) {
    // Kept, not failed: configuring the store again puts unresolved notifications back to work.
    await recordAgainstConfig(deps, row.id, { kind: "unresolved", reason: `the app has no ${row.store} configuration`, environment }, null);
    log.warn("notification unresolved: the app has no configuration for its store");
    return;
  }
  const stored: StoredNotification = {
    id: row.id,
    rawBody: Buffer.from(row.rawBody),
    headers: row.headers as Record<string, string>,
    storeNotificationId: row.storeNotificationId,
    notificationType: row.notificationType,
    notificationSubtype: row.notificationSubtype,
    environment,
    subscriptionKey: row.subscriptionKey,
    storeEventAt: row.storeEventAt,
    receivedAt: row.receivedAt,
    verification: row.verification as Record<string, unknown>,
  };

  let normalized: Normalized;
  try {
    normalized = await loaded.adapter.normalize(stored);
  } catch (error) {
    if (error instanceof RetryableNormalizationError) {
      log.warn({ reason: error.message, attempt: attempts }, "normalization will be retried");
      return retryLater(deps, row.id, attempts, error.message, error.retryAfterMs);
    }
    if (isUnavailableError(error)) throw error;
    // The adapter's contract: any other error is permanent, and comes from what the store sent
    // (an operator should look: warn), not from subgate's own state.
    const reason = describeError(error);
    await markFailed(db, row.id, reason);
    log.warn({ reason }, "notification failed: normalization error");
    return;
  }

  // Signed content, or state read from a store's API, can still hold what subgate cannot store.
  const checked = checkNormalized(normalized, row.receivedAt);
  if (!checked.ok) {
    await markFailed(db, row.id, `the store's notification cannot be used: ${checked.problem}`);
    log.warn({ reason: checked.problem }, "notification failed: its content is outside what subgate can store");
    return;
  }

  const deliveries = await recordAgainstConfig(deps, row.id, checked.normalized, loaded.version);
  if (checked.normalized.kind === "ignored") {
    const level = checked.normalized.warn ? "warn" : "info";
    log[level]({ reason: checked.normalized.reason, type: row.notificationType, subtype: row.notificationSubtype }, "notification ignored");
  }
  log.info({ outcome: checked.normalized.kind, deliveries: deliveries.length }, "notification processed");
  const unqueued = await deps.producer.enqueueDeliveries(deliveries);
  if (unqueued > 0) log.warn({ unqueued }, "could not enqueue deliveries; the sweeper will");
}

/** Records the outcome; if the store configuration it was based on changed meanwhile, runs again soon. */
async function recordAgainstConfig(
  deps: NotificationProcessorDeps,
  id: string,
  normalized: CheckedNormalized,
  version: Date | null,
): Promise<DueDelivery[]> {
  try {
    return await deps.ledger.recordNotification(id, normalized, version);
  } catch (error) {
    if (error instanceof StoreConfigChangedError) throw new RetryLaterError(error.message, CONFIG_CHANGED_RETRY_MS);
    throw error;
  }
}

/** Writes why and when the notification is tried again, then hands the same delay to the queue. */
async function retryLater(
  deps: NotificationProcessorDeps,
  id: string,
  attempts: number,
  reason: string,
  retryAfterMs: number | null = null,
): Promise<never> {
  const delayMs = Math.max(notificationRetryDelayMs(attempts, deps.notificationRetryScheduleMs), retryAfterMs ?? 0);
  await deps.db.notification.updateMany({
    where: { id, state: "pending" },
    data: { lastError: reason, nextAttemptAt: new Date(Date.now() + delayMs) },
  });
  throw new RetryLaterError(reason, delayMs);
}

async function markFailed(db: Db, id: string, reason: string): Promise<void> {
  await db.notification.updateMany({
    where: { id, state: "pending" },
    data: { state: "failed", lastError: reason, processedAt: new Date(), nextAttemptAt: null },
  });
}
