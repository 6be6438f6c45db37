import type { SecretBox } from "@subgate/core";
import type { Db } from "@subgate/db";
import type { Store } from "@subgate/schema";
import type { BoundStoreAdapter, StoreModule } from "./store-module.ts";

/** The stores this build knows, each by its module: the only place the API, ingress and worker look. */
export class StoreRegistry {
  readonly #modules: readonly StoreModule[];
  readonly #byStore = new Map<Store, StoreModule>();
  readonly #bySegment = new Map<string, StoreModule>();

  constructor(modules: readonly StoreModule[]) {
    for (const [index, module] of modules.entries()) {
      const clash = modules
        .slice(0, index)
        .find((other) => other.store === module.store || other.block === module.block || other.segment === module.segment);
      if (clash) throw new Error(`store modules ${clash.store} and ${module.store} share a store, block or segment`);
      this.#byStore.set(module.store, module);
      this.#bySegment.set(module.segment, module);
    }
    this.#modules = [...modules];
  }

  all(): readonly StoreModule[] {
    return this.#modules;
  }

  get(store: Store): StoreModule | undefined {
    return this.#byStore.get(store);
  }

  /** The module an ingress URL's segment names (every ingress request asks). */
  bySegment(segment: string): StoreModule | undefined {
    return this.#bySegment.get(segment);
  }
}

export interface LoadedStoreConfig {
  module: StoreModule;
  /** The store's adapter bound to the app's configuration; null when this build has no adapter for the store. */
  adapter: BoundStoreAdapter | null;
  /** When the configuration was last changed: what a decision taken with it is valid for. */
  version: Date;
}

/**
 * Reads an app's configuration for one store and decrypts its secrets. Null when the app has not
 * configured that store or this build does not know the store.
 */
export async function loadStoreConfig(
  db: Db,
  secretBox: SecretBox,
  registry: StoreRegistry,
  appId: string,
  store: Store,
): Promise<LoadedStoreConfig | null> {
  const module = registry.get(store);
  if (!module) return null;
  const row = await readStoreConfig(db, secretBox, appId, store);
  return row ? { module, adapter: module.bind(row.stored), version: row.version } : null;
}

/** An app's stored block for one store, settings and decrypted secrets merged; null if not configured. */
export async function readStoreConfig(
  db: Db,
  secretBox: SecretBox,
  appId: string,
  store: Store,
): Promise<{ stored: Record<string, unknown>; version: Date } | null> {
  const row = await db.storeConfig.findUnique({ where: { appId_store: { appId, store } } });
  if (!row) return null;
  const secrets = secretBox.openJson(row.secretsEncrypted) as Record<string, unknown>;
  return { stored: { ...(row.settings as Record<string, unknown>), ...secrets }, version: row.updatedAt };
}
