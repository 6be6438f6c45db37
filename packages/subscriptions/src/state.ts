import type { SubscriptionStatePatch } from "@subgate/schema";

/** The columns of a tracked subscription that a store state patch may set. */
export interface SubscriptionStateColumns {
  status?: SubscriptionStatePatch["status"];
  productId?: string | null;
  expiresAt?: Date | null;
  autoRenew?: boolean | null;
  periodType?: string | null;
  purchasedAt?: Date | null;
  storeUserId?: string | null;
}

const toDate = (ms: number | null | undefined): Date | null | undefined =>
  ms === undefined ? undefined : ms === null ? null : new Date(ms);

/** Fields a notification does not know are left out, so they keep their stored value. */
export function stateColumns(patch: SubscriptionStatePatch): SubscriptionStateColumns {
  const columns: SubscriptionStateColumns = {
    status: patch.status,
    productId: patch.product_id,
    expiresAt: toDate(patch.expires_at_ms),
    autoRenew: patch.auto_renew,
    periodType: patch.period_type,
    purchasedAt: toDate(patch.purchased_at_ms),
    storeUserId: patch.store_user_id,
  };
  return Object.fromEntries(Object.entries(columns).filter(([, value]) => value !== undefined));
}

/**
 * A stored time, or null when it cannot be one: a row written before subgate checked store times
 * may hold a year PostgreSQL keeps but JavaScript cannot read back (it arrives as an invalid Date).
 */
export function knownTime(date: Date | null): Date | null {
  return date === null || Number.isNaN(date.getTime()) ? null : date;
}

/** When a state was true in the store's life: its store time, then the adapter's rank within it. */
export interface StatePoint {
  at: Date;
  rank: number;
}

/**
 * True when a notification's state is older than the state already applied: an earlier store
 * time, or the same time and a lower rank. Same time and rank: the later processed wins.
 */
export function isStale(state: StatePoint, applied: { at: Date | null; rank: number }): boolean {
  if (applied.at === null) return false;
  const difference = state.at.getTime() - applied.at.getTime();
  return difference < 0 || (difference === 0 && state.rank < applied.rank);
}
