import { createHash, timingSafeEqual } from "node:crypto";
import { firstIssue } from "@subgate/core";
import { VerificationError, type VerifiedNotification } from "../../adapter.ts";
import type { AppleConfig } from "../config.ts";
import { AppleV1BodySchema, v1EventTimeMs, v1SubscriptionKey } from "./payload.ts";

const V1_ENVIRONMENTS = { Sandbox: "sandbox", PROD: "production" } as const;

/**
 * Verifies a legacy V1 notification. V1 is unsigned: its proof of origin is `password`, the app's
 * shared secret, which is compared in constant time and then removed from what is stored, so the
 * inbox never holds the secret.
 */
export function verifyAppleV1(body: Record<string, unknown>, config: AppleConfig): VerifiedNotification {
  const { password, ...withoutPassword } = body;
  if (config.sharedSecret === null) {
    throw new VerificationError("unauthenticated", "V1 notifications need the app's apple.shared_secret, which is not set");
  }
  if (typeof password !== "string" || !sameSecret(password, config.sharedSecret)) {
    throw new VerificationError("unauthenticated", "the V1 password does not match the app's shared secret");
  }
  const parsed = AppleV1BodySchema.safeParse(withoutPassword);
  if (!parsed.success) throw new VerificationError("malformed", `the shared secret matches, but ${firstIssue(parsed.error)}`);
  const notification = parsed.data;
  if (notification.bid !== undefined && notification.bid !== config.bundleId) {
    throw new VerificationError("wrong_app", `the notification is for bundle id ${JSON.stringify(notification.bid)}, not this app's`);
  }
  const environment = V1_ENVIRONMENTS[notification.environment as keyof typeof V1_ENVIRONMENTS];
  if (!environment) {
    throw new VerificationError(
      "malformed",
      `the shared secret matches, but the environment ${JSON.stringify(notification.environment)} is not Sandbox or PROD`,
    );
  }
  const storedBody = Buffer.from(JSON.stringify(withoutPassword));
  const eventMs = v1EventTimeMs(notification);
  return {
    // V1 has no notification id; Apple's retries repeat the same body, so its hash dedups them.
    storeNotificationId: `v1-${createHash("sha256").update(storedBody).digest("hex")}`,
    notificationType: notification.notification_type,
    notificationSubtype: null,
    environment,
    subscriptionKey: v1SubscriptionKey(notification),
    storeEventAt: eventMs === null ? null : new Date(eventMs),
    signedAt: null,
    storedBody,
    verification: { scheme: "apple-v1-shared-secret", version: 1, password_removed: true },
  };
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}
