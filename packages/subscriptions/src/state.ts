import type { SubscriptionStatePatch } from "@subgate/schema";

/** The columns of a tracked subscription that a store state patch may set. */
export interface SubscriptionStateColumns {
  status?: SubscriptionStatePatch["status"];
  productId?: string | null;
  expiresAt?: Date | null;
  autoRenew?: boolean | null;
  periodType?: string | null;
  purchasedAt?: Date | null;
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
  };
  return Object.fromEntries(Object.entries(columns).filter(([, value]) => value !== undefined));
}

/** True when a notification from `storeEventAt` is older than the state already applied. */
export function isStale(storeEventAt: Date, appliedStateAt: Date | null): boolean {
  return appliedStateAt !== null && storeEventAt.getTime() < appliedStateAt.getTime();
}
