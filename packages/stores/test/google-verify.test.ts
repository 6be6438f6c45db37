import {
  developerNotification,
  GOOGLE_TEST_AUDIENCE,
  GOOGLE_TEST_SERVICE_ACCOUNT,
  googlePushBody,
  LocalGoogleOidc,
  TEST_PACKAGE_NAME,
  TEST_SUBSCRIPTION,
} from "@subgate/testing/google";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejected } from "./fixtures/thrown.ts";
import { type IncomingRequest, VerificationError } from "../src/adapter.ts";
import type { GoogleConfig } from "../src/google/config.ts";
import { GoogleJwks } from "../src/google/oidc/jwks.ts";
import { verifyGooglePush } from "../src/google/verify.ts";

const RECEIVED_AT = new Date(Math.floor(Date.now() / 1000) * 1000);
const EVENT_AT = RECEIVED_AT.getTime() - 5000;

const oidc = new LocalGoogleOidc({ now: () => RECEIVED_AT.getTime() });
let jwks: GoogleJwks;
beforeAll(async () => {
  await oidc.start();
  jwks = new GoogleJwks({ url: oidc.url });
});
afterAll(() => oidc.close());

const UNCHECKED: GoogleConfig = {
  packageName: TEST_PACKAGE_NAME,
  pubsubAudience: null,
  pubsubServiceAccountEmail: null,
  serviceAccountKey: null,
  testEnvironment: "production",
};
const CHECKED: GoogleConfig = {
  ...UNCHECKED,
  pubsubAudience: GOOGLE_TEST_AUDIENCE,
  pubsubServiceAccountEmail: GOOGLE_TEST_SERVICE_ACCOUNT,
};

const request = (rawBody: string, authorization?: string): IncomingRequest => ({
  rawBody: Buffer.from(rawBody),
  headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
  receivedAt: RECEIVED_AT,
});
const push = (notification: object, messageId = "9001") =>
  googlePushBody({ notification, messageId, publishTime: "2026-03-01T10:00:00.500Z" });
const refusal = async (run: Promise<unknown>) => {
  const error = await rejected(VerificationError, run);
  return { failure: error.failure, reason: error.reason };
};

describe("verifyGooglePush: order of the checks", () => {
  it("with OIDC configured, refuses a push without a token before looking at its body", async () => {
    expect(await refusal(verifyGooglePush(request("{junk"), CHECKED, jwks))).toEqual({
      failure: "unauthenticated",
      reason: "missing Authorization bearer token",
    });
    const wrongPackage = push(developerNotification("test", { packageName: "com.other" }));
    expect((await refusal(verifyGooglePush(request(wrongPackage), CHECKED, jwks))).failure).toBe("unauthenticated");
  });

  it("with a valid token, refuses a junk body as malformed", async () => {
    const token = `Bearer ${await oidc.signToken()}`;
    expect(await refusal(verifyGooglePush(request("{junk", token), CHECKED, jwks))).toEqual({
      failure: "malformed",
      reason: "the body is not JSON",
    });
  });

  it("checks the token's times against when the push was received", async () => {
    const late = { ...request(push(developerNotification("test", {})), `Bearer ${await oidc.signToken()}`) };
    late.receivedAt = new Date(RECEIVED_AT.getTime() + 2 * 3600_000);
    expect(await refusal(verifyGooglePush(late, CHECKED, jwks))).toEqual({
      failure: "unauthenticated",
      reason: "the OIDC token has expired",
    });
  });

  it("refuses a notification for another package", async () => {
    const body = push(developerNotification("subscription", { packageName: "com.example.other" }));
    expect(await refusal(verifyGooglePush(request(body), UNCHECKED, jwks))).toEqual({
      failure: "wrong_app",
      reason: 'the notification is for package "com.example.other", not this app\'s package_name',
    });
  });

  it("without OIDC configured, accepts a push without a token", async () => {
    const verified = await verifyGooglePush(request(push(developerNotification("test", {}))), UNCHECKED, jwks);
    expect(verified.signedAt).toBeNull();
    expect(verified.verification).toEqual({
      version: 1,
      store: "google",
      message_id: "9001",
      publish_time: "2026-03-01T10:00:00.500Z",
      subscription: TEST_SUBSCRIPTION,
      authenticated: false,
    });
  });

  it("refuses half an OIDC configuration rather than skipping the check", async () => {
    const body = push(developerNotification("test", {}));
    for (const config of [
      { ...UNCHECKED, pubsubAudience: GOOGLE_TEST_AUDIENCE },
      { ...UNCHECKED, pubsubServiceAccountEmail: GOOGLE_TEST_SERVICE_ACCOUNT },
    ]) {
      const { failure, reason } = await refusal(verifyGooglePush(request(body, `Bearer ${await oidc.signToken()}`), config, jwks));
      expect(failure).toBe("unauthenticated");
      expect(reason).toMatch(/sets only one of pubsub_audience and pubsub_service_account_email/);
    }
  });
});

describe("verifyGooglePush: what a verified push is", () => {
  const verifiedWith = async (notification: object, config = CHECKED) => {
    const token = await oidc.signToken();
    const verified = await verifyGooglePush(request(push(notification), `Bearer ${token}`), config, jwks);
    expect(JSON.stringify(verified)).not.toContain(token.split(".")[2]);
    return verified;
  };

  it("a subscription notification, authenticated", async () => {
    const verified = await verifiedWith(
      developerNotification("subscription", { notificationType: 2, purchaseToken: "sub-token", eventTimeMillis: EVENT_AT }),
    );
    expect(verified).toEqual({
      storeNotificationId: "9001",
      notificationType: "SUBSCRIPTION_RENEWED",
      notificationSubtype: null,
      environment: null,
      subscriptionKey: "sub-token",
      storeEventAt: new Date(EVENT_AT),
      signedAt: RECEIVED_AT,
      verification: {
        version: 1,
        store: "google",
        message_id: "9001",
        publish_time: "2026-03-01T10:00:00.500Z",
        subscription: TEST_SUBSCRIPTION,
        authenticated: true,
        email: GOOGLE_TEST_SERVICE_ACCOUNT,
      },
    });
  });

  it("a one-time product notification: keyed by its purchase token", async () => {
    const verified = await verifiedWith(developerNotification("oneTime", { notificationType: 2, purchaseToken: "otp-token" }));
    expect(verified).toMatchObject({ notificationType: "ONE_TIME_PRODUCT_CANCELED", subscriptionKey: "otp-token", environment: null });
  });

  it.each([1, 2])("a voided purchase of product type %i: keyed by its purchase token", async (productType) => {
    const verified = await verifiedWith(developerNotification("voided", { productType, purchaseToken: `voided-${productType}` }));
    expect(verified).toMatchObject({ notificationType: "VOIDED_PURCHASE", subscriptionKey: `voided-${productType}`, environment: null });
  });

  it.each(["sandbox", "production"] as const)("a test notification: filed under test_environment %s", async (testEnvironment) => {
    const verified = await verifiedWith(developerNotification("test", { eventTimeMillis: EVENT_AT }), { ...CHECKED, testEnvironment });
    expect(verified).toMatchObject({
      notificationType: "TEST",
      subscriptionKey: null,
      environment: testEnvironment,
      storeEventAt: new Date(EVENT_AT),
    });
  });

  it("a notification of a kind this build does not know: UNKNOWN, without a key", async () => {
    const { testNotification: _, ...common } = developerNotification("test", {});
    const verified = await verifiedWith({ ...common, pendingRefundReviewNotification: { purchaseToken: "t" } });
    expect(verified).toMatchObject({ notificationType: "UNKNOWN", subscriptionKey: null, environment: null });
  });
});
