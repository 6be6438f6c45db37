import { Router } from "express";
import { z } from "zod";
import { EnvironmentSchema } from "@subgate/schema";
import { decodeJwsPayloadUnverified } from "@subgate/stores";
import { callApple } from "./apple-errors.ts";
import { requireAppAccess } from "./auth.ts";
import type { ApiOptions } from "./context.ts";
import { iso } from "./serialize.ts";
import { parseInput } from "./validate.ts";

const environmentInput = z.object({ environment: EnvironmentSchema });
/** Apple's tokens are `<uuid>_<ms>`; anything else names no test notification and reaches no call. */
// Dots alone (`.`, `..`) would be path segments, sending the app's signed call to another of Apple's paths.
const tokenSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,200}$/, "is not a test notification token Apple returned")
  .refine((token) => !/^\.+$/.test(token), "is not a test notification token Apple returned");

/**
 * Apple's "Test your server setup" as two calls: ask Apple for a TEST notification, then read how
 * Apple's delivery went beside whether subgate's own ingress stored it (docs/API.md, "Apple").
 */
export function appleTestNotificationsRouter(options: ApiOptions): Router {
  const { db, secretBox, appStoreApis, logger } = options;
  const router = Router();

  router.post("/v1/apps/:appId/apple/test-notifications", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const { environment } = parseInput(environmentInput, req.body ?? {});
    const client = await callApple(() => appStoreApis.forApp(db, secretBox, appId, environment));
    const { testNotificationToken } = await callApple(() => client.requestTestNotification());
    logger.info({ app_id: appId, environment }, "asked Apple for a TEST notification");
    res.status(201).json({ test_notification_token: testNotificationToken, environment });
  });

  router.get("/v1/apps/:appId/apple/test-notifications/:token", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const { environment } = parseInput(environmentInput, req.query);
    const token = parseInput(tokenSchema, req.params.token);
    const client = await callApple(() => appStoreApis.forApp(db, secretBox, appId, environment));
    const status = await callApple(() => client.getTestNotificationStatus(token));
    const uuid = notificationUuidOf(status.signedPayload);
    // The notification's own id, as the ingress stored it: received means stored, not just sent.
    const stored = uuid
      ? await db.notification.findUnique({
          where: { appId_store_storeNotificationId: { appId, store: "app_store", storeNotificationId: uuid } },
          select: { id: true, receivedAt: true },
        })
      : null;
    res.json({
      environment,
      notification_uuid: uuid,
      send_attempts: status.sendAttempts.map((attempt) => ({
        attempted_at: iso(new Date(attempt.attemptDate)),
        result: attempt.sendAttemptResult,
      })),
      received_at: iso(stored?.receivedAt),
      notification_id: stored?.id ?? null,
    });
  });

  return router;
}

/**
 * The TEST's notificationUUID, read from the signedPayload Apple's answer carries. The answer came
 * from Apple over TLS, and the id only looks up this app's own rows; a payload that does not decode
 * or carries no UUID-shaped id matches nothing.
 */
function notificationUuidOf(signedPayload: string): string | null {
  try {
    const uuid = decodeJwsPayloadUnverified(signedPayload).notificationUUID;
    return typeof uuid === "string" && z.uuid().safeParse(uuid).success ? uuid : null;
  } catch {
    return null;
  }
}
