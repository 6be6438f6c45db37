import { developerNotification, googlePushBody, TEST_PACKAGE_NAME, TEST_SUBSCRIPTION } from "@subgate/testing/google";
import { describe, expect, it } from "vitest";
import { thrown } from "./fixtures/thrown.ts";
import { VerificationError } from "../src/adapter.ts";
import { googleNotificationType, parseGooglePush } from "../src/google/push.ts";

const body = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value));
const base64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64");
const refusal = (raw: Buffer) => {
  const error = thrown(VerificationError, () => parseGooglePush(raw));
  expect(error.failure).toBe("malformed");
  return error.reason;
};
/** A push envelope around `data`, with `message` fields merged over the usual ones. */
const envelope = (data: string, message: Record<string, unknown> = {}, outer: Record<string, unknown> = {}) =>
  body({
    message: { data, messageId: "1001", publishTime: "2026-03-01T10:00:00.123Z", ...message },
    subscription: TEST_SUBSCRIPTION,
    ...outer,
  });

const PURCHASED = developerNotification("subscription", { notificationType: 4, purchaseToken: "tok-1", eventTimeMillis: 1772359200000 });

describe("parseGooglePush: the envelope", () => {
  it("reads a camelCase push", () => {
    const push = parseGooglePush(
      body(googlePushBody({ notification: PURCHASED, messageId: "42", publishTime: "2026-03-01T10:00:00.123Z" })),
    );
    expect(push.messageId).toBe("42");
    expect(push.publishTime?.toISOString()).toBe("2026-03-01T10:00:00.123Z");
    expect(push.subscription).toBe(TEST_SUBSCRIPTION);
    expect(push.notification.packageName).toBe(TEST_PACKAGE_NAME);
    expect(push.notification.eventTimeMillis).toBe(1772359200000);
    expect(push.notification.subscriptionNotification).toEqual({ version: "1.0", notificationType: 4, purchaseToken: "tok-1" });
  });

  it("reads a snake_case push", () => {
    const raw = googlePushBody({ notification: PURCHASED, messageId: "43", publishTime: "2026-03-01T10:00:01Z", snakeCase: true });
    expect(raw).toContain('"message_id"');
    const push = parseGooglePush(body(raw));
    expect(push.messageId).toBe("43");
    expect(push.publishTime?.toISOString()).toBe("2026-03-01T10:00:01.000Z");
  });

  it("reads both casings when they agree, as Pub/Sub writes them, with attributes and deliveryAttempt", () => {
    const push = parseGooglePush(
      envelope(
        base64(PURCHASED),
        { message_id: "1001", publish_time: "2026-03-01T10:00:00.123Z", attributes: { k: "v" } },
        { deliveryAttempt: 5 },
      ),
    );
    expect(push.messageId).toBe("1001");
    expect(push.publishTime?.toISOString()).toBe("2026-03-01T10:00:00.123Z");
  });

  it("takes nanosecond publish times and leaves absent ones and subscriptions null", () => {
    expect(parseGooglePush(envelope(base64(PURCHASED), { publishTime: "2026-03-01T10:00:00.123456789Z" })).publishTime?.toISOString()).toBe(
      "2026-03-01T10:00:00.123Z",
    );
    const bare = parseGooglePush(body({ message: { data: base64(PURCHASED), message_id: "7" } }));
    expect(bare).toMatchObject({ messageId: "7", publishTime: null, subscription: null });
  });

  it("refuses two copies of the id or the time that differ", () => {
    expect(refusal(envelope(base64(PURCHASED), { message_id: "1002" }))).toBe("message.messageId and message.message_id differ");
    expect(refusal(envelope(base64(PURCHASED), { publish_time: "2026-03-01T10:00:00.124Z" }))).toBe(
      "message.publishTime and message.publish_time differ",
    );
  });

  it("refuses a push without a message id, or with an empty one", () => {
    expect(refusal(envelope(base64(PURCHASED), { messageId: undefined }))).toBe("message.messageId is missing");
    expect(refusal(envelope(base64(PURCHASED), { messageId: "" }))).toMatch(/^message\.messageId: /);
  });

  it("refuses bodies that are not a push", () => {
    expect(refusal(body("not json"))).toBe("the body is not JSON");
    expect(refusal(Buffer.from([0x7b, 0xff, 0x7d]))).toBe("the body is not UTF-8");
    expect(refusal(body([]))).toMatch(/^body: /);
    expect(refusal(body({ subscription: TEST_SUBSCRIPTION }))).toMatch(/^message: /);
    expect(refusal(body({ message: { messageId: "1" } }))).toBe("message.data: must be a base64 string");
    expect(refusal(envelope(base64(PURCHASED), { publishTime: "yesterday" }))).toBe("message.publishTime: must be an RFC 3339 time");
  });
});

describe("parseGooglePush: message.data", () => {
  it("takes base64 with and without padding", () => {
    // JSON may end in spaces: one more until the base64 needs padding.
    let json = JSON.stringify(PURCHASED);
    while (json.length % 3 === 0) json += " ";
    const padded = base64(json);
    expect(padded.endsWith("=")).toBe(true);
    expect(parseGooglePush(envelope(padded)).notification.packageName).toBe(TEST_PACKAGE_NAME);
    expect(parseGooglePush(envelope(padded.replace(/=+$/, ""))).notification.packageName).toBe(TEST_PACKAGE_NAME);
  });

  it.each([
    ["a character outside the alphabet", (data: string) => `${data.slice(0, 8)}*${data.slice(8)}`],
    ["whitespace", (data: string) => `${data.slice(0, 8)} ${data.slice(8)}`],
    ["the URL-safe alphabet", (data: string) => data.replace(/\+/g, "-").replace(/\//g, "_")],
    ["a length that is 1 mod 4", (data: string) => `${data.slice(0, data.length - (data.length % 4))}A`],
    ["padding in the middle", (data: string) => `QQ==${data}`],
  ])("refuses junk base64: %s", (_what, spoil) => {
    // Characters that base64 puts + and / into, so the URL-safe case changes something.
    const data = base64({ ...PURCHASED, pad: "\u00ff\u00fe\u00fd>>>???" });
    expect(data).toMatch(/[+/]/);
    expect(refusal(envelope(spoil(data)))).toBe("message.data is not base64");
  });

  it("refuses base64 of something that is not JSON, or not UTF-8", () => {
    expect(refusal(envelope(base64("hello, world")))).toBe("message.data is not JSON");
    expect(refusal(envelope(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]).toString("base64")))).toBe("message.data is not UTF-8");
    expect(refusal(envelope(""))).toBe("message.data is not JSON");
  });

  it("names the field of a notification that does not fit", () => {
    expect(refusal(envelope(base64({ ...PURCHASED, packageName: 7 })))).toMatch(/^message\.data: packageName: /);
    expect(refusal(envelope(base64({ ...PURCHASED, packageName: undefined })))).toMatch(/^message\.data: packageName: /);
    expect(refusal(envelope(base64({ ...PURCHASED, eventTimeMillis: "soon" })))).toMatch(/^message\.data: eventTimeMillis: /);
    expect(refusal(envelope(base64({ ...PURCHASED, subscriptionNotification: { notificationType: 4.5, purchaseToken: "t" } })))).toMatch(
      /^message\.data: subscriptionNotification\.notificationType: /,
    );
    expect(refusal(envelope(base64([PURCHASED])))).toMatch(/^message\.data: /);
  });

  it("refuses a notification with more than one notification field", () => {
    const both = { ...PURCHASED, testNotification: { version: "1.0" } };
    expect(refusal(envelope(base64(both)))).toBe(
      "message.data: carries more than one of subscriptionNotification, oneTimeProductNotification, voidedPurchaseNotification and testNotification",
    );
  });
});

describe("googleNotificationType", () => {
  const typeOf = (notification: object) => googleNotificationType(parseGooglePush(body(googlePushBody({ notification }))).notification);

  it.each([
    [1, "SUBSCRIPTION_RECOVERED"],
    [2, "SUBSCRIPTION_RENEWED"],
    [4, "SUBSCRIPTION_PURCHASED"],
    [13, "SUBSCRIPTION_EXPIRED"],
    [17, "SUBSCRIPTION_ITEMS_CHANGED"],
    [20, "SUBSCRIPTION_PENDING_PURCHASE_CANCELED"],
    [22, "SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED"],
    [14, "SUBSCRIPTION_NOTIFICATION_14"],
    [99, "SUBSCRIPTION_NOTIFICATION_99"],
  ])("names subscription notification %i %s", (notificationType, name) => {
    expect(typeOf(developerNotification("subscription", { notificationType }))).toBe(name);
  });

  it("names one-time product, voided, test and unknown notifications", () => {
    expect(typeOf(developerNotification("oneTime", { notificationType: 1 }))).toBe("ONE_TIME_PRODUCT_PURCHASED");
    expect(typeOf(developerNotification("oneTime", { notificationType: 2 }))).toBe("ONE_TIME_PRODUCT_CANCELED");
    expect(typeOf(developerNotification("oneTime", { notificationType: 3 }))).toBe("ONE_TIME_PRODUCT_NOTIFICATION_3");
    expect(typeOf(developerNotification("voided", { productType: 2, refundType: 2 }))).toBe("VOIDED_PURCHASE");
    expect(typeOf(developerNotification("test", {}))).toBe("TEST");
  });

  it("calls a notification of a kind it does not know UNKNOWN, and keeps it", () => {
    const { testNotification: _, ...common } = developerNotification("test", {});
    const newer = { ...common, pendingRefundReviewNotification: { purchaseToken: "t", reason: 7 } };
    const push = parseGooglePush(body(googlePushBody({ notification: newer })));
    expect(googleNotificationType(push.notification)).toBe("UNKNOWN");
  });
});

describe("parseGooglePush: ids that name URL paths", () => {
  it("refuses a purchase token or a sku of dots alone, which would be path segments of the Android Publisher API", () => {
    const dots = developerNotification("subscription", { notificationType: 4, purchaseToken: ".." });
    expect(refusal(envelope(base64(dots)))).toMatch(/purchaseToken: must not be dots alone/);
    const sku = developerNotification("oneTime", { purchaseToken: "tok-2", sku: "." });
    expect(refusal(envelope(base64(sku)))).toMatch(/sku: must not be dots alone/);
  });
});
