// @subgate/delivery: sending outbound webhooks (signing, SSRF guard, one HTTP attempt, retry timing).
// A pure library: no database, queue or environment access; configuration comes in as options.

export { WEBHOOK_SECRET_PREFIX, generateWebhookSecret } from "./secret.ts";
export { signWebhook } from "./sign.ts";
export type { SignWebhookInput, WebhookSignatureHeaders } from "./sign.ts";
export { WebhookUrlRejectedError, checkWebhookUrl, isForbiddenAddress } from "./ssrf.ts";
export type { CheckWebhookUrlOptions, ResolveHost } from "./ssrf.ts";
export { FORBIDDEN_TARGET_CODE, ForbiddenTargetError } from "./guarded-connector.ts";
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_USER_AGENT,
  WebhookSender,
} from "./send.ts";
// Where the webhook sender's reading of Retry-After has always been found; it lives in @subgate/core.
export { parseRetryAfter } from "@subgate/core";
export type { AttemptResult, SendWebhookInput, WebhookSenderOptions } from "./send.ts";
export { DEFAULT_RETRY_SCHEDULE_MS, nextRetryDelayMs, parseRetrySchedule } from "./retry.ts";
