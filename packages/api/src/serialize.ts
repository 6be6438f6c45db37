import type { Notification, Subscription, WebhookEndpoint } from "@subgate/db";
import { knownTime } from "@subgate/subscriptions";

/**
 * A stored time as ISO 8601; null when it cannot be read back as one (a year beyond 9999, written
 * before subgate checked store times, reads back as an invalid Date). Never a 500 for what is stored.
 */
export const iso = (date: Date | null | undefined): string | null => knownTime(date ?? null)?.toISOString() ?? null;

/** A tracked subscription as docs/API.md shows it. */
export function subscriptionView(subscription: Subscription) {
  return {
    id: subscription.id,
    store: subscription.store,
    store_subscription_id: subscription.storeSubscriptionId,
    app_user_id: subscription.appUserId,
    environment: subscription.environment,
    status: subscription.status,
    product_id: subscription.productId,
    expires_at: iso(subscription.expiresAt),
    auto_renew: subscription.autoRenew,
    period_type: subscription.periodType,
    purchased_at: iso(subscription.purchasedAt),
    store_user_id: subscription.storeUserId,
    last_event_type: subscription.lastEventType,
    last_event_at: iso(subscription.lastEventAt),
    created_at: subscription.createdAt.toISOString(),
    updated_at: subscription.updatedAt.toISOString(),
  };
}

export function endpointView(endpoint: WebhookEndpoint) {
  return {
    id: endpoint.id,
    url: endpoint.url,
    event_types: endpoint.eventTypes,
    environments: endpoint.environments,
    created_at: endpoint.createdAt.toISOString(),
  };
}

/** An inbox row as `GET /v1/apps/{id}/notifications` lists it (docs/API.md "Inbox"), without its body. */
export function notificationView(notification: Omit<Notification, "rawBody" | "headers" | "verification" | "normalized">) {
  return {
    id: notification.id,
    store: notification.store,
    environment: notification.environment,
    store_notification_id: notification.storeNotificationId,
    notification_type: notification.notificationType,
    notification_subtype: notification.notificationSubtype,
    store_subscription_id: notification.subscriptionKey,
    received_at: notification.receivedAt.toISOString(),
    store_event_at: iso(notification.storeEventAt),
    state: notification.state,
    last_error: notification.lastError,
    attempts: notification.attempts,
    next_attempt_at: iso(notification.nextAttemptAt),
    processed_at: iso(notification.processedAt),
  };
}
