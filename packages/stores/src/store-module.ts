import type { z } from "zod";
import { firstIssue } from "@subgate/core";
import type { Store } from "@subgate/schema";
import type { IncomingRequest, Normalized, StoreAdapter, StoredNotification, VerifiedNotification } from "./adapter.ts";

/** A store's adapter bound to one app's configuration: what the ingress and the worker call. */
export interface BoundStoreAdapter {
  verify(request: IncomingRequest): Promise<VerifiedNotification>;
  normalize(notification: StoredNotification): Promise<Normalized>;
}

/** An app's stored configuration for a store no longer fits the store's schema (it was changed since). */
export class StoreConfigError extends Error {
  override readonly name = "StoreConfigError";
}

/**
 * Everything subgate knows about one store, in one place. The API, the ingress and the worker read
 * all of it from here (through the registry), so a store lives in its own folder and nothing else
 * names it.
 */
export interface StoreModule {
  readonly store: Store;
  /** The store's block in `POST /v1/apps` and `PATCH /v1/apps/{id}`, and its key in `ingress`. */
  readonly block: string;
  /** The path segment of the store's ingress URLs: `/ingress/<segment>/<token>`. */
  readonly segment: string;
  /** The configuration block, whole and strict; `secretFields` are sealed at rest and never shown. */
  readonly configSchema: z.ZodObject;
  readonly secretFields: readonly string[];
  /** False while this build accepts the store's configuration but has no adapter for it: its ingress answers 404. */
  readonly verifies: boolean;
  /**
   * The adapter bound to an app's stored configuration (settings and decrypted secrets, merged).
   * Null when the store has no adapter in this build. Throws StoreConfigError when the stored
   * configuration does not fit the schema.
   */
  bind(stored: Readonly<Record<string, unknown>>): BoundStoreAdapter | null;
}

export interface StoreModuleDefinition<Schema extends z.ZodObject, Config> {
  store: Store;
  block: string;
  segment: string;
  configSchema: Schema;
  secretFields: readonly (keyof z.output<Schema> & string)[];
  /** Turns the stored configuration, checked against `configSchema`, into the adapter's configuration. */
  toAdapterConfig(stored: z.output<Schema>): Config;
  adapter: StoreAdapter<Config> | null;
}

/**
 * Builds a store's module. The adapter's configuration type stays inside: callers get an adapter
 * already bound to one app's configuration, so nothing outside the store's folder handles it.
 */
export function defineStoreModule<Schema extends z.ZodObject, Config>(definition: StoreModuleDefinition<Schema, Config>): StoreModule {
  const { adapter, configSchema, toAdapterConfig } = definition;
  return {
    store: definition.store,
    block: definition.block,
    segment: definition.segment,
    configSchema,
    secretFields: definition.secretFields,
    verifies: adapter !== null,
    bind(stored) {
      if (!adapter) return null;
      const parsed = configSchema.safeParse(stored);
      if (!parsed.success) {
        throw new StoreConfigError(
          `the app's ${definition.block} configuration is not valid: ${firstIssue(parsed.error, { prefix: [definition.block] })}`,
        );
      }
      const config = toAdapterConfig(parsed.data);
      return {
        verify: (request) => adapter.verify(request, config),
        normalize: (notification) => adapter.normalize(notification, config),
      };
    },
  };
}
