import { z } from "zod";
import { defineStoreModule, type StoreModule } from "../store-module.ts";
import { createAppleAdapter } from "./adapter.ts";
import type { AppleAdapterOptions } from "./config.ts";

/** The `apple` block of an app (`POST /v1/apps`). */
export const AppleConfigSchema = z.strictObject({
  bundle_id: z.string().min(1).max(255),
  app_apple_id: z.number().int().positive().nullable().optional(),
  shared_secret: z.string().min(1).max(255).nullable().optional(),
});

export function createAppleModule(options: AppleAdapterOptions = {}): StoreModule {
  return defineStoreModule({
    store: "app_store",
    block: "apple",
    segment: "apple",
    configSchema: AppleConfigSchema,
    secretFields: ["shared_secret"],
    toAdapterConfig: (stored) => ({
      bundleId: stored.bundle_id,
      appAppleId: stored.app_apple_id ?? null,
      sharedSecret: stored.shared_secret ?? null,
    }),
    adapter: createAppleAdapter(options),
  });
}
