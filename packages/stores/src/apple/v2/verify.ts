import type { z } from "zod";
import { firstIssue } from "@subgate/core";
import type { Environment } from "@subgate/schema";
import { VerificationError, type VerifiedNotification } from "../../adapter.ts";
import type { AppleConfig } from "../config.ts";
import { environmentOf, LOCAL_ENVIRONMENTS } from "../environment.ts";
import { AppleJwsError, type AppleJwsVerifier, decodeJwsPayloadUnverified } from "../jws/index.ts";
import {
  type AppleNotificationPayload,
  AppleNotificationPayloadSchema,
  type AppleRenewalInfo,
  type AppleTransaction,
  type DecodedAppleNotification,
  openNestedJws,
} from "./payloads.ts";

export interface AppleV2Verification {
  verifier: AppleJwsVerifier;
  onlineChecks: boolean;
  allowLocalEnvironments: boolean;
}

/** Where a notification's app and environment are: whichever of its four forms it has. */
interface Identity {
  bundleId: string;
  appAppleId: number | undefined;
  /** Apple's name (`Sandbox`, `Production`, `Xcode`, ...). */
  environment: string;
}

/**
 * Verifies a V2 notification (`{"signedPayload": "<JWS>"}`) and the signed transaction and renewal
 * info inside it, then checks that it is for this app. Apple's library verifies the nested JWS only
 * when asked; subgate refuses a notification any part of which does not verify, before using any field.
 */
export async function verifyAppleV2(
  signedPayload: string,
  config: AppleConfig,
  options: AppleV2Verification,
): Promise<{ verified: VerifiedNotification; decoded: DecodedAppleNotification }> {
  // Verified first; only a payload that does not verify is read unverified, to tell a local one apart
  // (so the common path decodes each JWS once).
  let outer: Record<string, unknown>;
  let local: string | null = null;
  try {
    outer = await options.verifier.verify(signedPayload);
  } catch (error) {
    local = localEnvironmentClaimed(signedPayload);
    if (local === null) throw asVerificationError(error, "signedPayload");
    refuseLocalUnlessAllowed(local, options);
    outer = decodeJwsPayloadUnverified(signedPayload, { unsigned: true });
  }
  // A payload signed by a trusted chain that names a local environment is refused all the same.
  local ??= localEnvironmentOf(outer);
  if (local !== null) refuseLocalUnlessAllowed(local, options);
  const open = async (jws: string, what: string) => {
    try {
      return local ? decodeJwsPayloadUnverified(jws, { unsigned: true }) : await options.verifier.verify(jws);
    } catch (error) {
      throw asVerificationError(error, what);
    }
  };

  const payload = shaped(AppleNotificationPayloadSchema, outer, "the notification");
  const identity = identityOf(payload);
  const environment = environmentOf(identity.environment);
  if (!environment) throw signedBut(`the environment ${JSON.stringify(identity.environment)} is not one Apple uses`);
  checkApp(identity, environment, config);

  const { transaction, renewal } = await openNestedJws(payload.data, open, shaped);
  checkNested(identity, config, transaction, renewal);

  const signedAt = new Date(payload.signedDate);
  return {
    decoded: { payload, transaction, renewal },
    verified: {
      storeNotificationId: payload.notificationUUID,
      notificationType: payload.notificationType,
      notificationSubtype: payload.subtype ?? null,
      environment,
      subscriptionKey: transaction?.originalTransactionId ?? null,
      storeEventAt: signedAt,
      signedAt,
      verification: {
        scheme: local ? "apple-unsigned-local" : "apple-jws",
        version: 2,
        apple_environment: identity.environment,
        effective_date: local ? null : options.onlineChecks ? "now" : "signedDate",
        ocsp: !local && options.onlineChecks,
        nested_verified: [...(transaction ? ["signedTransactionInfo"] : []), ...(renewal ? ["signedRenewalInfo"] : [])],
      },
    },
  };
}

function refuseLocalUnlessAllowed(local: string, options: AppleV2Verification): void {
  if (options.allowLocalEnvironments) return;
  throw new VerificationError(
    "unauthenticated",
    `unsigned ${local} payloads are refused; APPLE_ALLOW_LOCAL_ENVIRONMENTS=true accepts them for local development`,
  );
}

/** The local environment a JWS that did not verify claims (`Xcode`, `LocalTesting`), or null (also when it cannot be read). */
function localEnvironmentClaimed(signedPayload: string): string | null {
  try {
    return localEnvironmentOf(decodeJwsPayloadUnverified(signedPayload, { unsigned: true }));
  } catch {
    return null;
  }
}

function localEnvironmentOf(payload: Record<string, unknown>): string | null {
  for (const form of ["data", "summary", "appData"]) {
    const environment = (payload[form] as Record<string, unknown> | undefined)?.environment;
    if (typeof environment === "string" && LOCAL_ENVIRONMENTS.includes(environment)) return environment;
  }
  return null;
}

function identityOf(payload: AppleNotificationPayload): Identity {
  const forms = [payload.data, payload.summary, payload.externalPurchaseToken, payload.appData].filter((form) => form !== undefined);
  if (forms.length !== 1) {
    throw signedBut(`the notification must hold exactly one of data, summary, externalPurchaseToken and appData; it holds ${forms.length}`);
  }
  const token = payload.externalPurchaseToken;
  if (token) {
    // The token form names no environment; Apple's library reads it from the id's prefix.
    const environment = token.externalPurchaseId?.startsWith("SANDBOX") ? "Sandbox" : "Production";
    return { bundleId: token.bundleId, appAppleId: token.appAppleId, environment };
  }
  const form = (payload.data ?? payload.summary ?? payload.appData) as { bundleId: string; appAppleId?: number; environment: string };
  return { bundleId: form.bundleId, appAppleId: form.appAppleId, environment: form.environment };
}

/** Apple's identity rules: the bundle id always; the app's Apple id in production, where Apple sends it. */
function checkApp(identity: Identity, environment: Environment, config: AppleConfig): void {
  if (identity.bundleId !== config.bundleId) {
    throw new VerificationError("wrong_app", `the notification is for bundle id ${JSON.stringify(identity.bundleId)}, not this app's`);
  }
  if (environment !== "production") return;
  if (config.appAppleId === null) {
    throw new VerificationError("wrong_app", "production notifications need the app's apple.app_apple_id, which is not set");
  }
  if (identity.appAppleId !== config.appAppleId) {
    throw new VerificationError("wrong_app", `the notification is for app id ${identity.appAppleId ?? "(none)"}, not this app's`);
  }
}

/** What Apple's library checks of each nested payload: the transaction's bundle id, and both environments. */
function checkNested(identity: Identity, config: AppleConfig, transaction: AppleTransaction | null, renewal: AppleRenewalInfo | null) {
  if (transaction && transaction.bundleId !== config.bundleId) {
    throw new VerificationError("wrong_app", `the transaction is for bundle id ${JSON.stringify(transaction.bundleId)}, not this app's`);
  }
  for (const [what, nested] of [
    ["transaction", transaction],
    ["renewal info", renewal],
  ] as const) {
    if (nested && nested.environment !== identity.environment) {
      throw signedBut(`the ${what} is for the ${nested.environment} environment, the notification for ${identity.environment}`);
    }
  }
}

function shaped<Schema extends z.ZodType>(schema: Schema, value: Record<string, unknown>, what: string): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw signedBut(firstIssue(parsed.error, { root: what, prefix: [what] }));
  return parsed.data;
}

function signedBut(problem: string): VerificationError {
  return new VerificationError("malformed", `signature verifies, but ${problem}`);
}

function asVerificationError(error: unknown, what: string): unknown {
  if (!(error instanceof AppleJwsError)) return error;
  const failure = error.failure === "retryable" ? "unavailable" : error.failure;
  return new VerificationError(failure, `${what}: ${error.reason}`);
}
