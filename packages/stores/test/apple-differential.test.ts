// @peculiar/x509 (used by subgate's verifier and the test chains) needs the Reflect metadata API first.
import "reflect-metadata";
import { Environment, SignedDataVerifier, VerificationException, VerificationStatus } from "@apple/app-store-server-library";
import {
  type AppleEnvironmentName,
  type AppleNotificationInput,
  type AppleTestChain,
  appleNotificationPayload,
  createAppleTestChain,
  type SignAppleJwsOptions,
  signAppleJws,
  TEST_APP_APPLE_ID,
  TEST_BUNDLE_ID,
} from "@subgate/testing/apple";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { VerificationError, type VerificationFailure } from "../src/adapter.ts";
import type { AppleConfig } from "../src/apple/config.ts";
import { AppleJwsVerifier } from "../src/apple/jws/index.ts";
import { verifyAppleV2 } from "../src/apple/v2/verify.ts";

/*
 * Differential test: subgate's Apple V2 verifier against Apple's own App Store Server Library on the
 * same inputs. Apple's decision for a notification is its three calls together, as an app using the
 * library makes them: verifyAndDecodeNotification, then verifyAndDecodeTransaction on
 * data.signedTransactionInfo and verifyAndDecodeRenewalInfo on data.signedRenewalInfo when present;
 * any throw is a rejection. Both run offline: certificate dates are checked at the payload's
 * signedDate, nothing is fetched. Apple's verifier is bound to one environment; it is built for the
 * environment the notification claims, as a gateway would pick it.
 *
 * The two must agree on accept/reject and on every decoded field, except for INTENDED_DIVERGENCES.
 */

const DAY_MS = 86_400_000;
const YEAR_MS = 365 * DAY_MS;
const NOW = Date.now();
const OTHER_BUNDLE_ID = "com.example.someone-else";

const CONFIG: AppleConfig = { bundleId: TEST_BUNDLE_ID, appAppleId: TEST_APP_APPLE_ID, sharedSecret: null };

const APPLE_ENVIRONMENT: Record<AppleEnvironmentName, Environment> = {
  Sandbox: Environment.SANDBOX,
  Production: Environment.PRODUCTION,
  Xcode: Environment.XCODE,
  LocalTesting: Environment.LOCAL_TESTING,
};

// ---------------------------------------------------------------------------------------------------
// Fixtures: one trusted chain, and chains each broken in one way (all but one under the trusted root).

interface Fixtures {
  chain: AppleTestChain;
  untrusted: AppleTestChain;
  leafWithoutOid: AppleTestChain;
  intermediateWithoutOid: AppleTestChain;
  leafNotSignedByIntermediate: AppleTestChain;
  intermediateNotCa: AppleTestChain;
  leafExpiredLastYear: AppleTestChain;
  leafExpiredLastMonth: AppleTestChain;
  p384Leaf: AppleTestChain;
  strangerKey: KeyObject;
  /** One subgate verifier shared by every case: its chain cache must never change a decision. */
  sharedVerifier: AppleJwsVerifier;
}

let f: Fixtures;

beforeAll(async () => {
  const chain = await createAppleTestChain();
  const under = { underRootOf: chain };
  f = {
    chain,
    untrusted: await createAppleTestChain(),
    leafWithoutOid: await createAppleTestChain({ ...under, leafOid: false }),
    intermediateWithoutOid: await createAppleTestChain({ ...under, intermediateOid: false }),
    leafNotSignedByIntermediate: await createAppleTestChain({ ...under, leafSignedByStranger: true }),
    intermediateNotCa: await createAppleTestChain({ ...under, intermediateIsCa: false }),
    leafExpiredLastYear: await createAppleTestChain({
      ...under,
      validity: { leaf: { notBefore: new Date(NOW - 2 * YEAR_MS), notAfter: new Date(NOW - YEAR_MS) } },
    }),
    leafExpiredLastMonth: await createAppleTestChain({
      ...under,
      validity: { leaf: { notBefore: new Date(NOW - YEAR_MS), notAfter: new Date(NOW - 30 * DAY_MS) } },
    }),
    p384Leaf: await createAppleTestChain({ ...under, leafCurve: "P-384" }),
    strangerKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
    sharedVerifier: new AppleJwsVerifier({ trustedRoots: [chain.rootDer] }),
  };
});

interface Signed {
  signedPayload: string;
  /** What was signed, as JSON carries it. */
  payload: Record<string, unknown>;
  transaction: Record<string, unknown> | null;
  renewal: Record<string, unknown> | null;
}

const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * A notification whose outer JWS and nested JWS are signed by `outer` and `nested` (default: the
 * trusted chain, ES256). `nested` receives the payload, so it can forge one of them only.
 */
function notification(
  input: AppleNotificationInput,
  outer: (payload: object) => string = (payload) => signAppleJws(payload, f.chain),
  nested: (payload: object) => string = outer,
): Signed {
  const { payload, transaction, renewal } = appleNotificationPayload(input, nested);
  return { signedPayload: outer(payload), payload: json(payload), transaction: json(transaction), renewal: json(renewal) };
}

/** Every JWS of the notification signed the same (broken) way. */
function signedWith(
  chain: (f: Fixtures) => AppleTestChain,
  options: SignAppleJwsOptions = {},
  input: Partial<AppleNotificationInput> = {},
) {
  return () =>
    notification({ notificationType: "DID_RENEW", ...input }, (payload) => signAppleJws(payload, chain(f), options)).signedPayload;
}

const isTransaction = (payload: object) => "transactionId" in payload;
const isRenewalInfo = (payload: object) => "autoRenewStatus" in payload;

function replaceSegment(jws: string, index: 1 | 2, replace: (bytes: Buffer) => Buffer): string {
  const parts = jws.split(".");
  parts[index] = replace(Buffer.from(parts[index]!, "base64url")).toString("base64url");
  return parts.join(".");
}

// ---------------------------------------------------------------------------------------------------
// The two decisions.

type AppleCall = "verifyAndDecodeNotification" | "verifyAndDecodeTransaction" | "verifyAndDecodeRenewalInfo";
type AppleStatus = keyof typeof VerificationStatus;

type AppleOutcome =
  | {
      accepted: true;
      payload: Record<string, unknown>;
      transaction: Record<string, unknown> | null;
      renewal: Record<string, unknown> | null;
    }
  | { accepted: false; call: AppleCall; status: AppleStatus; notificationAloneAccepted: boolean };

async function appleDecision(signedPayload: string, environment: Environment): Promise<AppleOutcome> {
  const verifier = new SignedDataVerifier([Buffer.from(f.chain.rootDer)], false, environment, TEST_BUNDLE_ID, TEST_APP_APPLE_ID);
  let call: AppleCall = "verifyAndDecodeNotification";
  try {
    const payload = await verifier.verifyAndDecodeNotification(signedPayload);
    call = "verifyAndDecodeTransaction";
    const signedTransaction = payload.data?.signedTransactionInfo;
    const transaction = signedTransaction === undefined ? null : await verifier.verifyAndDecodeTransaction(signedTransaction);
    call = "verifyAndDecodeRenewalInfo";
    const signedRenewal = payload.data?.signedRenewalInfo;
    const renewal = signedRenewal === undefined ? null : await verifier.verifyAndDecodeRenewalInfo(signedRenewal);
    return {
      accepted: true,
      payload: payload as unknown as Record<string, unknown>,
      transaction: transaction as unknown as Record<string, unknown> | null,
      renewal: renewal as unknown as Record<string, unknown> | null,
    };
  } catch (error) {
    if (!(error instanceof VerificationException)) throw error;
    const status = VerificationStatus[error.status] as AppleStatus;
    return { accepted: false, call, status, notificationAloneAccepted: call !== "verifyAndDecodeNotification" };
  }
}

type Verified = Awaited<ReturnType<typeof verifyAppleV2>>;
type SubgateOutcome =
  | ({ accepted: true; verified: Verified["verified"] } & Verified["decoded"])
  | { accepted: false; failure: VerificationFailure; reason: string };

/**
 * subgate's decision, made twice: by a fresh verifier (nothing cached) and by the verifier shared by
 * every case (whose chain cache has seen all of them); the two must be identical.
 */
async function subgateDecision(signedPayload: string, allowLocalEnvironments = false): Promise<SubgateOutcome> {
  const run = async (verifier: AppleJwsVerifier): Promise<SubgateOutcome> => {
    try {
      const { verified, decoded } = await verifyAppleV2(signedPayload, CONFIG, { verifier, onlineChecks: false, allowLocalEnvironments });
      return { accepted: true, verified, ...decoded };
    } catch (error) {
      if (!(error instanceof VerificationError)) throw error;
      return { accepted: false, failure: error.failure, reason: error.reason };
    }
  };
  const fresh = await run(new AppleJwsVerifier({ trustedRoots: [f.chain.rootDer] }));
  const warm = await run(f.sharedVerifier);
  expect(warm, "the shared verifier's cache changed the decision").toEqual(fresh);
  return fresh;
}

/** Both accepted; every decoded object must match Apple's, field for field, and what was signed. */
function expectSameDecoding(subgate: SubgateOutcome, apple: AppleOutcome, signed: Signed) {
  if (!subgate.accepted) throw new Error(`subgate refused (${subgate.failure}): ${subgate.reason}`);
  if (!apple.accepted) throw new Error(`Apple refused at ${apple.call}: ${apple.status}`);
  const pairs = [
    ["payload", subgate.payload, apple.payload, signed.payload],
    ["transaction", subgate.transaction, apple.transaction, signed.transaction],
    ["renewal info", subgate.renewal, apple.renewal, signed.renewal],
  ] as const;
  for (const [what, ours, apples, original] of pairs) {
    if (original === null) {
      expect(ours, `${what}: subgate decoded one that was not sent`).toBeNull();
      expect(apples, `${what}: Apple decoded one that was not sent`).toBeNull();
      continue;
    }
    expect(ours, `${what}: subgate decoded none`).not.toBeNull();
    expect(apples, `${what}: Apple decoded none`).not.toBeNull();
    const mine = ours as Record<string, unknown>;
    const theirs = apples as Record<string, unknown>;
    const common = Object.keys(theirs).filter((key) => key in mine);
    expect(common.length, `${what}: no field in common`).toBeGreaterThan(0);
    expect(pick(mine, common), `${what}: the fields both decode`).toEqual(pick(theirs, common));
    // Neither drops nor invents a field, and both give back what was signed.
    expect(Object.keys(mine).sort(), `${what}: the field names`).toEqual(Object.keys(theirs).sort());
    expect(theirs, `${what}: Apple's decoding of what was signed`).toEqual(original);
  }
  // What subgate derives for the inbox agrees with Apple's decoded fields.
  expect(subgate.verified.storeNotificationId).toBe(apple.payload.notificationUUID);
  expect(subgate.verified.notificationType).toBe(apple.payload.notificationType);
  expect(subgate.verified.notificationSubtype).toBe(apple.payload.subtype ?? null);
  expect(subgate.verified.signedAt?.getTime()).toBe(apple.payload.signedDate);
  expect(subgate.verified.subscriptionKey).toBe(apple.transaction?.originalTransactionId ?? null);
}

function pick(object: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((key) => [key, object[key]]));
}

// ---------------------------------------------------------------------------------------------------
// Valid notifications: every type and form, in Sandbox and Production. Both must accept and agree.

type ValidInput = Omit<AppleNotificationInput, "environment" | "signedDate">;

const expired = (expirationIntent: number): Partial<ValidInput> => ({
  transaction: { expiresDate: NOW - DAY_MS },
  renewal: { autoRenewStatus: 0, expirationIntent },
  data: { status: 2 },
});

const VALID: readonly [string, ValidInput][] = [
  ["SUBSCRIBED INITIAL_BUY", { notificationType: "SUBSCRIBED", subtype: "INITIAL_BUY" }],
  [
    "SUBSCRIBED RESUBSCRIBE",
    { notificationType: "SUBSCRIBED", subtype: "RESUBSCRIBE", transaction: { originalPurchaseDate: NOW - 200 * DAY_MS } },
  ],
  ["DID_RENEW", { notificationType: "DID_RENEW", transaction: { transactionReason: "RENEWAL" } }],
  [
    "DID_RENEW BILLING_RECOVERY",
    { notificationType: "DID_RENEW", subtype: "BILLING_RECOVERY", transaction: { transactionReason: "RENEWAL" } },
  ],
  ["DID_CHANGE_RENEWAL_STATUS AUTO_RENEW_ENABLED", { notificationType: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_ENABLED" }],
  [
    "DID_CHANGE_RENEWAL_STATUS AUTO_RENEW_DISABLED",
    { notificationType: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", renewal: { autoRenewStatus: 0 } },
  ],
  [
    "DID_CHANGE_RENEWAL_PREF UPGRADE",
    { notificationType: "DID_CHANGE_RENEWAL_PREF", subtype: "UPGRADE", transaction: { productId: "pro.yearly", isUpgraded: false } },
  ],
  [
    "DID_CHANGE_RENEWAL_PREF DOWNGRADE",
    { notificationType: "DID_CHANGE_RENEWAL_PREF", subtype: "DOWNGRADE", renewal: { autoRenewProductId: "basic.monthly" } },
  ],
  ["DID_CHANGE_RENEWAL_PREF (no subtype)", { notificationType: "DID_CHANGE_RENEWAL_PREF" }],
  [
    "OFFER_REDEEMED",
    {
      notificationType: "OFFER_REDEEMED",
      transaction: { offerType: 3, offerIdentifier: "winback.50", offerDiscountType: "PAY_AS_YOU_GO", offerPeriod: "P1M" },
    },
  ],
  [
    "DID_FAIL_TO_RENEW GRACE_PERIOD",
    {
      notificationType: "DID_FAIL_TO_RENEW",
      subtype: "GRACE_PERIOD",
      renewal: { isInBillingRetryPeriod: true, gracePeriodExpiresDate: NOW + 6 * DAY_MS, expirationIntent: 2 },
      data: { status: 4 },
    },
  ],
  [
    "DID_FAIL_TO_RENEW (no subtype)",
    { notificationType: "DID_FAIL_TO_RENEW", renewal: { isInBillingRetryPeriod: true, expirationIntent: 2 }, data: { status: 3 } },
  ],
  ["GRACE_PERIOD_EXPIRED", { notificationType: "GRACE_PERIOD_EXPIRED", renewal: { isInBillingRetryPeriod: true }, data: { status: 3 } }],
  ["EXPIRED VOLUNTARY", { notificationType: "EXPIRED", subtype: "VOLUNTARY", ...expired(1) }],
  ["EXPIRED BILLING_RETRY", { notificationType: "EXPIRED", subtype: "BILLING_RETRY", ...expired(2) }],
  ["EXPIRED PRICE_INCREASE", { notificationType: "EXPIRED", subtype: "PRICE_INCREASE", ...expired(3) }],
  ["EXPIRED PRODUCT_NOT_FOR_SALE", { notificationType: "EXPIRED", subtype: "PRODUCT_NOT_FOR_SALE", ...expired(4) }],
  ["EXPIRED (no subtype)", { notificationType: "EXPIRED", ...expired(5) }],
  [
    "REFUND",
    {
      notificationType: "REFUND",
      transaction: { revocationDate: NOW - 60_000, revocationReason: 0, revocationType: "REFUND_FULL", revocationPercentage: 100000 },
      data: { status: 5 },
    },
  ],
  ["REFUND_REVERSED", { notificationType: "REFUND_REVERSED" }],
  ["REFUND_DECLINED", { notificationType: "REFUND_DECLINED" }],
  ["CONSUMPTION_REQUEST", { notificationType: "CONSUMPTION_REQUEST", data: { consumptionRequestReason: "UNINTENDED_PURCHASE" } }],
  [
    "REVOKE",
    {
      notificationType: "REVOKE",
      transaction: { inAppOwnershipType: "FAMILY_SHARED", revocationDate: NOW - 60_000, revocationReason: 0 },
      data: { status: 5 },
    },
  ],
  ["RENEWAL_EXTENDED", { notificationType: "RENEWAL_EXTENDED", transaction: { expiresDate: NOW + 36 * DAY_MS } }],
  ["RENEWAL_EXTENSION SUMMARY (summary form)", { notificationType: "RENEWAL_EXTENSION", subtype: "SUMMARY", form: "summary" }],
  ["RENEWAL_EXTENSION FAILURE", { notificationType: "RENEWAL_EXTENSION", subtype: "FAILURE" }],
  [
    "PRICE_INCREASE PENDING",
    { notificationType: "PRICE_INCREASE", subtype: "PENDING", renewal: { priceIncreaseStatus: 0, renewalPrice: 12990 } },
  ],
  [
    "PRICE_INCREASE ACCEPTED",
    { notificationType: "PRICE_INCREASE", subtype: "ACCEPTED", renewal: { priceIncreaseStatus: 1, renewalPrice: 12990 } },
  ],
  [
    "ONE_TIME_CHARGE",
    {
      notificationType: "ONE_TIME_CHARGE",
      transaction: {
        productId: "coins.100",
        type: "Consumable",
        subscriptionGroupIdentifier: undefined,
        webOrderLineItemId: undefined,
        expiresDate: undefined,
        originalTransactionId: "2000000000000009",
        transactionId: "2000000000000009",
      },
      renewal: null,
    },
  ],
  ["TEST", { notificationType: "TEST", transaction: null, renewal: null, data: { status: undefined } }],
  [
    "EXTERNAL_PURCHASE_TOKEN UNREPORTED (externalPurchaseToken form)",
    { notificationType: "EXTERNAL_PURCHASE_TOKEN", subtype: "UNREPORTED", form: "externalPurchaseToken" },
  ],
  ["RESCIND_CONSENT (appData form)", { notificationType: "RESCIND_CONSENT", form: "appData" }],
  ["METADATA_UPDATE", { notificationType: "METADATA_UPDATE" }],
];

describe.each(["Sandbox", "Production"] as const)("valid %s notifications: both accept and decode the same", (environment) => {
  it.each(VALID)("%s", async (_name, input) => {
    const signed = notification({ ...input, environment });
    const [subgate, apple] = await Promise.all([
      subgateDecision(signed.signedPayload),
      appleDecision(signed.signedPayload, APPLE_ENVIRONMENT[environment]),
    ]);
    expectSameDecoding(subgate, apple, signed);
    expect(subgate.accepted && subgate.verified.environment).toBe(environment === "Production" ? "production" : "sandbox");
  });
});

// ---------------------------------------------------------------------------------------------------
// Forged or foreign notifications: both must reject. The table says how each side refuses, so a
// case cannot pass by failing for an unrelated reason.

interface ForgedCase {
  name: string;
  build: () => string;
  /** The environment Apple's verifier is built for. Default Sandbox. */
  environment?: AppleEnvironmentName;
  subgate: { failure: VerificationFailure; because: RegExp };
  apple: { call: AppleCall; status: AppleStatus };
}

const atNotification = (status: AppleStatus) => ({ call: "verifyAndDecodeNotification", status }) as const;

const FORGED: readonly ForgedCase[] = [
  {
    name: "a chain to an untrusted root",
    build: signedWith((f) => f.untrusted),
    subgate: { failure: "unauthenticated", because: /does not end at a trusted root/ },
    apple: atNotification("VERIFICATION_FAILURE"),
  },
  {
    name: "a leaf without Apple's leaf OID",
    build: signedWith((f) => f.leafWithoutOid),
    subgate: { failure: "unauthenticated", because: /leaf certificate lacks Apple's OID/ },
    apple: atNotification("VERIFICATION_FAILURE"),
  },
  {
    name: "an intermediate without Apple's intermediate OID",
    build: signedWith((f) => f.intermediateWithoutOid),
    subgate: { failure: "unauthenticated", because: /intermediate certificate lacks Apple's OID/ },
    apple: atNotification("VERIFICATION_FAILURE"),
  },
  {
    name: "a leaf not signed by the intermediate",
    build: signedWith((f) => f.leafNotSignedByIntermediate),
    subgate: { failure: "unauthenticated", because: /leaf certificate is not issued by the intermediate/ },
    apple: atNotification("VERIFICATION_FAILURE"),
  },
  {
    name: "a tampered payload (the signature is the original's)",
    build: () =>
      replaceSegment(notification({ notificationType: "DID_RENEW" }).signedPayload, 1, (bytes) => {
        const payload = JSON.parse(bytes.toString("utf8"));
        payload.notificationType = "REFUND";
        return Buffer.from(JSON.stringify(payload));
      }),
    subgate: { failure: "unauthenticated", because: /signature does not verify/ },
    apple: atNotification("VERIFICATION_FAILURE"),
  },
  {
    name: "a tampered signature (one bit of s flipped)",
    build: () =>
      replaceSegment(notification({ notificationType: "DID_RENEW" }).signedPayload, 2, (bytes) => {
        bytes[40] = bytes[40]! ^ 0x01;
        return bytes;
      }),
    subgate: { failure: "unauthenticated", because: /signature does not verify/ },
    apple: atNotification("VERIFICATION_FAILURE"),
  },
  {
    name: 'alg "none" (no signature)',
    build: signedWith((f) => f.chain, { alg: "none" }),
    subgate: { failure: "unauthenticated", because: /alg must be ES256, got "none"/ },
    apple: atNotification("VERIFICATION_FAILURE"),
  },
  {
    name: "alg HS256 keyed with the leaf's public key",
    build: signedWith((f) => f.chain, { alg: "HS256" }),
    subgate: { failure: "unauthenticated", because: /alg must be ES256, got "HS256"/ },
    apple: atNotification("VERIFICATION_FAILURE"),
  },
  {
    name: "2 certificates in x5c (leaf, intermediate)",
    build: () => signedWith((f) => f.chain, { x5c: f.chain.x5c.slice(0, 2) })(),
    subgate: { failure: "malformed", because: /x5c must hold 3 certificates, got 2/ },
    // Apple throws INVALID_CHAIN_LENGTH inside a try whose catch rewraps every Error as INVALID_CERTIFICATE.
    apple: atNotification("INVALID_CERTIFICATE"),
  },
  {
    name: "4 certificates in x5c (leaf, intermediate, root, root)",
    build: () => signedWith((f) => f.chain, { x5c: [...f.chain.x5c, f.chain.root.base64] })(),
    subgate: { failure: "malformed", because: /x5c must hold 3 certificates, got 4/ },
    apple: atNotification("INVALID_CERTIFICATE"),
  },
  {
    name: "a leaf expired at signedDate (expired a year ago, signed now)",
    build: signedWith((f) => f.leafExpiredLastYear),
    subgate: { failure: "unauthenticated", because: /not valid at the payload's signedDate/ },
    apple: atNotification("INVALID_CERTIFICATE"),
  },
  {
    name: "the wrong bundle id",
    build: () => notification({ notificationType: "DID_RENEW", bundleId: OTHER_BUNDLE_ID }).signedPayload,
    subgate: { failure: "wrong_app", because: /for bundle id "com\.example\.someone-else", not this app's/ },
    apple: atNotification("INVALID_APP_IDENTIFIER"),
  },
  {
    name: "the wrong app id in production",
    environment: "Production",
    build: () => notification({ notificationType: "DID_RENEW", environment: "Production", appAppleId: 987654321 }).signedPayload,
    subgate: { failure: "wrong_app", because: /for app id 987654321, not this app's/ },
    apple: atNotification("INVALID_APP_IDENTIFIER"),
  },
  {
    name: "also: an intermediate that is not a CA",
    build: signedWith((f) => f.intermediateNotCa),
    subgate: { failure: "unauthenticated", because: /intermediate certificate is not a CA/ },
    apple: atNotification("VERIFICATION_FAILURE"),
  },
  // Also: the identity rules of the nested payloads, which Apple checks in its second and third calls.
  {
    name: "also: a transaction for another bundle id inside a notification for this one",
    build: () => notification({ notificationType: "DID_RENEW", transaction: { bundleId: OTHER_BUNDLE_ID } }).signedPayload,
    subgate: { failure: "wrong_app", because: /transaction is for bundle id "com\.example\.someone-else"/ },
    apple: { call: "verifyAndDecodeTransaction", status: "INVALID_APP_IDENTIFIER" },
  },
  {
    name: "also: renewal info for Production inside a Sandbox notification",
    build: () => notification({ notificationType: "DID_RENEW", renewal: { environment: "Production" } }).signedPayload,
    subgate: { failure: "malformed", because: /renewal info is for the Production environment, the notification for Sandbox/ },
    apple: { call: "verifyAndDecodeRenewalInfo", status: "INVALID_ENVIRONMENT" },
  },
];

describe("forged and foreign notifications: both reject", () => {
  it.each(FORGED)("$name", async (forged) => {
    const signedPayload = forged.build();
    const [subgate, apple] = await Promise.all([
      subgateDecision(signedPayload),
      appleDecision(signedPayload, APPLE_ENVIRONMENT[forged.environment ?? "Sandbox"]),
    ]);
    expect(subgate.accepted ? "subgate accepted" : { failure: subgate.failure, reason: subgate.reason }).toEqual({
      failure: forged.subgate.failure,
      reason: expect.stringMatching(forged.subgate.because),
    });
    expect(apple.accepted ? "Apple accepted" : { call: apple.call, status: apple.status }).toEqual(forged.apple);
  });

  it("positive control: a leaf expired now but valid at signedDate is accepted by both (offline, dates are checked at signedDate)", async () => {
    const signed = notification({ notificationType: "DID_RENEW", signedDate: NOW - 60 * DAY_MS }, (payload) =>
      signAppleJws(payload, f.leafExpiredLastMonth),
    );
    const [subgate, apple] = await Promise.all([
      subgateDecision(signed.signedPayload),
      appleDecision(signed.signedPayload, Environment.SANDBOX),
    ]);
    expectSameDecoding(subgate, apple, signed);
  });
});

// ---------------------------------------------------------------------------------------------------
// Intended divergences: subgate rejects what Apple's library accepts, on purpose. Each is asserted
// as a divergence, with exactly what Apple's library does: its verifyAndDecodeNotification alone,
// and its three calls together.

interface Divergence {
  name: string;
  why: string;
  build: () => Signed;
  /** The environment Apple's verifier is built for. */
  appleEnvironment: Environment;
  subgate: { failure: VerificationFailure; because: RegExp };
  /** What subgate does with allowLocalEnvironments on (local payloads only): accept and agree with Apple, or refuse. */
  withLocalEnvironmentsAllowed?: "accepts, decoding as Apple does" | { failure: VerificationFailure; because: RegExp };
  apple: { notificationAlone: "accepts"; threeCalls: "accept" | { rejectedBy: AppleCall; status: AppleStatus } };
}

/** A local (Xcode / StoreKit Testing) payload: no x5c, signed by a key of the developer's machine, or not at all. */
function localPayload(environment: "Xcode" | "LocalTesting", options: SignAppleJwsOptions) {
  return () => {
    const sign = (payload: object) => signAppleJws(payload, f.chain, { header: { x5c: undefined }, ...options });
    return notification({ notificationType: "DID_RENEW", environment }, sign);
  };
}

const INTENDED_DIVERGENCES: readonly Divergence[] = [
  {
    name: "ES384 with a P-384 leaf",
    why: "subgate accepts only ES256, what Apple signs with; Apple's library leaves alg to jsonwebtoken's defaults, which take ES384 for an EC key on P-384",
    build: () => notification({ notificationType: "DID_RENEW" }, (payload) => signAppleJws(payload, f.p384Leaf, { alg: "ES384" })),
    appleEnvironment: Environment.SANDBOX,
    subgate: { failure: "unauthenticated", because: /alg must be ES256, got "ES384"/ },
    apple: { notificationAlone: "accepts", threeCalls: "accept" },
  },
  {
    name: "Xcode payload, not signed by Apple (no x5c, a local key)",
    why: "nothing proves where an unsigned payload came from; Apple's library skips all checks in an XCODE verifier, subgate refuses unless APPLE_ALLOW_LOCAL_ENVIRONMENTS",
    build: localPayload("Xcode", { signingKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey }),
    appleEnvironment: Environment.XCODE,
    subgate: { failure: "unauthenticated", because: /unsigned Xcode payloads are refused/ },
    withLocalEnvironmentsAllowed: "accepts, decoding as Apple does",
    apple: { notificationAlone: "accepts", threeCalls: "accept" },
  },
  {
    name: "LocalTesting payload, not signed by Apple (no x5c, a local key)",
    why: "as for Xcode: Apple's library skips all checks in a LOCAL_TESTING verifier, subgate refuses unless APPLE_ALLOW_LOCAL_ENVIRONMENTS",
    build: localPayload("LocalTesting", { signingKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey }),
    appleEnvironment: Environment.LOCAL_TESTING,
    subgate: { failure: "unauthenticated", because: /unsigned LocalTesting payloads are refused/ },
    withLocalEnvironmentsAllowed: "accepts, decoding as Apple does",
    apple: { notificationAlone: "accepts", threeCalls: "accept" },
  },
  {
    name: 'Xcode payload with alg "none" and no signature at all',
    why: "as above: what Xcode writes is unsigned, which subgate takes only where a deployment allows local environments",
    build: localPayload("Xcode", { alg: "none" }),
    appleEnvironment: Environment.XCODE,
    subgate: { failure: "unauthenticated", because: /unsigned Xcode payloads are refused/ },
    withLocalEnvironmentsAllowed: "accepts, decoding as Apple does",
    apple: { notificationAlone: "accepts", threeCalls: "accept" },
  },
  {
    name: "a valid outer JWS carrying a forged signedTransactionInfo (right x5c, another key)",
    why: "subgate refuses a notification any part of which does not verify; Apple's verifyAndDecodeNotification never opens the nested JWS, its verifyAndDecodeTransaction refuses it",
    build: () =>
      notification(
        { notificationType: "DID_RENEW" },
        (payload) => signAppleJws(payload, f.chain),
        (payload) => signAppleJws(payload, f.chain, isTransaction(payload) ? { signingKey: f.strangerKey } : {}),
      ),
    appleEnvironment: Environment.SANDBOX,
    subgate: { failure: "unauthenticated", because: /^signedTransactionInfo: the JWS signature does not verify/ },
    apple: { notificationAlone: "accepts", threeCalls: { rejectedBy: "verifyAndDecodeTransaction", status: "VERIFICATION_FAILURE" } },
  },
  {
    name: "a valid outer JWS carrying a forged signedRenewalInfo (right x5c, another key)",
    why: "as above; Apple's verifyAndDecodeRenewalInfo refuses it",
    build: () =>
      notification(
        { notificationType: "DID_RENEW" },
        (payload) => signAppleJws(payload, f.chain),
        (payload) => signAppleJws(payload, f.chain, isRenewalInfo(payload) ? { signingKey: f.strangerKey } : {}),
      ),
    appleEnvironment: Environment.SANDBOX,
    subgate: { failure: "unauthenticated", because: /^signedRenewalInfo: the JWS signature does not verify/ },
    apple: { notificationAlone: "accepts", threeCalls: { rejectedBy: "verifyAndDecodeRenewalInfo", status: "VERIFICATION_FAILURE" } },
  },
];

describe("INTENDED_DIVERGENCES: subgate rejects, Apple's library accepts", () => {
  it.each(INTENDED_DIVERGENCES)("$name", async (divergence) => {
    const signed = divergence.build();
    const [subgate, apple] = await Promise.all([
      subgateDecision(signed.signedPayload),
      appleDecision(signed.signedPayload, divergence.appleEnvironment),
    ]);

    expect(subgate.accepted ? "subgate accepted" : { failure: subgate.failure, reason: subgate.reason }).toEqual({
      failure: divergence.subgate.failure,
      reason: expect.stringMatching(divergence.subgate.because),
    });

    // Apple's verifyAndDecodeNotification alone accepts in every case...
    expect(apple.accepted || apple.notificationAloneAccepted, "Apple's verifyAndDecodeNotification alone").toBe(true);
    // ...and its three calls together accept or reject exactly as the table says.
    const { threeCalls } = divergence.apple;
    if (threeCalls === "accept") {
      expect(apple.accepted ? "accept" : { rejectedBy: apple.call, status: apple.status }).toBe("accept");
    } else {
      expect(apple.accepted ? "accept" : { rejectedBy: apple.call, status: apple.status }).toEqual(threeCalls);
    }

    const allowed = divergence.withLocalEnvironmentsAllowed;
    if (allowed === undefined) return;
    const permissive = await subgateDecision(signed.signedPayload, true);
    if (allowed === "accepts, decoding as Apple does") {
      expectSameDecoding(permissive, apple, signed);
      expect(permissive.accepted && permissive.verified.verification.scheme).toBe("apple-unsigned-local");
    } else {
      expect(permissive.accepted ? "subgate accepted" : { failure: permissive.failure, reason: permissive.reason }).toEqual({
        failure: allowed.failure,
        reason: expect.stringMatching(allowed.because),
      });
    }
  });
});
