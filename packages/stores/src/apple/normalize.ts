import type { Normalized, StoredNotification } from "../adapter.ts";
import { decodeJwsPayloadUnverified } from "./jws/index.ts";
import { normalizeAppleV1 } from "./v1/mapping.ts";
import { AppleV1BodySchema } from "./v1/payload.ts";
import { normalizeAppleV2 } from "./v2/mapping.ts";
import {
  AppleNotificationPayloadSchema,
  AppleRenewalInfoSchema,
  AppleTransactionSchema,
  type DecodedAppleNotification,
} from "./v2/payloads.ts";

/*
 * In the worker, every Apple row in the inbox was verified at the ingress (signatures, chain,
 * identity, nested JWS): normalization decodes the stored bytes and maps them, without verifying
 * again. The shapes are still checked, since they are read back from storage.
 */

/** Stored rows were verified at the ingress; a local-environment row (where allowed) has no signature. */
const UNSIGNED = { unsigned: true };

export function normalizeStoredAppleV2(notification: StoredNotification): Normalized {
  return normalizeAppleV2(decodeStoredV2(notification.rawBody));
}

export function normalizeStoredAppleV1(notification: StoredNotification): Normalized {
  return normalizeAppleV1(AppleV1BodySchema.parse(JSON.parse(notification.rawBody.toString("utf8"))), notification.receivedAt);
}

/** Decodes a stored V2 body: the notification, then its signed transaction and renewal info. */
export function decodeStoredV2(rawBody: Buffer): DecodedAppleNotification {
  const { signedPayload } = JSON.parse(rawBody.toString("utf8")) as { signedPayload: string };
  const payload = AppleNotificationPayloadSchema.parse(decodeJwsPayloadUnverified(signedPayload, UNSIGNED));
  const transactionJws = payload.data?.signedTransactionInfo;
  const renewalJws = payload.data?.signedRenewalInfo;
  return {
    payload,
    transaction: transactionJws === undefined ? null : AppleTransactionSchema.parse(decodeJwsPayloadUnverified(transactionJws, UNSIGNED)),
    renewal: renewalJws === undefined ? null : AppleRenewalInfoSchema.parse(decodeJwsPayloadUnverified(renewalJws, UNSIGNED)),
  };
}
