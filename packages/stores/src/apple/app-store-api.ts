import type { SecretBox } from "@subgate/core";
import type { Db } from "@subgate/db";
import type { Environment } from "@subgate/schema";
import { ClientCache } from "../client-cache.ts";
import { readStoreConfig } from "../registry.ts";
import { AppleConfigSchema } from "./module.ts";
import { AppStoreServerApiClient, type AppStoreServerApiClientOptions } from "./server-api/index.ts";

/** The deployment's App Store Server API settings (APP_STORE_API_BASE_URL, APP_STORE_SANDBOX_API_BASE_URL). */
export interface AppStoreApiSettings {
  productionBaseUrl: string;
  sandboxBaseUrl: string;
  timeoutMs?: number;
  retry?: AppStoreServerApiClientOptions["retry"];
}

export const APPLE_API_BASE_URLS = {
  production: "https://api.storekit.itunes.apple.com",
  sandbox: "https://api.storekit-sandbox.itunes.apple.com",
} as const;

/** The app has no App Store Server API key (or no `apple` block): nothing can call Apple for it. */
export class AppStoreApiNotConfiguredError extends Error {
  override readonly name = "AppStoreApiNotConfiguredError";
}

/**
 * The App Store Server API clients of every app, one per key and environment. A client is kept as
 * long as the app's key and the base URL are unchanged, so its JWT is reused across calls (Apple
 * rate-limits per key; signing one per call is needless work).
 */
export class AppStoreApis {
  readonly #clients = new ClientCache<AppStoreServerApiClient>();

  constructor(private readonly settings: AppStoreApiSettings) {}

  /** Throws AppStoreApiNotConfiguredError when the app has no usable key. */
  async forApp(db: Db, secretBox: SecretBox, appId: string, environment: Environment): Promise<AppStoreServerApiClient> {
    const row = await readStoreConfig(db, secretBox, appId, "app_store");
    if (!row) throw new AppStoreApiNotConfiguredError("this app has no apple block: set apple.bundle_id and an App Store Server API key");
    const parsed = AppleConfigSchema.safeParse(row.stored);
    const config = parsed.success ? parsed.data : null;
    if (!config?.issuer_id || !config.key_id || !config.private_key) {
      throw new AppStoreApiNotConfiguredError(
        "this app has no App Store Server API key: set apple.issuer_id, apple.key_id and apple.private_key (PATCH /v1/apps/{id})",
      );
    }
    const baseUrl = environment === "production" ? this.settings.productionBaseUrl : this.settings.sandboxBaseUrl;
    const credentials = { issuerId: config.issuer_id, keyId: config.key_id, privateKey: config.private_key, bundleId: config.bundle_id };
    return this.#clients.get(
      [baseUrl, credentials],
      () =>
        new AppStoreServerApiClient({
          baseUrl,
          credentials,
          ...(this.settings.timeoutMs ? { timeoutMs: this.settings.timeoutMs } : {}),
          ...(this.settings.retry ? { retry: this.settings.retry } : {}),
        }),
    );
  }
}
