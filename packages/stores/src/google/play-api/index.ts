export {
  ANDROID_PUBLISHER_SCOPE,
  type ProductPurchase,
  PlayDeveloperApi,
  type PlayDeveloperApiOptions,
  type SubscriptionPurchaseV2,
} from "./client.ts";
export { PlayApiError, type PlayApiErrorInit, type PlayApiErrorKind } from "./errors.ts";
