import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, LocalStripeApi, subscriptionEvent } from "@subgate/testing";
import { refundEvent, SUBSCRIPTION_ID } from "@subgate/testing/stripe-objects";
import type { Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, apiClient, createTestEnvironment, sendStripeEvent, STRIPE_SECRET, type TestEnvironment } from "./harness.ts";

/*
 * `last_received_at` is when subgate received the newest processed notification of a tracked
 * subscription, and never moves backwards (docs/API.md): a notification received earlier but processed
 * later (its store's API was away at first) leaves it where it is. Without the GREATEST that keeps
 * it, no other test noticed it moving back.
 */

const API_KEY = "rk_test_51QmZx4Hq2Lk9TbVlastReceived";
const stripeApi = new LocalStripeApi(API_KEY);
let env: TestEnvironment;
let gateway: Gateway;

beforeAll(async () => {
  await stripeApi.start();
  env = await createTestEnvironment({ stripeApiBaseUrl: stripeApi.url, notificationRetryScheduleMs: [600] });
  gateway = await env.start("all");
});

afterAll(async () => {
  await env?.close();
  await stripeApi.close();
});

describe("last_received_at", () => {
  it("stays at the later receipt when an earlier-received notification is processed after it", async () => {
    const created = await apiClient(gateway.url as string, ADMIN_TOKEN).post("/v1/apps", {
      name: "Last received",
      stripe: { webhook_secrets: [STRIPE_SECRET], api_key: API_KEY },
    });
    expect(created.status).toBe(201);
    const app = {
      appId: created.body.id as string,
      api: apiClient(gateway.url as string, created.body.api_key as string),
      stripeUrl: created.body.ingress.stripe.url as string,
    };
    expect(
      (await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: SUBSCRIPTION_ID })).status,
    ).toBe(201);

    // Received first, processed last: its refund lookup fails once and waits 600 ms.
    stripeApi.failuresLeft = 1;
    const refund = await sendStripeEvent(gateway, app.stripeUrl, refundEvent("legacy"));
    expect(refund.status).toBe(200);
    const update = await sendStripeEvent(gateway, app.stripeUrl, subscriptionEvent({ subscriptionId: SUBSCRIPTION_ID }));
    expect(update.status).toBe(200);

    const [earlier, later] = await eventually(
      async () => {
        const rows = await Promise.all(
          [refund.body.notification_id, update.body.notification_id].map((id: string) =>
            gateway.db.notification.findUniqueOrThrow({ where: { id } }),
          ),
        );
        return rows.every((row) => row.state === "processed") ? rows : undefined;
      },
      15_000,
      "both notifications processed",
    );
    if (!earlier || !later) throw new Error("unreachable");
    // The order this test is about.
    expect(earlier.receivedAt.getTime()).toBeLessThan(later.receivedAt.getTime());
    expect(earlier.processedAt?.getTime()).toBeGreaterThan(later.processedAt?.getTime() ?? Number.POSITIVE_INFINITY);
    expect(earlier.attempts).toBe(2);

    const status = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    const sandbox = status.body.stores.find((entry: any) => entry.store === "stripe" && entry.environment === "sandbox");
    expect(sandbox.last_received_at).toBe(later.receivedAt.toISOString());
  });
});
