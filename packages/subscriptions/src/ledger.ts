import { newId } from "@subgate/core";
import {
  lockStoreConfig,
  type Db,
  type Environment as DbEnvironment,
  type Notification,
  type Prisma,
  type Subscription,
  type Tx,
} from "@subgate/db";
import { EventDraftSchema, type Environment, type Store } from "@subgate/schema";
import { checkNormalized, type CheckedNormalized } from "@subgate/stores";
import { recordEvents, type DueDelivery } from "./fan-out.ts";
import { findByKey, followReplacement, lockSubscription, lockSubscriptionKeys } from "./keys.ts";
import { isStale, knownTime, stateColumns } from "./state.ts";

type SubscriptionNormalized = Extract<CheckedNormalized, { kind: "subscription" }>;

export interface LedgerOptions {
  /** Interactive transaction timeout. */
  transactionTimeoutMs?: number;
}

export interface TrackInput {
  appId: string;
  store: Store;
  storeSubscriptionId: string;
  /** Replaces the stored app user id when given. */
  appUserId?: string | null;
}

/**
 * Applies normalized store notifications to tracked subscriptions. Every change to a subscription,
 * its events, its deliveries and the app's last-received time happens in one transaction, under an
 * advisory lock on the subscription's key, so processing a notification and tracking its
 * subscription can never interleave (no notification is left untracked after tracking began).
 */
export class SubscriptionLedger {
  private readonly timeout: number;

  constructor(
    private readonly db: Db,
    options: LedgerOptions = {},
  ) {
    this.timeout = options.transactionTimeoutMs ?? 15_000;
  }

  /**
   * Records what processing a pending notification produced. A notification that is no longer
   * pending (a duplicate job) is left alone and yields nothing.
   *
   * `storeConfigVersion` is the version of the app's store configuration the normalization used
   * (null: there was none). An `unresolved` outcome is only recorded while that is still the
   * configuration; if it changed meanwhile, StoreConfigChangedError leaves the notification pending,
   * to be processed again with the new one (the change reopens only what is already unresolved).
   */
  async recordNotification(
    notificationId: string,
    normalized: CheckedNormalized,
    storeConfigVersion?: Date | null,
  ): Promise<DueDelivery[]> {
    return this.db.$transaction(
      async (tx) => {
        const notification = await lockPendingNotification(tx, notificationId);
        if (!notification) return [];
        switch (normalized.kind) {
          case "test":
            return recordTest(tx, notification, normalized.environment, normalized.storeEventAt);
          case "unresolved":
            if (storeConfigVersion !== undefined) await assertStoreConfigUnchanged(tx, notification, storeConfigVersion);
            await finish(tx, notification, "unresolved", normalized, { lastError: normalized.reason, environment: normalized.environment });
            return [];
          case "ignored":
            await finish(tx, notification, "ignored", normalized, {
              environment: normalized.environment,
              subscriptionKey: normalized.subscriptionKey,
            });
            return [];
          case "subscription": {
            const { appId, store } = notification;
            const key = normalized.subscriptionKey;
            const replaces = normalized.supersedesKey ?? null;
            await lockSubscriptionKeys(tx, appId, store, replaces ? [key, replaces] : [key]);
            const subscription = replaces
              ? await followReplacement(tx, appId, store, key, replaces)
              : await findByKey(tx, appId, store, key);
            if (!subscription) {
              // RevenueCat's rule: stored and acknowledged, but no events and no last-received move.
              await finish(tx, notification, "untracked", normalized, {
                environment: normalized.environment,
                subscriptionKey: normalized.subscriptionKey,
              });
              return [];
            }
            await lockSubscription(tx, subscription.id);
            // Read again under its own lock: a transaction holding only other keys' locks (one that
            // followed a replacement through an alias) may have changed it since it was found.
            const locked = await tx.subscription.findUniqueOrThrow({ where: { id: subscription.id } });
            // A key the subscription has moved on from: what Google says of the replaced purchase
            // (its cancellation or expiry, because of the replacement) is no news of the subscription.
            if (locked.storeSubscriptionId !== key) return applyToReplacedKey(tx, locked, notification, normalized);
            return applyToSubscription(tx, locked, notification, normalized);
          }
        }
      },
      { timeout: this.timeout },
    );
  }

  /**
   * Tracks a subscription (or updates its app user id) and applies, in store order, the
   * notifications stored for its key while it was untracked. A stored normalization that no longer
   * passes the checks (one saved before they existed) marks its notification failed instead.
   */
  async track(input: TrackInput): Promise<{ subscription: Subscription; created: boolean; deliveries: DueDelivery[] }> {
    return this.db.$transaction(
      async (tx) => {
        await lockSubscriptionKeys(tx, input.appId, input.store, [input.storeSubscriptionId]);
        const key = { appId: input.appId, store: input.store, storeSubscriptionId: input.storeSubscriptionId };
        // An older key names the subscription that replaced it: tracking it again is the same subscription.
        const existing = await findByKey(tx, input.appId, input.store, input.storeSubscriptionId);
        if (existing) {
          const subscription =
            input.appUserId !== undefined && input.appUserId !== existing.appUserId
              ? await tx.subscription.update({ where: { id: existing.id }, data: { appUserId: input.appUserId } })
              : existing;
          return { subscription, created: false, deliveries: [] };
        }
        const created = await tx.subscription.create({
          data: { id: newId("subscription"), ...key, appUserId: input.appUserId ?? null },
        });
        // Replacements that arrived while the key was untracked (Google's new purchase tokens, saved
        // `untracked`): the subscription follows them first, as it would have live.
        const replacedAt = new Map<string, Date>();
        const chain = [input.storeSubscriptionId];
        let subscription = created;
        for (let hop = 0; hop < MAX_REPLACEMENT_HOPS; hop++) {
          const current = chain.at(-1) as string;
          const successor = await tx.notification.findFirst({
            where: { appId: input.appId, store: input.store, state: "untracked", normalized: { path: ["supersedesKey"], equals: current } },
            orderBy: [{ storeEventAt: "asc" }, { receivedAt: "asc" }],
            select: { subscriptionKey: true, storeEventAt: true, receivedAt: true },
          });
          const next = successor?.subscriptionKey;
          if (!successor || !next || chain.includes(next)) break;
          // Taken after this key's lock, out of the sorted order: PostgreSQL detects the deadlock this
          // can meet with a notification of `next` at the same moment, and the loser is retried.
          await lockSubscriptionKeys(tx, input.appId, input.store, [next]);
          const followed = await followReplacement(tx, input.appId, input.store, next, current);
          // `next` is tracked as a subscription of its own: the two are not merged.
          if (followed?.id !== subscription.id) break;
          subscription = followed;
          replacedAt.set(current, successor.storeEventAt ?? successor.receivedAt);
          chain.push(next);
        }
        // Then the saved notifications of every key, in store order, each as it would have been applied
        // live: a replaced key's news from after its replacement is no news of the subscription.
        const deliveries: DueDelivery[] = [];
        const waiting = await tx.notification.findMany({
          where: { appId: input.appId, store: input.store, subscriptionKey: { in: chain }, state: "untracked" },
          orderBy: [{ storeEventAt: "asc" }, { receivedAt: "asc" }],
        });
        for (const notification of waiting) {
          const checked = checkNormalized(notification.normalized, notification.receivedAt);
          if (!checked.ok) {
            await tx.notification.update({
              where: { id: notification.id },
              data: {
                state: "failed",
                lastError: `the stored normalization cannot be applied: ${checked.problem}`,
                processedAt: new Date(),
              },
            });
            continue;
          }
          if (checked.normalized.kind !== "subscription") continue;
          const replaced = replacedAt.get(notification.subscriptionKey ?? "");
          const movedOn = replaced !== undefined && (notification.storeEventAt ?? notification.receivedAt) > replaced;
          const apply = movedOn ? applyToReplacedKey : applyToSubscription;
          deliveries.push(...(await apply(tx, subscription, notification, checked.normalized)));
          subscription = await tx.subscription.findUniqueOrThrow({ where: { id: subscription.id } });
        }
        return { subscription, created: true, deliveries };
      },
      { timeout: this.timeout },
    );
  }
}

/** Replaced keys followed in one tracking call, at most (a chain longer than this is not Google's). */
const MAX_REPLACEMENT_HOPS = 50;

/**
 * A notification of a key the subscription has moved on from (Google sends the replaced purchase's
 * cancellation or expiry because of the replacement): its state and its news of the subscription's
 * end are not the subscription's. A result without state (a refund of one of the old key's orders)
 * still has its events recorded; anything else is recorded as ignored.
 */
async function applyToReplacedKey(
  tx: Tx,
  subscription: Subscription,
  notification: Notification,
  normalized: SubscriptionNormalized,
): Promise<DueDelivery[]> {
  if (Object.keys(normalized.state).length === 0 && normalized.events.length > 0) {
    return applyToSubscription(tx, subscription, notification, normalized);
  }
  await finish(tx, notification, "ignored", normalized, {
    environment: normalized.environment,
    subscriptionKey: normalized.subscriptionKey,
  });
  return [];
}

/** See `recordNotification`: the configuration changed while the notification was normalized. */
export class StoreConfigChangedError extends Error {
  override readonly name = "StoreConfigChangedError";
}

async function assertStoreConfigUnchanged(tx: Tx, notification: Notification, version: Date | null): Promise<void> {
  // Shared: a configuration change (exclusive) either committed before, and is seen here, or waits
  // until this transaction has recorded `unresolved`, and then reopens it.
  await lockStoreConfig(tx, notification.appId, notification.store, "shared");
  const row = await tx.storeConfig.findUnique({
    where: { appId_store: { appId: notification.appId, store: notification.store } },
    select: { updatedAt: true },
  });
  if ((row?.updatedAt.getTime() ?? null) !== (version?.getTime() ?? null)) {
    throw new StoreConfigChangedError(
      `the app's ${notification.store} configuration changed while notification ${notification.id} was processed`,
    );
  }
}

async function lockPendingNotification(tx: Tx, id: string): Promise<Notification | null> {
  const rows = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM notifications WHERE id = ${id} AND state = 'pending' FOR UPDATE`;
  if (rows.length === 0) return null;
  return tx.notification.findUniqueOrThrow({ where: { id } });
}

async function finish(
  tx: Tx,
  notification: Notification,
  state: "processed" | "untracked" | "unresolved" | "ignored",
  normalized: CheckedNormalized,
  extra: { environment?: Environment | null; subscriptionKey?: string | null; lastError?: string },
): Promise<void> {
  await tx.notification.update({
    where: { id: notification.id },
    data: {
      state,
      normalized: JSON.parse(JSON.stringify(normalized)),
      processedAt: new Date(),
      nextAttemptAt: null,
      environment: extra.environment ?? notification.environment,
      subscriptionKey: extra.subscriptionKey ?? notification.subscriptionKey,
      lastError: extra.lastError ?? null,
    },
  });
}

async function applyToSubscription(
  tx: Tx,
  subscription: Subscription,
  notification: Notification,
  normalized: SubscriptionNormalized,
): Promise<DueDelivery[]> {
  const state = stateColumns(normalized.state);
  // A notification that says nothing about the state (a refund, an invoice) neither changes it nor
  // claims it is newer: otherwise a late, older state change would be mistaken for a stale one.
  const carriesState = Object.keys(state).length > 0;
  const stale = isStale(
    { at: normalized.stateAt ?? normalized.storeEventAt, rank: normalized.stateRank },
    { at: knownTime(subscription.stateAt), rank: subscription.stateRank },
  );
  const deliveries = await recordEvents(
    tx,
    {
      appId: notification.appId,
      store: notification.store,
      environment: normalized.environment,
      notificationId: notification.id,
      notificationType: notification.notificationType,
      notificationSubtype: notification.notificationSubtype,
      storeEventAt: normalized.storeEventAt,
      subscription,
    },
    normalized.events,
  );
  // An older notification's events are still recorded and sent (their sequence marks them stale),
  // but its state never overwrites the newer state already applied.
  const data: Prisma.SubscriptionUpdateInput = {};
  if (carriesState && !stale) {
    Object.assign(data, state, {
      environment: normalized.environment,
      stateAt: normalized.stateAt ?? normalized.storeEventAt,
      stateRank: normalized.stateRank,
    });
  } else if (subscription.environment === null) {
    data.environment = normalized.environment;
  }
  const lastEvent = normalized.events.at(-1);
  const lastEventAt = knownTime(subscription.lastEventAt);
  if (lastEvent && (lastEventAt === null || lastEvent.event_timestamp_ms >= lastEventAt.getTime())) {
    Object.assign(data, { lastEventType: lastEvent.type, lastEventAt: new Date(lastEvent.event_timestamp_ms) });
  }
  if (Object.keys(data).length > 0) await tx.subscription.update({ where: { id: subscription.id }, data });
  await markReceived(tx, notification, normalized.environment, "lastReceivedAt");
  await finish(tx, notification, "processed", normalized, {
    environment: normalized.environment,
    subscriptionKey: normalized.subscriptionKey,
  });
  return deliveries;
}

async function recordTest(tx: Tx, notification: Notification, environment: Environment, storeEventAt: Date): Promise<DueDelivery[]> {
  const deliveries = await recordEvents(
    tx,
    {
      appId: notification.appId,
      store: notification.store,
      environment,
      notificationId: notification.id,
      notificationType: notification.notificationType,
      notificationSubtype: notification.notificationSubtype,
      storeEventAt,
      subscription: null,
    },
    [EventDraftSchema.parse({ type: "TEST", event_timestamp_ms: storeEventAt.getTime() })],
  );
  await markReceived(tx, notification, environment, "lastTestReceivedAt");
  await finish(tx, notification, "processed", { kind: "test", environment, storeEventAt }, { environment });
  return deliveries;
}

/**
 * Moves a status time to the notification's receipt time, never backwards. A notification a history
 * replay fetched was not received from the store now: it moves neither time (docs/API.md).
 */
async function markReceived(
  tx: Tx,
  notification: Notification,
  environment: DbEnvironment,
  column: "lastReceivedAt" | "lastTestReceivedAt",
): Promise<void> {
  if (notification.replayId !== null) return;
  const sqlColumn = column === "lastReceivedAt" ? "last_received_at" : "last_test_received_at";
  // Column names cannot be bound parameters; `sqlColumn` is one of two constants above.
  await tx.$executeRawUnsafe(
    `INSERT INTO notification_statuses (app_id, store, environment, ${sqlColumn})
     VALUES ($1, $2::"Store", $3::"Environment", $4)
     ON CONFLICT (app_id, store, environment)
     DO UPDATE SET ${sqlColumn} = GREATEST(notification_statuses.${sqlColumn}, EXCLUDED.${sqlColumn})`,
    notification.appId,
    notification.store,
    environment,
    notification.receivedAt,
  );
}
