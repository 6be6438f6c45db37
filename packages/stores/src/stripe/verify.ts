import Stripe from "stripe";
import { firstIssue } from "@subgate/core";
import { VerificationError, type IncomingRequest, type VerifiedNotification } from "../adapter.ts";
import type { StripeConfig } from "./config.ts";
import { environmentOf } from "./mapping.ts";
import { StripeEventSchema, subscriptionKeyOf, type StripeEvent } from "./objects.ts";

const BAD_HEADER = "Stripe-Signature header is not of the form t=<timestamp>,v1=<signature>";

/** How one secret fared against the request. */
type Attempt =
  | { outcome: "verified"; event: unknown }
  | { outcome: "mismatch" }
  | { outcome: "too_old" }
  | { outcome: "from_the_future" }
  | { outcome: "bad_header" }
  | { outcome: "not_an_event"; reason: string };

/**
 * `Stripe-Signature` as Stripe writes it: `t=<unix seconds>,v1=<hex>[,v1=...][,v0=...]`. Parsed once
 * and strictly (exactly one `t`, all digits; every item `name=value`), so the timestamp subgate
 * checks is the one the SDK signs with: the SDK takes the last `t` and parses it loosely, and a
 * header with two (`t=<now>,t=<future>`) or a padded one (`t= <future>`) must not get past either.
 */
export function parseSignatureHeader(header: string): { timestamp: number } | null {
  let timestamp: string | null = null;
  let signatures = 0;
  for (const item of header.split(",")) {
    const match = /^([a-z][a-z0-9]*)=(.*)$/.exec(item);
    if (!match) return null;
    const [, name, value] = match as unknown as [string, string, string];
    if (name === "t") {
      if (timestamp !== null || !/^\d{1,12}$/.test(value)) return null;
      timestamp = value;
    } else if (name === "v1") {
      signatures++;
    }
  }
  return timestamp === null || signatures === 0 ? null : { timestamp: Number(timestamp) };
}

/**
 * One secret against the request, through the SDK (`constructEvent` checks the HMAC over the raw body, then
 * the timestamp, then parses the JSON). Its errors tell the cases apart: signature errors are
 * StripeSignatureVerificationError; any other error comes after the signature matched (unparsable JSON,
 * a thin v2 event).
 */
function tryConstructEvent(
  request: IncomingRequest,
  header: string,
  signedAtSeconds: number,
  secret: string,
  toleranceSeconds: number,
): Attempt {
  // The SDK bounds only a signature's age. One dated more than the tolerance ahead of the request
  // could be replayed until then, and Stripe's clock never produces it: it is refused like an old one.
  const signedAhead = signedAtSeconds - request.receivedAt.getTime() / 1000 > toleranceSeconds;
  try {
    const event = Stripe.webhooks.constructEvent(
      request.rawBody,
      header,
      secret,
      toleranceSeconds,
      undefined,
      // Tolerance counts to when subgate received the request, not to when this code runs.
      request.receivedAt.getTime(),
    );
    return signedAhead ? { outcome: "from_the_future" } : { outcome: "verified", event };
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      // The SDK checks the timestamp only after a signature matched this secret.
      if (error.message.startsWith("Timestamp outside the tolerance zone")) return { outcome: "too_old" };
      if (
        error.message.startsWith("Unable to extract timestamp and signatures") ||
        error.message.startsWith("No signatures found with expected scheme")
      ) {
        return { outcome: "bad_header" };
      }
      return { outcome: "mismatch" };
    }
    const notJson = error instanceof SyntaxError;
    const thin = error instanceof Error && /thin event/i.test(error.message);
    // Anything else is thrown before a signature matched (a `v1=` without a value makes the SDK's
    // comparison throw a plain Error): the header proves nothing.
    if (!notJson && !thin) return { outcome: "bad_header" };
    if (signedAhead) return { outcome: "from_the_future" };
    return {
      outcome: "not_an_event",
      reason: notJson
        ? "signature verifies, but the body is not JSON"
        : "signature verifies, but the body is a thin (v2) event notification; subgate needs snapshot events",
    };
  }
}

/**
 * Verifies a Stripe webhook against each configured signing secret (several during a rotation).
 * Throws VerificationError: unauthenticated (401) when no secret verifies, malformed (400) when the
 * signature verifies but the body is not a snapshot event. Reasons never contain a secret.
 */
export function verifyStripeRequest(request: IncomingRequest, config: StripeConfig, toleranceSeconds: number): VerifiedNotification {
  const header = request.headers["stripe-signature"];
  if (header === undefined || header.trim() === "") {
    throw new VerificationError("unauthenticated", "missing Stripe-Signature header");
  }
  const configured = config.webhookSecrets.filter((secret) => secret.trim() !== "").length;
  if (configured === 0) {
    throw new VerificationError("unauthenticated", "no Stripe webhook signing secret is configured for this app");
  }
  if (request.rawBody.length === 0) {
    throw new VerificationError("malformed", "empty body: expected a Stripe event");
  }
  const parsedHeader = parseSignatureHeader(header);
  if (parsedHeader === null) throw new VerificationError("unauthenticated", BAD_HEADER);

  let outsideTolerance: "too_old" | "from_the_future" | null = null;
  for (const [secretIndex, secret] of config.webhookSecrets.entries()) {
    if (secret.trim() === "") continue;
    const attempt = tryConstructEvent(request, header, parsedHeader.timestamp, secret, toleranceSeconds);
    switch (attempt.outcome) {
      case "verified":
        return verifiedNotification(parseEvent(attempt.event), secretIndex, parsedHeader.timestamp);
      case "not_an_event":
        throw new VerificationError("malformed", attempt.reason);
      case "bad_header":
        throw new VerificationError("unauthenticated", BAD_HEADER);
      case "too_old":
      case "from_the_future":
        outsideTolerance = attempt.outcome;
        break;
      case "mismatch":
        break;
    }
  }
  throw new VerificationError(
    "unauthenticated",
    outsideTolerance === "too_old"
      ? `signature timestamp is outside the ${toleranceSeconds} s tolerance (replayed or delayed request)`
      : outsideTolerance === "from_the_future"
        ? `signature timestamp is more than ${toleranceSeconds} s ahead of subgate's clock`
        : `signature does not match any of the ${configured} configured Stripe webhook secret(s)`,
  );
}

function parseEvent(body: unknown): StripeEvent {
  const parsed = StripeEventSchema.safeParse(body);
  if (!parsed.success) {
    throw new VerificationError("malformed", `signature verifies, but the body is not a Stripe event (${firstIssue(parsed.error)})`);
  }
  return parsed.data;
}

function verifiedNotification(event: StripeEvent, secretIndex: number, signedAtSeconds: number): VerifiedNotification {
  return {
    storeNotificationId: event.id,
    notificationType: event.type,
    notificationSubtype: null,
    environment: environmentOf(event.livemode),
    subscriptionKey: subscriptionKeyOf(event.data.object),
    // Checked against the event time window with the rest (../checks.ts); past Date's range it is invalid.
    storeEventAt: new Date(event.created * 1000),
    signedAt: new Date(signedAtSeconds * 1000),
    verification: {
      scheme: "stripe-signature",
      secret_index: secretIndex,
      api_version: event.api_version ?? null,
    },
  };
}
