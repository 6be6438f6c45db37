import "reflect-metadata";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { eventually, type WebhookReceiver } from "@subgate/testing";
import { type AppleNotificationInput, createAppleTestChain, signAppleNotification, TEST_BUNDLE_ID } from "@subgate/testing/apple";
import type { Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, apiClient, postToIngress, useGatewayWithReceiver } from "./harness.ts";

/*
 * App Store Server Notifications V2, driven over HTTP as Apple posts them (signed with a test chain
 * whose root the gateway trusts), and checked through the public API: the webhooks the app receives,
 * its tracked subscription, its notification status and its inbox.
 */

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const chain = await createAppleTestChain();

type AppleApp = Awaited<ReturnType<typeof createAppleApp>>;

/** An app with an `apple` block and one webhook endpoint at `receiver`. */
async function createAppleApp(gateway: Gateway, receiver: WebhookReceiver) {
  const created = await apiClient(gateway.url as string, ADMIN_TOKEN).post("/v1/apps", {
    name: "Apple",
    apple: { bundle_id: TEST_BUNDLE_ID },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const appId = created.body.id as string;
  const api = apiClient(gateway.url as string, created.body.api_key as string);
  const webhook = await api.post(`/v1/apps/${appId}/webhooks`, { url: receiver.url });
  expect(webhook.status).toBe(201);
  return { appId, api, appleUrl: created.body.ingress.apple.url as string, webhookSecret: webhook.body.secret as string };
}

async function track(app: AppleApp, originalTransactionId: string, appUserId = "user-apple") {
  const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
    store: "app_store",
    store_subscription_id: originalTransactionId,
    app_user_id: appUserId,
  });
  expect(tracked.status, JSON.stringify(tracked.body)).toBe(201);
  return tracked;
}

/** A V2 notification about `originalTransactionId`, signed with the trusted chain. */
function notification(originalTransactionId: string, input: AppleNotificationInput) {
  return signAppleNotification(chain, {
    ...input,
    transaction: input.transaction === null ? null : { originalTransactionId, ...input.transaction },
    renewal: input.renewal === null ? null : { originalTransactionId, ...input.renewal },
  });
}

async function send(gateway: Gateway, app: AppleApp, body: string) {
  const answer = await postToIngress(gateway, app.appleUrl, body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer;
}

/** The events the receiver got for this app, in arrival order. */
function eventsOf(receiver: WebhookReceiver, appId: string): any[] {
  return receiver.delivered.map((request) => JSON.parse(request.body).event).filter((event) => event.app_id === appId);
}

async function waitForEvents(receiver: WebhookReceiver, appId: string, count: number): Promise<any[]> {
  await receiver.waitFor((r) => eventsOf(r, appId).length >= count);
  return eventsOf(receiver, appId);
}

/** The inbox row of a stored notification, once the worker is done with it (any state but pending). */
async function settled(app: AppleApp, notificationId: string): Promise<any> {
  return eventually(
    async () => {
      const inbox = await app.api.get(`/v1/apps/${app.appId}/notifications?store=app_store&limit=100`);
      expect(inbox.status).toBe(200);
      const row = inbox.body.data.find((entry: any) => entry.id === notificationId);
      return row && row.state !== "pending" ? row : undefined;
    },
    15_000,
    `notification ${notificationId} processed`,
  );
}

async function appStoreStatus(app: AppleApp, environment: "sandbox" | "production"): Promise<any> {
  const status = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
  expect(status.status).toBe(200);
  const entry = status.body.stores.find((s: any) => s.store === "app_store" && s.environment === environment);
  expect(entry, JSON.stringify(status.body)).toBeDefined();
  return entry;
}

describe("App Store V2 notifications for a tracked subscription", () => {
  const context = useGatewayWithReceiver({ appleTrustedRoots: [chain.rootDer] });

  it("turn purchase, renewal and cancellation into signed webhooks and state; an older notification does not regress it", async () => {
    const { gateway, receiver } = context;
    const app = await createAppleApp(gateway, receiver);
    const otid = "2000000000000101";
    const tracked = await track(app, otid);
    expect(tracked.body.status).toBe("unknown");
    expect((await appStoreStatus(app, "sandbox")).last_received_at).toBeNull();

    const t0 = Date.now() - 60 * MINUTE_MS;
    const firstExpiry = t0 + 30 * DAY_MS;
    const bought = notification(otid, {
      notificationType: "SUBSCRIBED",
      subtype: "INITIAL_BUY",
      signedDate: t0,
      transaction: { transactionId: "2000000000000102", purchaseDate: t0, originalPurchaseDate: t0, expiresDate: firstExpiry },
      renewal: {},
    });
    const stored = await send(gateway, app, bought.body);
    expect(stored.body).toEqual({ status: "stored", notification_id: expect.stringMatching(/^ntf_/) });

    const [purchase] = await waitForEvents(receiver, app.appId, 1);
    const delivery = receiver.delivered.find((request) => JSON.parse(request.body).event.app_id === app.appId);
    const verified = new Webhook(app.webhookSecret).verify(delivery!.body, delivery!.headers as Record<string, string>) as any;
    expect(verified.event.id).toBe(purchase.id);
    expect(purchase).toMatchObject({
      type: "INITIAL_PURCHASE",
      store: "APP_STORE",
      environment: "SANDBOX",
      app_user_id: "user-apple",
      subscription_id: tracked.body.id,
      store_subscription_id: otid,
      original_transaction_id: otid,
      transaction_id: "2000000000000102",
      product_id: "pro.monthly",
      period_type: "NORMAL",
      purchased_at_ms: t0,
      expiration_at_ms: firstExpiry,
      price: 9.99,
      price_in_purchased_currency: 9.99,
      currency: "USD",
      country_code: "US",
      store_notification_type: "SUBSCRIBED",
      store_notification_subtype: "INITIAL_BUY",
      notification_id: stored.body.notification_id,
      event_timestamp_ms: t0,
    });
    const inboxRow = await settled(app, stored.body.notification_id);
    expect(inboxRow).toMatchObject({
      state: "processed",
      environment: "sandbox",
      notification_type: "SUBSCRIBED",
      notification_subtype: "INITIAL_BUY",
      store_subscription_id: otid,
      store_notification_id: bought.payload.notificationUUID,
    });
    // Deliveries are written in the transaction that processed it: exactly one, however long we wait.
    expect(await gateway.db.delivery.count({ where: { appId: app.appId } })).toBe(1);

    let subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(subscription.body).toMatchObject({
      status: "active",
      environment: "sandbox",
      product_id: "pro.monthly",
      auto_renew: true,
      expires_at: new Date(firstExpiry).toISOString(),
      last_event_type: "INITIAL_PURCHASE",
    });
    const sandbox = await appStoreStatus(app, "sandbox");
    expect(sandbox.last_received_at).toBe(inboxRow.received_at);
    expect((await appStoreStatus(app, "production")).last_received_at).toBeNull();

    // DID_RENEW: a new period paid.
    const t1 = t0 + 10 * MINUTE_MS;
    const secondExpiry = firstExpiry + 30 * DAY_MS;
    const renewedTransaction = { transactionId: "2000000000000103", purchaseDate: t1, originalPurchaseDate: t0, expiresDate: secondExpiry };
    await send(
      gateway,
      app,
      notification(otid, {
        notificationType: "DID_RENEW",
        signedDate: t1,
        transaction: { ...renewedTransaction, transactionReason: "RENEWAL" },
        renewal: {},
      }).body,
    );
    const renewal = (await waitForEvents(receiver, app.appId, 2))[1];
    expect(renewal).toMatchObject({
      type: "RENEWAL",
      store_notification_type: "DID_RENEW",
      transaction_id: "2000000000000103",
      expiration_at_ms: secondExpiry,
      price_in_purchased_currency: 9.99,
    });
    expect(renewal.sequence).toBeGreaterThan(purchase.sequence);
    subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(subscription.body).toMatchObject({
      status: "active",
      expires_at: new Date(secondExpiry).toISOString(),
      last_event_type: "RENEWAL",
    });

    // Auto-renew turned off: CANCELLATION, still entitled until the period ends.
    const t3 = t0 + 30 * MINUTE_MS;
    await send(
      gateway,
      app,
      notification(otid, {
        notificationType: "DID_CHANGE_RENEWAL_STATUS",
        subtype: "AUTO_RENEW_DISABLED",
        signedDate: t3,
        transaction: renewedTransaction,
        renewal: { autoRenewStatus: 0 },
      }).body,
    );
    const cancellation = (await waitForEvents(receiver, app.appId, 3))[2];
    expect(cancellation).toMatchObject({
      type: "CANCELLATION",
      cancel_reason: "UNSUBSCRIBE",
      store_notification_type: "DID_CHANGE_RENEWAL_STATUS",
      store_notification_subtype: "AUTO_RENEW_DISABLED",
      expiration_at_ms: secondExpiry,
    });
    subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(subscription.body).toMatchObject({ status: "canceled", auto_renew: false, expires_at: new Date(secondExpiry).toISOString() });

    // Delivered late: auto-renew turned on at t2, before it was turned off at t3. Its event is still
    // sent (with a lower sequence), but the state stays as the newer notification left it.
    const t2 = t0 + 20 * MINUTE_MS;
    const late = await send(
      gateway,
      app,
      notification(otid, {
        notificationType: "DID_CHANGE_RENEWAL_STATUS",
        subtype: "AUTO_RENEW_ENABLED",
        signedDate: t2,
        transaction: renewedTransaction,
        renewal: { autoRenewStatus: 1 },
      }).body,
    );
    const uncancellation = (await waitForEvents(receiver, app.appId, 4))[3];
    expect(uncancellation).toMatchObject({ type: "UNCANCELLATION", notification_id: late.body.notification_id });
    expect(uncancellation.sequence).toBeLessThan(cancellation.sequence);
    expect(uncancellation.sequence).toBeGreaterThan(renewal.sequence);
    expect((await settled(app, late.body.notification_id)).state).toBe("processed");
    subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(subscription.body).toMatchObject({ status: "canceled", auto_renew: false, expires_at: new Date(secondExpiry).toISOString() });
    expect(await gateway.db.delivery.count({ where: { appId: app.appId } })).toBe(4);
  });

  it("a purchase that starts with a free trial makes the subscription trialing", async () => {
    const { gateway, receiver } = context;
    const app = await createAppleApp(gateway, receiver);
    const otid = "2000000000000201";
    const tracked = await track(app, otid);
    const t0 = Date.now() - 5 * MINUTE_MS;
    const trialEnd = t0 + 7 * DAY_MS;
    await send(
      gateway,
      app,
      notification(otid, {
        notificationType: "SUBSCRIBED",
        subtype: "INITIAL_BUY",
        signedDate: t0,
        transaction: {
          transactionId: "2000000000000202",
          purchaseDate: t0,
          originalPurchaseDate: t0,
          expiresDate: trialEnd,
          offerType: 1,
          offerDiscountType: "FREE_TRIAL",
          offerPeriod: "P1W",
          price: 0,
        },
        renewal: {},
      }).body,
    );
    const [purchase] = await waitForEvents(receiver, app.appId, 1);
    expect(purchase).toMatchObject({
      type: "INITIAL_PURCHASE",
      period_type: "TRIAL",
      expiration_at_ms: trialEnd,
      price_in_purchased_currency: 0,
    });
    const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(subscription.body).toMatchObject({ status: "trialing", period_type: "TRIAL", expires_at: new Date(trialEnd).toISOString() });
  });
});

describe("App Store V2 notifications without a tracked subscription", () => {
  const context = useGatewayWithReceiver({ appleTrustedRoots: [chain.rootDer] });

  it("are acknowledged and kept as untracked: no webhook, last_received_at unchanged; tracking applies them", async () => {
    const { gateway, receiver } = context;
    const app = await createAppleApp(gateway, receiver);
    // A tracked subscription first, so last_received_at has a value that must not move.
    await track(app, "2000000000000301");
    const trackedAnswer = await send(
      gateway,
      app,
      notification("2000000000000301", { notificationType: "SUBSCRIBED", subtype: "INITIAL_BUY", signedDate: Date.now() - MINUTE_MS }).body,
    );
    await waitForEvents(receiver, app.appId, 1);
    const trackedRow = await settled(app, trackedAnswer.body.notification_id);
    const before = await appStoreStatus(app, "sandbox");
    expect(before.last_received_at).toBe(trackedRow.received_at);

    const untrackedOtid = "2000000000000399";
    const answer = await send(
      gateway,
      app,
      notification(untrackedOtid, { notificationType: "SUBSCRIBED", subtype: "INITIAL_BUY", signedDate: Date.now() - 30_000 }).body,
    );
    expect(answer.body.status).toBe("stored");
    const row = await settled(app, answer.body.notification_id);
    expect(row).toMatchObject({ state: "untracked", store_subscription_id: untrackedOtid, environment: "sandbox" });
    expect(Date.parse(row.received_at)).toBeGreaterThan(Date.parse(trackedRow.received_at));
    const listed = await app.api.get(`/v1/apps/${app.appId}/notifications?state=untracked`);
    expect(listed.body.data.map((entry: any) => entry.id)).toEqual([answer.body.notification_id]);

    // Marked untracked in the same transaction that would have written its events and deliveries.
    expect(await gateway.db.event.count({ where: { appId: app.appId, notificationId: answer.body.notification_id } })).toBe(0);
    expect(await gateway.db.delivery.count({ where: { appId: app.appId } })).toBe(1);
    expect(eventsOf(receiver, app.appId)).toHaveLength(1);
    expect(await appStoreStatus(app, "sandbox")).toEqual(before);

    // Tracking it later applies what was kept.
    const tracked = await track(app, untrackedOtid);
    expect(tracked.body).toMatchObject({ status: "active", product_id: "pro.monthly", last_event_type: "INITIAL_PURCHASE" });
    const events = await waitForEvents(receiver, app.appId, 2);
    expect(events[1]).toMatchObject({
      type: "INITIAL_PURCHASE",
      original_transaction_id: untrackedOtid,
      notification_id: answer.body.notification_id,
    });
  });
});

describe("App Store V2 duplicates and TEST notifications", () => {
  const context = useGatewayWithReceiver({ appleTrustedRoots: [chain.rootDer] });

  it("a notificationUUID posted twice is stored once and delivered once", async () => {
    const { gateway, receiver } = context;
    const app = await createAppleApp(gateway, receiver);
    const otid = "2000000000000401";
    await track(app, otid);
    const { body, payload } = notification(otid, { notificationType: "DID_RENEW", signedDate: Date.now() - MINUTE_MS });
    const first = await send(gateway, app, body);
    expect(first.body.status).toBe("stored");
    const second = await send(gateway, app, body);
    expect(second.body).toEqual({ status: "duplicate" });
    // The same notificationUUID, signed anew (Apple's retries), is the same notification too.
    const uuid = payload.notificationUUID as string;
    const resigned = notification(otid, { notificationType: "DID_RENEW", notificationUUID: uuid, signedDate: Date.now() - 30_000 });
    expect(resigned.body).not.toBe(body);
    expect((await send(gateway, app, resigned.body)).body).toEqual({ status: "duplicate" });

    await waitForEvents(receiver, app.appId, 1);
    expect((await settled(app, first.body.notification_id)).state).toBe("processed");
    expect(await gateway.db.notification.count({ where: { appId: app.appId } })).toBe(1);
    expect(await gateway.db.delivery.count({ where: { appId: app.appId } })).toBe(1);
    expect(eventsOf(receiver, app.appId)).toHaveLength(1);
  });

  it("a TEST notification sets last_test_received_at and is delivered as TEST; last_received_at does not move", async () => {
    const { gateway, receiver } = context;
    const app = await createAppleApp(gateway, receiver);
    const before = await appStoreStatus(app, "sandbox");
    expect(before.last_test_received_at).toBeNull();
    const signedDate = Date.now() - 10_000;
    const test = signAppleNotification(chain, { notificationType: "TEST", signedDate, transaction: null, renewal: null });
    const answer = await send(gateway, app, test.body);
    expect(answer.body.status).toBe("stored");

    const [event] = await waitForEvents(receiver, app.appId, 1);
    expect(event).toMatchObject({
      type: "TEST",
      store: "APP_STORE",
      environment: "SANDBOX",
      subscription_id: null,
      app_user_id: null,
      store_notification_type: "TEST",
      notification_id: answer.body.notification_id,
      event_timestamp_ms: signedDate,
    });
    const row = await settled(app, answer.body.notification_id);
    expect(row.state).toBe("processed");
    const after = await appStoreStatus(app, "sandbox");
    expect(after.last_test_received_at).toBe(row.received_at);
    expect(after.last_received_at).toBeNull();
    const production = await appStoreStatus(app, "production");
    expect(production.last_test_received_at).toBeNull();
  });
});
