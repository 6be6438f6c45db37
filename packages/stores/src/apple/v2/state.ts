import type { PeriodType, SubscriptionStatePatch, SubscriptionStatus } from "@subgate/schema";
import { overridingAccessStatus } from "../status.ts";
import { periodTypeOfOffer } from "../offers.ts";
import type { AppleRenewalInfo, AppleTransaction } from "./payloads.ts";

/** What a V2 notification knows about its subscription at `atMs` (the notification's signedDate). */
export interface AppleFacts {
  transaction: AppleTransaction;
  renewal: AppleRenewalInfo | null;
  atMs: number;
}

export function periodTypeOf(transaction: AppleTransaction): PeriodType {
  return periodTypeOfOffer(transaction);
}

/** Access with a renewal ahead: trialing during a free period, else active. */
export function activeStatus(facts: AppleFacts): SubscriptionStatus {
  return periodTypeOf(facts.transaction) === "TRIAL" ? "trialing" : "active";
}

/**
 * Facts of the payload that decide the status whatever the notification reports: a revoked transaction,
 * a billing retry (with access while Apple's grace period runs), or a period over without one. Null when
 * none applies.
 */
export function overridingStatus(facts: AppleFacts): SubscriptionStatus | null {
  const { transaction, renewal, atMs } = facts;
  return overridingAccessStatus({
    revoked: transaction.revocationDate !== undefined,
    inBillingRetry: renewal?.isInBillingRetryPeriod === true,
    gracePeriodEndsMs: renewal?.gracePeriodExpiresDate,
    expiresMs: transaction.expiresDate,
    atMs,
  });
}

/** The status the transaction and renewal info describe on their own (REFUND_REVERSED, RENEWAL_EXTENDED, upgrades). */
export function currentStatus(facts: AppleFacts): SubscriptionStatus {
  const overriding = overridingStatus(facts);
  if (overriding !== null) return overriding;
  return facts.renewal?.autoRenewStatus === 0 ? "canceled" : activeStatus(facts);
}

/** When access ends: the end of the period, or the revocation when that came first (a refund, a revoked share). */
export function accessEndsAtMs(transaction: AppleTransaction): number | null {
  const { expiresDate, revocationDate } = transaction;
  if (revocationDate === undefined) return expiresDate ?? null;
  return expiresDate === undefined ? revocationDate : Math.min(expiresDate, revocationDate);
}

/** The app's user link: the token the app set at purchase, on the transaction or its renewal info. */
export function storeUserIdOf(facts: Pick<AppleFacts, "transaction" | "renewal">): string | null {
  return facts.transaction.appAccountToken ?? facts.renewal?.appAccountToken ?? null;
}

/**
 * The subscription's state as a whole, from the verified transaction and renewal info. A field the payload
 * does not carry is left out, so it keeps its stored value (a consumable has no expiry; a transaction
 * without appAccountToken does not erase a link learnt earlier).
 */
export function statePatch(facts: AppleFacts, status: SubscriptionStatus, options: { renews?: boolean } = {}): SubscriptionStatePatch {
  const { transaction, renewal } = facts;
  const patch: SubscriptionStatePatch = {
    status,
    product_id: transaction.productId,
    period_type: periodTypeOf(transaction),
  };
  const endsAt = accessEndsAtMs(transaction);
  if (endsAt !== null) patch.expires_at_ms = endsAt;
  if (transaction.purchaseDate !== undefined) patch.purchased_at_ms = transaction.purchaseDate;
  // A one-time purchase never renews; a subscription's renewal info says whether it will.
  if (options.renews === false) patch.auto_renew = false;
  else if (renewal?.autoRenewStatus !== undefined) patch.auto_renew = renewal.autoRenewStatus === 1;
  const storeUserId = storeUserIdOf(facts);
  if (storeUserId !== null) patch.store_user_id = storeUserId;
  return patch;
}
