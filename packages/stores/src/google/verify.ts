import { VerificationError, type IncomingRequest, type VerifiedNotification } from "../adapter.ts";
import type { GoogleConfig } from "./config.ts";
import type { DeveloperNotification } from "./notification.ts";
import type { GoogleJwks } from "./oidc/jwks.ts";
import { type VerifiedPushToken, verifyPushToken } from "./oidc/verify.ts";
import { googleNotificationType, parseGooglePush } from "./push.ts";

/**
 * Verifies a Pub/Sub push of a real-time developer notification and checks that it is for this app.
 * With pubsub_audience and pubsub_service_account_email set, the OIDC token is checked before the
 * body is read at all (401), then the body (400), then the package name (403). Without them a push
 * proves nothing about its origin beyond the secret ingress URL it reached.
 */
export async function verifyGooglePush(request: IncomingRequest, config: GoogleConfig, jwks: GoogleJwks): Promise<VerifiedNotification> {
  const token = await authenticate(request, config, jwks);
  const push = parseGooglePush(request.rawBody);
  const { notification } = push;
  if (notification.packageName !== config.packageName) {
    throw new VerificationError(
      "wrong_app",
      `the notification is for package ${JSON.stringify(notification.packageName)}, not this app's package_name`,
    );
  }
  return {
    storeNotificationId: push.messageId,
    notificationType: googleNotificationType(notification),
    notificationSubtype: null,
    // Only a test names where it belongs (nowhere); every other environment comes from Google's API later.
    environment: notification.testNotification ? config.testEnvironment : null,
    subscriptionKey: purchaseTokenOf(notification),
    storeEventAt: new Date(notification.eventTimeMillis),
    signedAt: token?.issuedAt ?? null,
    verification: {
      version: 1,
      store: "google",
      message_id: push.messageId,
      publish_time: push.publishTime?.toISOString() ?? null,
      subscription: push.subscription,
      authenticated: token !== null,
      ...(token ? { email: token.email } : {}),
    },
  };
}

async function authenticate(request: IncomingRequest, config: GoogleConfig, jwks: GoogleJwks): Promise<VerifiedPushToken | null> {
  const { pubsubAudience: audience, pubsubServiceAccountEmail: email } = config;
  if (audience && email) {
    // The token's times count to when subgate received the push, not to when this code runs.
    return verifyPushToken(request.headers.authorization, { audience, email }, jwks, () => request.receivedAt.getTime());
  }
  // Half a configuration is a mistake, not a choice to skip the check: refused rather than accepted unchecked.
  if (audience || email) {
    const missing = audience ? "pubsub_service_account_email" : "pubsub_audience";
    throw new VerificationError(
      "unauthenticated",
      `the app's google block sets only one of pubsub_audience and pubsub_service_account_email; set ${missing} too, or neither`,
    );
  }
  return null;
}

/**
 * The subscription key: the purchase token of whichever notification carries one. A subscription's
 * is its key; a voided purchase's names the purchase it voids (a subscription's when productType is 1);
 * a one-time product's is kept too, so that its rows can be found by the token. Tests and kinds this
 * build does not know carry none.
 */
function purchaseTokenOf(notification: DeveloperNotification): string | null {
  return (
    notification.subscriptionNotification?.purchaseToken ??
    notification.voidedPurchaseNotification?.purchaseToken ??
    notification.oneTimeProductNotification?.purchaseToken ??
    null
  );
}
