import { z } from "zod";
import { defineStoreModule, type StoreModule } from "../store-module.ts";
import type { StripeAdapterOptions } from "./config.ts";
import { createStripeAdapter } from "./index.ts";

/** The `stripe` block of an app (`POST /v1/apps`). */
export const StripeConfigSchema = z.strictObject({
  webhook_secrets: z
    .array(z.string().regex(/^whsec_\S+$/, "must be a Stripe endpoint secret (whsec_...)"))
    .min(1)
    .max(10),
  api_key: z
    .string()
    .regex(/^(rk|sk)_(test|live)_\S+$/, "must be a Stripe secret or restricted key (rk_... or sk_...)")
    .nullable()
    .optional(),
});

export function createStripeModule(options: StripeAdapterOptions = {}): StoreModule {
  return defineStoreModule({
    store: "stripe",
    block: "stripe",
    segment: "stripe",
    configSchema: StripeConfigSchema,
    secretFields: ["webhook_secrets", "api_key"],
    toAdapterConfig: (stored) => ({ webhookSecrets: stored.webhook_secrets, apiKey: stored.api_key ?? null }),
    adapter: createStripeAdapter(options),
  });
}
