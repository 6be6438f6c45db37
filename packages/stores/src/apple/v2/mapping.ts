/*
 * Apple App Store Server Notifications V2 → subgate events and state. Pure: everything comes from the
 * verified, decoded payload, so the same notification always maps to the same result. The table for
 * users, with the reasons, is docs/APPLE-MAPPING.md.
 *
 * | Apple type / subtype                               | subgate event                                  | status                    |
 * | -------------------------------------------------- | ---------------------------------------------- | ------------------------- |
 * | SUBSCRIBED / INITIAL_BUY                           | INITIAL_PURCHASE (price)                       | trialing or active        |
 * | SUBSCRIBED / RESUBSCRIBE                           | RENEWAL (price; RevenueCat's resubscribe)      | active                    |
 * | DID_RENEW, with or without BILLING_RECOVERY        | RENEWAL (price)                                | active                    |
 * | DID_CHANGE_RENEWAL_STATUS / AUTO_RENEW_DISABLED    | CANCELLATION (UNSUBSCRIBE, or CUSTOMER_SUPPORT  | canceled                  |
 * |                                                    |   when the transaction is already refunded)    |                           |
 * | DID_CHANGE_RENEWAL_STATUS / AUTO_RENEW_ENABLED     | UNCANCELLATION                                 | active                    |
 * | DID_CHANGE_RENEWAL_PREF, OFFER_REDEEMED / UPGRADE  | PRODUCT_CHANGE (takes effect now)              | from the new transaction  |
 * | DID_CHANGE_RENEWAL_PREF, OFFER_REDEEMED / DOWNGRADE| PRODUCT_CHANGE (at the next renewal)           | unchanged                 |
 * | DID_CHANGE_RENEWAL_PREF, no subtype                | PRODUCT_CHANGE back to the current product     | unchanged                 |
 * | DID_FAIL_TO_RENEW / GRACE_PERIOD                   | BILLING_ISSUE (grace period end)               | in_grace_period           |
 * | DID_FAIL_TO_RENEW, no subtype                      | BILLING_ISSUE                                  | in_billing_retry          |
 * | GRACE_PERIOD_EXPIRED                               | EXPIRATION (BILLING_ERROR), once per period    | in_billing_retry          |
 * | EXPIRED / VOLUNTARY, BILLING_RETRY, PRICE_INCREASE,| EXPIRATION (UNSUBSCRIBE, BILLING_ERROR,        | expired                   |
 * |   PRODUCT_NOT_FOR_SALE, no subtype                 |   PRICE_INCREASE, UNKNOWN, UNKNOWN), once      |                           |
 * | REFUND                                             | CANCELLATION (CUSTOMER_SUPPORT, negative price)| revoked                   |
 * | REFUND_REVERSED                                    | REFUND_REVERSED                                | from the transaction      |
 * | REFUND_DECLINED                                    | REFUND_DECLINED                                | unchanged                 |
 * | CONSUMPTION_REQUEST                                | CONSUMPTION_REQUEST (its reason)               | unchanged                 |
 * | REVOKE                                             | EXPIRATION (UNKNOWN, is_family_share)          | revoked                   |
 * | RENEWAL_EXTENDED                                   | SUBSCRIPTION_EXTENDED                          | from the transaction      |
 * | PRICE_INCREASE / PENDING, ACCEPTED                 | PRICE_INCREASE                                 | unchanged                 |
 * | ONE_TIME_CHARGE                                    | NON_RENEWING_PURCHASE (price)                  | active                    |
 * | OFFER_REDEEMED / INITIAL_BUY, RESUBSCRIBE (before  | as SUBSCRIBED                                  | as SUBSCRIBED             |
 * |   2024 Apple sent these)                           |                                                |                           |
 * | TEST                                               | kind "test"                                    |                           |
 * | RENEWAL_EXTENSION, OFFER_REDEEMED without subtype, | none: ignored, with the reason                 | unchanged                 |
 * |   EXTERNAL_PURCHASE_TOKEN, METADATA_UPDATE,        |                                                |                           |
 * |   MIGRATION, PRICE_CHANGE, RESCIND_CONSENT         |                                                |                           |
 * | any other type, or a subtype not listed            | none: ignored, naming them                     |                           |
 *
 * "unchanged" rows return an empty state: the ledger keeps the stored one. Every status also yields to
 * the payload's own facts where the row's status would be wrong: a renewal-status change of a
 * subscription in billing retry or already refunded keeps in_billing_retry / in_grace_period / revoked,
 * and a status that is "active" is trialing during a free trial.
 */
import type {
  CancelReason,
  Environment,
  EventDraftInput,
  EventType,
  ExpirationReason,
  SubscriptionStatePatch,
  SubscriptionStatus,
} from "@subgate/schema";
import type { Normalized } from "../../adapter.ts";
import { countryCodeFromStorefront } from "../country.ts";
import { environmentOf } from "../environment.ts";
import { OFFER_TYPE } from "../offers.ts";
import type { AppleNotificationPayload, AppleRenewalInfo, AppleTransaction, DecodedAppleNotification } from "./payloads.ts";
import { purchaseMoney, refundMoney } from "./prices.ts";
import {
  accessEndsAtMs,
  activeStatus,
  currentStatus,
  overridingStatus,
  periodTypeOf,
  statePatch,
  storeUserIdOf,
  type AppleFacts,
} from "./state.ts";

/**
 * The environment a payload names: in `data`, `summary` or `appData` (Xcode and LocalTesting, StoreKit
 * testing, file under sandbox); an external purchase token names none, and its id says it (SANDBOX prefix).
 */
export function environmentOfPayload(payload: AppleNotificationPayload, transaction: AppleTransaction | null): Environment | null {
  const named = payload.data?.environment ?? payload.summary?.environment ?? payload.appData?.environment ?? transaction?.environment;
  if (named !== undefined) return environmentOf(named);
  const tokenId = payload.externalPurchaseToken?.externalPurchaseId;
  if (tokenId !== undefined) return tokenId.startsWith("SANDBOX") ? "sandbox" : "production";
  return null;
}

/** Everything one notification's mapping reads. */
interface Context extends AppleFacts {
  environment: Environment;
  payload: AppleNotificationPayload;
}

/** What a row of the table gives: events and a state, or a reason to ignore the notification. */
type Outcome = { events: EventDraftInput[]; state: SubscriptionStatePatch } | { ignored: string };

type Row = (context: Context) => Outcome;

// ---- event fields ----

/** Fields every event of a transaction shares (docs/APPLE-MAPPING.md "Fields"). */
function eventBase(context: Context) {
  const transaction = context.transaction;
  return {
    event_timestamp_ms: context.atMs,
    product_id: transaction.productId,
    period_type: periodTypeOf(transaction),
    purchased_at_ms: transaction.purchaseDate ?? null,
    expiration_at_ms: accessEndsAtMs(transaction),
    transaction_id: transaction.transactionId,
    original_transaction_id: transaction.originalTransactionId,
    is_family_share: familyShare(transaction),
    country_code: countryCodeFromStorefront(transaction.storefront),
    offer_code: offerCode(transaction),
    store_user_id: storeUserIdOf(context),
  } satisfies Partial<EventDraftInput>;
}

/** FAMILY_SHARED: the user has it through Family Sharing; PURCHASED: bought it; absent: unknown. */
function familyShare(transaction: AppleTransaction): boolean | null {
  if (transaction.inAppOwnershipType === "FAMILY_SHARED") return true;
  if (transaction.inAppOwnershipType === "PURCHASED") return false;
  return null;
}

/** An offer code's reference name is the code's identity; a promotional offer's id is not a code. */
function offerCode(transaction: AppleTransaction): string | null {
  return transaction.offerType === OFFER_TYPE.offerCode ? (transaction.offerIdentifier ?? null) : null;
}

function event(context: Context, type: EventType, fields: Partial<EventDraftInput> = {}): EventDraftInput {
  return { ...eventBase(context), type, ...fields };
}

/** An event that reports a payment carries what the transaction charged. */
function paidEvent(context: Context, type: EventType): EventDraftInput {
  return event(context, type, purchaseMoney(context.transaction) ?? {});
}

/**
 * GRACE_PERIOD_EXPIRED and the EXPIRED that follows it (BILLING_RETRY, when retries end) both end one
 * period; the ledger sends an EXPIRATION with a given key once per subscription. The transaction is the
 * one whose period lapsed in both.
 */
function expirationOnceKey(transaction: AppleTransaction): string {
  return `expiration:${transaction.originalTransactionId}:${transaction.transactionId}`;
}

// ---- the rows ----

function initialBuy(context: Context): Outcome {
  return { events: [paidEvent(context, "INITIAL_PURCHASE")], state: statePatch(context, activeStatus(context)) };
}

/** RevenueCat reports a lapsed subscriber's return, and every renewal, as RENEWAL. */
function renewal(context: Context): Outcome {
  return { events: [paidEvent(context, "RENEWAL")], state: statePatch(context, activeStatus(context)) };
}

/**
 * Apple turns auto-renew off itself when the customer asks for a refund, and says so no differently. When
 * the transaction is already refunded (revocationDate), the refund is the cause: CUSTOMER_SUPPORT.
 */
function autoRenewDisabled(context: Context): Outcome {
  const reason: CancelReason = context.transaction.revocationDate !== undefined ? "CUSTOMER_SUPPORT" : "UNSUBSCRIBE";
  const status = overridingStatus(context) ?? "canceled";
  return { events: [event(context, "CANCELLATION", { cancel_reason: reason })], state: renewalStatusState(context, status, false) };
}

function autoRenewEnabled(context: Context): Outcome {
  const status = overridingStatus(context) ?? activeStatus(context);
  return { events: [event(context, "UNCANCELLATION")], state: renewalStatusState(context, status, true) };
}

/** The notification itself says whether auto-renew is on, should the renewal info be missing. */
function renewalStatusState(context: Context, status: SubscriptionStatus, autoRenew: boolean): SubscriptionStatePatch {
  return {
    ...statePatch(context, status),
    auto_renew: context.renewal?.autoRenewStatus === undefined ? autoRenew : context.renewal.autoRenewStatus === 1,
  };
}

/** The product the subscription renews into: the renewal info's choice. */
function renewsInto(renewal: AppleRenewalInfo | null): string | null {
  return renewal?.autoRenewProductId ?? null;
}

/**
 * An upgrade takes effect now, with a new transaction for the new product: the state is that
 * transaction's. The product left is not in the payload (product_id null), unless the transaction is the
 * old one (isUpgraded), which names it; then only the product is known to have changed.
 */
function upgrade(context: Context): Outcome {
  const transaction = context.transaction;
  if (transaction.isUpgraded === true) {
    const newProductId = renewsInto(context.renewal);
    const change = event(context, "PRODUCT_CHANGE", { new_product_id: newProductId });
    return { events: [change], state: newProductId === null ? {} : { product_id: newProductId } };
  }
  const change = event(context, "PRODUCT_CHANGE", {
    product_id: null,
    new_product_id: renewsInto(context.renewal) ?? transaction.productId,
  });
  return { events: [change], state: statePatch(context, currentStatus(context)) };
}

/** A downgrade (or a crossgrade) takes effect at the next renewal: today's state does not change. */
function downgrade(context: Context): Outcome {
  const change = event(context, "PRODUCT_CHANGE", { new_product_id: renewsInto(context.renewal) });
  return { events: [change], state: {} };
}

/** No subtype: the customer went back to the current product, withdrawing a pending downgrade. */
function downgradeWithdrawn(context: Context): Outcome {
  const current = context.transaction.productId;
  const change = event(context, "PRODUCT_CHANGE", { new_product_id: renewsInto(context.renewal) ?? current });
  return { events: [change], state: {} };
}

function billingIssueInGrace(context: Context): Outcome {
  const grace = context.renewal?.gracePeriodExpiresDate ?? null;
  const issue = event(context, "BILLING_ISSUE", { grace_period_expiration_at_ms: grace });
  return { events: [issue], state: statePatch(context, "in_grace_period") };
}

function billingIssue(context: Context): Outcome {
  return { events: [event(context, "BILLING_ISSUE")], state: statePatch(context, "in_billing_retry") };
}

/** Access ends with the grace period; Apple keeps retrying, so a later DID_RENEW can still recover it. */
function gracePeriodExpired(context: Context): Outcome {
  const endedAt = context.renewal?.gracePeriodExpiresDate ?? accessEndsAtMs(context.transaction);
  const expiration = event(context, "EXPIRATION", {
    expiration_reason: "BILLING_ERROR",
    expiration_at_ms: endedAt,
    once_key: expirationOnceKey(context.transaction),
  });
  return { events: [expiration], state: statePatch(context, "in_billing_retry") };
}

function expired(reason: ExpirationReason): Row {
  return (context) => {
    const expiration = event(context, "EXPIRATION", { expiration_reason: reason, once_key: expirationOnceKey(context.transaction) });
    return { events: [expiration], state: statePatch(context, "expired") };
  };
}

/** Apple's `data.status` of a subscription that still gives access: active, billing retry, grace period. */
const STILL_SUBSCRIBED = new Set([1, 3, 4]);

/**
 * A refund is a CANCELLATION with cancel_reason CUSTOMER_SUPPORT and a negative price (RevenueCat's
 * convention), at the revocation time. Access ends: revoked. When Apple's `data.status` says the
 * subscription still gives access, the refund was of an earlier period: its money is reported, the
 * state is left alone.
 */
function refund(context: Context): Outcome {
  const transaction = context.transaction;
  const cancellation = event(context, "CANCELLATION", {
    event_timestamp_ms: transaction.revocationDate ?? context.atMs,
    cancel_reason: "CUSTOMER_SUPPORT",
    ...(refundMoney(transaction) ?? {}),
  });
  const earlierPeriod = STILL_SUBSCRIBED.has(context.payload.data?.status ?? 0);
  return { events: [cancellation], state: earlierPeriod ? {} : statePatch(context, "revoked") };
}

/** Apple removed the revocation from the transaction: the state is what the transaction now says. */
function refundReversed(context: Context): Outcome {
  return { events: [event(context, "REFUND_REVERSED")], state: statePatch(context, currentStatus(context)) };
}

function eventOnly(type: EventType): Row {
  return (context) => ({ events: [event(context, type)], state: {} });
}

function consumptionRequest(context: Context): Outcome {
  const reason = context.payload.data?.consumptionRequestReason ?? null;
  return { events: [event(context, "CONSUMPTION_REQUEST", { consumption_request_reason: reason })], state: {} };
}

/** Family Sharing access removed: access ends for this family member, with no reason RevenueCat names. */
function revoke(context: Context): Outcome {
  const expiration = event(context, "EXPIRATION", {
    expiration_reason: "UNKNOWN",
    is_family_share: true,
    expiration_at_ms: context.transaction.revocationDate ?? context.atMs,
  });
  return { events: [expiration], state: statePatch(context, "revoked") };
}

function renewalExtended(context: Context): Outcome {
  return { events: [event(context, "SUBSCRIPTION_EXTENDED")], state: statePatch(context, currentStatus(context)) };
}

/** A consumable, non-consumable or non-renewing purchase: tracked by its originalTransactionId like a subscription. */
function oneTimeCharge(context: Context): Outcome {
  const status: SubscriptionStatus = context.transaction.revocationDate !== undefined ? "revoked" : "active";
  return { events: [paidEvent(context, "NON_RENEWING_PURCHASE")], state: statePatch(context, status, { renews: false }) };
}

/** An offer for the subscription's own product applies at its next renewal, which DID_RENEW reports. */
function offerForCurrentProduct(): Outcome {
  return {
    ignored: "OFFER_REDEEMED without a subtype: an offer for the current product, applied at its next renewal (DID_RENEW reports it)",
  };
}

const NO_SUBTYPE = "";

/** Each type subgate maps, by subtype (NO_SUBTYPE: none). A subtype not listed is ignored. */
const ROWS: Readonly<Record<string, Readonly<Record<string, Row>>>> = {
  SUBSCRIBED: { INITIAL_BUY: initialBuy, RESUBSCRIBE: renewal },
  DID_RENEW: { [NO_SUBTYPE]: renewal, BILLING_RECOVERY: renewal },
  DID_CHANGE_RENEWAL_STATUS: { AUTO_RENEW_DISABLED: autoRenewDisabled, AUTO_RENEW_ENABLED: autoRenewEnabled },
  DID_CHANGE_RENEWAL_PREF: { UPGRADE: upgrade, DOWNGRADE: downgrade, [NO_SUBTYPE]: downgradeWithdrawn },
  // Since January 2024 an offer redeemed on an inactive subscription comes as SUBSCRIBED; before, as these.
  OFFER_REDEEMED: {
    UPGRADE: upgrade,
    DOWNGRADE: downgrade,
    INITIAL_BUY: initialBuy,
    RESUBSCRIBE: renewal,
    [NO_SUBTYPE]: offerForCurrentProduct,
  },
  DID_FAIL_TO_RENEW: { GRACE_PERIOD: billingIssueInGrace, [NO_SUBTYPE]: billingIssue },
  GRACE_PERIOD_EXPIRED: { [NO_SUBTYPE]: gracePeriodExpired },
  EXPIRED: {
    VOLUNTARY: expired("UNSUBSCRIBE"),
    BILLING_RETRY: expired("BILLING_ERROR"),
    PRICE_INCREASE: expired("PRICE_INCREASE"),
    PRODUCT_NOT_FOR_SALE: expired("UNKNOWN"),
    [NO_SUBTYPE]: expired("UNKNOWN"),
  },
  REFUND: { [NO_SUBTYPE]: refund },
  REFUND_REVERSED: { [NO_SUBTYPE]: refundReversed },
  REFUND_DECLINED: { [NO_SUBTYPE]: eventOnly("REFUND_DECLINED") },
  CONSUMPTION_REQUEST: { [NO_SUBTYPE]: consumptionRequest },
  REVOKE: { [NO_SUBTYPE]: revoke },
  RENEWAL_EXTENDED: { [NO_SUBTYPE]: renewalExtended },
  // The subtype reaches the app as the event's store_notification_subtype.
  PRICE_INCREASE: { PENDING: eventOnly("PRICE_INCREASE"), ACCEPTED: eventOnly("PRICE_INCREASE") },
  ONE_TIME_CHARGE: { [NO_SUBTYPE]: oneTimeCharge },
};

/** Types Apple sends that report nothing subgate tracks, with the reason recorded on the notification. */
const NOT_REPORTED: Readonly<Record<string, string>> = {
  EXTERNAL_PURCHASE_TOKEN: "EXTERNAL_PURCHASE_TOKEN reports an External Purchase API token, not an App Store purchase",
  METADATA_UPDATE: "METADATA_UPDATE (Advanced Commerce API) changes a subscription's metadata, not its state",
  MIGRATION: "MIGRATION (Advanced Commerce API) is not a subscription change subgate reports",
  MIGRATE: "MIGRATE (Advanced Commerce API) is not a subscription change subgate reports",
  PRICE_CHANGE: "PRICE_CHANGE (Advanced Commerce API) is not a subscription change subgate reports",
  RESCIND_CONSENT: "RESCIND_CONSENT: a guardian withdrew consent for the app (Declared Age Range); it concerns no purchase",
};

/** RENEWAL_EXTENSION reports a mass renewal-date extension; each extended subscription gets its own RENEWAL_EXTENDED. */
const RENEWAL_EXTENSION_REASONS: Readonly<Record<string, string>> = {
  SUMMARY: "RENEWAL_EXTENSION/SUMMARY summarizes a mass renewal-date extension; each extended subscription has its RENEWAL_EXTENDED",
  FAILURE: "RENEWAL_EXTENSION/FAILURE: Apple could not extend this subscription's renewal date; its expiry is unchanged",
};

function describe(type: string, subtype: string | null): string {
  return subtype === null ? `${type} without a subtype` : `${type}/${subtype}`;
}

/** Why a notification of this type and subtype is not mapped, or null when a row maps it. */
function ignoredReason(type: string, subtype: string | null): string | null {
  const notReported = NOT_REPORTED[type];
  if (notReported !== undefined) return notReported;
  if (type === "RENEWAL_EXTENSION") {
    return RENEWAL_EXTENSION_REASONS[subtype ?? NO_SUBTYPE] ?? `${describe(type, subtype)} is not a notification subgate maps`;
  }
  const rows = ROWS[type];
  if (rows === undefined) return `Apple notification type ${type} is not one subgate maps`;
  if (rows[subtype ?? NO_SUBTYPE] === undefined) return `${describe(type, subtype)} is not a combination subgate maps`;
  return null;
}

/**
 * Turns a verified, decoded V2 notification into subgate events and state. Never throws for what Apple
 * may add: an unknown type or subtype is ignored with a reason naming it.
 */
export function normalizeAppleV2(decoded: DecodedAppleNotification): Normalized {
  const { payload, transaction, renewal } = decoded;
  const type = payload.notificationType;
  const subtype = payload.subtype ?? null;
  const environment = environmentOfPayload(payload, transaction);
  const storeEventAt = new Date(payload.signedDate);
  // Notifications without `data` (summary, externalPurchaseToken, appData) concern no one subscription.
  const subscriptionKey = transaction?.originalTransactionId ?? null;
  const ignored = (reason: string, warn = false): Normalized => ({ kind: "ignored", reason, environment, subscriptionKey, warn });

  if (type === "TEST") {
    return environment === null ? ignored("TEST names no environment subgate knows") : { kind: "test", environment, storeEventAt };
  }
  const reason = ignoredReason(type, subtype);
  // What an operator should look at: Apple failed to extend a renewal, or sent what subgate does not know yet.
  if (reason !== null) return ignored(reason, !(type in NOT_REPORTED) && subtype !== "SUMMARY");
  if (transaction === null) return ignored(`${describe(type, subtype)} carries no transaction`);
  if (environment === null) return ignored(`${describe(type, subtype)} names an environment subgate does not know`);

  const context: Context = { environment, payload, transaction, renewal, atMs: payload.signedDate };
  const row = ROWS[type]?.[subtype ?? NO_SUBTYPE];
  const outcome = row === undefined ? { ignored: `${describe(type, subtype)} is not a combination subgate maps` } : row(context);
  if ("ignored" in outcome) return ignored(outcome.ignored);
  return {
    kind: "subscription",
    subscriptionKey: transaction.originalTransactionId,
    environment,
    storeEventAt,
    state: outcome.state,
    stateRank: 0,
    events: outcome.events,
  };
}
