import { Router } from "express";
import { ENVIRONMENTS, STORES, type Environment, type Store } from "@subgate/schema";
import { requireAppAccess } from "./auth.ts";
import type { ApiOptions } from "./context.ts";
import { iso } from "./serialize.ts";

/**
 * `GET /v1/apps/{id}/notification-status`: one entry per store and environment that is configured
 * or has been seen. A configured store lists both environments (one ingress URL takes both).
 * Refusals are per store: a refused request's claimed environment is not trusted.
 */
export function statusRouter(options: ApiOptions): Router {
  const { db } = options;
  const router = Router();

  router.get("/v1/apps/:appId/notification-status", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const [configs, statuses, refusals] = await Promise.all([
      db.storeConfig.findMany({ where: { appId }, select: { store: true } }),
      db.notificationStatus.findMany({ where: { appId } }),
      db.ingressStatus.findMany({ where: { appId } }),
    ]);
    const pairs = new Set<string>();
    for (const { store } of [...configs, ...refusals]) for (const environment of ENVIRONMENTS) pairs.add(`${store}/${environment}`);
    for (const { store, environment } of statuses) pairs.add(`${store}/${environment}`);

    const entries = [...pairs]
      .map((pair) => pair.split("/") as [Store, Environment])
      .sort(
        ([storeA, envA], [storeB, envB]) =>
          STORES.indexOf(storeA) - STORES.indexOf(storeB) || ENVIRONMENTS.indexOf(envA) - ENVIRONMENTS.indexOf(envB),
      )
      .map(([store, environment]) => {
        const status = statuses.find((row) => row.store === store && row.environment === environment);
        const refusal = refusals.find((row) => row.store === store);
        return {
          store,
          environment,
          last_received_at: iso(status?.lastReceivedAt),
          last_test_received_at: iso(status?.lastTestReceivedAt),
          last_rejected_at: iso(refusal?.lastRejectedAt),
          last_rejection_reason: refusal?.lastRejectionReason ?? null,
          rejection_count: refusal?.rejectionCount ?? 0,
        };
      });
    res.json({ stores: entries });
  });

  return router;
}
