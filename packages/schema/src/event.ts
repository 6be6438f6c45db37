import { z } from "zod";
import { CancelReasonSchema, EventTypeSchema, ExpirationReasonSchema, PeriodTypeSchema } from "./enums.ts";
import { EventTimeMsSchema, TimeMsSchema } from "./time-windows.ts";

const ms = TimeMsSchema;

/**
 * What a store adapter says about one event, before subgate knows which tracked subscription,
 * app user and sequence it belongs to. Field names are RevenueCat's webhook field names.
 */
export const EventDraftSchema = z.object({
  type: EventTypeSchema,
  /** When the store says the event happened (not when subgate received it). */
  event_timestamp_ms: EventTimeMsSchema,
  product_id: z.string().nullable().default(null),
  new_product_id: z.string().nullable().default(null),
  period_type: PeriodTypeSchema.nullable().default(null),
  purchased_at_ms: ms.nullable().default(null),
  expiration_at_ms: ms.nullable().default(null),
  grace_period_expiration_at_ms: ms.nullable().default(null),
  auto_resume_at_ms: ms.nullable().default(null),
  transaction_id: z.string().nullable().default(null),
  original_transaction_id: z.string().nullable().default(null),
  cancel_reason: CancelReasonSchema.nullable().default(null),
  expiration_reason: ExpirationReasonSchema.nullable().default(null),
  is_trial_conversion: z.boolean().nullable().default(null),
  is_family_share: z.boolean().nullable().default(null),
  /** USD amount when known (negative for refunds), else null. */
  price: z.number().nullable().default(null),
  /** Decimal amount in `currency` (negative for refunds). */
  price_in_purchased_currency: z.number().nullable().default(null),
  currency: z.string().nullable().default(null),
  country_code: z.string().nullable().default(null),
  offer_code: z.string().nullable().default(null),
  renewal_number: z.number().int().nullable().default(null),
  /** The store's own link to the app's user (Apple's `appAccountToken`), when the purchase carries one. */
  store_user_id: z.string().nullable().default(null),
  /** Why the customer asked for a refund (Apple's `consumptionRequestReason`), on CONSUMPTION_REQUEST. */
  consumption_request_reason: z.string().nullable().default(null),
  /**
   * Not delivered. An event that must reach the app once per subscription however many notifications
   * report it (Apple's GRACE_PERIOD_EXPIRED and the EXPIRED after it both end one period): the ledger
   * records an event with a given key at most once per subscription.
   */
  once_key: z.string().max(512).nullable().default(null),
});
export type EventDraft = z.infer<typeof EventDraftSchema>;
/** Input form: everything but `type` and `event_timestamp_ms` may be left out. */
export type EventDraftInput = z.input<typeof EventDraftSchema>;

/**
 * The `event` object of an outbound webhook body (docs/API.md "Outbound webhooks").
 * `sequence` increases per subscription in store order (see docs/EVENTS.md for how it is built).
 */
export const WebhookEventSchema = EventDraftSchema.omit({ once_key: true }).extend({
  id: z.string(),
  app_id: z.string(),
  store: z.enum(["APP_STORE", "PLAY_STORE", "STRIPE"]),
  environment: z.enum(["SANDBOX", "PRODUCTION"]),
  app_user_id: z.string().nullable(),
  original_app_user_id: z.string().nullable(),
  entitlement_ids: z.array(z.string()).nullable(),
  sequence: z.number().int().nonnegative(),
  /** subgate's id of the tracked subscription; null for TEST. */
  subscription_id: z.string().nullable(),
  store_subscription_id: z.string().nullable(),
  /** The store's own name for what happened (`customer.subscription.updated`, `DID_RENEW`, ...). */
  store_notification_type: z.string().nullable(),
  /** Its subtype, where the store has one (`BILLING_RECOVERY`, `AUTO_RENEW_DISABLED`). */
  store_notification_subtype: z.string().nullable(),
  notification_id: z.string(),
});
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;

export const WEBHOOK_API_VERSION = "1.0";
export const WebhookBodySchema = z.object({
  api_version: z.literal(WEBHOOK_API_VERSION),
  event: WebhookEventSchema,
});
export type WebhookBody = z.infer<typeof WebhookBodySchema>;
