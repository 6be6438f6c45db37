import type { Prisma } from "@subgate/db";
import type { Store } from "@subgate/schema";
import type { VerifiedNotification } from "./adapter.ts";

export interface NotificationRowInput {
  id: string;
  appId: string;
  store: Store;
  verified: VerifiedNotification;
  /** The bytes received; the adapter's `storedBody` replaces them when it has one. */
  rawBody: Buffer;
  headers: Record<string, string>;
  receivedAt: Date;
  /** Set when a history replay fetched it instead of the store delivering it. */
  replayId?: string;
}

/** The inbox row of a verified notification: the one shape the ingress and history replays both store. */
export function notificationRow(input: NotificationRowInput): Prisma.NotificationCreateManyInput {
  const { verified } = input;
  return {
    id: input.id,
    appId: input.appId,
    store: input.store,
    storeNotificationId: verified.storeNotificationId,
    notificationType: verified.notificationType,
    notificationSubtype: verified.notificationSubtype,
    environment: verified.environment,
    subscriptionKey: verified.subscriptionKey,
    storeEventAt: verified.storeEventAt,
    receivedAt: input.receivedAt,
    rawBody: new Uint8Array(verified.storedBody ?? input.rawBody),
    headers: input.headers,
    verification: verified.verification as Prisma.InputJsonObject,
    replayId: input.replayId ?? null,
  };
}
