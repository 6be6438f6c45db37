import { z } from "zod";

/*
 * The legacy V1 body (responseBodyV1), deprecated by Apple since June 2023 but still selectable. V1 is
 * JSON with strings for everything: milliseconds are strings of digits, flags "true"/"false" or "1"/"0".
 * They are parsed strictly (a time that is not digits makes the body malformed) and turned into numbers
 * and booleans here, so the mapping reads typed values. Objects are loose (Apple adds fields) and every
 * field but notification_type is optional.
 */

/** A time in ms as V1 writes it: "1700000000000". Digits only, and small enough to be exact in a double. */
const msString = z
  .string()
  .regex(/^\d+$/, "must be a time in milliseconds, as a string of digits")
  .transform(Number)
  .refine(Number.isSafeInteger, "is too large a time in milliseconds");

/** "true"/"false" (the body's and the receipt's flags) or "1"/"0" (pending_renewal_info's). */
const flag = z.enum(["true", "false", "1", "0"]).transform((value) => value === "true" || value === "1");

/** An enumerated integer V1 writes as a string ("1") in receipts and may write as a number in the body. */
const code = z.union([z.string().regex(/^\d+$/, "must be a string of digits"), z.number().int().nonnegative()]).transform(Number);

const text = z.string();

/** One transaction of `unified_receipt.latest_receipt_info`. */
export const AppleV1ReceiptInfoSchema = z.looseObject({
  original_transaction_id: text.min(1).optional(),
  transaction_id: text.min(1).optional(),
  product_id: text.min(1).optional(),
  purchase_date_ms: msString.optional(),
  expires_date_ms: msString.optional(),
  cancellation_date_ms: msString.optional(),
  /** "1": refunded for an issue in the app; "0": for another reason. Present on refunded transactions. */
  cancellation_reason: text.optional(),
  is_trial_period: flag.optional(),
  is_in_intro_offer_period: flag.optional(),
  is_upgraded: flag.optional(),
  web_order_line_item_id: text.optional(),
  in_app_ownership_type: text.optional(),
  offer_code_ref_name: text.optional(),
  promotional_offer_id: text.optional(),
  app_account_token: text.optional(),
});
export type AppleV1ReceiptInfo = z.output<typeof AppleV1ReceiptInfoSchema>;

/** One subscription's entry of `unified_receipt.pending_renewal_info`. */
export const AppleV1PendingRenewalSchema = z.looseObject({
  auto_renew_status: flag.optional(),
  auto_renew_product_id: text.optional(),
  product_id: text.optional(),
  original_transaction_id: text.optional(),
  expiration_intent: code.optional(),
  is_in_billing_retry_period: flag.optional(),
  grace_period_expires_date_ms: msString.optional(),
});
export type AppleV1PendingRenewal = z.output<typeof AppleV1PendingRenewalSchema>;

export const AppleV1UnifiedReceiptSchema = z.looseObject({
  environment: z.enum(["Sandbox", "Production"]).optional(),
  latest_receipt: text.optional(),
  latest_receipt_info: z.array(AppleV1ReceiptInfoSchema).optional(),
  pending_renewal_info: z.array(AppleV1PendingRenewalSchema).optional(),
  status: z.number().int().optional(),
});

export const AppleV1BodySchema = z.looseObject({
  notification_type: text.min(1),
  /** The app's shared secret: the ingress compares it and stores the body without it. */
  password: text.optional(),
  environment: z.enum(["Sandbox", "PROD"]).optional(),
  bid: text.optional(),
  bvrs: text.optional(),
  auto_renew_status: flag.optional(),
  auto_renew_product_id: text.optional(),
  auto_renew_status_change_date_ms: msString.optional(),
  expiration_intent: code.optional(),
  unified_receipt: AppleV1UnifiedReceiptSchema.optional(),
});
/** A parsed V1 body: times as numbers (ms), flags as booleans. */
export type AppleV1Body = z.output<typeof AppleV1BodySchema>;

function receiptInfo(body: AppleV1Body): AppleV1ReceiptInfo[] {
  return body.unified_receipt?.latest_receipt_info ?? [];
}

/** The newest entry by purchase time, among those `include` accepts; null when there is none. */
function newest(
  entries: readonly AppleV1ReceiptInfo[],
  include: (entry: AppleV1ReceiptInfo) => boolean = () => true,
): AppleV1ReceiptInfo | null {
  let found: AppleV1ReceiptInfo | null = null;
  for (const entry of entries) {
    if (!include(entry)) continue;
    if (found === null || (entry.purchase_date_ms ?? -1) > (found.purchase_date_ms ?? -1)) found = entry;
  }
  return found;
}

/** Types whose event is the cancellation of a transaction: a refund, or a Family Sharing revocation. */
const CANCELLATION_TYPES = new Set(["CANCEL", "REFUND", "REVOKE"]);

/**
 * The transaction a V1 notification is about. latest_receipt_info lists every transaction of the
 * receipt, of every product: the newest one for the body's product (auto_renew_product_id), else the
 * newest of all. A cancellation (CANCEL, REFUND, REVOKE) is about the newest cancelled transaction, which
 * need not be the newest one (a refunded consumable bought before a later purchase).
 */
export function v1SubjectTransaction(body: AppleV1Body): AppleV1ReceiptInfo | null {
  const entries = receiptInfo(body);
  const productId = body.auto_renew_product_id;
  const forProduct = (entry: AppleV1ReceiptInfo) => productId === undefined || entry.product_id === productId;
  if (CANCELLATION_TYPES.has(body.notification_type)) {
    const cancelled = newest(entries, (entry) => entry.cancellation_date_ms !== undefined && forProduct(entry));
    const anyCancelled = cancelled ?? newest(entries, (entry) => entry.cancellation_date_ms !== undefined);
    if (anyCancelled !== null) return anyCancelled;
  }
  return newest(entries, forProduct) ?? newest(entries);
}

/** The subscription a V1 notification concerns: its transaction's original_transaction_id. */
export function v1SubscriptionKey(body: AppleV1Body): string | null {
  return v1SubjectTransaction(body)?.original_transaction_id ?? null;
}

/**
 * When the event the V1 notification reports happened (V1 is unsigned and carries no notification
 * time): the renewal-status change time for DID_CHANGE_RENEWAL_STATUS, the cancellation time for
 * CANCEL/REFUND/REVOKE, else the purchase time of the newest transaction. Null when the body has none.
 */
export function v1EventTimeMs(body: AppleV1Body): number | null {
  const newestPurchase = newest(receiptInfo(body))?.purchase_date_ms ?? null;
  if (body.notification_type === "DID_CHANGE_RENEWAL_STATUS") return body.auto_renew_status_change_date_ms ?? newestPurchase;
  if (CANCELLATION_TYPES.has(body.notification_type)) return v1SubjectTransaction(body)?.cancellation_date_ms ?? newestPurchase;
  return newestPurchase;
}

/** The pending renewal info of the subscription: the entry with its original_transaction_id, else the only one. */
export function v1PendingRenewal(body: AppleV1Body, originalTransactionId: string | undefined): AppleV1PendingRenewal | null {
  const entries = body.unified_receipt?.pending_renewal_info ?? [];
  const matching = entries.find(
    (entry) => entry.original_transaction_id !== undefined && entry.original_transaction_id === originalTransactionId,
  );
  if (matching !== undefined) return matching;
  return entries.length === 1 ? (entries[0] ?? null) : null;
}
