import type { SecretBox } from "@subgate/core";
import type { Db } from "@subgate/db";
import type { Store } from "@subgate/schema";
import type { StoreAdapter } from "./adapter.ts";

/** A store's adapter plus how to build its configuration from what subgate stores per app. */
export interface StoreModule<Config> {
  adapter: StoreAdapter<Config>;
  /** `settings` is the stored public part, `secrets` the decrypted credentials. */
  toAdapterConfig(settings: Record<string, unknown>, secrets: Record<string, unknown>): Config;
}

/** The stores this deployment supports; a store without a module answers 404 at its ingress. */
// `any`: each module is typed by its own store's configuration, which this map cannot name.
export type StoreModules = Partial<Record<Store, StoreModule<any>>>;

export interface LoadedStoreConfig<Config = unknown> {
  module: StoreModule<Config>;
  config: Config;
  /** When the configuration was last changed: what a decision taken with it is valid for. */
  version: Date;
}

/**
 * Reads an app's configuration for one store and decrypts its secrets. Null when the app has not
 * configured that store or this deployment has no adapter for it.
 */
export async function loadStoreConfig(
  db: Db,
  secretBox: SecretBox,
  modules: StoreModules,
  appId: string,
  store: Store,
): Promise<LoadedStoreConfig | null> {
  const module = modules[store];
  if (!module) return null;
  const row = await db.storeConfig.findUnique({ where: { appId_store: { appId, store } } });
  if (!row) return null;
  const secrets = secretBox.openJson(row.secretsEncrypted) as Record<string, unknown>;
  return { module, config: module.toAdapterConfig(row.settings as Record<string, unknown>, secrets), version: row.updatedAt };
}
