import { Router } from "express";
import { z } from "zod";
import { AppError, newId } from "@subgate/core";
import { checkWebhookUrl, generateWebhookSecret, WebhookUrlRejectedError } from "@subgate/delivery";
import { EnvironmentSchema, EventTypeSchema } from "@subgate/schema";
import { requireAppAccess } from "./auth.ts";
import type { ApiOptions } from "./context.ts";
import { endpointView } from "./serialize.ts";
import { parseInput } from "./validate.ts";

const createSchema = z.strictObject({
  url: z.string().trim().min(1).max(2048),
  event_types: z.array(EventTypeSchema).max(50).optional(),
  environments: z.array(EnvironmentSchema).max(2).optional(),
});

export function webhooksRouter(options: ApiOptions): Router {
  const { db } = options;
  const router = Router();

  router.post("/v1/apps/:appId/webhooks", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const input = parseInput(createSchema, req.body);
    try {
      await checkWebhookUrl(input.url, { allowPrivateTargets: options.allowPrivateTargets });
    } catch (error) {
      if (error instanceof WebhookUrlRejectedError) throw new AppError("bad_request", `url: ${error.reason}`);
      throw error;
    }
    const secret = generateWebhookSecret();
    const endpoint = await db.webhookEndpoint.create({
      data: {
        id: newId("endpoint"),
        appId,
        url: input.url,
        secretEncrypted: options.secretBox.seal(secret),
        eventTypes: [...new Set(input.event_types ?? [])],
        environments: [...new Set(input.environments ?? [])],
      },
    });
    res.status(201).json({ ...endpointView(endpoint), secret });
  });

  router.get("/v1/apps/:appId/webhooks", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const endpoints = await db.webhookEndpoint.findMany({ where: { appId, deletedAt: null }, orderBy: { createdAt: "asc" } });
    res.json({ data: endpoints.map(endpointView) });
  });

  /** Deleting stops deliveries that have not happened yet; the delivery log is kept. */
  router.delete("/v1/apps/:appId/webhooks/:endpointId", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const now = new Date();
    const deleted = await db.$transaction(async (tx) => {
      const { count } = await tx.webhookEndpoint.updateMany({
        where: { id: req.params.endpointId, appId, deletedAt: null },
        data: { deletedAt: now },
      });
      if (count === 0) return false;
      await tx.delivery.updateMany({
        where: { endpointId: req.params.endpointId, status: "pending" },
        data: { status: "canceled", nextAttemptAt: null, completedAt: now },
      });
      return true;
    });
    if (!deleted) throw new AppError("not_found", "webhook endpoint not found");
    res.status(204).end();
  });

  return router;
}
