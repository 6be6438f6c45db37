import { createStripeAdapter, type StoreModules, type StripeConfig } from "@subgate/stores";

/** The stores this build verifies, wired to their configurable API base URLs. */
export function createStoreModules(options: { stripeApiBaseUrl: string }): StoreModules {
  return {
    stripe: {
      adapter: createStripeAdapter({ apiBaseUrl: options.stripeApiBaseUrl }),
      toAdapterConfig: (_settings, secrets): StripeConfig => ({
        webhookSecrets: Array.isArray(secrets.webhook_secrets) ? (secrets.webhook_secrets as string[]) : [],
        apiKey: typeof secrets.api_key === "string" ? secrets.api_key : null,
      }),
    },
  };
}
