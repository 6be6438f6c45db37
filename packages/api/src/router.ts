import { Router, type NextFunction, type Request, type Response } from "express";
import { AppError } from "@subgate/core";
import { jsonBody } from "@subgate/http";
import { authenticate } from "./auth.ts";
import { appleHistoryReplaysRouter } from "./apple-history-replays.ts";
import { appleTestNotificationsRouter } from "./apple-test-notifications.ts";
import { appsRouter } from "./apps.ts";
import type { ApiOptions } from "./context.ts";
import { notificationsRouter } from "./notifications.ts";
import { statusRouter } from "./status.ts";
import { subscriptionsRouter } from "./subscriptions.ts";
import { webhooksRouter } from "./webhooks.ts";

/** API bodies are small; anything larger is refused (413) before it is read. */
export const API_BODY_LIMIT_BYTES = 100 * 1024;

/** Everything under `/v1`: JSON bodies up to 100 KB, bearer authentication, then the resources. */
export function createApiRouter(options: ApiOptions): Router {
  const router = Router();
  router.use("/v1", jsonBody(API_BODY_LIMIT_BYTES), authenticate(options.db, options.adminToken), refuseNulInPath);
  router.use(appsRouter(options));
  router.use(statusRouter(options));
  router.use(notificationsRouter(options));
  router.use(subscriptionsRouter(options));
  router.use(webhooksRouter(options));
  router.use(appleTestNotificationsRouter(options));
  router.use(appleHistoryReplaysRouter(options));
  return router;
}

/** PostgreSQL text cannot hold NUL, so no id has one: a path with `%00` names nothing and must reach no query. */
function refuseNulInPath(req: Request, _res: Response, next: NextFunction): void {
  next(req.path.includes("%00") ? new AppError("not_found", "no such resource") : undefined);
}
