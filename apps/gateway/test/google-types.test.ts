import { describe, expect, it } from "vitest";
import { eventually } from "@subgate/testing";
import { subscriptionLineItem, subscriptionPurchase, type SubscriptionPurchaseV2 } from "@subgate/testing/google";
import { createGoogleApp, eventsOf, push, settled, subscriptionNotification, useGoogleFixture } from "./google-fixture.ts";
import { useGatewayWithReceiver } from "./harness.ts";

/*
 * Every subscription notification type, end to end: for a tracked subscription, the events the app
 * receives and the state it ends in (docs/GOOGLE-MAPPING.md); for an untracked one, a 200, nothing
 * sent and last_received_at left alone. Google's answer for each is what Google would say then.
 */

const { oidc, play, key, config } = await useGoogleFixture();
const context = useGatewayWithReceiver(config);
const DAY_MS = 86_400_000;
const inAWeek = () => new Date(Date.now() + 7 * DAY_MS).toISOString();
const aDayAgo = () => new Date(Date.now() - DAY_MS).toISOString();
const ended = (extra: Partial<SubscriptionPurchaseV2> = {}) =>
  subscriptionPurchase({
    lineItems: [subscriptionLineItem({ expiryTime: aDayAgo(), autoRenewingPlan: { autoRenewEnabled: false } })],
    ...extra,
  });

/** [type, Google's answer then, the events the app gets, the subscription's status after]. */
const TYPES: [number, () => SubscriptionPurchaseV2, string[], string][] = [
  [1, () => subscriptionPurchase(), ["RENEWAL"], "active"],
  [2, () => subscriptionPurchase(), ["RENEWAL"], "active"],
  [
    3,
    () =>
      subscriptionPurchase({
        subscriptionState: "SUBSCRIPTION_STATE_CANCELED",
        canceledStateContext: { userInitiatedCancellation: {} },
        lineItems: [subscriptionLineItem({ expiryTime: inAWeek(), autoRenewingPlan: { autoRenewEnabled: false } })],
      }),
    ["CANCELLATION"],
    "canceled",
  ],
  [4, () => subscriptionPurchase(), ["INITIAL_PURCHASE"], "active"],
  [5, () => subscriptionPurchase({ subscriptionState: "SUBSCRIPTION_STATE_ON_HOLD" }), ["BILLING_ISSUE", "EXPIRATION"], "in_billing_retry"],
  [6, () => subscriptionPurchase({ subscriptionState: "SUBSCRIPTION_STATE_IN_GRACE_PERIOD" }), ["BILLING_ISSUE"], "in_grace_period"],
  [7, () => subscriptionPurchase(), ["UNCANCELLATION"], "active"],
  [8, () => subscriptionPurchase(), ["PRICE_INCREASE"], "active"],
  [9, () => subscriptionPurchase(), ["SUBSCRIPTION_EXTENDED"], "active"],
  [
    10,
    () =>
      subscriptionPurchase({
        subscriptionState: "SUBSCRIPTION_STATE_PAUSED",
        pausedStateContext: { autoResumeTime: inAWeek() },
        lineItems: [subscriptionLineItem({ expiryTime: aDayAgo() })],
      }),
    ["SUBSCRIPTION_PAUSED", "EXPIRATION"],
    "paused",
  ],
  [11, () => subscriptionPurchase(), [], "active"],
  [12, () => ended({ subscriptionState: "SUBSCRIPTION_STATE_EXPIRED" }), ["EXPIRATION"], "revoked"],
  [
    13,
    () => ended({ subscriptionState: "SUBSCRIPTION_STATE_EXPIRED", canceledStateContext: { userInitiatedCancellation: {} } }),
    ["EXPIRATION"],
    "expired",
  ],
  [17, () => subscriptionPurchase(), ["PRODUCT_CHANGE"], "active"],
  [18, () => subscriptionPurchase(), ["CANCELLATION"], "active"],
  [19, () => subscriptionPurchase(), ["PRICE_INCREASE"], "active"],
  [20, () => ended({ subscriptionState: "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED" }), [], "expired"],
  [22, () => subscriptionPurchase(), ["PRICE_INCREASE"], "active"],
];

describe("every Google subscription notification type", () => {
  it.each(TYPES)("type %i, tracked: events and state", async (type, answer, events, status) => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key });
    const token = `tracked-${type}-${Date.now()}`;
    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "play_store", store_subscription_id: token });
    expect(tracked.status).toBe(201);
    play.setSubscription(token, answer());
    const answered = await push(context.gateway, app, oidc, subscriptionNotification(type, token));
    expect(answered.status, JSON.stringify(answered.body)).toBe(200);
    const row = await settled(app, answered.body.notification_id);
    expect(row.state, row.last_error ?? "").toBe("processed");
    if (events.length > 0) await eventually(async () => (eventsOf(context.receiver, app.appId).length >= events.length ? true : undefined));
    // Anything sent is sent within moments of the state commit: a short wait shows nothing more follows.
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Deliveries run in parallel: the order of arrival is not the order of events, `sequence` is.
    const received = eventsOf(context.receiver, app.appId).sort((a, b) => a.sequence - b.sequence);
    expect(received.map((event) => event.type)).toEqual(events);
    for (const event of eventsOf(context.receiver, app.appId))
      expect(event).toMatchObject({ store: "PLAY_STORE", subscription_id: tracked.body.id });
    const view = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(view.body.status).toBe(status);
  });

  it.each(TYPES)("type %i, untracked: 200, nothing sent, last_received_at unchanged", async (type, answer) => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key });
    const token = `untracked-${type}-${Date.now()}`;
    play.setSubscription(token, answer());
    const answered = await push(context.gateway, app, oidc, subscriptionNotification(type, token));
    expect(answered.status).toBe(200);
    expect(["untracked", "ignored"]).toContain((await settled(app, answered.body.notification_id)).state);
    expect(eventsOf(context.receiver, app.appId)).toEqual([]);
    const status = (await app.api.get(`/v1/apps/${app.appId}/notification-status`)).body.stores;
    for (const entry of status.filter((row: any) => row.store === "play_store")) expect(entry.last_received_at).toBeNull();
  });
});
