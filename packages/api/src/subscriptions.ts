import { Router } from "express";
import { z } from "zod";
import { AppError } from "@subgate/core";
import { StoreSchema } from "@subgate/schema";
import { requireAppAccess } from "./auth.ts";
import type { ApiOptions } from "./context.ts";
import { subscriptionView } from "./serialize.ts";
import { parseInput } from "./validate.ts";

const trackSchema = z.strictObject({
  store: StoreSchema,
  store_subscription_id: z.string().trim().min(1).max(512),
  app_user_id: z.string().min(1).max(512).nullable().optional(),
});

const listSchema = z.object({
  app_user_id: z.string().min(1).optional(),
  /** The subscription's key, or one it replaced (a Google purchase token before an upgrade). */
  store_subscription_id: z.string().min(1).max(512).optional(),
  store: StoreSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).optional(),
});

export function subscriptionsRouter(options: ApiOptions): Router {
  const { db } = options;
  const router = Router();

  /** Tracks a subscription and applies what subgate stored for it while it was untracked. */
  router.post("/v1/apps/:appId/subscriptions", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const input = parseInput(trackSchema, req.body);
    const { subscription, created, deliveries } = await options.ledger.track({
      appId,
      store: input.store,
      storeSubscriptionId: input.store_subscription_id,
      ...(input.app_user_id !== undefined ? { appUserId: input.app_user_id } : {}),
    });
    const unqueued = await options.producer.enqueueDeliveries(deliveries);
    if (unqueued > 0) options.logger.warn({ unqueued, app_id: appId }, "could not enqueue deliveries; the sweeper will");
    res.status(created ? 201 : 200).json(subscriptionView(subscription));
  });

  router.get("/v1/apps/:appId/subscriptions", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const query = parseInput(listSchema, req.query);
    const rows = await db.subscription.findMany({
      where: {
        appId,
        ...(query.app_user_id ? { appUserId: query.app_user_id } : {}),
        ...(query.store ? { store: query.store } : {}),
        ...(query.store_subscription_id
          ? { OR: [{ storeSubscriptionId: query.store_subscription_id }, { aliases: { some: { key: query.store_subscription_id } } }] }
          : {}),
        ...(query.cursor ? { id: { gt: query.cursor } } : {}),
      },
      orderBy: { id: "asc" },
      take: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    res.json({
      data: page.map(subscriptionView),
      next_cursor: rows.length > query.limit ? (page.at(-1)?.id ?? null) : null,
    });
  });

  router.get("/v1/apps/:appId/subscriptions/:subscriptionId", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const subscription = await db.subscription.findFirst({ where: { id: req.params.subscriptionId, appId } });
    if (!subscription) throw new AppError("not_found", "subscription not found");
    res.json(subscriptionView(subscription));
  });

  return router;
}
