import { randomBytes } from "node:crypto";

/** Standard Webhooks prefix for symmetric (HMAC-SHA256) secrets. */
export const WEBHOOK_SECRET_PREFIX = "whsec_";

/**
 * A new endpoint secret: `whsec_` + base64 of 32 random bytes.
 *
 * 32 bytes (256 bits) sits inside the spec's 24–64 byte range and matches the HMAC-SHA256 block
 * strength; the format is what `new Webhook(secret)` from the `standardwebhooks` package expects,
 * so consumers can paste it as is.
 */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString("base64");
}
