import { firstIssue } from "@subgate/core";
import { TimeMsSchema } from "@subgate/schema";
import { z } from "zod";

/*
 * What subgate reads from the Android Publisher API's answers (purchases.subscriptionsv2.get and
 * purchases.products.get), with the field names of @googleapis/androidpublisher v37's types
 * (androidpublisher_v3.Schema$SubscriptionPurchaseV2, Schema$ProductPurchase, ...). The answer is
 * untrusted input: every field read is checked here, unknown fields are dropped, and an answer that does
 * not fit is refused with the path of the first field that is wrong.
 *
 * Google's JSON follows proto3's rules: a field at its default (false, 0, "") is usually left out, and
 * the generated types allow null for every field. So absent, null and "" all mean "not set" here, and
 * an absent boolean or number is its default (an auto-renewing plan without autoRenewEnabled does not
 * renew). Enum-like strings (subscriptionState, priceChangeMode) stay plain strings: a value Google adds
 * later is mapped as unknown, never refused.
 */

/** Why an answer from Google cannot be used: a permanent failure of the notification (retrying reads the same answer). */
export class GooglePurchaseResponseError extends Error {
  override readonly name = "GooglePurchaseResponseError";
}

/** An optional string: absent, null and "" are all "not set" (proto3 leaves empty strings out). */
function optionalText(max: number) {
  return z
    .string()
    .max(max)
    .nullish()
    .transform((value) => (value === undefined || value === null || value === "" ? null : value));
}

/** A message Google may leave out or send as null; its own fields are optional. */
function optionalMessage<Shape extends z.ZodRawShape>(shape: Shape) {
  return z
    .object(shape)
    .nullish()
    .transform((value) => value ?? null);
}

/** A presence-only message (testPurchase, freeTrial, systemInitiatedCancellation, ...): set or not. */
const marker = z
  .object({})
  .nullish()
  .transform((value) => value !== undefined && value !== null);

const productId = z.string().min(1).max(255);
const orderId = optionalText(255);
/** Purchase tokens are long opaque strings; the subscription key's own limit is checked with the result. */
const purchaseToken = optionalText(4096);
/** Google caps the obfuscated ids at 64 characters; a tracked subscription stores up to 512. */
const accountId = optionalText(512);

/** google.protobuf.Timestamp in JSON: RFC 3339 with 0 to 9 fractional digits, `Z` or an offset; as ms. */
const timestamp = z.iso
  .datetime({ offset: true, message: "must be an RFC 3339 time" })
  .transform((value) => Math.trunc(Date.parse(value)))
  .pipe(TimeMsSchema);
const optionalTimestamp = timestamp.nullish().transform((value) => value ?? null);

/** int64 fields in JSON are strings of digits (ProductPurchase.purchaseTimeMillis), sometimes numbers. */
const int64Ms = z
  .union([z.string().regex(/^\d{1,16}$/, "must be a whole number of milliseconds"), z.number().int().nonnegative()])
  .transform(Number)
  .pipe(TimeMsSchema);

/** ISO 3166-1 alpha-2 (`regionCode`), upper case. */
const regionCode = z
  .string()
  .regex(/^[A-Za-z]{2}$/, "must be an ISO 3166-1 alpha-2 code")
  .nullish()
  .transform((value) => value?.toUpperCase() ?? null);

/**
 * google.type.Money as a decimal: `units` (int64, a string) plus `nanos` billionths, which share the
 * sign of `units` ($-1.75 is units -1, nanos -750000000). The decimal is built as text and read once, so
 * 9 units and 990000000 nanos are exactly 9.99, with no float noise.
 */
export const MoneySchema = z
  .object({
    currencyCode: z
      .string()
      .regex(/^[A-Za-z]{3}$/, "must be an ISO 4217 code")
      .transform((code) => code.toUpperCase()),
    units: z
      .union([z.string().regex(/^-?\d{1,15}$/, "must be a whole number"), z.number().int().min(-1e15).max(1e15)])
      .nullish()
      .transform((value) => Number(value ?? 0)),
    nanos: z
      .number()
      .int()
      .min(-999_999_999)
      .max(999_999_999)
      .nullish()
      .transform((value) => value ?? 0),
  })
  .refine((money) => !(money.units > 0 && money.nanos < 0) && !(money.units < 0 && money.nanos > 0), {
    message: "units and nanos must have the same sign",
  })
  .transform((money) => {
    const negative = money.units < 0 || money.nanos < 0;
    const text = `${Math.abs(money.units)}.${String(Math.abs(money.nanos)).padStart(9, "0")}`;
    // `+ 0` turns -0 into 0.
    return { currency: money.currencyCode, amount: (negative ? -Number(text) : Number(text)) + 0 };
  });
export type GoogleMoney = z.output<typeof MoneySchema>;

/** The pricing phase a line item is in: exactly one of OfferPhase's four fields, when Google says. */
export type OfferPhaseKind = "base" | "free_trial" | "introductory" | "proration";

const OfferPhaseSchema = z
  .object({ basePrice: marker, freeTrial: marker, introductoryPrice: marker, prorationPeriod: marker })
  .nullish()
  .transform((phase, ctx): OfferPhaseKind | null => {
    if (phase === undefined || phase === null) return null;
    const set = (
      [
        ["base", phase.basePrice],
        ["free_trial", phase.freeTrial],
        ["introductory", phase.introductoryPrice],
        ["proration", phase.prorationPeriod],
      ] as const
    ).filter(([, present]) => present);
    if (set.length > 1) {
      ctx.addIssue({ code: "custom", message: "sets more than one of basePrice, freeTrial, introductoryPrice and prorationPeriod" });
      return z.NEVER;
    }
    // An empty offerPhase, or one with only a field Google added later, says no phase subgate knows.
    return set[0]?.[0] ?? null;
  });

/** Schema$SubscriptionPurchaseLineItem, as far as subgate reads it. */
export const SubscriptionLineItemSchema = z
  .object({
    productId,
    expiryTime: optionalTimestamp,
    latestSuccessfulOrderId: orderId,
    autoRenewingPlan: optionalMessage({
      autoRenewEnabled: z
        .boolean()
        .nullish()
        .transform((value) => value ?? false),
      recurringPrice: MoneySchema.nullish().transform((value) => value ?? null),
      priceChangeDetails: optionalMessage({ priceChangeMode: optionalText(64) }),
    }),
    prepaidPlan: marker,
    offerDetails: optionalMessage({ basePlanId: optionalText(255), offerId: optionalText(255) }),
    offerPhase: OfferPhaseSchema,
    itemReplacement: optionalMessage({ productId: optionalText(255), basePlanId: optionalText(255) }),
    deferredItemReplacement: optionalMessage({ productId: optionalText(255) }),
    signupPromotion: optionalMessage({ vanityCode: optionalMessage({ promotionCode: optionalText(255) }) }),
  })
  .refine((item) => !(item.autoRenewingPlan !== null && item.prepaidPlan), {
    message: "has both autoRenewingPlan and prepaidPlan",
  });
export type SubscriptionLineItem = z.output<typeof SubscriptionLineItemSchema>;

/** A `kind` that names another resource means the caller passed the wrong answer: refuse it rather than misread it. */
function kindOf(expected: string) {
  return z
    .string()
    .nullish()
    .refine((kind) => kind === undefined || kind === null || kind === expected, { message: `must be ${expected}` });
}

/** Schema$SubscriptionPurchaseV2 (purchases.subscriptionsv2.get), as far as subgate reads it. */
export const SubscriptionPurchaseV2Schema = z.object({
  kind: kindOf("androidpublisher#subscriptionPurchaseV2"),
  // Proto3 JSON leaves a default enum out: no field is SUBSCRIPTION_STATE_UNSPECIFIED.
  subscriptionState: z.string().min(1).max(64).default("SUBSCRIPTION_STATE_UNSPECIFIED"),
  // Google says every purchase has its items (all auto-renewing or all prepaid); one with none says nothing to map.
  lineItems: z.array(SubscriptionLineItemSchema).min(1, "must list at least one item").max(100),
  startTime: optionalTimestamp,
  regionCode,
  linkedPurchaseToken: purchaseToken,
  testPurchase: marker,
  canceledStateContext: optionalMessage({
    userInitiatedCancellation: marker,
    systemInitiatedCancellation: marker,
    developerInitiatedCancellation: marker,
    replacementCancellation: marker,
  }),
  pausedStateContext: optionalMessage({ autoResumeTime: optionalTimestamp }),
  externalAccountIdentifiers: optionalMessage({
    obfuscatedExternalAccountId: accountId,
    obfuscatedExternalProfileId: accountId,
  }),
  outOfAppPurchaseContext: optionalMessage({ expiredPurchaseToken: purchaseToken }),
});
export type SubscriptionPurchaseV2 = z.output<typeof SubscriptionPurchaseV2Schema>;

/** ProductPurchase.purchaseState: 0 purchased, 1 canceled, 2 pending (absent: proto3's default, purchased). */
export const PRODUCT_PURCHASE_STATE = { purchased: 0, canceled: 1, pending: 2 } as const;
/** ProductPurchase.purchaseType: set only outside the standard flow; 0 is a license tester's test purchase. */
export const PRODUCT_PURCHASE_TYPE_TEST = 0;

/** Schema$ProductPurchase (purchases.products.get), as far as subgate reads it. */
export const ProductPurchaseSchema = z.object({
  kind: kindOf("androidpublisher#productPurchase"),
  purchaseState: z
    .number()
    .int()
    .min(0)
    .max(2)
    .nullish()
    .transform((value) => value ?? PRODUCT_PURCHASE_STATE.purchased),
  purchaseType: z
    .number()
    .int()
    .nonnegative()
    .nullish()
    .transform((value) => value ?? null),
  purchaseTimeMillis: int64Ms.nullish().transform((value) => value ?? null),
  orderId,
  productId: optionalText(255),
  regionCode,
  obfuscatedExternalAccountId: accountId,
  obfuscatedExternalProfileId: accountId,
});
export type ProductPurchase = z.output<typeof ProductPurchaseSchema>;

function parseWith<Schema extends z.ZodType>(schema: Schema, value: unknown, what: string): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new GooglePurchaseResponseError(`Google's ${what} answer does not fit: ${firstIssue(parsed.error, { root: "the answer" })}`);
  }
  return parsed.data;
}

/** Reads a purchases.subscriptionsv2.get answer; throws GooglePurchaseResponseError naming the first wrong field. */
export function parseSubscriptionPurchase(value: unknown): SubscriptionPurchaseV2 {
  return parseWith(SubscriptionPurchaseV2Schema, value, "purchases.subscriptionsv2.get");
}

/** Reads a purchases.products.get answer; throws GooglePurchaseResponseError naming the first wrong field. */
export function parseProductPurchase(value: unknown): ProductPurchase {
  return parseWith(ProductPurchaseSchema, value, "purchases.products.get");
}
