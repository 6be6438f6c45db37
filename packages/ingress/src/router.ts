import { isIP } from "node:net";
import { Router, type Request, type Response } from "express";
import { AppError, isUnavailableError, isUnstorableDataError, newId, type ErrorCode, type Logger, type SecretBox } from "@subgate/core";
import type { Db } from "@subgate/db";
import { readBody } from "@subgate/http";
import type { JobProducer } from "@subgate/queue";
import type { Store } from "@subgate/schema";
import {
  loadStoreConfig,
  notificationRow,
  problemWithVerified,
  StoreConfigError,
  VerificationError,
  type LoadedStoreConfig,
  type StoreRegistry,
  type VerifiedNotification,
} from "@subgate/stores";
import type { AddressAllowList } from "./address-allow-list.ts";
import { flatHeaders, keptHeaders } from "./kept-headers.ts";
import { recordRejection } from "./record-rejection.ts";

export interface IngressOptions {
  db: Db;
  producer: JobProducer;
  secretBox: SecretBox;
  stores: StoreRegistry;
  logger: Logger;
  /** docs/API.md: bodies over 1 MB get 413. */
  bodyLimitBytes?: number;
  /**
   * Per store, the client addresses (`req.ip`, so as the app's `trust proxy` reads them) allowed to
   * post to its ingress URLs; a store without a list takes any address.
   */
  allowedAddresses?: Partial<Record<Store, AddressAllowList>>;
}

const FAILURE_CODES: Record<VerificationError["failure"], ErrorCode> = {
  malformed: "malformed_body",
  unauthenticated: "unauthenticated",
  wrong_app: "wrong_app",
  unavailable: "service_unavailable",
};

/**
 * `POST /ingress/<store>/<token>`: verify, store durably, enqueue, then 200. Nothing is answered
 * 200 before its row is committed; a storage failure is a 503 so the store retries.
 */
export function createIngressRouter(options: IngressOptions): Router {
  const { db, logger } = options;
  const limit = options.bodyLimitBytes ?? 1024 * 1024;
  const router = Router();

  router.post("/ingress/:segment/:token", async (req: Request, res: Response) => {
    const receivedAt = new Date();
    const module = options.stores.bySegment(String(req.params.segment));
    const token = String(req.params.token);
    const ingress = module ? await unavailableOn503(() => findToken(db, token, module.store)) : null;
    if (!module || !ingress) {
      logger.warn({ store: req.params.segment }, "ingress request refused: unknown ingress URL");
      throw new AppError("not_found", "unknown ingress URL");
    }
    const { store } = module;
    const log = logger.child({ app_id: ingress.appId, store });

    const refuse = async (code: ErrorCode, reason: string): Promise<never> => {
      log.warn({ reason, status: new AppError(code, reason).status }, "ingress request refused");
      if (code !== "service_unavailable") {
        await recordRejection(db, ingress.appId, store, reason, receivedAt).catch((error: unknown) =>
          log.error({ err: error }, "could not record the refusal in the app's status"),
        );
      }
      throw new AppError(code, reason);
    };

    // After the token lookup, so a refusal is charged to its app, and before the body is read: an
    // address that may not post gets nothing read.
    const allowed = options.allowedAddresses?.[store];
    if (allowed && !allowed.allows(req.ip)) {
      // Behind a trusted proxy the address comes from a header: what is not an address is not repeated.
      const shown = req.ip && isIP(req.ip) ? req.ip : "(not an IP address)";
      return refuse("forbidden", `address ${shown} is not in ${allowed.name}`);
    }

    // After the token lookup, so an oversized body is charged to its app; a declared length over the
    // limit is refused before any of the body is read.
    let rawBody: Buffer;
    try {
      rawBody = await readBody(req, limit);
    } catch (error) {
      const appError = error instanceof AppError ? error : new AppError("malformed_body", "unreadable body");
      return refuse(appError.code, appError.message);
    }

    // A store this deployment has no adapter for has no ingress (404); one the app has not
    // configured has no secret to verify against (401). Both are recorded so they show up.
    if (!module.verifies) return refuse("not_found", `this subgate does not accept ${store} notifications`);
    let loaded: LoadedStoreConfig | null;
    try {
      loaded = await unavailableOn503(() => loadStoreConfig(db, options.secretBox, options.stores, ingress.appId, store));
    } catch (error) {
      if (error instanceof StoreConfigError) return refuse("unauthenticated", error.message);
      throw error;
    }
    if (!loaded?.adapter) return refuse("unauthenticated", `${store} is not configured for this app`);

    let verified: VerifiedNotification;
    try {
      verified = await loaded.adapter.verify({ rawBody, headers: flatHeaders(req.headers), receivedAt });
    } catch (error) {
      if (error instanceof VerificationError) return refuse(FAILURE_CODES[error.failure], error.reason);
      throw error;
    }
    // A valid signature proves where the body came from, not that what it says can be stored.
    const unstorable = problemWithVerified(verified, receivedAt);
    if (unstorable) return refuse("malformed_body", `signature verifies, but ${unstorable}`);

    const id = newId("notification");
    const { count } = await unavailableOn503(() =>
      db.notification.createMany({
        data: [notificationRow({ id, appId: ingress.appId, store, verified, rawBody, headers: keptHeaders(req.headers), receivedAt })],
        skipDuplicates: true,
      }),
    ).catch((error: unknown) => {
      // The checks above should leave PostgreSQL nothing to refuse; if it still refuses the data,
      // the body cannot be stored as it is, and retrying will not change that.
      if (!isUnstorableDataError(error)) throw error;
      log.error({ err: error }, "PostgreSQL refused a verified notification the ingress checks let through");
      return refuse("malformed_body", "signature verifies, but the notification cannot be stored as it is");
    });
    if (count === 0) {
      log.info({ store_notification_id: verified.storeNotificationId }, "duplicate notification acknowledged");
      res.status(200).json({ status: "duplicate" });
      return;
    }
    try {
      await options.producer.enqueue("notification.process", { notificationId: id }, { jobId: id });
    } catch (error) {
      // Stored is what counts: the sweeper enqueues pending rows whose job never made it.
      log.warn({ err: (error as Error).message, notification_id: id }, "enqueue failed; the sweeper will pick it up");
    }
    log.info({ notification_id: id, type: verified.notificationType }, "notification stored");
    res.status(200).json({ status: "stored", notification_id: id });
  });

  return router;
}

async function findToken(db: Db, token: string, store: Store): Promise<{ appId: string } | null> {
  // Tokens are URL path segments; anything that is not a plausible token is not looked up.
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const row = await db.ingressToken.findUnique({ where: { token }, select: { appId: true, store: true, revokedAt: true } });
  return row && row.store === store && !row.revokedAt ? { appId: row.appId } : null;
}

/** Storage that cannot be reached is the store's cue to retry (503), not a server bug (500). */
async function unavailableOn503<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isUnavailableError(error)) throw new AppError("service_unavailable", "storage is unavailable; retry later");
    throw error;
  }
}
