import { z } from "zod";
import { defineStoreModule, type StoreModule } from "../store-module.ts";

/** The `google` block of an app (`POST /v1/apps`). */
export const GoogleConfigSchema = z.strictObject({
  package_name: z.string().min(1).max(255),
  pubsub_audience: z.string().min(1).max(2048).nullable().optional(),
  pubsub_service_account_email: z.email().nullable().optional(),
});

/**
 * Google Play: apps can store their configuration, but this build verifies no Google notification
 * yet, so its ingress answers 404 (recorded in the app's status).
 */
export function createGoogleModule(): StoreModule {
  return defineStoreModule({
    store: "play_store",
    block: "google",
    segment: "google",
    configSchema: GoogleConfigSchema,
    secretFields: [],
    toAdapterConfig: (stored) => stored,
    adapter: null,
  });
}
