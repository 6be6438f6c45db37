import { z } from "zod";

/** Stores as the HTTP API spells them (snake_case, docs/API.md "Casing"). */
export const STORES = ["app_store", "play_store", "stripe"] as const;
export const StoreSchema = z.enum(STORES);
export type Store = z.infer<typeof StoreSchema>;

/** Environments as the HTTP API spells them. */
export const ENVIRONMENTS = ["sandbox", "production"] as const;
export const EnvironmentSchema = z.enum(ENVIRONMENTS);
export type Environment = z.infer<typeof EnvironmentSchema>;

/** Webhook payloads follow RevenueCat's upper-case spelling. */
export const EVENT_STORES = { app_store: "APP_STORE", play_store: "PLAY_STORE", stripe: "STRIPE" } as const;
export type EventStore = (typeof EVENT_STORES)[Store];
export const EVENT_ENVIRONMENTS = { sandbox: "SANDBOX", production: "PRODUCTION" } as const;
export type EventEnvironment = (typeof EVENT_ENVIRONMENTS)[Environment];

/** Subscription statuses of docs/API.md "Tracked subscriptions". */
export const SUBSCRIPTION_STATUSES = [
  "unknown",
  "trialing",
  "active",
  "in_grace_period",
  "in_billing_retry",
  "paused",
  "canceled",
  "expired",
  "revoked",
] as const;
export const SubscriptionStatusSchema = z.enum(SUBSCRIPTION_STATUSES);
export type SubscriptionStatus = z.infer<typeof SubscriptionStatusSchema>;

/**
 * Event types. The first block is RevenueCat's vocabulary, with the same meaning; the second block
 * holds the types subgate adds for facts RevenueCat has no name for (documented in docs/EVENTS.md).
 */
export const EVENT_TYPES = [
  "TEST",
  "INITIAL_PURCHASE",
  "RENEWAL",
  "CANCELLATION",
  "UNCANCELLATION",
  "NON_RENEWING_PURCHASE",
  "SUBSCRIPTION_PAUSED",
  "EXPIRATION",
  "BILLING_ISSUE",
  "PRODUCT_CHANGE",
  "SUBSCRIPTION_EXTENDED",
  "REFUND_REVERSED",
  // subgate additions
  "SUBSCRIPTION_RESUMED",
  "PRICE_INCREASE",
  "REFUND_DECLINED",
  "CONSUMPTION_REQUEST",
] as const;
export const EventTypeSchema = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventTypeSchema>;

export const PERIOD_TYPES = ["TRIAL", "INTRO", "NORMAL", "PROMOTIONAL", "PREPAID"] as const;
export const PeriodTypeSchema = z.enum(PERIOD_TYPES);
export type PeriodType = z.infer<typeof PeriodTypeSchema>;

/** RevenueCat's `cancel_reason` / `expiration_reason` values (expiration adds SUBSCRIPTION_PAUSED). */
export const CANCEL_REASONS = [
  "UNSUBSCRIBE",
  "BILLING_ERROR",
  "DEVELOPER_INITIATED",
  "PRICE_INCREASE",
  "CUSTOMER_SUPPORT",
  "UNKNOWN",
] as const;
export const CancelReasonSchema = z.enum(CANCEL_REASONS);
export type CancelReason = z.infer<typeof CancelReasonSchema>;
export const ExpirationReasonSchema = z.enum([...CANCEL_REASONS, "SUBSCRIPTION_PAUSED"]);
export type ExpirationReason = z.infer<typeof ExpirationReasonSchema>;
