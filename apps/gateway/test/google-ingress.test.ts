import { describe, expect, it } from "vitest";
import { eventually } from "@subgate/testing";
import {
  developerNotification,
  googleErrorBody,
  productPurchase,
  subscriptionLineItem,
  subscriptionPurchase,
} from "@subgate/testing/google";
import { createGoogleApp, eventsOf, keyFile, push, settled, subscriptionNotification, useGoogleFixture } from "./google-fixture.ts";
import { ADMIN_TOKEN, apiClient, postToIngress, useGatewayWithReceiver } from "./harness.ts";

/*
 * Google Play real-time developer notifications over authenticated Pub/Sub push, end to end: the
 * OIDC token checked against a local JWK set, the purchase read from a local Android Publisher API
 * with the service account's self-signed JWT, and the outcome seen through the public API and the
 * webhooks the app receives.
 */

const { oidc, play, key, unprivilegedKey, config } = await useGoogleFixture();
const context = useGatewayWithReceiver({ ...config, notificationRetryScheduleMs: [200] });
let tokens = 0;
const newToken = () => `purchase-token-${Date.now()}-${++tokens}`;

async function track(app: Awaited<ReturnType<typeof createGoogleApp>>, token: string, appUserId = "user-g") {
  const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
    store: "play_store",
    store_subscription_id: token,
    app_user_id: appUserId,
  });
  expect(tracked.status, JSON.stringify(tracked.body)).toBe(201);
  return tracked.body;
}

const statusOf = async (app: Awaited<ReturnType<typeof createGoogleApp>>, environment: string) =>
  (await app.api.get(`/v1/apps/${app.appId}/notification-status`)).body.stores.find(
    (row: any) => row.store === "play_store" && row.environment === environment,
  );

describe("Google Play push authentication", () => {
  it("refuses pushes whose OIDC token is missing, expired, for another audience or account, or wrongly signed, recording why", async () => {
    const app = await createGoogleApp(context.gateway, null, { key });
    const notification = subscriptionNotification(2, newToken());
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string | null, RegExp][] = [
      ["missing", null, /missing Authorization bearer token/],
      ["expired", await oidc.signToken({ iat: now - 7200, exp: now - 3600 }), /expired/],
      ["wrong audience", await oidc.signToken({ aud: "https://elsewhere.example/push" }), /audience/],
      ["wrong email", await oidc.signToken({ email: "someone@else.iam.gserviceaccount.com" }), /pubsub_service_account_email/],
      ["unverified email", await oidc.signToken({ email_verified: false }), /email_verified/],
      ["wrongly signed", await oidc.signToken({}, { key: "unknown" }), /signing key|signature/],
    ];
    for (const [what, token, reason] of cases) {
      const answer = await push(context.gateway, app, oidc, notification, { token });
      expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).toBe(401);
      expect(answer.body.error.message, what).toMatch(reason);
      expect((await statusOf(app, "production")).last_rejection_reason, what).toMatch(reason);
    }
    const inbox = await app.api.get(`/v1/apps/${app.appId}/notifications?store=play_store`);
    expect(inbox.body.data).toEqual([]);
  });

  it("refuses a notification for another package with 403, and junk data with 400", async () => {
    const app = await createGoogleApp(context.gateway, null, { key });
    const other = developerNotification("subscription", { packageName: "com.other.app", purchaseToken: newToken() });
    const answer = await push(context.gateway, app, oidc, other);
    expect(answer.status).toBe(403);
    expect(answer.body.error.message).toContain("com.other.app");
    expect((await statusOf(app, "production")).last_rejection_reason).toContain("package_name");

    const authorization = { authorization: `Bearer ${await oidc.signToken()}` };
    const junk = JSON.stringify({ message: { data: "%%% not base64 %%%", messageId: "1" }, subscription: "s" });
    expect((await postToIngress(context.gateway, app.googleUrl, junk, authorization)).status).toBe(400);
    const notJson = JSON.stringify({ message: { data: Buffer.from("not json").toString("base64"), messageId: "2" }, subscription: "s" });
    expect((await postToIngress(context.gateway, app.googleUrl, notJson, authorization)).status).toBe(400);
  });

  it("takes pushes without a token when the app has not turned authentication on", async () => {
    const app = await createGoogleApp(context.gateway, null, { key, authenticated: false });
    const token = newToken();
    play.setSubscription(token, subscriptionPurchase());
    const answer = await push(context.gateway, app, oidc, subscriptionNotification(4, token), { token: null });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  });
});

describe("Google Play notifications", () => {
  it("applies a purchase and a renewal to a tracked subscription, with state read from Google", async () => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key });
    const token = newToken();
    const subscription = await track(app, token);
    play.setSubscription(token, subscriptionPurchase({ testPurchase: {}, regionCode: "DE" }));
    const bought = await push(context.gateway, app, oidc, subscriptionNotification(4, token));
    expect(bought.status, JSON.stringify(bought.body)).toBe(200);
    expect((await settled(app, bought.body.notification_id)).state).toBe("processed");
    const [event] = await eventually(async () =>
      eventsOf(context.receiver, app.appId).length ? eventsOf(context.receiver, app.appId) : undefined,
    );
    expect(event).toMatchObject({
      type: "INITIAL_PURCHASE",
      store: "PLAY_STORE",
      environment: "SANDBOX",
      product_id: "premium:monthly",
      transaction_id: "GPA.1234-5678-9012-34567",
      country_code: "DE",
      app_user_id: "user-g",
    });
    const view = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${subscription.id}`);
    expect(view.body).toMatchObject({ status: "active", environment: "sandbox", product_id: "premium:monthly", auto_renew: true });
    expect((await statusOf(app, "sandbox")).last_received_at).not.toBeNull();
  });

  it("answers 200 for an untracked purchase, and sends nothing nor moves last_received_at", async () => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key });
    const token = newToken();
    play.setSubscription(token, subscriptionPurchase());
    const answer = await push(context.gateway, app, oidc, subscriptionNotification(4, token));
    expect(answer.status).toBe(200);
    expect((await settled(app, answer.body.notification_id)).state).toBe("untracked");
    expect(eventsOf(context.receiver, app.appId)).toEqual([]);
    expect((await statusOf(app, "production")).last_received_at).toBeNull();
  });

  it("processes a duplicate messageId once", async () => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key });
    const token = newToken();
    await track(app, token);
    play.setSubscription(token, subscriptionPurchase());
    const notification = subscriptionNotification(2, token);
    const first = await push(context.gateway, app, oidc, notification, { messageId: "4242424242" });
    const second = await push(context.gateway, app, oidc, notification, { messageId: "4242424242" });
    expect(first.body.status).toBe("stored");
    expect(second.body).toEqual({ status: "duplicate" });
    await settled(app, first.body.notification_id);
    await eventually(async () => (eventsOf(context.receiver, app.appId).length === 1 ? true : undefined));
    const inbox = await app.api.get(`/v1/apps/${app.appId}/notifications?store=play_store`);
    expect(inbox.body.data).toHaveLength(1);
  });

  it("retries while Google answers 503, then processes the notification once", async () => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key });
    const token = newToken();
    await track(app, token);
    play.setSubscription(token, subscriptionPurchase());
    play.failNext(2, { status: 503, body: googleErrorBody(503, "UNAVAILABLE", "The service is currently unavailable.", "backendError") });
    const answer = await push(context.gateway, app, oidc, subscriptionNotification(2, token));
    const row = await settled(app, answer.body.notification_id);
    expect(row.state).toBe("processed");
    expect(row.attempts).toBeGreaterThanOrEqual(3);
    await eventually(async () => (eventsOf(context.receiver, app.appId).length >= 1 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(eventsOf(context.receiver, app.appId).map((e) => e.type)).toEqual(["RENEWAL"]);
  });

  it("leaves a notification unresolved while the service account lacks permission, and processes it once the key is fixed", async () => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key: unprivilegedKey });
    const token = newToken();
    await track(app, token);
    play.setSubscription(token, subscriptionPurchase());
    const answer = await push(context.gateway, app, oidc, subscriptionNotification(4, token));
    const row = await settled(app, answer.body.notification_id);
    expect(row.state).toBe("unresolved");
    expect(row.last_error).toMatch(/no-permission@subgate-test\.iam\.gserviceaccount\.com.*Play Console/);

    const admin = apiClient(context.gateway.url as string, ADMIN_TOKEN);
    expect((await admin.patch(`/v1/apps/${app.appId}`, { google: { service_account_key: keyFile(key) } })).status).toBe(200);
    expect((await settled(app, answer.body.notification_id)).state).toBe("processed");
    await eventually(async () => (eventsOf(context.receiver, app.appId).length === 1 ? true : undefined));
  });

  it("fails a notification whose token Google does not know, saying so", async () => {
    const app = await createGoogleApp(context.gateway, null, { key });
    const answer = await push(context.gateway, app, oidc, subscriptionNotification(2, "a-token-google-never-issued"));
    const row = await settled(app, answer.body.notification_id);
    expect(row.state).toBe("failed");
    expect(row.last_error).toMatch(/Google does not know this purchase token/);
  });

  it("follows an upgrade's new purchase token: the tracked subscription gets the PRODUCT_CHANGE and keeps its id", async () => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key });
    const oldToken = newToken();
    const newTokenValue = newToken();
    const subscription = await track(app, oldToken, "user-upgrade");
    play.setSubscription(oldToken, subscriptionPurchase());
    const bought = await push(context.gateway, app, oidc, subscriptionNotification(4, oldToken));
    await settled(app, bought.body.notification_id);

    play.setSubscription(
      newTokenValue,
      subscriptionPurchase({
        linkedPurchaseToken: oldToken,
        lineItems: [subscriptionLineItem({ offerDetails: { basePlanId: "yearly", offerTags: [] } })],
      }),
    );
    const upgraded = await push(context.gateway, app, oidc, subscriptionNotification(4, newTokenValue));
    expect((await settled(app, upgraded.body.notification_id)).state).toBe("processed");
    // Google then reports the old token's end, because of the replacement: no event follows the change.
    play.setSubscription(
      oldToken,
      subscriptionPurchase({ subscriptionState: "SUBSCRIPTION_STATE_EXPIRED", canceledStateContext: { replacementCancellation: {} } }),
    );
    const oldEnd = await push(context.gateway, app, oidc, subscriptionNotification(13, oldToken));
    await settled(app, oldEnd.body.notification_id);

    await eventually(async () => (eventsOf(context.receiver, app.appId).length >= 2 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    // In store order (`sequence`): deliveries run in parallel and may arrive in either order.
    const inOrder = eventsOf(context.receiver, app.appId).sort((a, b) => a.sequence - b.sequence);
    expect(inOrder.map((e) => e.type)).toEqual(["INITIAL_PURCHASE", "PRODUCT_CHANGE"]);
    expect(inOrder[1]).toMatchObject({ subscription_id: subscription.id, app_user_id: "user-upgrade", new_product_id: "premium:yearly" });
    const view = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${subscription.id}`);
    expect(view.body).toMatchObject({ store_subscription_id: newTokenValue, status: "active", product_id: "premium:yearly" });
    // The old token still names the one subscription, for tracking and for lookups.
    const again = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "play_store", store_subscription_id: oldToken });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(subscription.id);
    const found = await app.api.get(`/v1/apps/${app.appId}/subscriptions?store_subscription_id=${encodeURIComponent(oldToken)}`);
    expect(found.body.data.map((s: any) => s.id)).toEqual([subscription.id]);
  });

  it("turns voided purchases into refunds: a full one revokes, a partial one does not", async () => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key });
    const fullToken = newToken();
    const partialToken = newToken();
    const full = await track(app, fullToken, "user-full");
    const partial = await track(app, partialToken, "user-partial");
    // As Google answers after the refunds: the fully refunded purchase has ended, the partly refunded one runs on.
    play.setSubscription(fullToken, subscriptionPurchase({ subscriptionState: "SUBSCRIPTION_STATE_EXPIRED" }));
    play.setSubscription(partialToken, subscriptionPurchase());
    for (const [token, refundType] of [
      [fullToken, 1],
      [partialToken, 2],
    ] as const) {
      const voided = developerNotification("voided", { purchaseToken: token, productType: 1, refundType });
      const answer = await push(context.gateway, app, oidc, voided);
      expect(answer.status).toBe(200);
      expect((await settled(app, answer.body.notification_id)).state).toBe("processed");
    }
    const events = await eventually(async () => {
      const mine = eventsOf(context.receiver, app.appId);
      return mine.length >= 2 ? mine : undefined;
    });
    for (const event of events) expect(event).toMatchObject({ type: "CANCELLATION", cancel_reason: "CUSTOMER_SUPPORT" });
    expect((await app.api.get(`/v1/apps/${app.appId}/subscriptions/${full.id}`)).body.status).toBe("revoked");
    expect((await app.api.get(`/v1/apps/${app.appId}/subscriptions/${partial.id}`)).body.status).not.toBe("revoked");
  });

  it("turns a one-time product purchase into NON_RENEWING_PURCHASE, with the purchase read from products.get", async () => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key });
    const token = newToken();
    await track(app, token, "user-coins");
    play.setProduct("coins_100", token, productPurchase());
    const bought = developerNotification("oneTime", { purchaseToken: token, sku: "coins_100", notificationType: 1 });
    const answer = await push(context.gateway, app, oidc, bought);
    expect((await settled(app, answer.body.notification_id)).state).toBe("processed");
    const [event] = await eventually(async () =>
      eventsOf(context.receiver, app.appId).length ? eventsOf(context.receiver, app.appId) : undefined,
    );
    expect(event).toMatchObject({ type: "NON_RENEWING_PURCHASE", store: "PLAY_STORE", product_id: "coins_100", app_user_id: "user-coins" });
  });

  it("delivers a test notification as TEST, filed under the app's test_environment", async () => {
    const app = await createGoogleApp(context.gateway, context.receiver, { key, test_environment: "sandbox" });
    const answer = await push(context.gateway, app, oidc, developerNotification("test"));
    expect(answer.status).toBe(200);
    await settled(app, answer.body.notification_id);
    const [event] = await eventually(async () =>
      eventsOf(context.receiver, app.appId).length ? eventsOf(context.receiver, app.appId) : undefined,
    );
    expect(event).toMatchObject({ type: "TEST", store: "PLAY_STORE", environment: "SANDBOX" });
    const sandbox = await statusOf(app, "sandbox");
    expect(sandbox.last_test_received_at).not.toBeNull();
    expect(sandbox.last_received_at).toBeNull();
  });
});
