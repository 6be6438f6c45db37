export { createAppleAdapter } from "./adapter.ts";
export type { AppleAdapterOptions, AppleConfig } from "./config.ts";
export { AppleJwsVerifier, DEFAULT_APPLE_ROOT_CA_G3_PATH, loadTrustedRoots } from "./jws/index.ts";
export { AppleConfigSchema, createAppleModule } from "./module.ts";
export { verifyAppleV2 } from "./v2/verify.ts";
export { APPLE_API_BASE_URLS, AppStoreApiNotConfiguredError, AppStoreApis, type AppStoreApiSettings } from "./app-store-api.ts";
export { APPLE_HISTORY_RETENTION_DAYS, firstSendAttemptAt, historyItemRequest } from "./history.ts";
export { decodeJwsPayloadUnverified } from "./jws/index.ts";
export * from "./server-api/index.ts";
