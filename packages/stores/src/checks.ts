import { firstIssue, isStorableText, unstorableTextAt } from "@subgate/core";
import { eventTimeProblem } from "@subgate/schema";
import { NormalizedSchema, SUBSCRIPTION_KEY_MAX_LENGTH, type CheckedNormalized, type VerifiedNotification } from "./adapter.ts";

/*
 * What every adapter returns is checked here, once for every store, before anything is stored or
 * recorded: a valid signature proves where a body came from, not that what it says can be stored.
 * - At the ingress, what verification established (problemWithVerified): a body whose dedup id,
 *   type, subscription key, event or signing time cannot be stored is refused with 400.
 * - In the worker, what normalization produced, state read from a store's API included
 *   (checkNormalized): a result that cannot be stored marks the notification failed.
 * The time windows themselves are in @subgate/schema (time-windows.ts).
 */

/** Store notification ids (Stripe event ids, Apple UUIDs, Pub/Sub message ids) are far shorter. */
const NOTIFICATION_ID_MAX_LENGTH = 255;
const NOTIFICATION_TYPE_MAX_LENGTH = 255;

const UNSTORABLE_TEXT = "contains NUL characters or unpaired surrogates";

function textProblem(field: string, value: string | null, maxLength: number): string | null {
  if (value === null) return null;
  if (value.length === 0) return `${field} is empty`;
  if (value.length > maxLength) return `${field} is longer than ${maxLength} characters`;
  if (!isStorableText(value)) return `${field} ${UNSTORABLE_TEXT}`;
  return null;
}

/** Why the columns a verified notification would be stored with cannot hold it; null when they can. */
export function problemWithVerified(verified: VerifiedNotification, receivedAt: Date): string | null {
  const verificationAt = unstorableTextAt(verified.verification);
  return (
    textProblem("the notification id", verified.storeNotificationId, NOTIFICATION_ID_MAX_LENGTH) ??
    textProblem("the notification type", verified.notificationType, NOTIFICATION_TYPE_MAX_LENGTH) ??
    textProblem("the notification subtype", verified.notificationSubtype, NOTIFICATION_TYPE_MAX_LENGTH) ??
    textProblem("the subscription id", verified.subscriptionKey, SUBSCRIPTION_KEY_MAX_LENGTH) ??
    (verified.storeEventAt === null ? null : eventTimeProblem("the event time", verified.storeEventAt, receivedAt)) ??
    (verified.signedAt === null ? null : eventTimeProblem("the signing time", verified.signedAt, receivedAt)) ??
    (verificationAt === null ? null : `${verificationAt || "the verification record"} ${UNSTORABLE_TEXT}`)
  );
}

export type NormalizedCheck = { ok: true; normalized: CheckedNormalized } | { ok: false; problem: string };

/**
 * Checks an adapter's normalization (or one stored earlier, read back as JSON) of a notification
 * received at `receivedAt`: the shape and the windows of every time (NormalizedSchema), event times
 * no later than an hour after receipt, and text PostgreSQL can hold.
 */
export function checkNormalized(value: unknown, receivedAt: Date): NormalizedCheck {
  const parsed = NormalizedSchema.safeParse(value);
  if (!parsed.success) {
    return { ok: false, problem: firstIssue(parsed.error, { root: "the result" }) };
  }
  const normalized = parsed.data;
  if (normalized.kind === "subscription" || normalized.kind === "test") {
    const problem = eventTimeProblem("storeEventAt, the event time,", normalized.storeEventAt, receivedAt);
    if (problem) return { ok: false, problem };
  }
  if (normalized.kind === "subscription") {
    // A state read from a store's API is as recent as the call, which may come long after receipt.
    if (normalized.stateAt) {
      const problem = eventTimeProblem("stateAt, the state time,", normalized.stateAt, new Date());
      if (problem) return { ok: false, problem };
    }
    for (const [index, event] of normalized.events.entries()) {
      const problem = eventTimeProblem(`events.${index}.event_timestamp_ms`, event.event_timestamp_ms, receivedAt);
      if (problem) return { ok: false, problem };
    }
  }
  const at = unstorableTextAt(normalized);
  if (at !== null) return { ok: false, problem: `${at || "the result"} ${UNSTORABLE_TEXT}` };
  return { ok: true, normalized };
}
