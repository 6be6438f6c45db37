import { z } from "zod";

/*
 * The decoded payloads of Apple's signed data, as far as subgate reads them. Signed is not sane: each
 * field subgate uses is type-checked here, every one optional unless Apple always sends it. Unknown
 * fields are kept (Apple adds fields often), and unknown enum values are plain strings: a new type
 * or subtype is stored and ignored, never refused.
 */

const ms = z.number().int();
const text = z.string();

/** `data`: a notification about a transaction (every type but the summary and token forms). */
export const AppleNotificationDataSchema = z.looseObject({
  appAppleId: z.number().int().optional(),
  bundleId: text,
  bundleVersion: text.optional(),
  environment: text,
  signedTransactionInfo: text.optional(),
  signedRenewalInfo: text.optional(),
  status: z.number().int().optional(),
  consumptionRequestReason: text.optional(),
});

/** `summary`: the result of a mass renewal-date extension (RENEWAL_EXTENSION/SUMMARY). */
export const AppleSummarySchema = z.looseObject({
  appAppleId: z.number().int().optional(),
  bundleId: text,
  environment: text,
  requestIdentifier: text.optional(),
  productId: text.optional(),
  succeededCount: z.number().optional(),
  failedCount: z.number().optional(),
});

/** `externalPurchaseToken` (EXTERNAL_PURCHASE_TOKEN): names no environment; sandbox ids start with SANDBOX. */
export const AppleExternalPurchaseTokenSchema = z.looseObject({
  externalPurchaseId: text.optional(),
  tokenCreationDate: ms.optional(),
  appAppleId: z.number().int().optional(),
  bundleId: text,
});

/** `appData` (RESCIND_CONSENT). */
export const AppleAppDataSchema = z.looseObject({
  appAppleId: z.number().int().optional(),
  bundleId: text,
  environment: text,
  signedAppTransactionInfo: text.optional(),
});

/** responseBodyV2DecodedPayload: exactly one of data, summary, externalPurchaseToken, appData. */
export const AppleNotificationPayloadSchema = z.looseObject({
  notificationType: text.min(1),
  subtype: text.min(1).optional(),
  notificationUUID: text.min(1),
  version: text.optional(),
  signedDate: ms,
  data: AppleNotificationDataSchema.optional(),
  summary: AppleSummarySchema.optional(),
  externalPurchaseToken: AppleExternalPurchaseTokenSchema.optional(),
  appData: AppleAppDataSchema.optional(),
});
export type AppleNotificationPayload = z.infer<typeof AppleNotificationPayloadSchema>;

/** JWSTransactionDecodedPayload. */
export const AppleTransactionSchema = z.looseObject({
  originalTransactionId: text.min(1),
  transactionId: text.min(1),
  webOrderLineItemId: text.optional(),
  bundleId: text,
  productId: text.min(1),
  subscriptionGroupIdentifier: text.optional(),
  purchaseDate: ms.optional(),
  originalPurchaseDate: ms.optional(),
  expiresDate: ms.optional(),
  quantity: z.number().int().optional(),
  type: text.optional(),
  appAccountToken: text.optional(),
  inAppOwnershipType: text.optional(),
  signedDate: ms,
  revocationReason: z.number().int().optional(),
  revocationDate: ms.optional(),
  revocationType: text.optional(),
  revocationPercentage: z.number().int().optional(),
  isUpgraded: z.boolean().optional(),
  offerType: z.number().int().optional(),
  offerIdentifier: text.optional(),
  offerDiscountType: text.optional(),
  offerPeriod: text.optional(),
  environment: text,
  storefront: text.optional(),
  storefrontId: text.optional(),
  transactionReason: text.optional(),
  currency: text.optional(),
  price: z.number().int().optional(),
  appTransactionId: text.optional(),
});
export type AppleTransaction = z.infer<typeof AppleTransactionSchema>;

/** JWSRenewalInfoDecodedPayload. */
export const AppleRenewalInfoSchema = z.looseObject({
  expirationIntent: z.number().int().optional(),
  originalTransactionId: text.min(1),
  autoRenewProductId: text.optional(),
  productId: text.optional(),
  autoRenewStatus: z.number().int().optional(),
  isInBillingRetryPeriod: z.boolean().optional(),
  priceIncreaseStatus: z.number().int().optional(),
  gracePeriodExpiresDate: ms.optional(),
  offerType: z.number().int().optional(),
  offerIdentifier: text.optional(),
  signedDate: ms,
  environment: text,
  recentSubscriptionStartDate: ms.optional(),
  renewalDate: ms.optional(),
  currency: text.optional(),
  renewalPrice: z.number().int().optional(),
  appAccountToken: text.optional(),
});
export type AppleRenewalInfo = z.infer<typeof AppleRenewalInfoSchema>;

/** The fields of `data` that hold a JWS of their own. */
export type NestedJwsField = "signedTransactionInfo" | "signedRenewalInfo";

/**
 * Opens the signed transaction and renewal info of a notification's `data`, in parallel, and checks
 * each one's shape: the one place that knows which field holds which payload. `open` verifies (at the
 * ingress) or decodes what was verified before (in the worker); `check` says how a shape is refused.
 */
export async function openNestedJws(
  data: AppleNotificationPayload["data"],
  open: (jws: string, field: NestedJwsField) => Promise<Record<string, unknown>>,
  check: <Schema extends z.ZodType>(schema: Schema, value: Record<string, unknown>, field: NestedJwsField) => z.output<Schema>,
): Promise<{ transaction: AppleTransaction | null; renewal: AppleRenewalInfo | null }> {
  const opened = async <Schema extends z.ZodType>(field: NestedJwsField, schema: Schema): Promise<z.output<Schema> | null> => {
    const jws = data?.[field];
    return jws === undefined ? null : check(schema, await open(jws, field), field);
  };
  const [transaction, renewal] = await Promise.all([
    opened("signedTransactionInfo", AppleTransactionSchema),
    opened("signedRenewalInfo", AppleRenewalInfoSchema),
  ]);
  return { transaction, renewal };
}

/** A verified V2 notification with its nested signed data, decoded: what normalization reads. */
export interface DecodedAppleNotification {
  payload: AppleNotificationPayload;
  transaction: AppleTransaction | null;
  renewal: AppleRenewalInfo | null;
}
