import { Webhook } from "standardwebhooks";

/** The three Standard Webhooks request headers, lower-case as sent on the wire. */
export interface WebhookSignatureHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

export interface SignWebhookInput {
  /** Same for every retry of one event to one endpoint: the receiver's idempotency key. */
  msgId: string;
  /** The exact body that will be sent. Re-serialising JSON after signing breaks verification. */
  body: string;
  /**
   * Secrets to sign with, `whsec_...`. During rotation pass the current and the previous one:
   * every secret adds a `v1,...` signature, so a receiver holding either still verifies.
   */
  secrets: readonly string[];
  /** This attempt's time; it changes on every retry (replay protection on the receiver side). */
  timestamp: Date;
}

// The signed content is `{msg_id}.{timestamp}.{payload}`: a `.` in the id would make it ambiguous,
// and the id travels in a header, so only visible ASCII without `.` is accepted.
const MSG_ID_PATTERN = /^[\x21-\x2d\x2f-\x7e]+$/;

/**
 * Builds the Standard Webhooks headers for one attempt with the `standardwebhooks` library, so
 * the signature is byte-for-byte what that library's `verify()` computes.
 *
 * Throws (programming or configuration errors only): no secrets, a malformed secret, a bad msgId
 * or an invalid date.
 */
export function signWebhook(input: SignWebhookInput): WebhookSignatureHeaders {
  const { msgId, body, secrets, timestamp } = input;
  if (!MSG_ID_PATTERN.test(msgId)) {
    throw new TypeError("msgId must be non-empty visible ASCII without '.'");
  }
  if (secrets.length === 0) {
    throw new TypeError("at least one webhook secret is required");
  }
  const timeMs = timestamp.getTime();
  if (!Number.isFinite(timeMs)) {
    throw new TypeError("timestamp is not a valid Date");
  }

  const signatures = secrets.map((secret, index) => {
    let webhook: Webhook;
    try {
      webhook = new Webhook(secret);
    } catch (cause) {
      // Never echo the secret itself: this message may end up in logs.
      throw new TypeError(`webhook secret #${index + 1} is not a valid whsec_ base64 secret`, { cause });
    }
    return webhook.sign(msgId, timestamp, body);
  });

  return {
    "webhook-id": msgId,
    // The library signs floor(ms / 1000); the header must carry the same integer.
    "webhook-timestamp": String(Math.floor(timeMs / 1000)),
    "webhook-signature": signatures.join(" "),
  };
}
