/*
 * Apple App Store Server Notifications V1 (legacy) → the same subgate events as V2 (v2/mapping.ts).
 * Pure. V1 is unsigned and thinner: no notification time (v1EventTimeMs stands in), no price, no
 * storefront, no subtypes. The state comes from the notification's transaction (v1SubjectTransaction:
 * the newest of latest_receipt_info for the body's product) and its pending_renewal_info.
 *
 * | V1 notification_type          | subgate event                                         | status              |
 * | ----------------------------- | ----------------------------------------------------- | ------------------- |
 * | INITIAL_BUY                   | INITIAL_PURCHASE                                      | trialing or active  |
 * | DID_RENEW, DID_RECOVER,       | RENEWAL                                               | active              |
 * |   INTERACTIVE_RENEWAL         |                                                       |                     |
 * | DID_CHANGE_RENEWAL_STATUS     | auto-renew off: CANCELLATION (UNSUBSCRIBE, or         | canceled            |
 * |                               |   CUSTOMER_SUPPORT when the transaction is refunded)  |                     |
 * |                               | auto-renew on: UNCANCELLATION                         | active              |
 * | DID_CHANGE_RENEWAL_PREF       | PRODUCT_CHANGE (at the next renewal)                  | unchanged           |
 * | DID_FAIL_TO_RENEW             | BILLING_ISSUE                                         | in_grace_period or  |
 * |                               |                                                       |   in_billing_retry  |
 * | CANCEL with cancellation_reason, REFUND | CANCELLATION (CUSTOMER_SUPPORT)             | revoked             |
 * | CANCEL without one (an upgrade; INTERACTIVE_RENEWAL reports it) | none: ignored       |                     |
 * | REVOKE                        | EXPIRATION (UNKNOWN, is_family_share)                 | revoked             |
 * | CONSUMPTION_REQUEST           | CONSUMPTION_REQUEST                                   | unchanged           |
 * | PRICE_INCREASE_CONSENT        | PRICE_INCREASE                                        | unchanged           |
 * | any other type                | none: ignored                                         |                     |
 *
 * As in V2, a renewal-status change of a subscription that is refunded, in billing retry or over keeps
 * that status, and "active" is trialing during a free trial.
 */
import { overridingAccessStatus } from "../status.ts";
import type {
  CancelReason,
  Environment,
  EventDraftInput,
  EventType,
  PeriodType,
  SubscriptionStatePatch,
  SubscriptionStatus,
} from "@subgate/schema";
import type { Normalized } from "../../adapter.ts";
import {
  type AppleV1Body,
  type AppleV1PendingRenewal,
  type AppleV1ReceiptInfo,
  v1EventTimeMs,
  v1PendingRenewal,
  v1SubjectTransaction,
} from "./payload.ts";

const ENVIRONMENTS: Readonly<Record<string, Environment>> = { PROD: "production", Production: "production", Sandbox: "sandbox" };

/** The body's environment, else its receipt's (which spells production "Production"). */
function environmentOfBody(body: AppleV1Body): Environment | null {
  const named = body.environment ?? body.unified_receipt?.environment;
  return named === undefined ? null : (ENVIRONMENTS[named] ?? null);
}

interface Context {
  environment: Environment;
  /** When the reported event happened: v1EventTimeMs, else when subgate received the body. */
  atMs: number;
  body: AppleV1Body;
  transaction: AppleV1ReceiptInfo;
  originalTransactionId: string;
  pending: AppleV1PendingRenewal | null;
}

type Outcome = { events: EventDraftInput[]; state: SubscriptionStatePatch } | { ignored: string };

// ---- fields ----

/** V1's receipt flags name the offer: free trial, introductory price, promotional offer or offer code. */
function periodTypeOf(transaction: AppleV1ReceiptInfo): PeriodType {
  if (transaction.is_trial_period === true) return "TRIAL";
  if (transaction.is_in_intro_offer_period === true) return "INTRO";
  if (transaction.promotional_offer_id !== undefined || transaction.offer_code_ref_name !== undefined) return "PROMOTIONAL";
  return "NORMAL";
}

function familyShare(transaction: AppleV1ReceiptInfo): boolean | null {
  if (transaction.in_app_ownership_type === "FAMILY_SHARED") return true;
  if (transaction.in_app_ownership_type === "PURCHASED") return false;
  return null;
}

/** When access ends: the period end, or the cancellation (a refund, a revoked share) when that came first. */
function accessEndsAtMs(transaction: AppleV1ReceiptInfo): number | null {
  const { expires_date_ms: expires, cancellation_date_ms: cancelled } = transaction;
  if (cancelled === undefined) return expires ?? null;
  return expires === undefined ? cancelled : Math.min(expires, cancelled);
}

/** Fields every event shares. V1 carries no price and no storefront: those stay null. */
function event(context: Context, type: EventType, fields: Partial<EventDraftInput> = {}): EventDraftInput {
  const transaction = context.transaction;
  return {
    type,
    event_timestamp_ms: context.atMs,
    product_id: transaction.product_id ?? null,
    period_type: periodTypeOf(transaction),
    purchased_at_ms: transaction.purchase_date_ms ?? null,
    expiration_at_ms: accessEndsAtMs(transaction),
    transaction_id: transaction.transaction_id ?? null,
    original_transaction_id: context.originalTransactionId,
    is_family_share: familyShare(transaction),
    offer_code: transaction.offer_code_ref_name ?? null,
    store_user_id: transaction.app_account_token ?? null,
    ...fields,
  };
}

// ---- state ----

/** Auto-renew: the subscription's pending renewal info, else the body's own flag. */
function autoRenewOf(context: Context): boolean | undefined {
  return context.pending?.auto_renew_status ?? context.body.auto_renew_status;
}

function activeStatus(context: Context): SubscriptionStatus {
  return periodTypeOf(context.transaction) === "TRIAL" ? "trialing" : "active";
}

/** A refunded transaction, a billing retry (with access during a grace period) or a period over decide the status. */
function overridingStatus(context: Context): SubscriptionStatus | null {
  const { transaction, pending, atMs } = context;
  return overridingAccessStatus({
    revoked: transaction.cancellation_date_ms !== undefined,
    inBillingRetry: pending?.is_in_billing_retry_period === true,
    gracePeriodEndsMs: pending?.grace_period_expires_date_ms,
    expiresMs: transaction.expires_date_ms,
    atMs,
  });
}

/** The subscription's state as a whole; what the body does not carry is left out (keeps its stored value). */
function statePatch(context: Context, status: SubscriptionStatus): SubscriptionStatePatch {
  const transaction = context.transaction;
  const patch: SubscriptionStatePatch = { status, period_type: periodTypeOf(transaction) };
  if (transaction.product_id !== undefined) patch.product_id = transaction.product_id;
  const endsAt = accessEndsAtMs(transaction);
  if (endsAt !== null) patch.expires_at_ms = endsAt;
  if (transaction.purchase_date_ms !== undefined) patch.purchased_at_ms = transaction.purchase_date_ms;
  const autoRenew = autoRenewOf(context);
  if (autoRenew !== undefined) patch.auto_renew = autoRenew;
  if (transaction.app_account_token !== undefined) patch.store_user_id = transaction.app_account_token;
  return patch;
}

// ---- the rows ----

function purchase(type: "INITIAL_PURCHASE" | "RENEWAL") {
  return (context: Context): Outcome => ({ events: [event(context, type)], state: statePatch(context, activeStatus(context)) });
}

/**
 * Apple sends DID_CHANGE_RENEWAL_STATUS with CANCEL when Apple support refunds: a refunded transaction
 * (cancellation_date_ms) makes the cancellation CUSTOMER_SUPPORT.
 */
function renewalStatusChanged(context: Context): Outcome {
  const autoRenew = context.body.auto_renew_status ?? context.pending?.auto_renew_status;
  if (autoRenew === undefined) return { ignored: "DID_CHANGE_RENEWAL_STATUS without auto_renew_status" };
  const state = (status: SubscriptionStatus) => ({ ...statePatch(context, status), auto_renew: autoRenew });
  if (autoRenew) {
    return { events: [event(context, "UNCANCELLATION")], state: state(overridingStatus(context) ?? activeStatus(context)) };
  }
  const reason: CancelReason = context.transaction.cancellation_date_ms !== undefined ? "CUSTOMER_SUPPORT" : "UNSUBSCRIBE";
  return { events: [event(context, "CANCELLATION", { cancel_reason: reason })], state: state(overridingStatus(context) ?? "canceled") };
}

/** V1's DID_CHANGE_RENEWAL_PREF takes effect at the next renewal (upgrades come as INTERACTIVE_RENEWAL). */
function renewalPrefChanged(context: Context): Outcome {
  const current = context.transaction.product_id ?? null;
  const next = context.body.auto_renew_product_id ?? context.pending?.auto_renew_product_id ?? current;
  return { events: [event(context, "PRODUCT_CHANGE", { new_product_id: next })], state: {} };
}

function failedToRenew(context: Context): Outcome {
  const grace = context.pending?.grace_period_expires_date_ms ?? null;
  const status: SubscriptionStatus = grace !== null ? "in_grace_period" : "in_billing_retry";
  return { events: [event(context, "BILLING_ISSUE", { grace_period_expiration_at_ms: grace })], state: statePatch(context, status) };
}

/** A refund: CANCELLATION with CUSTOMER_SUPPORT (RevenueCat's convention); V1 says no amount. */
function refunded(context: Context): Outcome {
  return { events: [event(context, "CANCELLATION", { cancel_reason: "CUSTOMER_SUPPORT" })], state: statePatch(context, "revoked") };
}

/** CANCEL is a refund when it has a reason; without one (older V1) it was an upgrade, which INTERACTIVE_RENEWAL reports. */
function cancel(context: Context): Outcome {
  if (context.transaction.cancellation_reason === undefined) {
    return { ignored: "CANCEL without cancellation_reason: an upgrade, which INTERACTIVE_RENEWAL reports" };
  }
  return refunded(context);
}

function revoke(context: Context): Outcome {
  const expiration = event(context, "EXPIRATION", { expiration_reason: "UNKNOWN", is_family_share: true, expiration_at_ms: context.atMs });
  return { events: [expiration], state: statePatch(context, "revoked") };
}

function eventOnly(type: EventType) {
  return (context: Context): Outcome => ({ events: [event(context, type)], state: {} });
}

const ROWS: Readonly<Record<string, (context: Context) => Outcome>> = {
  INITIAL_BUY: purchase("INITIAL_PURCHASE"),
  DID_RENEW: purchase("RENEWAL"),
  // A renewal after a billing failure, and a renewal the customer made in the app or the App Store.
  DID_RECOVER: purchase("RENEWAL"),
  INTERACTIVE_RENEWAL: purchase("RENEWAL"),
  DID_CHANGE_RENEWAL_STATUS: renewalStatusChanged,
  DID_CHANGE_RENEWAL_PREF: renewalPrefChanged,
  DID_FAIL_TO_RENEW: failedToRenew,
  CANCEL: cancel,
  REFUND: refunded,
  REVOKE: revoke,
  CONSUMPTION_REQUEST: eventOnly("CONSUMPTION_REQUEST"),
  PRICE_INCREASE_CONSENT: eventOnly("PRICE_INCREASE"),
};

/**
 * V1's times are whole periods apart: a DID_FAIL_TO_RENEW carries the same newest purchase time as the
 * DID_RENEW of the period that failed to renew, and is later in the subscription's life.
 */
const STATE_RANK: Readonly<Record<string, number>> = { DID_FAIL_TO_RENEW: 1 };

/** Turns a parsed V1 body into subgate events and state. Never throws for an unknown type: it is ignored. */
export function normalizeAppleV1(body: AppleV1Body, receivedAt: Date): Normalized {
  const type = body.notification_type;
  const environment = environmentOfBody(body);
  const transaction = v1SubjectTransaction(body);
  const originalTransactionId = transaction?.original_transaction_id ?? null;
  const ignored = (reason: string): Normalized => ({ kind: "ignored", reason, environment, subscriptionKey: originalTransactionId });

  const row = ROWS[type];
  if (row === undefined) return ignored(`Apple V1 notification type ${type} is not one subgate maps`);
  if (transaction === null || originalTransactionId === null) return ignored(`${type} carries no transaction in latest_receipt_info`);
  if (environment === null) return ignored(`${type} names no environment subgate knows`);

  const atMs = v1EventTimeMs(body) ?? receivedAt.getTime();
  const pending = v1PendingRenewal(body, originalTransactionId);
  const outcome = row({ environment, atMs, body, transaction, originalTransactionId, pending });
  if ("ignored" in outcome) return ignored(outcome.ignored);
  return {
    kind: "subscription",
    subscriptionKey: originalTransactionId,
    environment,
    storeEventAt: new Date(atMs),
    state: outcome.state,
    stateRank: STATE_RANK[type] ?? 0,
    events: outcome.events,
  };
}
