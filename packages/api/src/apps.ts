import { Router } from "express";
import { z } from "zod";
import { AppError, hashApiKey, newId, newToken } from "@subgate/core";
import { lockStoreConfig, type Db, type Tx } from "@subgate/db";
import { ingressUrl } from "@subgate/ingress";
import type { Store } from "@subgate/schema";
import type { StoreRegistry } from "@subgate/stores";
import { requireAdmin, requireAppAccess } from "./auth.ts";
import type { ApiOptions } from "./context.ts";
import { mergeStoreBlock, openStored, publicStoreView, appInputSchema, type StoreBlocksInput } from "./store-config.ts";
import { parseInput } from "./validate.ts";

const appName = z.string().trim().min(1).max(200);

function newApiKey(): { key: string; hash: string; prefix: string } {
  const key = newToken("sk_");
  return { key, hash: hashApiKey(key), prefix: key.slice(0, 10) };
}

export function appsRouter(options: ApiOptions): Router {
  const { db, secretBox, stores } = options;
  const createAppSchema = appInputSchema(stores, appName);
  const updateAppSchema = appInputSchema(stores, appName.optional());
  const router = Router();

  /** Writes the given store blocks over what is stored, in the caller's transaction. */
  async function saveStoreBlocks(tx: Tx, appId: string, blocks: StoreBlocksInput): Promise<void> {
    for (const module of stores.all()) {
      const input = blocks[module.block];
      if (!input) continue;
      const { store } = module;
      // Exclusive: a worker deciding "unresolved" on the old configuration finishes first (and is
      // then reopened below), or sees this change and processes its notification again.
      await lockStoreConfig(tx, appId, store, "exclusive");
      const row = await tx.storeConfig.findUnique({ where: { appId_store: { appId, store } } });
      const merged = mergeStoreBlock(module, row ? openStored(secretBox, row) : null, input);
      const data = { settings: merged.settings as object, secretsEncrypted: secretBox.sealJson(merged.secrets) };
      await tx.storeConfig.upsert({
        where: { appId_store: { appId, store } },
        create: { appId, store, ...data },
        update: data,
      });
    }
  }

  router.post("/v1/apps", async (req, res) => {
    requireAdmin(res, options.adminToken !== null);
    const input = parseInput(createAppSchema, req.body);
    const id = newId("app");
    const apiKey = newApiKey();
    await db.$transaction(async (tx) => {
      await tx.app.create({ data: { id, name: input.name } });
      await tx.apiKey.create({ data: { id: newId("apiKey"), appId: id, keyHash: apiKey.hash, keyPrefix: apiKey.prefix } });
      await tx.ingressToken.createMany({ data: stores.all().map(({ store }) => ({ token: newToken(), appId: id, store })) });
      await saveStoreBlocks(tx, id, input);
    });
    res.status(201).json({ ...(await appView(db, options, id)), api_key: apiKey.key });
  });

  router.get("/v1/apps/:appId", async (req, res) => {
    await requireAppAccess(db, res, req.params.appId);
    res.json(await appView(db, options, req.params.appId));
  });

  router.patch("/v1/apps/:appId", async (req, res) => {
    await requireAppAccess(db, res, req.params.appId);
    const input = parseInput(updateAppSchema, req.body);
    const appId = req.params.appId;
    const reopened = await db.$transaction(async (tx) => {
      if (input.name !== undefined) await tx.app.update({ where: { id: appId }, data: { name: input.name } });
      await saveStoreBlocks(tx, appId, input);
      return reopenUnresolved(tx, appId, changedStores(stores, input));
    });
    if (reopened.length > 0) {
      const unqueued = await options.producer.enqueueNotifications(reopened.map(({ id }) => id));
      options.logger.info(
        { app_id: appId, reopened: reopened.length, unqueued },
        "store configuration changed: unresolved notifications reopened",
      );
    }
    res.json(await appView(db, options, appId));
  });

  /** Issues a new secret API key; every older key of the app stops working at once. */
  router.post("/v1/apps/:appId/api-keys/rotate", async (req, res) => {
    await requireAppAccess(db, res, req.params.appId);
    const appId = req.params.appId;
    const apiKey = newApiKey();
    await db.$transaction(async (tx) => {
      // Rotations of one app run one after another: each must revoke the key the previous one made,
      // which a concurrent transaction's insert would hide from it.
      await tx.$queryRaw`SELECT id FROM apps WHERE id = ${appId} FOR UPDATE`;
      await tx.apiKey.updateMany({ where: { appId, revokedAt: null }, data: { revokedAt: new Date() } });
      await tx.apiKey.create({ data: { id: newId("apiKey"), appId, keyHash: apiKey.hash, keyPrefix: apiKey.prefix } });
    });
    res.status(201).json({ api_key: apiKey.key });
  });

  return router;
}

function changedStores(stores: StoreRegistry, blocks: StoreBlocksInput): Store[] {
  return stores
    .all()
    .filter((module) => blocks[module.block] !== undefined)
    .map((module) => module.store);
}

/**
 * An `unresolved` notification waited for configuration (a Stripe refund without the app's API key,
 * a store configured after its notifications arrived). When that store's configuration changes, it
 * goes back to `pending` and is processed again, so a key added later still produces its events.
 */
async function reopenUnresolved(tx: Tx, appId: string, stores: Store[]): Promise<{ id: string }[]> {
  if (stores.length === 0) return [];
  return tx.notification.updateManyAndReturn({
    where: { appId, store: { in: stores }, state: "unresolved" },
    data: { state: "pending", processedAt: null, nextAttemptAt: null },
    select: { id: true },
  });
}

async function appView(db: Db, options: ApiOptions, appId: string) {
  const app = await db.app.findUnique({
    where: { id: appId },
    include: { ingressTokens: { where: { revokedAt: null } }, storeConfigs: true },
  });
  if (!app) throw new AppError("not_found", "app not found");
  const ingress: Record<string, { url: string }> = {};
  for (const token of app.ingressTokens) {
    const module = options.stores.get(token.store);
    if (module) ingress[module.block] = { url: ingressUrl(options.publicBaseUrl, module.segment, token.token) };
  }
  const stores: Record<string, unknown> = {};
  for (const row of app.storeConfigs) {
    const module = options.stores.get(row.store);
    if (module) stores[module.block] = publicStoreView(module, openStored(options.secretBox, row));
  }
  return { id: app.id, name: app.name, created_at: app.createdAt.toISOString(), ingress, stores };
}
