export { createGoogleAdapter } from "./adapter.ts";
export type { GoogleAdapterOptions, GoogleConfig, ServiceAccountKey } from "./config.ts";
export { GoogleConfigSchema, createGoogleModule } from "./module.ts";
export { DeveloperNotificationSchema, SUBSCRIPTION_NOTIFICATION_TYPES, type DeveloperNotification } from "./notification.ts";
export { mapOneTimeProductNotification, mapSubscriptionNotification, mapTestNotification, mapVoidedPurchase } from "./mapping.ts";
