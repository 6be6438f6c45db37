import { describe, expect, it } from "vitest";
import { mapSubscriptionNotification } from "../src/google/mapping.ts";
import { errorOfResponse } from "../src/google/play-api/errors.ts";

/*
 * Google answers that are valid per Android Publisher v37, and what subgate makes of them.
 */

const EVENT = Date.UTC(2026, 4, 15, 12);

describe("Google's quota errors", () => {
  it("treats the Android Publisher API's daily quota answer (HTTP 403, reason rateLimitExceeded) as a temporary outage, not a permission problem", () => {
    // The body androidpublisher.googleapis.com sends when the project's queries-per-day quota is used up
    // (quoted in aporat/store-receipt-validator#136, Triple-T/gradle-play-publisher#1036).
    const body = {
      error: {
        code: 403,
        message: "Quota exceeded for quota metric 'Queries' and limit 'Queries per day' of service 'androidpublisher.googleapis.com'",
        errors: [{ message: "Quota exceeded", domain: "usageLimits", reason: "rateLimitExceeded" }],
        status: "PERMISSION_DENIED",
      },
    };
    const error = errorOfResponse(403, body, null, { serviceAccountEmail: "reader@x.iam.gserviceaccount.com", timeoutMs: 10_000 });
    expect({ kind: error.kind, message: error.message }).toMatchObject({ kind: "unavailable" });
  });
});

describe("subscriptionState left out", () => {
  it("maps an answer without subscriptionState (proto3 leaves SUBSCRIPTION_STATE_UNSPECIFIED out) as unknown, as the Status table says", () => {
    const purchase = {
      kind: "androidpublisher#subscriptionPurchaseV2",
      startTime: new Date(EVENT - 86_400_000).toISOString(),
      lineItems: [{ productId: "pro", expiryTime: new Date(EVENT + 86_400_000).toISOString(), latestSuccessfulOrderId: "GPA.1" }],
    };
    const result = mapSubscriptionNotification({
      notificationType: 2,
      purchaseToken: "token-unspecified",
      eventTimeMillis: EVENT,
      purchase,
      calledAt: new Date(EVENT + 1_000),
    });
    expect(result).toMatchObject({ kind: "subscription", state: { status: "unknown" } });
  });
});
