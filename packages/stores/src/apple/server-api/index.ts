export {
  type AppStoreRetryOptions,
  AppStoreServerApiClient,
  type AppStoreServerApiClientOptions,
  type NotificationHistoryPage,
  type NotificationHistoryRequest,
  type SendAttempt,
  type SendAttemptResult,
  type SignedNotification,
} from "./client.ts";
export { AppStoreApiError, type AppStoreApiErrorInit, type AppStoreApiErrorKind } from "./errors.ts";
export { type AppStoreApiCredentials, AppStoreApiTokens, type AppStoreApiTokensOptions } from "./token.ts";
