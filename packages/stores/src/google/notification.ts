import { z } from "zod";

/*
 * Google Play's real-time developer notification: the JSON inside a Pub/Sub push's `message.data`
 * (base64). Exactly one of the four notification fields is present. Google's page:
 * https://developer.android.com/google/play/billing/rtdn-reference
 */

/** `subscriptionNotification.notificationType`, by number (14–16 and 21 are not used). */
export const SUBSCRIPTION_NOTIFICATION_TYPES = {
  1: "SUBSCRIPTION_RECOVERED",
  2: "SUBSCRIPTION_RENEWED",
  3: "SUBSCRIPTION_CANCELED",
  4: "SUBSCRIPTION_PURCHASED",
  5: "SUBSCRIPTION_ON_HOLD",
  6: "SUBSCRIPTION_IN_GRACE_PERIOD",
  7: "SUBSCRIPTION_RESTARTED",
  8: "SUBSCRIPTION_PRICE_CHANGE_CONFIRMED",
  9: "SUBSCRIPTION_DEFERRED",
  10: "SUBSCRIPTION_PAUSED",
  11: "SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED",
  12: "SUBSCRIPTION_REVOKED",
  13: "SUBSCRIPTION_EXPIRED",
  17: "SUBSCRIPTION_ITEMS_CHANGED",
  18: "SUBSCRIPTION_CANCELLATION_SCHEDULED",
  19: "SUBSCRIPTION_PRICE_CHANGE_UPDATED",
  20: "SUBSCRIPTION_PENDING_PURCHASE_CANCELED",
  22: "SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED",
} as const satisfies Record<number, string>;

/** `oneTimeProductNotification.notificationType`. */
export const ONE_TIME_PRODUCT_NOTIFICATION_TYPES = {
  1: "ONE_TIME_PRODUCT_PURCHASED",
  2: "ONE_TIME_PRODUCT_CANCELED",
} as const satisfies Record<number, string>;

/** `voidedPurchaseNotification.productType` and `.refundType`. */
export const VOIDED_PRODUCT_TYPES = { 1: "PRODUCT_TYPE_SUBSCRIPTION", 2: "PRODUCT_TYPE_ONE_TIME" } as const;
export const VOIDED_REFUND_TYPES = { 1: "REFUND_TYPE_FULL_REFUND", 2: "REFUND_TYPE_QUANTITY_BASED_PARTIAL_REFUND" } as const;

/**
 * Ids that go into the Android Publisher API's URL paths. Dots alone (`.`, `..`) would be path
 * segments there, sending the app's signed call elsewhere on Google's host.
 */
const pathId = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((id) => !/^\.+$/.test(id), "must not be dots alone");

/** Google's purchase tokens are long opaque strings; anything past this is not one. */
const purchaseToken = pathId(4096);
const int = z.number().int();

/** Google's int64 fields arrive as JSON strings (`"1626000000000"`), sometimes as numbers. */
const int64Ms = z.union([z.string().regex(/^\d{1,16}$/), z.number().int().nonnegative()]).transform(Number);

export const DeveloperNotificationSchema = z
  .object({
    version: z.string().max(32),
    packageName: z.string().min(1).max(255),
    eventTimeMillis: int64Ms,
    subscriptionNotification: z.object({ version: z.string().max(32).optional(), notificationType: int, purchaseToken }).optional(),
    oneTimeProductNotification: z
      .object({ version: z.string().max(32).optional(), notificationType: int, purchaseToken, sku: pathId(255) })
      .optional(),
    voidedPurchaseNotification: z
      .object({ purchaseToken, orderId: z.string().min(1).max(255), productType: int, refundType: int })
      .optional(),
    testNotification: z.object({ version: z.string().max(32).optional() }).optional(),
  })
  .refine(
    (notification) =>
      [
        notification.subscriptionNotification,
        notification.oneTimeProductNotification,
        notification.voidedPurchaseNotification,
        notification.testNotification,
      ].filter(Boolean).length <= 1,
    "carries more than one of subscriptionNotification, oneTimeProductNotification, voidedPurchaseNotification and testNotification",
  );
export type DeveloperNotification = z.output<typeof DeveloperNotificationSchema>;
