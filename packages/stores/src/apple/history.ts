import type { IncomingRequest } from "../adapter.ts";

/**
 * How far back Apple's Get Notification History reaches: 180 days in production, 30 in sandbox
 * (Apple's NotificationHistoryRequest; an older startDate is InvalidStartDateError).
 */
export const APPLE_HISTORY_RETENTION_DAYS = { production: 180, sandbox: 30 } as const;

/**
 * A history record as the ingress would have received it: Apple's V2 body, `{"signedPayload": ...}`.
 * Replayed notifications go through the same verification as delivered ones.
 */
export function historyItemRequest(signedPayload: string, receivedAt: Date): IncomingRequest {
  return { rawBody: Buffer.from(JSON.stringify({ signedPayload })), headers: {}, receivedAt };
}

/** When Apple first tried to deliver a history record: how far through its range a replay has come. */
export function firstSendAttemptAt(sendAttempts: readonly { attemptDate: number }[]): Date | null {
  const first = Math.min(...sendAttempts.map((attempt) => attempt.attemptDate).filter(Number.isFinite));
  return Number.isFinite(first) ? new Date(first) : null;
}
