import { randomUUID } from "node:crypto";
import { type AppleJwsSigner, signAppleJws } from "./jws.ts";

/*
 * App Store Server Notifications V2 as Apple sends them, signed at test time with a test chain:
 * `{"signedPayload": JWS}` whose payload's `data` carries a signed transaction and renewal info.
 * Field names and shapes are Apple's (responseBodyV2DecodedPayload, JWSTransactionDecodedPayload,
 * JWSRenewalInfoDecodedPayload).
 */

export const TEST_BUNDLE_ID = "com.example.subgate";
export const TEST_APP_APPLE_ID = 1234567890;
const DAY_MS = 86_400_000;

export type AppleEnvironmentName = "Sandbox" | "Production" | "Xcode" | "LocalTesting";

export interface AppleNotificationInput {
  notificationType: string;
  subtype?: string;
  notificationUUID?: string;
  /** Default: now. */
  signedDate?: number;
  environment?: AppleEnvironmentName;
  bundleId?: string;
  /** Default TEST_APP_APPLE_ID in production, absent in sandbox (as Apple sends it). */
  appAppleId?: number;
  /** Which of the four forms the payload takes. Default `data`. */
  form?: "data" | "summary" | "externalPurchaseToken" | "appData";
  /** Fields over the default transaction; null: no signedTransactionInfo. */
  transaction?: Record<string, unknown> | null;
  /** Fields over the default renewal info; null: no signedRenewalInfo. */
  renewal?: Record<string, unknown> | null;
  /** Extra fields of `data` (status, consumptionRequestReason). */
  data?: Record<string, unknown>;
}

export interface SignedAppleNotification {
  /** The request body, `{"signedPayload": ...}`. */
  body: string;
  signedPayload: string;
  payload: Record<string, unknown>;
  transaction: Record<string, unknown> | null;
  renewal: Record<string, unknown> | null;
}

/** A transaction of an auto-renewable subscription bought a day ago, renewing monthly. */
export function appleTransaction(environment: AppleEnvironmentName, signedDate: number, fields: Record<string, unknown> = {}) {
  return {
    originalTransactionId: "2000000000000001",
    transactionId: "2000000000000002",
    webOrderLineItemId: "2000000000000003",
    bundleId: TEST_BUNDLE_ID,
    productId: "pro.monthly",
    subscriptionGroupIdentifier: "21000001",
    purchaseDate: signedDate - DAY_MS,
    originalPurchaseDate: signedDate - DAY_MS,
    expiresDate: signedDate + 29 * DAY_MS,
    quantity: 1,
    type: "Auto-Renewable Subscription",
    inAppOwnershipType: "PURCHASED",
    signedDate,
    environment,
    transactionReason: "PURCHASE",
    storefront: "USA",
    storefrontId: "143441",
    price: 9990,
    currency: "USD",
    appTransactionId: "704000000000000001",
    ...fields,
  };
}

export function appleRenewalInfo(environment: AppleEnvironmentName, signedDate: number, fields: Record<string, unknown> = {}) {
  return {
    originalTransactionId: "2000000000000001",
    autoRenewProductId: "pro.monthly",
    productId: "pro.monthly",
    autoRenewStatus: 1,
    signedDate,
    environment,
    recentSubscriptionStartDate: signedDate - DAY_MS,
    renewalDate: signedDate + 29 * DAY_MS,
    currency: "USD",
    renewalPrice: 9990,
    ...fields,
  };
}

/** The decoded notification payload (unsigned); nested JWS are signed with `sign`. */
export function appleNotificationPayload(input: AppleNotificationInput, sign: (payload: object) => string) {
  const signedDate = input.signedDate ?? Date.now();
  const environment = input.environment ?? "Sandbox";
  const bundleId = input.bundleId ?? TEST_BUNDLE_ID;
  const appAppleId = input.appAppleId ?? (environment === "Production" ? TEST_APP_APPLE_ID : undefined);
  const transaction = input.transaction === null ? null : appleTransaction(environment, signedDate, input.transaction);
  const renewal = input.renewal === null ? null : appleRenewalInfo(environment, signedDate, input.renewal);
  const identity = { ...(appAppleId === undefined ? {} : { appAppleId }), bundleId };
  const form = input.form ?? "data";
  const body: Record<string, unknown> = {
    notificationType: input.notificationType,
    ...(input.subtype === undefined ? {} : { subtype: input.subtype }),
    notificationUUID: input.notificationUUID ?? randomUUID(),
    version: "2.0",
    signedDate,
  };
  if (form === "data") {
    body.data = {
      ...identity,
      bundleVersion: "42",
      environment,
      ...(transaction ? { signedTransactionInfo: sign(transaction) } : {}),
      ...(renewal ? { signedRenewalInfo: sign(renewal) } : {}),
      status: 1,
      ...input.data,
    };
  } else if (form === "summary") {
    body.summary = {
      ...identity,
      environment,
      requestIdentifier: randomUUID(),
      productId: "pro.monthly",
      succeededCount: 10,
      failedCount: 0,
    };
  } else if (form === "externalPurchaseToken") {
    const prefix = environment === "Production" ? "" : "SANDBOX_";
    body.externalPurchaseToken = { ...identity, externalPurchaseId: `${prefix}${randomUUID()}`, tokenCreationDate: signedDate };
  } else {
    body.appData = { ...identity, environment, signedAppTransactionInfo: sign({ bundleId, receiptType: environment, signedDate }) };
  }
  return { payload: body, transaction: form === "data" ? transaction : null, renewal: form === "data" ? renewal : null };
}

/** A V2 notification signed with `chain`, as Apple posts it. */
export function signAppleNotification(chain: AppleJwsSigner, input: AppleNotificationInput): SignedAppleNotification {
  const sign = (payload: object) => signAppleJws(payload, chain);
  const { payload, transaction, renewal } = appleNotificationPayload(input, sign);
  const signedPayload = sign(payload);
  return { body: JSON.stringify({ signedPayload }), signedPayload, payload, transaction, renewal };
}
