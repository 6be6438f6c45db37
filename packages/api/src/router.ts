import express, { Router } from "express";
import { authenticate } from "./auth.ts";
import { appsRouter } from "./apps.ts";
import type { ApiOptions } from "./context.ts";
import { statusRouter } from "./status.ts";
import { subscriptionsRouter } from "./subscriptions.ts";
import { webhooksRouter } from "./webhooks.ts";

/** Everything under `/v1`: JSON bodies up to 100 KB, bearer authentication, then the resources. */
export function createApiRouter(options: ApiOptions): Router {
  const router = Router();
  router.use("/v1", express.json({ limit: "100kb" }), authenticate(options.db, options.adminToken));
  router.use(appsRouter(options));
  router.use(statusRouter(options));
  router.use(subscriptionsRouter(options));
  router.use(webhooksRouter(options));
  return router;
}
