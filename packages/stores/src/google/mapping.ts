/*
 * Google Play real-time developer notifications → subgate events and state. A notification is only a
 * signal: the worker reads the purchase from the Android Publisher API and hands the answer here, so the
 * events come from the notification's type and every field and the state from the answer, at the time of
 * the call (`stateAt`). Pure: the same notification and answer always map to the same result. The table
 * for users, with the reasons, is docs/GOOGLE-MAPPING.md.
 *
 * | subscriptionNotification type                 | subgate events                                           | status (from the answer)   |
 * | --------------------------------------------- | -------------------------------------------------------- | -------------------------- |
 * |  1 SUBSCRIPTION_RECOVERED                     | RENEWAL (price)                                          | active                     |
 * |  2 SUBSCRIPTION_RENEWED                       | RENEWAL (price)                                          | active                     |
 * |  3 SUBSCRIPTION_CANCELED                      | CANCELLATION (canceledStateContext's reason)             | canceled (expired if past) |
 * |  4 SUBSCRIPTION_PURCHASED                     | INITIAL_PURCHASE (price), once per token                 | trialing or active         |
 * |    with linkedPurchaseToken                   | PRODUCT_CHANGE; RENEWAL for the same plan or a top-up    |                            |
 * |    with outOfAppPurchaseContext               | RENEWAL (a lapsed subscriber's return)                   |                            |
 * |    still pending                              | none                                                     | unknown                    |
 * |  5 SUBSCRIPTION_ON_HOLD                       | BILLING_ISSUE (once per issue), EXPIRATION BILLING_ERROR | in_billing_retry           |
 * |  6 SUBSCRIPTION_IN_GRACE_PERIOD               | BILLING_ISSUE (once per issue, grace period end)         | in_grace_period            |
 * |  7 SUBSCRIPTION_RESTARTED                     | UNCANCELLATION                                           | active                     |
 * |  8 SUBSCRIPTION_PRICE_CHANGE_CONFIRMED        | PRICE_INCREASE                                           | the answer's               |
 * |  9 SUBSCRIPTION_DEFERRED                      | SUBSCRIPTION_EXTENDED                                    | the answer's (new expiry)  |
 * | 10 SUBSCRIPTION_PAUSED                        | SUBSCRIPTION_PAUSED, EXPIRATION SUBSCRIPTION_PAUSED      | paused                     |
 * | 11 SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED        | none                                                     | the answer's               |
 * | 12 SUBSCRIPTION_REVOKED                       | EXPIRATION CUSTOMER_SUPPORT (money: the voided purchase) | revoked                    |
 * | 13 SUBSCRIPTION_EXPIRED                       | EXPIRATION (canceledStateContext's reason), once         | expired                    |
 * | 17 SUBSCRIPTION_ITEMS_CHANGED                 | PRODUCT_CHANGE                                           | the answer's               |
 * | 18 SUBSCRIPTION_CANCELLATION_SCHEDULED        | CANCELLATION (the reason, else UNSUBSCRIBE)              | the answer's               |
 * | 19 SUBSCRIPTION_PRICE_CHANGE_UPDATED          | PRICE_INCREASE; none for a decrease                      | the answer's               |
 * | 20 SUBSCRIPTION_PENDING_PURCHASE_CANCELED     | none                                                     | expired                    |
 * |    of a change of a linked purchase           | none: ignored                                            | unchanged                  |
 * | 22 SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED | PRICE_INCREASE                                           | the answer's               |
 * | any, answer has replacementCancellation       | none: ignored (the new token reports it)                 | unchanged                  |
 * | any other number                              | none: ignored, warn                                      | unchanged                  |
 *
 * One-time products: 1 ONE_TIME_PRODUCT_PURCHASED → NON_RENEWING_PURCHASE (none while pending),
 * 2 ONE_TIME_PRODUCT_CANCELED → none, state from the answer. Voided purchases → CANCELLATION
 * (CUSTOMER_SUPPORT, negative price when known); a full refund revokes. Test → kind "test".
 */
import type { CancelReason, Environment, EventDraftInput, EventType, ExpirationReason, SubscriptionStatus } from "@subgate/schema";
import type { Normalized } from "../adapter.ts";
import { SUBSCRIPTION_NOTIFICATION_TYPES } from "./notification.ts";
import {
  currentLineItem,
  eventMoney,
  givesAccess,
  isPending,
  itemProductId,
  periodCharge,
  periodTypeOf,
  purchaseOnceKey,
  rcProductId,
  subscriptionEnvironment,
  subscriptionState,
  subscriptionStoreUserId,
  statusOf,
  SUBSCRIPTION_STATE,
} from "./purchase-facts.ts";
import {
  parseSubscriptionPurchase,
  SubscriptionPurchaseV2Schema,
  type SubscriptionLineItem,
  type SubscriptionPurchaseV2,
} from "./purchase-schemas.ts";

export { mapOneTimeProductNotification, type OneTimeProductNotificationInput } from "./one-time-mapping.ts";
export { mapVoidedPurchase, type VoidedPurchaseInput } from "./voided-mapping.ts";

export interface SubscriptionNotificationInput {
  /** subscriptionNotification.notificationType. */
  notificationType: number;
  purchaseToken: string;
  /** The notification's eventTimeMillis: when Google says the event happened. */
  eventTimeMillis: number;
  /** The answer of purchases.subscriptionsv2.get for the token, as received (untrusted). */
  purchase: unknown;
  /** When the worker called the API: the time the answer's state held. */
  calledAt: Date;
}

/** Everything one notification's mapping reads. */
interface Context {
  token: string;
  atMs: number;
  purchase: SubscriptionPurchaseV2;
  item: SubscriptionLineItem;
  status: SubscriptionStatus;
}

/** What a row of the table gives: events, or a reason to ignore the notification. */
type Outcome = { events: EventDraftInput[] } | { ignored: string };
type Row = (context: Context) => Outcome;

// ---- event fields ----

/** Fields every event of a subscription notification shares (docs/GOOGLE-MAPPING.md "Fields"). */
function eventBase(context: Context) {
  const { purchase, item } = context;
  return {
    event_timestamp_ms: context.atMs,
    product_id: itemProductId(item),
    period_type: periodTypeOf(item),
    purchased_at_ms: purchase.startTime,
    expiration_at_ms: item.expiryTime,
    transaction_id: item.latestSuccessfulOrderId,
    // Google's API names no first order of a subscription; the token is what stays the same across renewals.
    original_transaction_id: context.token,
    country_code: purchase.regionCode,
    // A promotion code the customer typed (RevenueCat's Play offer_code); an offerId names an offer, not a code.
    offer_code: item.signupPromotion?.vanityCode?.promotionCode ?? null,
    store_user_id: subscriptionStoreUserId(purchase),
  } satisfies Partial<EventDraftInput>;
}

function event(context: Context, type: EventType, fields: Partial<EventDraftInput> = {}): EventDraftInput {
  return { ...eventBase(context), type, ...fields };
}

/** An event that reports a payment carries what the period cost, when the answer says. */
function paidEvent(context: Context, type: EventType, fields: Partial<EventDraftInput> = {}): EventDraftInput {
  const charge = periodCharge(context.item);
  return event(context, type, { ...(charge === null ? {} : eventMoney(charge)), ...fields });
}

/**
 * Keys that make the ledger record an event once per subscription. A failed renewal is one issue and
 * ends one period however many notifications report it (IN_GRACE_PERIOD then ON_HOLD; ON_HOLD, PAUSED or
 * REVOKED then EXPIRED): until a payment succeeds, the latest successful order stays the same, and
 * Google's order ids are unique. Without an order id there is nothing to tell the periods apart, so no
 * key (a repeat beats a lost event).
 */
function periodKey(context: Context, what: string): string | null {
  const order = context.item.latestSuccessfulOrderId;
  return order === null ? null : `${what}:${order}`;
}

function cancelReasonOf(purchase: SubscriptionPurchaseV2): CancelReason | null {
  const canceled = purchase.canceledStateContext;
  if (canceled === null) return null;
  if (canceled.userInitiatedCancellation) return "UNSUBSCRIBE";
  if (canceled.systemInitiatedCancellation) return "BILLING_ERROR";
  if (canceled.developerInitiatedCancellation) return "DEVELOPER_INITIATED";
  return null;
}

function expiration(context: Context, reason: ExpirationReason, fields: Partial<EventDraftInput> = {}): EventDraftInput {
  return event(context, "EXPIRATION", { expiration_reason: reason, once_key: periodKey(context, "expiration"), ...fields });
}

function billingIssue(context: Context, fields: Partial<EventDraftInput> = {}): EventDraftInput {
  return event(context, "BILLING_ISSUE", { once_key: periodKey(context, "billing_issue"), ...fields });
}

/** A change of plan: from the item replaced (when Google names it) to the current one, or to a deferred replacement. */
interface ProductChange {
  from: string | null;
  to: string;
}

function productChangeOf(purchase: SubscriptionPurchaseV2, item: SubscriptionLineItem): ProductChange {
  const deferredTo = item.deferredItemReplacement?.productId ?? null;
  if (deferredTo !== null) {
    // The item it switches to at the next renewal is listed too (not owned yet), with its base plan.
    const target = purchase.lineItems.find((other) => other !== item && other.productId === deferredTo);
    return { from: itemProductId(item), to: target === undefined ? deferredTo : itemProductId(target) };
  }
  const replaced = item.itemReplacement;
  if (replaced?.productId) return { from: rcProductId(replaced.productId, replaced.basePlanId), to: itemProductId(item) };
  return { from: null, to: itemProductId(item) };
}

function productChangeEvent(context: Context, change: ProductChange): EventDraftInput {
  return event(context, "PRODUCT_CHANGE", { product_id: change.from, new_product_id: change.to });
}

// ---- the rows ----

/** RevenueCat reports every paid period, a recovered one included, as RENEWAL. */
function renewal(context: Context): Outcome {
  return { events: [paidEvent(context, "RENEWAL")] };
}

function canceled(context: Context): Outcome {
  return { events: [event(context, "CANCELLATION", { cancel_reason: cancelReasonOf(context.purchase) ?? "UNKNOWN" })] };
}

/**
 * A new purchase token. Alone, a new subscription (or a lapsed subscriber's return through the Play
 * Store, when Google names the expired token: RevenueCat's RENEWAL). With linkedPurchaseToken it
 * continues an older purchase: a change of plan when the item replaced is another plan, or when Google
 * does not say which it was; the same plan bought again, or a prepaid top-up, pays for more time. A
 * purchase still awaiting its first payment reports nothing yet.
 */
function purchased(context: Context): Outcome {
  const { purchase, item } = context;
  if (isPending(purchase)) return { events: [] };
  const once = { once_key: purchaseOnceKey(context.token) };
  if (purchase.linkedPurchaseToken === null) {
    const returning = purchase.outOfAppPurchaseContext?.expiredPurchaseToken ?? null;
    return { events: [paidEvent(context, returning === null ? "INITIAL_PURCHASE" : "RENEWAL", once)] };
  }
  const change = productChangeOf(purchase, item);
  if (change.from === change.to || (change.from === null && item.prepaidPlan)) return { events: [paidEvent(context, "RENEWAL", once)] };
  return { events: [{ ...productChangeEvent(context, change), ...once }] };
}

/** Account hold: the renewal failed and the grace period (if any) is over, so access ends while Google retries. */
function onHold(context: Context): Outcome {
  return { events: [billingIssue(context), expiration(context, "BILLING_ERROR")] };
}

/** During a grace period the line item's expiryTime is the end of the access Google grants meanwhile. */
function inGracePeriod(context: Context): Outcome {
  const graceEnds = context.purchase.subscriptionState === SUBSCRIPTION_STATE.inGracePeriod ? context.item.expiryTime : null;
  return { events: [billingIssue(context, { grace_period_expiration_at_ms: graceEnds })] };
}

/** The pause took effect: access ends until it resumes (RECOVERED, reported as RENEWAL). */
function paused(context: Context): Outcome {
  const autoResume = context.purchase.pausedStateContext?.autoResumeTime ?? null;
  return {
    events: [event(context, "SUBSCRIPTION_PAUSED", { auto_resume_at_ms: autoResume }), expiration(context, "SUBSCRIPTION_PAUSED")],
  };
}

/** Access ended at once (a refund with revocation); the voided purchase notification reports the money. */
function revoked(context: Context): Outcome {
  const endedAt = Math.min(context.item.expiryTime ?? context.atMs, context.atMs);
  return { events: [expiration(context, "CUSTOMER_SUPPORT", { expiration_at_ms: endedAt })] };
}

function expired(context: Context): Outcome {
  return { events: [expiration(context, cancelReasonOf(context.purchase) ?? "UNKNOWN")] };
}

function itemsChanged(context: Context): Outcome {
  return { events: [productChangeEvent(context, productChangeOf(context.purchase, context.item))] };
}

/** An installment plan will end after its committed payments; the customer chose it unless Google says otherwise. */
function cancellationScheduled(context: Context): Outcome {
  return { events: [event(context, "CANCELLATION", { cancel_reason: cancelReasonOf(context.purchase) ?? "UNSUBSCRIBE" })] };
}

/** Price change details changed; subgate has no event for a decrease, which needs nothing from anyone. */
function priceChangeUpdated(context: Context): Outcome {
  const mode = context.item.autoRenewingPlan?.priceChangeDetails?.priceChangeMode ?? null;
  return { events: mode === "PRICE_DECREASE" ? [] : [event(context, "PRICE_INCREASE")] };
}

/**
 * A pending purchase was canceled before its first payment. A new subscription never started (expired,
 * no event); a pending change of an older purchase leaves that purchase as it was, so nothing here
 * may reach the subscription tracked under it.
 */
function pendingPurchaseCanceled(context: Context): Outcome {
  const linked = context.purchase.linkedPurchaseToken;
  if (linked !== null) {
    return {
      ignored: "SUBSCRIPTION_PENDING_PURCHASE_CANCELED: a pending change of a linked purchase was canceled; that purchase is unchanged",
    };
  }
  return { events: [] };
}

function eventOnly(type: EventType): Row {
  return (context) => ({ events: [event(context, type)] });
}

function stateOnly(): Outcome {
  return { events: [] };
}

/** Each subscription notification type subgate maps. */
const ROWS: Readonly<Record<keyof typeof SUBSCRIPTION_NOTIFICATION_TYPES, Row>> = {
  1: renewal,
  2: renewal,
  3: canceled,
  4: purchased,
  5: onHold,
  6: inGracePeriod,
  7: eventOnly("UNCANCELLATION"),
  8: eventOnly("PRICE_INCREASE"),
  9: eventOnly("SUBSCRIPTION_EXTENDED"),
  10: paused,
  // Google says the pause schedule changed, not whether a pause is now scheduled or withdrawn.
  11: stateOnly,
  12: revoked,
  13: expired,
  17: itemsChanged,
  18: cancellationScheduled,
  19: priceChangeUpdated,
  20: pendingPurchaseCanceled,
  22: eventOnly("PRICE_INCREASE"),
};

function rowOf(type: number): Row | undefined {
  return Object.hasOwn(ROWS, type) ? ROWS[type as keyof typeof ROWS] : undefined;
}

/** Revocation ends access at once; an answer that shows access again (read later) wins. */
function statusAfter(type: number, context: Pick<Context, "status">): SubscriptionStatus {
  return type === 12 && !givesAccess(context.status) ? "revoked" : context.status;
}

/**
 * The older token this purchase replaces: linkedPurchaseToken (an upgrade, a downgrade, a re-signup, a
 * prepaid conversion or top-up), else the expired token of a resubscription made in the Play Store. A
 * pending purchase replaces nothing until it is paid.
 */
function supersededKey(purchase: SubscriptionPurchaseV2, token: string): string | null {
  if (isPending(purchase)) return null;
  const older = purchase.linkedPurchaseToken ?? purchase.outOfAppPurchaseContext?.expiredPurchaseToken ?? null;
  return older === token ? null : older;
}

/**
 * Maps a subscription notification with Google's answer for its token. Throws
 * GooglePurchaseResponseError when the answer does not fit; a type Google adds later is ignored.
 */
export function mapSubscriptionNotification(input: SubscriptionNotificationInput): Normalized {
  const { notificationType: type, purchaseToken: token } = input;
  const row = rowOf(type);
  if (row === undefined) {
    const readable = SubscriptionPurchaseV2Schema.safeParse(input.purchase);
    const environment = readable.success ? subscriptionEnvironment(readable.data) : null;
    const reason = `Google subscription notification type ${type} is not one subgate maps`;
    return { kind: "ignored", reason, warn: true, environment, subscriptionKey: token };
  }
  const purchase = parseSubscriptionPurchase(input.purchase);
  const environment = subscriptionEnvironment(purchase);
  const name = SUBSCRIPTION_NOTIFICATION_TYPES[type as keyof typeof SUBSCRIPTION_NOTIFICATION_TYPES];
  if (purchase.canceledStateContext?.replacementCancellation) {
    const reason = `${name}: the purchase was replaced by a new one (an upgrade or a downgrade), whose notifications report the subscription`;
    return { kind: "ignored", reason, warn: false, environment, subscriptionKey: token };
  }
  const item = currentLineItem(purchase);
  const status = statusOf(purchase, item, input.calledAt.getTime());
  const context: Context = { token, atMs: input.eventTimeMillis, purchase, item, status };
  const outcome = row(context);
  if ("ignored" in outcome) return { kind: "ignored", reason: outcome.ignored, warn: false, environment, subscriptionKey: token };

  const finalStatus = statusAfter(type, context);
  const state = subscriptionState(purchase, item, finalStatus);
  if (finalStatus === "revoked" && state.expires_at_ms !== undefined && state.expires_at_ms !== null) {
    state.expires_at_ms = Math.min(state.expires_at_ms, context.atMs);
  }
  return {
    kind: "subscription",
    subscriptionKey: token,
    environment,
    storeEventAt: new Date(input.eventTimeMillis),
    stateAt: input.calledAt,
    state,
    stateRank: 0,
    events: outcome.events.filter((event) => !contradicted(event.type, status)),
    supersedesKey: supersededKey(purchase, token),
  };
}

/**
 * An access-ending event Google's answer contradicts: an EXPIRATION while the answer still gives
 * access, a BILLING_ISSUE while it shows no payment trouble. The answer is the truth; the notification
 * only a signal, and without push authentication perhaps a forged one. Dropped, so such an event
 * neither reaches the app nor uses up the once-key of the genuine one that may follow.
 */
function contradicted(type: string, status: SubscriptionStatus): boolean {
  if (type === "EXPIRATION") return givesAccess(status);
  if (type === "BILLING_ISSUE") return status !== "in_grace_period" && status !== "in_billing_retry";
  return false;
}

/** Google's test notification names no environment: the app's configured one is the caller's. */
export function mapTestNotification(input: { environment: Environment; eventTimeMillis: number }): Normalized {
  return { kind: "test", environment: input.environment, storeEventAt: new Date(input.eventTimeMillis) };
}
