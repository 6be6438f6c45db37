import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { eventually, type WebhookReceiver } from "@subgate/testing";
import { TEST_BUNDLE_ID } from "@subgate/testing/apple";
import type { Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, apiClient, postToIngress, useGatewayWithReceiver } from "./harness.ts";

/*
 * Legacy V1 App Store notifications, at the same ingress URL as V2. V1 is unsigned: its proof of
 * origin is `password`, the app's shared secret, which must never be stored or shown.
 */

const SHARED_SECRET = "v1-shared-secret-7c41e9d2a05b4f3e8a9d";
const WRONG_PASSWORD = "v1-wrong-password-19b0c3f7e2d84a6c";
const DAY_MS = 86_400_000;

async function createAppleApp(gateway: Gateway, receiver: WebhookReceiver, apple: Record<string, unknown>) {
  const created = await apiClient(gateway.url as string, ADMIN_TOKEN).post("/v1/apps", { name: "Apple V1", apple });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(JSON.stringify(created.body)).not.toContain(SHARED_SECRET);
  const appId = created.body.id as string;
  const api = apiClient(gateway.url as string, created.body.api_key as string);
  expect((await api.post(`/v1/apps/${appId}/webhooks`, { url: receiver.url })).status).toBe(201);
  return { appId, api, appleUrl: created.body.ingress.apple.url as string };
}

/** A V1 DID_RENEW as Apple posts it (every number a string), with `password`. */
function v1Renewal(password: string, originalTransactionId: string, purchaseMs: number, expiresMs: number) {
  return {
    notification_type: "DID_RENEW",
    password,
    environment: "Sandbox",
    bid: TEST_BUNDLE_ID,
    unified_receipt: {
      environment: "Sandbox",
      latest_receipt_info: [
        {
          original_transaction_id: originalTransactionId,
          transaction_id: `${originalTransactionId}9`,
          product_id: "pro.monthly",
          purchase_date_ms: String(purchaseMs),
          expires_date_ms: String(expiresMs),
        },
      ],
      pending_renewal_info: [
        {
          auto_renew_status: "1",
          original_transaction_id: originalTransactionId,
          product_id: "pro.monthly",
          auto_renew_product_id: "pro.monthly",
        },
      ],
    },
  };
}

async function appStoreRefusal(api: ReturnType<typeof apiClient>, appId: string) {
  const status = await api.get(`/v1/apps/${appId}/notification-status`);
  expect(status.status).toBe(200);
  const entries = status.body.stores.filter((entry: any) => entry.store === "app_store");
  expect(entries).toHaveLength(2);
  return entries[0];
}

describe("App Store V1 notifications", () => {
  const context = useGatewayWithReceiver();

  it("with the shared secret as password: stored without the password, and a RENEWAL for the tracked subscription", async () => {
    const { gateway, receiver } = context;
    const app = await createAppleApp(gateway, receiver, { bundle_id: TEST_BUNDLE_ID, shared_secret: SHARED_SECRET });
    const otid = "1000000000000501";
    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
      store: "app_store",
      store_subscription_id: otid,
      app_user_id: "v1-user",
    });
    expect(tracked.status).toBe(201);

    const purchaseMs = Date.now() - 5 * 60_000;
    const expiresMs = purchaseMs + 30 * DAY_MS;
    const body = v1Renewal(SHARED_SECRET, otid, purchaseMs, expiresMs);
    const answer = await postToIngress(gateway, app.appleUrl, JSON.stringify(body));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.status).toBe("stored");

    await receiver.waitFor((r) => r.delivered.some((request) => JSON.parse(request.body).event.app_id === app.appId));
    const events = receiver.delivered.map((request) => JSON.parse(request.body).event).filter((event) => event.app_id === app.appId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "RENEWAL",
      store: "APP_STORE",
      environment: "SANDBOX",
      app_user_id: "v1-user",
      subscription_id: tracked.body.id,
      original_transaction_id: otid,
      transaction_id: `${otid}9`,
      product_id: "pro.monthly",
      expiration_at_ms: expiresMs,
      store_notification_type: "DID_RENEW",
      notification_id: answer.body.notification_id,
    });
    const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(subscription.body).toMatchObject({ status: "active", product_id: "pro.monthly", expires_at: new Date(expiresMs).toISOString() });

    const row = await eventually(async () => {
      const found = await gateway.db.notification.findUniqueOrThrow({ where: { id: answer.body.notification_id } });
      return found.state === "processed" ? found : undefined;
    });
    const rawBody = Buffer.from(row.rawBody);
    expect(rawBody.includes(SHARED_SECRET)).toBe(false);
    const { password: _password, ...withoutPassword } = body;
    expect(JSON.parse(rawBody.toString("utf8"))).toEqual(withoutPassword);
    expect(row.verification).toMatchObject({ version: 1, password_removed: true });
    expect(row.environment).toBe("sandbox");
    // Nowhere else in the row either: headers, normalization, errors.
    expect(JSON.stringify({ ...row, rawBody: null })).not.toContain(SHARED_SECRET);
    const inbox = await app.api.get(`/v1/apps/${app.appId}/notifications`);
    expect(JSON.stringify(inbox.body)).not.toContain(SHARED_SECRET);
    expect(inbox.body.data[0]).toMatchObject({
      id: answer.body.notification_id,
      notification_type: "DID_RENEW",
      store_subscription_id: otid,
    });

    // Apple's retry of the same body is the same notification.
    const again = await postToIngress(gateway, app.appleUrl, JSON.stringify(body));
    expect(again.body).toEqual({ status: "duplicate" });
  });

  it("with a wrong password: 401, nothing stored, and neither password in the answer or the recorded reason", async () => {
    const { gateway, receiver } = context;
    const app = await createAppleApp(gateway, receiver, { bundle_id: TEST_BUNDLE_ID, shared_secret: SHARED_SECRET });
    const now = Date.now() - 60_000;
    const answer = await postToIngress(
      gateway,
      app.appleUrl,
      JSON.stringify(v1Renewal(WRONG_PASSWORD, "1000000000000601", now, now + 30 * DAY_MS)),
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(401);
    expect(answer.body.error.code).toBe("unauthenticated");
    for (const secret of [SHARED_SECRET, WRONG_PASSWORD]) expect(JSON.stringify(answer.body)).not.toContain(secret);
    const refusal = await appStoreRefusal(app.api, app.appId);
    expect(refusal.rejection_count).toBe(1);
    expect(refusal.last_rejection_reason).toMatch(/password does not match/);
    for (const secret of [SHARED_SECRET, WRONG_PASSWORD]) expect(refusal.last_rejection_reason).not.toContain(secret);
    expect(await gateway.db.notification.count({ where: { appId: app.appId } })).toBe(0);
    expect((await app.api.get(`/v1/apps/${app.appId}/notifications`)).body.data).toEqual([]);
  });

  it("for an app without a shared secret: 401 naming apple.shared_secret", async () => {
    const { gateway, receiver } = context;
    const app = await createAppleApp(gateway, receiver, { bundle_id: TEST_BUNDLE_ID });
    const now = Date.now() - 60_000;
    const answer = await postToIngress(
      gateway,
      app.appleUrl,
      JSON.stringify(v1Renewal(SHARED_SECRET, "1000000000000701", now, now + 30 * DAY_MS)),
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(401);
    expect(answer.body.error).toMatchObject({ code: "unauthenticated", message: expect.stringContaining("apple.shared_secret") });
    expect(JSON.stringify(answer.body)).not.toContain(SHARED_SECRET);
    const refusal = await appStoreRefusal(app.api, app.appId);
    expect(refusal.last_rejection_reason).toMatch(/apple\.shared_secret/);
    expect(refusal.last_rejection_reason).not.toContain(SHARED_SECRET);
    expect(await gateway.db.notification.count({ where: { appId: app.appId } })).toBe(0);
  });
});
