import { z } from "zod";
import { firstIssue } from "@subgate/core";
import { VerificationError } from "../adapter.ts";
import {
  type DeveloperNotification,
  DeveloperNotificationSchema,
  ONE_TIME_PRODUCT_NOTIFICATION_TYPES,
  SUBSCRIPTION_NOTIFICATION_TYPES,
} from "./notification.ts";

/*
 * The body Pub/Sub posts to a push endpoint (https://docs.cloud.google.com/pubsub/docs/push):
 * {"message": {"data": <base64>, "messageId", "message_id", "publishTime", "publish_time", "attributes"},
 *  "subscription", "deliveryAttempt"}. Pub/Sub writes the id and the time twice, in both casings;
 * either copy is enough, and two copies that disagree are not something Pub/Sub sends.
 * Unknown fields are ignored: Google adds some (orderingKey) and they change nothing here.
 */

const PushTimeSchema = z.iso.datetime({ offset: true, error: "must be an RFC 3339 time" });
const MessageIdSchema = z.string().min(1).max(255);

const PushBodySchema = z.object({
  message: z.object({
    data: z.string({ error: "must be a base64 string" }),
    messageId: MessageIdSchema.optional(),
    message_id: MessageIdSchema.optional(),
    publishTime: PushTimeSchema.optional(),
    publish_time: PushTimeSchema.optional(),
    attributes: z.record(z.string(), z.string()).optional(),
  }),
  subscription: z.string().min(1).max(1024).optional(),
  deliveryAttempt: z.number().int().optional(),
});

/**
 * Standard base64, padding optional. Buffer.from(x, "base64") skips characters outside the alphabet
 * and accepts the URL-safe one too, so a body with junk in it would decode to something: it is checked here.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

const utf8 = new TextDecoder("utf-8", { fatal: true });

export interface GooglePush {
  /** Pub/Sub's message id: the same for every redelivery of one message, so the dedup key. */
  messageId: string;
  publishTime: Date | null;
  subscription: string | null;
  notification: DeveloperNotification;
}

/** Parses a Pub/Sub push body and the developer notification inside it. Throws VerificationError("malformed"). */
export function parseGooglePush(rawBody: Buffer): GooglePush {
  const parsed = PushBodySchema.safeParse(parseJson(rawBody, "the body"));
  if (!parsed.success) throw malformed(firstIssue(parsed.error));
  const { message, subscription } = parsed.data;

  const messageId = oneOf(message.messageId, message.message_id, "message.messageId", "message.message_id");
  if (messageId === undefined) throw malformed("message.messageId is missing");
  const publishTime = oneOf(message.publishTime, message.publish_time, "message.publishTime", "message.publish_time");

  return {
    messageId,
    publishTime: publishTime === undefined ? null : new Date(publishTime),
    subscription: subscription ?? null,
    notification: decodeNotification(message.data),
  };
}

/** The stored notification type: Google's name for it, or a name that still says what it was. */
export function googleNotificationType(notification: DeveloperNotification): string {
  const subscription = notification.subscriptionNotification;
  if (subscription) {
    const type = subscription.notificationType;
    return nameOf(SUBSCRIPTION_NOTIFICATION_TYPES, type) ?? `SUBSCRIPTION_NOTIFICATION_${type}`;
  }
  const oneTime = notification.oneTimeProductNotification;
  if (oneTime) {
    const type = oneTime.notificationType;
    return nameOf(ONE_TIME_PRODUCT_NOTIFICATION_TYPES, type) ?? `ONE_TIME_PRODUCT_NOTIFICATION_${type}`;
  }
  if (notification.voidedPurchaseNotification) return "VOIDED_PURCHASE";
  if (notification.testNotification) return "TEST";
  // A kind this build does not know (pendingRefundReviewNotification, ...): stored and acknowledged.
  return "UNKNOWN";
}

function nameOf(table: Readonly<Record<number, string>>, type: number): string | undefined {
  return Object.hasOwn(table, type) ? table[type] : undefined;
}

function decodeNotification(data: string): DeveloperNotification {
  if (!BASE64.test(data)) throw malformed("message.data is not base64");
  const json = parseJson(Buffer.from(data, "base64"), "message.data");
  const parsed = DeveloperNotificationSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // A problem with the whole notification (the refine: two kinds at once) has no path to name.
    const problem = issue && issue.path.length === 0 ? issue.message : firstIssue(parsed.error);
    throw malformed(`message.data: ${problem}`);
  }
  return parsed.data;
}

function parseJson(bytes: Buffer, what: string): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw malformed(`${what} is not UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw malformed(`${what} is not JSON`);
  }
}

/** The value of a field Pub/Sub writes in two casings: either, or both when they agree. */
function oneOf(camel: string | undefined, snake: string | undefined, camelName: string, snakeName: string): string | undefined {
  if (camel !== undefined && snake !== undefined && camel !== snake) {
    throw malformed(`${camelName} and ${snakeName} differ`);
  }
  return camel ?? snake;
}

function malformed(reason: string): VerificationError {
  return new VerificationError("malformed", reason);
}
