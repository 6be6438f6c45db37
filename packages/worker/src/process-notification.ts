import type { Logger, SecretBox } from "@subgate/core";
import type { Db } from "@subgate/db";
import type { JobProducer } from "@subgate/queue";
import type { Environment } from "@subgate/schema";
import { loadStoreConfig, RetryableNormalizationError, type Normalized, type StoreModules, type StoredNotification } from "@subgate/stores";
import { StoreConfigChangedError, type DueDelivery, type SubscriptionLedger } from "@subgate/subscriptions";
import { notificationRetryDelayMs, RetryLaterError } from "./retry-later.ts";

/** A notification normalized with a configuration that changed meanwhile runs again after this. */
const CONFIG_CHANGED_RETRY_MS = 100;

export interface NotificationProcessorDeps {
  db: Db;
  secretBox: SecretBox;
  stores: StoreModules;
  ledger: SubscriptionLedger;
  producer: JobProducer;
  logger: Logger;
  /** Delays before normalizing again while a store's API is away; the last entry repeats. */
  notificationRetryScheduleMs: readonly number[];
}

/**
 * Normalizes one stored notification with its store's adapter and records the outcome. Safe to run
 * twice for one notification: the ledger only acts on a notification that is still pending.
 */
export async function processNotification(deps: NotificationProcessorDeps, notificationId: string): Promise<void> {
  const { db, logger } = deps;
  const row = await db.notification.findUnique({ where: { id: notificationId } });
  if (!row || row.state !== "pending") return;
  // A job handed on after its worker died mid-attempt keeps the backoff the row recorded.
  const waitMs = (row.nextAttemptAt?.getTime() ?? 0) - Date.now();
  if (waitMs > 0) throw new RetryLaterError(`notification ${row.id} is not due for ${waitMs} ms`, waitMs);
  const log = logger.child({ notification_id: row.id, app_id: row.appId, store: row.store });
  const { attempts } = await db.notification.update({
    where: { id: row.id },
    data: { attempts: { increment: 1 } },
    select: { attempts: true },
  });

  const environment = row.environment as Environment | null;
  if (!deps.stores[row.store]) {
    // Stored while this deployment had the store's adapter. Kept: a deployment with it can reopen it.
    await deps.ledger.recordNotification(row.id, { kind: "unresolved", reason: `this subgate has no ${row.store} adapter`, environment });
    log.warn("notification unresolved: this deployment has no adapter for its store");
    return;
  }
  const loaded = await loadStoreConfig(db, deps.secretBox, deps.stores, row.appId, row.store);
  if (!loaded) {
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
    environment: row.environment as Environment | null,
    subscriptionKey: row.subscriptionKey,
    receivedAt: row.receivedAt,
  };

  let normalized;
  try {
    normalized = await loaded.module.adapter.normalize(stored, loaded.config);
  } catch (error) {
    if (error instanceof RetryableNormalizationError) {
      const delayMs = notificationRetryDelayMs(attempts, deps.notificationRetryScheduleMs);
      await db.notification.update({
        where: { id: row.id },
        data: { lastError: error.message, nextAttemptAt: new Date(Date.now() + delayMs) },
      });
      log.warn({ reason: error.message, attempt: attempts, retry_in_ms: delayMs }, "normalization will be retried");
      throw new RetryLaterError(error.message, delayMs);
    }
    const reason = error instanceof Error ? error.message : String(error);
    await markFailed(db, row.id, reason);
    log.error({ reason }, "notification failed: normalization error");
    return;
  }

  const deliveries = await recordAgainstConfig(deps, row.id, normalized, loaded.version);
  log.info({ outcome: normalized.kind, deliveries: deliveries.length }, "notification processed");
  const unqueued = await deps.producer.enqueueDeliveries(deliveries);
  if (unqueued > 0) log.warn({ unqueued }, "could not enqueue deliveries; the sweeper will");
}

/** Records the outcome; if the store configuration it was based on changed meanwhile, runs again soon. */
async function recordAgainstConfig(deps: NotificationProcessorDeps, id: string, normalized: Normalized, version: Date | null): Promise<DueDelivery[]> {
  try {
    return await deps.ledger.recordNotification(id, normalized, version);
  } catch (error) {
    if (error instanceof StoreConfigChangedError) throw new RetryLaterError(error.message, CONFIG_CHANGED_RETRY_MS);
    throw error;
  }
}

async function markFailed(db: Db, id: string, reason: string): Promise<void> {
  await db.notification.updateMany({
    where: { id, state: "pending" },
    data: { state: "failed", lastError: reason, processedAt: new Date() },
  });
}
