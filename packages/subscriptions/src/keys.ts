import type { Subscription, Tx } from "@subgate/db";
import type { Store } from "@subgate/schema";

/*
 * A tracked subscription is named by its key (`store_subscription_id`) and by every older key it
 * replaced (subscription_aliases): Google makes a new purchase token for an upgrade, a downgrade or
 * a re-signup, and says which it replaced (`linkedPurchaseToken`).
 *
 * Locks: a key's lock serializes tracking that key with processing its notifications; the
 * subscription's own lock serializes everything that changes one subscription whichever of its
 * keys a notification names (its state, its event sequence). Keys are always locked before the
 * subscription, and several keys in sorted order, so two transactions never wait on each other.
 */

export async function lockSubscriptionKeys(tx: Tx, appId: string, store: Store, keys: readonly string[]): Promise<void> {
  for (const key of [...new Set(keys)].sort()) {
    const lockName = `subscription:${appId}:${store}:${key}`;
    await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${lockName}, 0))`;
  }
}

export async function lockSubscription(tx: Tx, subscriptionId: string): Promise<void> {
  const lockName = `subscription-id:${subscriptionId}`;
  await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${lockName}, 0))`;
}

/** The tracked subscription a key names: its current key, or one it replaced. */
export async function findByKey(tx: Tx, appId: string, store: Store, key: string): Promise<Subscription | null> {
  const current = await tx.subscription.findUnique({
    where: { appId_store_storeSubscriptionId: { appId, store, storeSubscriptionId: key } },
  });
  if (current) return current;
  const alias = await tx.subscriptionAlias.findUnique({
    where: { appId_store_key: { appId, store, key } },
    include: { subscription: true },
  });
  return alias?.subscription ?? null;
}

/**
 * `newKey` replaces `oldKey`. When the subscription `oldKey` names is tracked and `newKey` names
 * none yet, the subscription moves to `newKey` (keeping its id and app user) and its previous key
 * becomes an alias. Returns the subscription `newKey` names afterwards, or null (nothing tracked).
 * Both keys must be locked by the caller.
 */
export async function followReplacement(tx: Tx, appId: string, store: Store, newKey: string, oldKey: string): Promise<Subscription | null> {
  const current = await findByKey(tx, appId, store, newKey);
  if (current) return current;
  const found = await findByKey(tx, appId, store, oldKey);
  if (!found) return null;
  await lockSubscription(tx, found.id);
  // Read again under its lock: another replacement may have moved it meanwhile. A subscription
  // follows the replacement of its current key only: `newKey` replacing a key it has moved on from
  // is a branch it does not follow.
  const replaced = await tx.subscription.findUniqueOrThrow({ where: { id: found.id } });
  if (replaced.storeSubscriptionId !== oldKey) return findByKey(tx, appId, store, newKey);
  await tx.subscriptionAlias.create({ data: { appId, store, key: replaced.storeSubscriptionId, subscriptionId: replaced.id } });
  return tx.subscription.update({ where: { id: replaced.id }, data: { storeSubscriptionId: newKey } });
}
