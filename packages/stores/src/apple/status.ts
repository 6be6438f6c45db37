import type { SubscriptionStatus } from "@subgate/schema";

/** What decides an Apple subscription's status whatever a notification reports, as V1 and V2 both carry it. */
export interface AccessFacts {
  revoked: boolean;
  inBillingRetry: boolean;
  gracePeriodEndsMs: number | undefined;
  expiresMs: number | undefined;
  /** When the facts held (the notification's time). */
  atMs: number;
}

/**
 * A revoked transaction, a billing retry (with access while Apple's grace period runs), or a period
 * over without one. Null when none applies.
 */
export function overridingAccessStatus(facts: AccessFacts): SubscriptionStatus | null {
  if (facts.revoked) return "revoked";
  if (facts.inBillingRetry) {
    return facts.gracePeriodEndsMs !== undefined && facts.gracePeriodEndsMs > facts.atMs ? "in_grace_period" : "in_billing_retry";
  }
  if (facts.expiresMs !== undefined && facts.expiresMs <= facts.atMs) return "expired";
  return null;
}
