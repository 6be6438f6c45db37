import { describe, expect, it } from "vitest";
import { eventually } from "@subgate/testing";
import { developerNotification, subscriptionLineItem, subscriptionPurchase } from "@subgate/testing/google";
import { createGoogleApp, eventsOf, push, settled, subscriptionNotification, useGoogleFixture } from "./google-fixture.ts";
import { useGatewayWithReceiver } from "./harness.ts";

/*
 * With push authentication off, anyone who has the ingress URL can post. A notification is
 * only a signal and Google's answer is the truth: what a forged push makes subgate tell the app.
 */

const { oidc, play, key, config } = await useGoogleFixture();
const context = useGatewayWithReceiver({ ...config, notificationRetryScheduleMs: [200] });
let tokens = 0;
const newToken = () => `forged-token-${Date.now()}-${++tokens}`;

async function activeTrackedSubscription() {
  const app = await createGoogleApp(context.gateway, context.receiver, { key, authenticated: false });
  const token = newToken();
  const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
    store: "play_store",
    store_subscription_id: token,
    app_user_id: "victim",
  });
  expect(tracked.status).toBe(201);
  play.setSubscription(token, subscriptionPurchase());
  const bought = await push(context.gateway, app, oidc, subscriptionNotification(4, token), { token: null });
  expect((await settled(app, bought.body.notification_id)).state).toBe("processed");
  await eventually(async () => (eventsOf(context.receiver, app.appId).length === 1 ? true : undefined));
  return { app, token, subscriptionId: tracked.body.id as string };
}

describe("forged Google pushes (push authentication off)", () => {
  it("does not revoke an active subscription on an unauthenticated voided-purchase push Google was not asked about (productType 2); the refund event it cannot tell from a real one is still sent", async () => {
    const { app, token, subscriptionId } = await activeTrackedSubscription();
    const before = play.requests.length;
    const forged = developerNotification("voided", {
      purchaseToken: token,
      orderId: "GPA.0000-0000-0000-00000",
      productType: 2,
      refundType: 1,
    });
    const answer = await push(context.gateway, app, oidc, forged, { token: null });
    expect(answer.status).toBe(200);
    await settled(app, answer.body.notification_id);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const view = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${subscriptionId}`);
    expect({
      status: view.body.status,
      calls_to_google: play.requests.length - before,
      events: eventsOf(context.receiver, app.appId).map((event) => event.type),
    }).toEqual({ status: "active", calls_to_google: 0, events: ["INITIAL_PURCHASE", "CANCELLATION"] });
  });

  it("reports the genuine expiry after a forged SUBSCRIPTION_EXPIRED that Google's answer contradicted", async () => {
    const { app, token } = await activeTrackedSubscription();
    // Forged: Google's answer still says active (same period, same latestSuccessfulOrderId).
    const forgedAt = Date.now();
    const forged = await push(context.gateway, app, oidc, subscriptionNotification(13, token, forgedAt), { token: null });
    await settled(app, forged.body.notification_id);
    // Genuine: the customer cancels and the period ends; Google's answer says expired.
    play.setSubscription(
      token,
      subscriptionPurchase({
        subscriptionState: "SUBSCRIPTION_STATE_EXPIRED",
        canceledStateContext: { userInitiatedCancellation: {} },
        lineItems: [
          subscriptionLineItem({ expiryTime: new Date(Date.now() - 1_000).toISOString(), autoRenewingPlan: { autoRenewEnabled: false } }),
        ],
      }),
    );
    const genuineAt = forgedAt + 2_000;
    const genuine = await push(context.gateway, app, oidc, subscriptionNotification(13, token, genuineAt), { token: null });
    await settled(app, genuine.body.notification_id);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const expirations = eventsOf(context.receiver, app.appId)
      .filter((event) => event.type === "EXPIRATION")
      .map((event) => ({ at: event.event_timestamp_ms, reason: event.expiration_reason }));
    expect(expirations).toEqual([{ at: genuineAt, reason: "UNSUBSCRIBE" }]);
  });
});
