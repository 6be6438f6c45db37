import { newId } from "@subgate/core";
import type { Tx } from "@subgate/db";
import { EVENT_ENVIRONMENTS, EVENT_STORES, type Environment, type EventDraft, type Store, type WebhookEvent } from "@subgate/schema";
import { endpointWants } from "./endpoint-filter.ts";
import { nextSequence } from "./sequence.ts";

export interface EventContext {
  appId: string;
  store: Store;
  environment: Environment;
  notificationId: string;
  notificationType: string | null;
  notificationSubtype: string | null;
  storeEventAt: Date;
  subscription: { id: string; storeSubscriptionId: string; appUserId: string | null } | null;
}

/** A delivery created in a transaction, to be enqueued once that transaction has committed. */
export interface DueDelivery {
  id: string;
  nextAttemptAt: Date;
}

/**
 * Records a notification's events and one delivery per endpoint whose filters want each event.
 * Runs inside the caller's transaction.
 */
export async function recordEvents(tx: Tx, context: EventContext, drafts: readonly EventDraft[]): Promise<DueDelivery[]> {
  if (drafts.length === 0) return [];
  const endpoints = await tx.webhookEndpoint.findMany({
    where: { appId: context.appId, deletedAt: null },
    select: { id: true, eventTypes: true, environments: true },
  });
  const deliveries: DueDelivery[] = [];
  const now = new Date();
  let highest = await highestSequenceNear(tx, context);
  for (const [ordinal, { once_key: onceKey, ...draft }] of drafts.entries()) {
    // Under the subscription's lock: no other transaction records its events meanwhile.
    if (onceKey !== null && context.subscription) {
      const already = await tx.event.findFirst({ where: { subscriptionId: context.subscription.id, onceKey }, select: { id: true } });
      if (already) continue;
    }
    const sequence = nextSequence(context.storeEventAt, highest);
    highest = sequence;
    const id = newId("event");
    const payload: WebhookEvent = {
      ...draft,
      id,
      app_id: context.appId,
      store: EVENT_STORES[context.store],
      environment: EVENT_ENVIRONMENTS[context.environment],
      app_user_id: context.subscription?.appUserId ?? null,
      original_app_user_id: context.subscription?.appUserId ?? null,
      entitlement_ids: null,
      sequence: Number(sequence),
      subscription_id: context.subscription?.id ?? null,
      store_subscription_id: context.subscription?.storeSubscriptionId ?? null,
      store_notification_type: context.notificationType,
      store_notification_subtype: context.notificationSubtype,
      notification_id: context.notificationId,
    };
    await tx.event.create({
      data: {
        id,
        appId: context.appId,
        notificationId: context.notificationId,
        subscriptionId: context.subscription?.id ?? null,
        type: draft.type,
        store: context.store,
        environment: context.environment,
        sequence,
        ordinal,
        occurredAt: new Date(draft.event_timestamp_ms),
        onceKey: context.subscription ? onceKey : null,
        payload,
      },
    });
    const wanted = endpoints.filter((endpoint) => endpointWants(endpoint, draft.type, context.environment));
    if (wanted.length === 0) continue;
    const rows = wanted.map((endpoint) => ({
      id: newId("delivery"),
      appId: context.appId,
      eventId: id,
      endpointId: endpoint.id,
      nextAttemptAt: now,
    }));
    await tx.delivery.createMany({ data: rows });
    deliveries.push(...rows.map((row) => ({ id: row.id, nextAttemptAt: row.nextAttemptAt })));
  }
  return deliveries;
}

/** The highest sequence already taken in this notification's store-time slot range, if any. */
async function highestSequenceNear(tx: Tx, context: EventContext): Promise<bigint | null> {
  if (!context.subscription) return null; // TEST events belong to no subscription: nothing to collide with
  const base = nextSequence(context.storeEventAt, null);
  const found = await tx.event.findFirst({
    where: { subscriptionId: context.subscription.id, sequence: { gte: base, lt: base + 1000n } },
    orderBy: { sequence: "desc" },
    select: { sequence: true },
  });
  return found?.sequence ?? null;
}
