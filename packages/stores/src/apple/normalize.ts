import type { Normalized, StoredNotification } from "../adapter.ts";
import { decodeJwsPayloadUnverified } from "./jws/index.ts";
import { normalizeAppleV1 } from "./v1/mapping.ts";
import { AppleV1BodySchema } from "./v1/payload.ts";
import { normalizeAppleV2 } from "./v2/mapping.ts";
import { AppleNotificationPayloadSchema, type DecodedAppleNotification, openNestedJws } from "./v2/payloads.ts";

/*
 * In the worker, every Apple row in the inbox was verified at the ingress (signatures, chain,
 * identity, nested JWS): normalization decodes the stored bytes and maps them, without verifying
 * again. The shapes are still checked, since they are read back from storage.
 */

/** Stored rows were verified at the ingress; a local-environment row (where allowed) has no signature. */
const UNSIGNED = { unsigned: true };

export async function normalizeStoredAppleV2(notification: StoredNotification): Promise<Normalized> {
  return normalizeAppleV2(await decodeStoredV2(notification.rawBody));
}

export function normalizeStoredAppleV1(notification: StoredNotification): Normalized {
  return normalizeAppleV1(AppleV1BodySchema.parse(JSON.parse(notification.rawBody.toString("utf8"))), notification.receivedAt);
}

/** Decodes a stored V2 body: the notification, then its signed transaction and renewal info. */
export async function decodeStoredV2(rawBody: Buffer): Promise<DecodedAppleNotification> {
  const { signedPayload } = JSON.parse(rawBody.toString("utf8")) as { signedPayload: string };
  const payload = AppleNotificationPayloadSchema.parse(decodeJwsPayloadUnverified(signedPayload, UNSIGNED));
  const nested = await openNestedJws(
    payload.data,
    async (jws) => decodeJwsPayloadUnverified(jws, UNSIGNED),
    (schema, value) => schema.parse(value),
  );
  return { payload, ...nested };
}
