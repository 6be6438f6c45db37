/*
 * Google Play real-time developer notifications and the Pub/Sub push bodies that carry them, as
 * https://developer.android.com/google/play/billing/rtdn-reference and
 * https://docs.cloud.google.com/pubsub/docs/push describe them.
 */

export const TEST_PACKAGE_NAME = "com.example.subgate";
export const TEST_SUBSCRIPTION = "projects/subgate-test/subscriptions/play-rtdn";

/** What each kind's notification field holds; every field has a default. */
export interface DeveloperNotificationFields {
  subscription: { notificationType?: number; purchaseToken?: string };
  oneTime: { notificationType?: number; purchaseToken?: string; sku?: string };
  voided: { purchaseToken?: string; orderId?: string; productType?: number; refundType?: number };
  test: Record<never, never>;
}

/** The fields around the notification. `eventTimeMillis` is written as a string, as Google does. */
export interface DeveloperNotificationCommon {
  packageName?: string;
  eventTimeMillis?: number | string;
  version?: string;
}

let sequence = 0;
const next = () => `${Date.now()}${String(++sequence).padStart(4, "0")}`;

/** A DeveloperNotification of one kind: subscription (type 4 PURCHASED), oneTime (1 PURCHASED), voided (subscription, full refund) or test. */
export function developerNotification<K extends keyof DeveloperNotificationFields>(
  kind: K,
  fields: DeveloperNotificationFields[K] & DeveloperNotificationCommon = {} as DeveloperNotificationFields[K],
): Record<string, unknown> {
  const { packageName = TEST_PACKAGE_NAME, eventTimeMillis = Date.now(), version = "1.0", ...own } = fields;
  const common = { version, packageName, eventTimeMillis: String(eventTimeMillis) };
  const purchaseToken = `token.${next()}`;
  switch (kind) {
    case "subscription":
      return { ...common, subscriptionNotification: { version: "1.0", notificationType: 4, purchaseToken, ...own } };
    case "oneTime":
      return { ...common, oneTimeProductNotification: { version: "1.0", notificationType: 1, purchaseToken, sku: "coins_100", ...own } };
    case "voided":
      return {
        ...common,
        voidedPurchaseNotification: { purchaseToken, orderId: `GPA.${next()}`, productType: 1, refundType: 1, ...own },
      };
    default:
      return { ...common, testNotification: { version: "1.0" } };
  }
}

export interface GooglePushBodyOptions {
  notification: object;
  /** Default: a new decimal id, as Pub/Sub's are. */
  messageId?: string;
  /** RFC 3339. Default: now. */
  publishTime?: string;
  /** Write message_id and publish_time instead of messageId and publishTime. */
  snakeCase?: boolean;
  /** Default TEST_SUBSCRIPTION. */
  subscription?: string;
  attributes?: Record<string, string>;
  deliveryAttempt?: number;
  /** message.data as given instead of the notification's base64 (junk, other encodings). */
  data?: string;
}

/** The JSON body Pub/Sub posts to a push endpoint for one message. */
export function googlePushBody(options: GooglePushBodyOptions): string {
  const messageId = options.messageId ?? next();
  const publishTime = options.publishTime ?? new Date().toISOString();
  const data = options.data ?? Buffer.from(JSON.stringify(options.notification)).toString("base64");
  const message = {
    ...(options.attributes ? { attributes: options.attributes } : {}),
    data,
    ...(options.snakeCase ? { message_id: messageId, publish_time: publishTime } : { messageId, publishTime }),
  };
  return JSON.stringify({
    message,
    subscription: options.subscription ?? TEST_SUBSCRIPTION,
    ...(options.deliveryAttempt === undefined ? {} : { deliveryAttempt: options.deliveryAttempt }),
  });
}
